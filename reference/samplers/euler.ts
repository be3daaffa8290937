/**
 * SAMP-EULER, SAMP-EULER-ANCESTRAL — Euler steps on the probability-flow ODE in σ, and their ancestral
 * (stochastic) variant: diffusers' EulerDiscreteScheduler and EulerAncestralDiscreteScheduler
 * (spec/07-samplers-euler-heun-lms.md; article: "Reverse diffusion in practice").
 *
 * In the VE view x̃ = x₀ + σ ε the probability-flow ODE is dx̃/dσ = (x̃ − D(x̃, σ))/σ, D = E[x₀ | x̃]
 * (Karras et al. 2022, eq. 3 with s = 1). One Euler step from σ to σ' is
 *   x̃' = x̃ + (σ' − σ)·(x̃ − D)/σ = (σ'/σ)·x̃ + (1 − σ'/σ)·D,
 * so the last step to σ' = 0 returns D itself: the article's single-step picture.
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import { ConfigError, require } from "../errors.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import type { StepOptions, StepOutput } from "./scheduler.ts";
import type { Compat } from "./common.ts";
import { getAncestralStep } from "./kdiffusion.ts";
import {
  SigmaScheduler,
  addNoise,
  denoisedCoeffs,
  makeSigmaSchedule,
  resolveSigmaConfig,
  sigmaRamp,
  type FinalSigmasType,
  type InterpolationType,
  type SigmaSchedule,
  type SigmaSchedulerConfig,
  type TimestepType,
} from "./sigmas.ts";
import type { BetaSchedule } from "../schedule.ts";

// ─── EulerDiscreteScheduler ──────────────────────────────────────────────────────────────────────

export interface EulerDiscreteConfig extends SigmaSchedulerConfig {
  interpolationType: InterpolationType;
  useKarrasSigmas: boolean;
  useExponentialSigmas: boolean;
  useBetaSigmas: boolean;
  sigmaMin?: number;
  sigmaMax?: number;
  timestepType: TimestepType;
  rescaleBetasZeroSnr: boolean;
  finalSigmasType: FinalSigmasType;
}

/** diffusers v0.40.0 EulerDiscreteScheduler defaults (its full config), plus compat "math". */
export const EULER_DISCRETE_DEFAULTS: EulerDiscreteConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: "linear" as BetaSchedule,
  trainedBetas: undefined,
  predictionType: "epsilon" as PredictionType,
  interpolationType: "linear",
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  sigmaMin: undefined,
  sigmaMax: undefined,
  timestepSpacing: "linspace" as TimestepSpacing,
  timestepType: "discrete",
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
  finalSigmasType: "zero",
  compat: "math" as Compat,
};

/** Karras et al. (2022) Alg. 2 "churn" options of EulerDiscreteScheduler.step (diffusers s_churn, s_tmin, s_tmax, s_noise). */
export interface EulerStepOptions<T extends BTensor = BTensor> extends StepOptions<T> {
  /** S_churn ≥ 0: total stochasticity; γ = min(S_churn/n, √2 − 1) per step (default 0: the ODE). */
  sChurn?: number;
  /** Churn only where S_tmin ≤ σ ≤ S_tmax (defaults 0 and ∞). */
  sTmin?: number;
  sTmax?: number;
  /** S_noise: the std of the churn noise relative to 𝒩(0, I) (default 1). */
  sNoise?: number;
}

/** The churn options of a step (defaults S_churn = 0, S_tmin = 0, S_tmax = ∞, S_noise = 1), validated; shared by every sampler with Karras churn. */
export function churnOptions(o: EulerStepOptions<BTensor>, className = "EulerDiscreteScheduler"): Required<Pick<EulerStepOptions, "sChurn" | "sTmin" | "sTmax" | "sNoise">> {
  const c = { sChurn: o.sChurn ?? 0, sTmin: o.sTmin ?? 0, sTmax: o.sTmax ?? Infinity, sNoise: o.sNoise ?? 1 };
  require(Number.isFinite(c.sChurn) && c.sChurn >= 0, `${className}.step sChurn`, c.sChurn, "a finite number ≥ 0");
  require(!Number.isNaN(c.sTmin), `${className}.step sTmin`, c.sTmin, "a number (σ below which no churn is added)");
  require(!Number.isNaN(c.sTmax), `${className}.step sTmax`, c.sTmax, "a number (σ above which no churn is added), e.g. Infinity");
  require(Number.isFinite(c.sNoise) && c.sNoise >= 0, `${className}.step sNoise`, c.sNoise, "a finite number ≥ 0");
  return c;
}

/** SAMP-EULER: γ = min(S_churn/n, √2 − 1) where S_tmin ≤ σ ≤ S_tmax, else 0 (n = number of σ intervals). */
export function churnGamma(sigma: number, numIntervals: number, o: { sChurn: number; sTmin: number; sTmax: number }): number {
  return o.sTmin <= sigma && sigma <= o.sTmax ? Math.min(o.sChurn / numIntervals, Math.SQRT2 - 1) : 0;
}

