/**
 * SAMP-DDPM — ancestral sampling with the DDPM posterior (Ho et al. 2020, "Denoising Diffusion
 * Probabilistic Models", Algorithm 2; spec/07-samplers-ddpm-ddim-pndm.md; article: "Reverse diffusion overview").
 *
 * One step from timestep t to the previous visited timestep s (s = −1 after the last step, ᾱ₋₁ = 1):
 *   x̂₀   = the model's x₀ prediction, optionally clipped / dynamically thresholded
 *   αₜₛ  = ᾱₜ/ᾱₛ,  βₜₛ = 1 − αₜₛ                         (the one-jump forward kernel t ← s)
 *   μ̃   = √ᾱₛ βₜₛ/(1 − ᾱₜ) · x̂₀ + √αₜₛ (1 − ᾱₛ)/(1 − ᾱₜ) · xₜ   (posterior mean, POST-MEAN)
 *   xₛ   = μ̃ + σ z,  z ~ 𝒩(0, I)                          (no noise on the step to x₀)
 * with σ² the posterior variance β̃ = (1 − ᾱₛ)/(1 − ᾱₜ) · βₜₛ ("fixed_small") or βₜₛ ("fixed_large")
 * (SAMP-DDPM-VARIANCE). Coefficients are host-side Float64; tensors go through `backend.combine`.
 *
 * This module also holds the helpers DDIM and PNDM share (ᾱ-indexed discrete-time schedulers).
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import { ConfigError, DiffspecError, ShapeError, require, requireOneOf } from "../errors.ts";
import { makeSchedule, type Schedule, type ScheduleConfig } from "../schedule.ts";
import { setTimesteps as spacedTimesteps } from "../timesteps.ts";
import { BASE_DEFAULTS, postprocessX0, predictX0, resolveConfig, stepIndexOf, type BaseSchedulerConfig } from "./common.ts";
import type { NoiseProvider, Scheduler, StepOptions, StepOutput } from "./scheduler.ts";

// ─── helpers shared by the ᾱ-indexed schedulers (DDPM, DDIM, PNDM) ──────────────────────────────

/** The schedule of a scheduler config (only the schedule fields are passed on). */
export function scheduleOf(c: ScheduleConfig): Schedule {
  return makeSchedule({
    numTrainTimesteps: c.numTrainTimesteps,
    betaStart: c.betaStart,
    betaEnd: c.betaEnd,
    betaSchedule: c.betaSchedule,
    rescaleBetasZeroSnr: c.rescaleBetasZeroSnr,
    trainedBetas: c.trainedBetas ?? undefined,
  });
}

/** ᾱ at timestep t; t < 0 means "past the last step" and gives `final` (1, or ᾱ₀ without set_alpha_to_one). */
export const alphaBarOr = (s: Schedule, t: number, final: number): number => (t >= 0 ? s.alphasCumprod[t] : final);

/** Typed checks of the config fields every ᾱ-indexed scheduler has. */
export function validateCommon(className: string, c: Partial<BaseSchedulerConfig> & Record<string, unknown>, booleans: readonly string[]): void {
  for (const k of booleans) require(typeof c[k] === "boolean", `${className}.${k}`, c[k], "true or false");
  if ("stepsOffset" in c) require(Number.isInteger(c.stepsOffset) && (c.stepsOffset as number) >= 0, `${className}.stepsOffset`, c.stepsOffset, "a non-negative integer");
  if (c.thresholding) {
    const r = c.dynamicThresholdingRatio as number;
    require(typeof r === "number" && r > 0 && r <= 1, `${className}.dynamicThresholdingRatio`, r, "a number in (0, 1]");
    const m = c.sampleMaxValue as number;
    require(typeof m === "number" && Number.isFinite(m) && m > 0, `${className}.sampleMaxValue`, m, "a finite number > 0");
  }
}

/**
 * SAMP-DDPM / SAMP-DDIM: with ε-prediction, x̂₀ = (xₜ − √(1 − ᾱₜ) ε)/√ᾱₜ is undefined where ᾱₜ = 0
 * (zero terminal SNR, Lin et al. 2023 §3.2 ask for v-prediction there). A typed error instead of ∞/NaN.
 */
export function requireDefinedX0(className: string, predictionType: PredictionType, s: Schedule, timesteps: readonly number[]): void {
  if (predictionType !== "epsilon") return;
  const bad = timesteps.find((t) => t >= 0 && s.alphasCumprod[t] === 0);
  if (bad !== undefined) {
    throw new ConfigError(`${className}.predictionType`, predictionType, `"v_prediction" or "sample" when a visited timestep (${bad}) has ᾱ = 0 (rescaleBetasZeroSnr): x̂₀ = (xₜ − ε)/√ᾱₜ is undefined there`);
  }
}

