/**
 * SAMP-LMS — the linear multistep (Adams–Bashforth) method in σ: diffusers' LMSDiscreteScheduler
 * (k-diffusion `sample_lms`; spec/07-samplers-euler-heun-lms.md; article: "Reverse diffusion in practice").
 *
 * The probability-flow ODE dx̃/dσ = d(x̃, σ) = (x̃ − D)/σ is integrated over [σᵢ, σᵢ₊₁] by replacing d with
 * the polynomial through the last k derivatives dᵢ, dᵢ₋₁, …, dᵢ₋ₖ₊₁ (k = min(i + 1, order) ≤ 4):
 *   x̃ᵢ₊₁ = x̃ᵢ + Σⱼ cᵢⱼ dᵢ₋ⱼ,   cᵢⱼ = ∫_{σᵢ}^{σᵢ₊₁} ℓⱼ(τ) dτ,   ℓⱼ(τ) = Π_{m≠j} (τ − σᵢ₋ₘ)/(σᵢ₋ⱼ − σᵢ₋ₘ).
 * ℓⱼ is a polynomial of degree k − 1 ≤ 3, so 4-point Gauss–Legendre (exact to degree 7) gives cᵢⱼ exactly
 * (`linearMultistepCoeff`, shared with k-diffusion's sampler); diffusers integrates with scipy's `quad`
 * (epsrel 1e-4), which agrees to rounding for these polynomials.
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import type { BetaSchedule } from "../schedule.ts";
import { require } from "../errors.ts";
import type { StepOptions, StepOutput } from "./scheduler.ts";
import type { Compat } from "./common.ts";
import { linearMultistepCoeff } from "./kdiffusion.ts";
import { SigmaScheduler, makeSigmaSchedule, resolveSigmaConfig, sigmaRamp, type SigmaSchedule, type SigmaSchedulerConfig } from "./sigmas.ts";

export interface LMSDiscreteConfig extends SigmaSchedulerConfig {
  useKarrasSigmas: boolean;
  useExponentialSigmas: boolean;
  useBetaSigmas: boolean;
}

/** diffusers v0.40.0 LMSDiscreteScheduler defaults, plus compat "math". */
export const LMS_DISCRETE_DEFAULTS: LMSDiscreteConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: "linear" as BetaSchedule,
  trainedBetas: undefined,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  predictionType: "epsilon" as PredictionType,
  timestepSpacing: "linspace" as TimestepSpacing,
  stepsOffset: 0,
  compat: "math" as Compat,
};

export interface LMSStepOptions<T extends BTensor = BTensor> extends StepOptions<T> {
  /** The method's order k_max ∈ {1, 2, 3, 4} (diffusers' step argument `order`, default 4). */
  order?: number;
}

/**
 * SAMP-LMS: the weights cᵢⱼ, j = 0 … k−1, of the derivatives dᵢ₋ⱼ at step i (k = `order` nodes
 * σᵢ, σᵢ₋₁, …, σᵢ₋ₖ₊₁ of `sigmas`).
 */
export function lmsCoefficients(sigmas: ArrayLike<number>, i: number, order: number): number[] {
  return Array.from({ length: order }, (_, j) => linearMultistepCoeff(order, sigmas, i, j));
}

/** SAMP-LMS: diffusers LMSDiscreteScheduler; the derivative history resets on setTimesteps. */
export class LMSDiscreteScheduler<T extends BTensor> extends SigmaScheduler<T, LMSDiscreteConfig> {
  /** dᵢ, dᵢ₋₁, …: the most recent first. */
  private derivatives: T[] = [];

  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super("LMSDiscreteScheduler", resolveSigmaConfig("LMSDiscreteScheduler", LMS_DISCRETE_DEFAULTS, config), backend);
  }

  protected makeSchedule(n: number): SigmaSchedule {
    return makeSigmaSchedule(n, this.alphasCumprod, { ...this.config, ramp: sigmaRamp(this.config, this.className) });
  }

  protected override resetState(): void {
    this.derivatives = [];
  }

  async step(modelOutput: T, timestep: number, sample: T, options: LMSStepOptions<T> = {}): Promise<StepOutput<T>> {
    const order = options.order ?? 4;
    require(Number.isInteger(order) && order >= 1 && order <= 4, "LMSDiscreteScheduler.step order", order, "an integer in 1 … 4");
    const { i, sigmas } = this.locate(timestep);
    const sigma = sigmas[i];
    const denoised = await this.denoised(modelOutput, sample, sigma);
    const d = await this.backend.combine([sample, denoised], [1 / sigma, -1 / sigma]);
    const history = [d, ...this.derivatives].slice(0, order);
    // diffusers takes k = min(i + 1, order) even when fewer derivatives exist (a run started mid-schedule)
    // and zips the weights with the derivatives it has; "math" uses the derivatives it has.
    const k = this.config.compat === "diffusers" ? Math.min(i + 1, order) : Math.min(history.length, order);
    const coeffs = lmsCoefficients(sigmas, i, k).slice(0, history.length);
    const prevSample = await this.backend.combine([sample, ...history.slice(0, coeffs.length)], [1, ...coeffs]);
    this.derivatives = history;
    this.counter.advance(i);
    return { prevSample, predOriginalSample: denoised };
  }
}

export function createLMSDiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): LMSDiscreteScheduler<T> {
  return new LMSDiscreteScheduler(config, backend);
}
