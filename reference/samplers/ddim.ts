/**
 * SAMP-DDIM — denoising diffusion implicit models (Song, Meng & Ermon 2021, "Denoising Diffusion
 * Implicit Models", eq. 12 and 16; spec/07-samplers-ddpm-ddim-pndm.md; article: "Reverse diffusion in practice").
 *
 * One step from timestep t to the previous visited timestep s (s = −1 after the last step, where ᾱ is
 * 1 with set_alpha_to_one and ᾱ₀ otherwise):
 *   x̂₀ = the model's x₀ prediction (optionally clipped / thresholded), ε̂ = the model's ε prediction
 *   σₜ(η)² = η² (1 − ᾱₛ)/(1 − ᾱₜ) · (1 − ᾱₜ/ᾱₛ)                           (eq. 16)
 *   xₛ = √ᾱₛ x̂₀ + √(1 − ᾱₛ − σₜ²) ε̂ + σₜ z,  z ~ 𝒩(0, I)                  (eq. 12)
 * η = 0 is the deterministic DDIM (the probability-flow ODE's exponential-integrator step); η = 1 has
 * the DDPM posterior variance (SAMP-DDIM-ETA1-DDPM). Coefficients are host-side Float64.
 */
import type { Backend, BTensor } from "../contract.ts";
import { ConfigError, require } from "../errors.ts";
import { previousTimestep, setTimesteps as spacedTimesteps } from "../timesteps.ts";
import type { Schedule } from "../schedule.ts";
import { BASE_DEFAULTS, postprocessX0, predictEps, predictX0, resolveConfig, stepIndexOf, type BaseSchedulerConfig } from "./common.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";
import { alphaBarOr, requireDefinedX0, requireNoise, scheduleOf, validateCommon } from "./ddpm.ts";

export type DDIMConfig = BaseSchedulerConfig & { setAlphaToOne: boolean } & Record<string, unknown>;

/** diffusers v0.40.0 DDIMScheduler defaults (clip_sample = True, set_alpha_to_one = True). */
export const DDIM_DEFAULTS = { ...BASE_DEFAULTS, trainedBetas: undefined, clipSample: true, setAlphaToOne: true } as DDIMConfig;

export interface DDIMStepOptions<T extends BTensor = BTensor> extends StepOptions<T> {
  /** diffusers `use_clipped_model_output`: recompute ε̂ from the clipped x̂₀ (default false). */
  useClippedModelOutput?: boolean;
}

export interface DDIMCoefficients {
  /** √ᾱₛ, the coefficient of x̂₀ */
  readonly x0: number;
  /** √(1 − ᾱₛ − σₜ²), the coefficient of ε̂ ("direction pointing to xₜ") */
  readonly eps: number;
  /** σₜ(η), the standard deviation of the fresh noise */
  readonly noiseStd: number;
  /** (1 − ᾱₛ)/(1 − ᾱₜ) · (1 − ᾱₜ/ᾱₛ), the η = 1 variance */
  readonly variance: number;
}

/**
 * SAMP-DDIM: the step's coefficients for ᾱₜ → ᾱₛ and η ≥ 0. The ε̂ coefficient √(1 − ᾱₛ − σₜ²) is
 * evaluated as √((1 − ᾱₛ)·((1 − η²) + η²·q)), q = ᾱₜ(1 − ᾱₛ)/(ᾱₛ(1 − ᾱₜ)) ∈ [0, 1]: the same number
 * without cancellation, so it is exactly 0 where it should be (η = 1 from ᾱₜ = 0) instead of √(rounding).
 */