/** The noise provider of a stochastic step, or a typed error naming the sampler. */
export function requireNoise<T extends BTensor>(options: StepOptions<T> | undefined, className: string, why: string): NoiseProvider<T> {
  if (!options?.noise) throw new ConfigError(`${className}.step options.noise`, undefined, `a NoiseProvider (backendNoise or hostNoise): ${why}`);
  return options.noise;
}

/** Strictly decreasing integer timesteps in [0, N − 1] (custom schedules). */
export function validateCustomTimesteps(className: string, ts: readonly number[], N: number): number[] {
  require(ts.length > 0, `${className}.timesteps`, [...ts], "a non-empty list");
  ts.forEach((t, i) => {
    require(Number.isInteger(t) && t >= 0 && t < N, `${className}.timesteps[${i}]`, t, `an integer in [0, ${N - 1}]`);
    if (i > 0) require(t < ts[i - 1], `${className}.timesteps[${i}]`, t, `a value < timesteps[${i - 1}] = ${ts[i - 1]} (strictly decreasing)`);
  });
  return [...ts];
}

// ─── the posterior (POST-MEAN / POST-VARIANCE over a jump t → s) ────────────────────────────────

export interface PosteriorCoefficients {
  /** coefficient of x̂₀ in μ̃ */
  readonly x0: number;
  /** coefficient of xₜ in μ̃ */
  readonly xt: number;
  /** β̃ = (1 − ᾱₛ)/(1 − ᾱₜ) · βₜₛ */
  readonly variance: number;
  /** βₜₛ = 1 − ᾱₜ/ᾱₛ */
  readonly beta: number;
}

/** SAMP-DDPM: q(xₛ | xₜ, x₀) for the jump from ᾱₜ to ᾱₛ (s < t). */
export function ddpmPosterior(alphaBarT: number, alphaBarPrev: number): PosteriorCoefficients {
  const alpha = alphaBarT / alphaBarPrev;
  const beta = 1 - alpha;
  return {
    x0: (Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBarT),
    xt: (Math.sqrt(alpha) * (1 - alphaBarPrev)) / (1 - alphaBarT),
    variance: ((1 - alphaBarPrev) / (1 - alphaBarT)) * beta,
    beta,
  };
}

// ─── DDPMScheduler ──────────────────────────────────────────────────────────────────────────────

export const DDPM_VARIANCE_TYPES = ["fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range"] as const;
export type DDPMVarianceType = (typeof DDPM_VARIANCE_TYPES)[number];

export type DDPMConfig = BaseSchedulerConfig & { varianceType: DDPMVarianceType } & Record<string, unknown>;

/** diffusers v0.40.0 DDPMScheduler defaults (note clip_sample = True). */
export const DDPM_DEFAULTS = { ...BASE_DEFAULTS, trainedBetas: undefined, varianceType: "fixed_small", clipSample: true } as DDPMConfig;

/**
 * SAMP-DDPM-VARIANCE: the standard deviation of the fresh noise for the fixed variance types.
 * "fixed_small(_log)": √β̃ (the true posterior); "fixed_large(_log)": √βₜₛ (Ho et al. §3.2 upper bound).
 * The _log variants carry the same variance as a logarithm in diffusers; the value is the same.
 * compat "diffusers" clamps β̃ ≥ 1e-20 as diffusers does (it only matters on a step to x₀).
 */
export function ddpmNoiseStd(varianceType: DDPMVarianceType, p: PosteriorCoefficients, compat: "math" | "diffusers"): number {
  if (varianceType === "fixed_large" || varianceType === "fixed_large_log") return Math.sqrt(p.beta);
  return Math.sqrt(compat === "diffusers" ? Math.max(p.variance, 1e-20) : p.variance);
}