/**
 * SAMP-EULER: Euler's method on the probability-flow ODE (Karras et al. 2022, Alg. 2; diffusers
 * EulerDiscreteScheduler). With churn γ > 0 the sample is first raised to σ̂ = σ(1 + γ):
 * x̂ = x̃ + S_noise·√(σ̂² − σ²)·z, then x̃' = x̂ + (σ' − σ̂)·(x̂ − D)/σ̂.
 * The network was evaluated before `step` at (x̃, σ), so D = D(x̃, σ) stands in for D(x̂, σ̂) (compat
 * "math"); compat "diffusers" instead reuses the model output at x̂ (ε with σ̂, v with σ), which leaves the
 * churn noise in the sample at σ' = 0 (spec, deviations).
 */
export class EulerDiscreteScheduler<T extends BTensor> extends SigmaScheduler<T, EulerDiscreteConfig> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super("EulerDiscreteScheduler", resolveSigmaConfig("EulerDiscreteScheduler", EULER_DISCRETE_DEFAULTS, config), backend);
  }

  protected makeSchedule(n: number): SigmaSchedule {
    const c = this.config;
    return makeSigmaSchedule(n, this.alphasCumprod, { ...c, ramp: sigmaRamp(c, this.className) });
  }

  async step(modelOutput: T, timestep: number, sample: T, options: EulerStepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i, sigmas } = this.locate(timestep);
    const o = churnOptions(options);
    const [sigma, sigmaNext] = [sigmas[i], sigmas[i + 1]];
    const gamma = o.sChurn > 0 ? churnGamma(sigma, sigmas.length - 1, o) : 0;
    const sigmaHat = sigma * (gamma + 1);
    const xHat = gamma > 0 ? await addNoise(this.backend, sample, o.sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2), options.noise, this.className + ".step") : sample;
    let denoised: T;
    if (this.config.compat === "diffusers") {
      const p = this.config.predictionType;
      denoised = await this.backend.combine([xHat, modelOutput], denoisedCoeffs(p, p === "epsilon" ? sigmaHat : sigma));
    } else denoised = await this.denoised(modelOutput, sample, sigma);
    const r = sigmaNext / sigmaHat;
    const prevSample = await this.backend.combine([xHat, denoised], [r, 1 - r]);
    this.counter.advance(i);
    return { prevSample, predOriginalSample: denoised };
  }
}

export function createEulerDiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): EulerDiscreteScheduler<T> {
  return new EulerDiscreteScheduler(config, backend);
}

// ─── EulerAncestralDiscreteScheduler ─────────────────────────────────────────────────────────────

export interface EulerAncestralDiscreteConfig extends SigmaSchedulerConfig {
  rescaleBetasZeroSnr: boolean;
}

/** diffusers v0.40.0 EulerAncestralDiscreteScheduler defaults, plus compat "math". */
export const EULER_ANCESTRAL_DEFAULTS: EulerAncestralDiscreteConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: "linear" as BetaSchedule,
  trainedBetas: undefined,
  predictionType: "epsilon" as PredictionType,
  timestepSpacing: "linspace" as TimestepSpacing,
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
  compat: "math" as Compat,
};

/**
 * SAMP-EULER-ANCESTRAL: ancestral sampling with Euler steps (k-diffusion `sample_euler_ancestral`, η = 1;
 * diffusers EulerAncestralDiscreteScheduler). The step σ → σ' is split into a deterministic Euler step
 * down to σ_down and fresh noise of std σ_up, σ_up² + σ_down² = σ'², σ_up = √(σ'²(σ² − σ'²)/σ²)
 * (DDPM's posterior variance in the VE view; Ho et al. 2020):
 *   x̃' = (σ_down/σ)·x̃ + (1 − σ_down/σ)·D + σ_up·z.
 * On the last step σ' = 0, so σ_up = 0 and x̃' = D.
 */
export class EulerAncestralDiscreteScheduler<T extends BTensor> extends SigmaScheduler<T, EulerAncestralDiscreteConfig> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    const c = resolveSigmaConfig("EulerAncestralDiscreteScheduler", EULER_ANCESTRAL_DEFAULTS, config);
    if (c.compat === "diffusers" && c.predictionType === "sample") {
      throw new ConfigError("EulerAncestralDiscreteScheduler.predictionType", "sample", `"epsilon" or "v_prediction" with compat "diffusers" (diffusers v0.40.0 raises NotImplementedError for "sample"; compat "math" supports it)`);
    }
    super("EulerAncestralDiscreteScheduler", c, backend);
  }

  protected makeSchedule(n: number): SigmaSchedule {
    return makeSigmaSchedule(n, this.alphasCumprod, this.config);
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i, sigmas } = this.locate(timestep);
    const [sigma, sigmaNext] = [sigmas[i], sigmas[i + 1]];
    const { sigmaDown, sigmaUp } = getAncestralStep(sigma, sigmaNext);
    const denoised = await this.denoised(modelOutput, sample, sigma);
    const r = sigmaDown / sigma;
    let prevSample = await this.backend.combine([sample, denoised], [r, 1 - r]);
    // diffusers draws on every step (also the last, where σ_up = 0); "math" only where noise is added.
    if (sigmaUp > 0 || this.config.compat === "diffusers") prevSample = await addNoise(this.backend, prevSample, sigmaUp, options.noise, this.className + ".step");
    this.counter.advance(i);
    return { prevSample, predOriginalSample: denoised };
  }
}

export function createEulerAncestralDiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): EulerAncestralDiscreteScheduler<T> {
  return new EulerAncestralDiscreteScheduler(config, backend);
}