export function ddimCoefficients(alphaBarT: number, alphaBarPrev: number, eta: number): DDIMCoefficients {
  const variance = ((1 - alphaBarPrev) / (1 - alphaBarT)) * (1 - alphaBarT / alphaBarPrev);
  const noiseStd = eta * Math.sqrt(variance);
  const q = (alphaBarT * (1 - alphaBarPrev)) / (alphaBarPrev * (1 - alphaBarT));
  const r = (1 - alphaBarPrev) * (1 - eta * eta + eta * eta * q);
  if (r < 0) {
    throw new ConfigError("DDIMScheduler.step eta", eta, `a number ≤ ${1 / Math.sqrt(1 - q)} at this step (σₜ(η)² must not exceed 1 − ᾱ_prev); η ∈ [0, 1] is always allowed`);
  }
  return { x0: Math.sqrt(alphaBarPrev), eps: Math.sqrt(r), noiseStd, variance };
}

export class DDIMScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: DDIMConfig;
  readonly schedule: Schedule;
  /** ᾱ past the last step: 1 (set_alpha_to_one) or ᾱ₀. */
  readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  private ts: number[] = [];

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const c = resolveConfig("DDIMScheduler", DDIM_DEFAULTS, config);
    validateCommon("DDIMScheduler", c, ["clipSample", "thresholding", "rescaleBetasZeroSnr", "setAlphaToOne"]);
    this.config = c;
    this.schedule = scheduleOf(c);
    this.finalAlphaCumprod = c.setAlphaToOne ? 1 : this.schedule.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.ts;
  }

  /** TS-SPACING: the n timesteps of `timestepSpacing`. */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const ts = spacedTimesteps(numInferenceSteps, c.numTrainTimesteps, c.timestepSpacing, c.stepsOffset);
    requireDefinedX0("DDIMScheduler", c.predictionType, this.schedule, ts);
    this.ts = ts;
  }

  /**
   * TS-PREV: where the step from timesteps[i] lands. "math": the next visited timestep (−1 after the
   * last); "diffusers": t − ⌊N/n⌋ for every spacing (diffusers issue #11347).
   */
  previousTimestep(i: number): number {
    return previousTimestep(this.ts, i, this.config.compat, this.config.numTrainTimesteps);
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  /** SAMP-DDIM: one step xₜ → xₛ with η = options.eta (default 0). Noise is drawn on every step with η > 0. */
  async step(modelOutput: T, timestep: number, sample: T, options: DDIMStepOptions<T> = {}): Promise<StepOutput<T>> {
    const c = this.config;
    const b = this.backend;
    const eta = options.eta ?? 0;
    require(typeof eta === "number" && Number.isFinite(eta) && eta >= 0, "DDIMScheduler.step eta", eta, "a finite number ≥ 0");
    const i = stepIndexOf(this.ts, timestep, "DDIMScheduler");
    const abarT = this.schedule.alphasCumprod[timestep];
    const alpha = Math.sqrt(abarT);
    const sigma = Math.sqrt(1 - abarT);
    const k = ddimCoefficients(abarT, alphaBarOr(this.schedule, this.previousTimestep(i), this.finalAlphaCumprod), eta);

    const x0Raw = await predictX0(b, c.predictionType, modelOutput, sample, alpha, sigma);
    const x0 = await postprocessX0(b, x0Raw, c);
    // ε̂ belongs to the unclipped x̂₀ unless use_clipped_model_output (as in diffusers).
    const eps = options.useClippedModelOutput && x0 !== x0Raw
      ? await b.combine([sample, x0], [1 / sigma, -alpha / sigma])
      : await predictEps(b, c.predictionType, modelOutput, sample, alpha, sigma);
    if (eta === 0) return { prevSample: await b.combine([x0, eps], [k.x0, k.eps]), predOriginalSample: x0 };
    const z = await requireNoise(options, "DDIMScheduler", "DDIM with η > 0 adds fresh noise on every step").next(sample.shape);
    return { prevSample: await b.combine([x0, eps, z], [k.x0, k.eps, k.noiseStd]), predOriginalSample: x0 };
  }
}

export function createDDIMScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): DDIMScheduler<T> {
  return new DDIMScheduler(config, backend);
}