export class DDPMScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: DDPMConfig;
  readonly schedule: Schedule;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  private ts: number[] = [];

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const c = resolveConfig("DDPMScheduler", DDPM_DEFAULTS, config);
    requireOneOf("DDPMScheduler.varianceType", c.varianceType, DDPM_VARIANCE_TYPES);
    validateCommon("DDPMScheduler", c, ["clipSample", "thresholding", "rescaleBetasZeroSnr"]);
    this.config = c;
    this.schedule = scheduleOf(c);
  }

  get timesteps(): readonly number[] {
    return this.ts;
  }

  /** TS-SPACING: the n timesteps of `timestepSpacing`. */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    this.useTimesteps(spacedTimesteps(numInferenceSteps, c.numTrainTimesteps, c.timestepSpacing, c.stepsOffset));
  }

  /** diffusers `set_timesteps(timesteps=[…])`: any strictly decreasing integers in [0, N − 1]. */
  setCustomTimesteps(timesteps: readonly number[]): void {
    this.useTimesteps(validateCustomTimesteps("DDPMScheduler", timesteps, this.config.numTrainTimesteps));
  }

  private useTimesteps(ts: number[]): void {
    requireDefinedX0("DDPMScheduler", this.config.predictionType, this.schedule, ts);
    this.ts = ts;
  }

  /** The timestep the step from timesteps[i] lands on: the next one, −1 (x₀) after the last. */
  previousTimestep(i: number): number {
    return i + 1 < this.ts.length ? this.ts[i + 1] : -1;
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  /** SAMP-DDPM: one ancestral step xₜ → xₛ. */
  async step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>> {
    const c = this.config;
    const b = this.backend;
    const i = stepIndexOf(this.ts, timestep, "DDPMScheduler");
    const prev = this.previousTimestep(i);
    const abarT = this.schedule.alphasCumprod[timestep];
    const post = ddpmPosterior(abarT, alphaBarOr(this.schedule, prev, 1));
    const learned = c.varianceType === "learned" || c.varianceType === "learned_range";
    const [output, predictedVariance] = learned ? await splitChannels(b, modelOutput, sample) : [modelOutput, undefined];

    const x0 = await postprocessX0(b, await predictX0(b, c.predictionType, output, sample, Math.sqrt(abarT), Math.sqrt(1 - abarT)), c);
    // diffusers draws noise whenever t > 0; Ho et al. (Alg. 2) never on the step to x₀ (spec: deviations).
    const noisy = c.compat === "diffusers" ? timestep > 0 : prev >= 0;
    if (!noisy) return { prevSample: await b.combine([x0, sample], [post.x0, post.xt]), predOriginalSample: x0 };

    const z = await requireNoise(options, "DDPMScheduler", `DDPM adds fresh noise on every step ${c.compat === "diffusers" ? "with t > 0" : "but the last"}`).next(sample.shape);
    if (!predictedVariance) {
      const std = ddpmNoiseStd(c.varianceType, post, c.compat);
      return { prevSample: await b.combine([x0, sample, z], [post.x0, post.xt, std]), predOriginalSample: x0 };
    }
    const scaledNoise = await learnedNoise(b, c.varianceType as "learned" | "learned_range", predictedVariance, z, post, c.compat);
    return { prevSample: await b.combine([x0, sample, scaledNoise], [post.x0, post.xt, 1]), predOriginalSample: x0 };
  }
}

/**
 * SAMP-DDPM-VARIANCE, learned variance (Nichol & Dhariwal 2021, "Improved DDPM", eq. 15): the model
 * outputs 2C channels, the prediction and v. "learned": σ² = v; "learned_range":
 * log σ² = f·log βₜₛ + (1 − f)·log β̃ with f = (v + 1)/2. The backend contract has no elementwise
 * exp/√, so σ·z is formed on the host (toHost/fromHost) — correct on every backend, not fused.
 */
async function learnedNoise<T extends BTensor>(b: Backend<T>, type: "learned" | "learned_range", v: Float64Array, z: T, post: PosteriorCoefficients, compat: "math" | "diffusers"): Promise<T> {
  const zh = await b.toHost(z);
  const out = new Float64Array(zh.length);
  const logSmall = Math.log(compat === "diffusers" ? Math.max(post.variance, 1e-20) : post.variance);
  const logLarge = Math.log(post.beta);
  for (let k = 0; k < zh.length; k++) {
    let std: number;
    if (type === "learned") {
      if (!(v[k] >= 0)) throw new DiffspecError("E_DOMAIN", `DDPMScheduler: variance_type "learned" needs a predicted variance ≥ 0, got ${v[k]} at flat index ${k} (its square root is the noise std)`);
      std = Math.sqrt(v[k]);
    } else {
      const f = (v[k] + 1) / 2;
      std = Math.exp(0.5 * (f * logLarge + (1 - f) * logSmall));
    }
    out[k] = std * zh[k];
  }
  return b.fromHost(out, z.shape);
}

/** Splits a [B, 2C, …] model output into the prediction [B, C, …] (on the backend) and the variance channels (host). */
async function splitChannels<T extends BTensor>(b: Backend<T>, modelOutput: T, sample: T): Promise<[T, Float64Array]> {
  const [B, C, ...rest] = sample.shape;
  const expected = [B, 2 * C, ...rest];
  if (modelOutput.shape.length !== expected.length || modelOutput.shape.some((d, k) => d !== expected[k])) {
    throw new ShapeError('DDPMScheduler model output (variance_type "learned"/"learned_range" needs 2× the sample\'s channels)', [...modelOutput.shape], `[${expected.join(", ")}]`);
  }
  const host = await b.toHost(modelOutput);
  const per = C * rest.reduce((a, d) => a * d, 1);
  const pred = new Float64Array(B * per);
  const variance = new Float64Array(B * per);
  for (let i = 0; i < B; i++) {
    pred.set(host.subarray(2 * i * per, (2 * i + 1) * per), i * per);
    variance.set(host.subarray((2 * i + 1) * per, (2 * i + 2) * per), i * per);
  }
  return [await b.fromHost(pred, sample.shape), variance];
}

export function createDDPMScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): DDPMScheduler<T> {
  return new DDPMScheduler(config, backend);
}

