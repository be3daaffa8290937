/**
 * SAMP-SIGMAS — the σ schedule of the σ-based diffusers schedulers (Euler, Euler ancestral, Heun, LMS,
 * and the σ → timestep mapping that DPM-Solver / UniPC / DEIS use for Karras / exponential / beta σ)
 * (spec/07-samplers-euler-heun-lms.md; article: "Reverse diffusion in practice").
 *
 * The σ-based samplers work in the variance-exploding view x̃ = xₜ/√ᾱₜ = x₀ + σ ε with
 * σₜ = √((1 − ᾱₜ)/ᾱₜ) (SCHED-SIGMA, Karras et al. 2022 §2). Setting the timesteps of an n-step run is:
 *   1. pick n (possibly fractional) train timesteps by `timestepSpacing`        → `spacedTimesteps`
 *   2. read σ at those timesteps off the train grid (`interpolationType`)       → `sigmaAtTimestep`
 *   3. optionally replace them by a Karras / exponential / beta σ ramp between
 *      σ_min and σ_max, and map each σ back to a (fractional) timestep          → `convertSigmas`, `timestepForSigma`
 *   4. append the final σ (`finalSigmasType`: 0 or the smallest train σ)         → `finalSigma`
 * `makeSigmaSchedule` runs the four steps. Every function is host-side Float64 scalar arithmetic.
 *
 * compat "diffusers" reproduces diffusers v0.40.0 exactly where it deviates from the math (listed in the
 * spec chapter, "Deviations from diffusers"); its timesteps and σ are rounded to float32 as diffusers
 * stores them. The API of this module is stable: other samplers import it.
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import { ConfigError, StateError, require, requireOneOf, requirePositiveInt } from "../errors.ts";
import { BETA_SCHEDULES, exponentialSigmas, karrasSigmas, linspace, makeSchedule, type BetaSchedule, type ScheduleConfig } from "../schedule.ts";
import { roundHalfEven, setTimesteps, TIMESTEP_SPACINGS, type TimestepSpacing } from "../timesteps.ts";
import { x0Coeffs } from "../param.ts";
import { resolveConfig, type Compat } from "./common.ts";
import type { NoiseProvider, Scheduler, StepOptions, StepOutput } from "./scheduler.ts";

export type InterpolationType = "linear" | "log_linear";
export const INTERPOLATION_TYPES: readonly InterpolationType[] = ["linear", "log_linear"];
export type TimestepType = "discrete" | "continuous";
export const TIMESTEP_TYPES: readonly TimestepType[] = ["discrete", "continuous"];
export type FinalSigmasType = "zero" | "sigma_min";
export const FINAL_SIGMAS_TYPES: readonly FinalSigmasType[] = ["zero", "sigma_min"];
/** Which σ ramp replaces the interpolated σ (diffusers' use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas). */
export type SigmaRamp = "none" | "karras" | "exponential" | "beta";

/** diffusers' zero-SNR regularisation: ᾱ_T = 0 would make σ_T = ∞, so the last ᾱ is set to 2⁻²⁴ (fp16's smallest subnormal). */
export const ZERO_SNR_ALPHA_BAR = 2 ** -24;

const f32 = Math.fround;

// ─── σ on the train grid ─────────────────────────────────────────────────────────────────────────

/** SCHED-SIGMA on the train grid: σₜ = √((1 − ᾱₜ)/ᾱₜ), t = 0 … N−1 (increasing in t). */
export function trainSigmas(alphasCumprod: ArrayLike<number>): Float64Array {
  return Float64Array.from(alphasCumprod, (a) => Math.sqrt((1 - a) / a));
}

/** ᾱ with a zero terminal value replaced by 2⁻²⁴ (diffusers Euler / Euler ancestral / DPM-Solver / UniPC with rescale_betas_zero_snr). */
export function zeroSnrSafe(alphasCumprod: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(alphasCumprod);
  if (out[out.length - 1] === 0) out[out.length - 1] = ZERO_SNR_ALPHA_BAR;
  return out;
}

/** numpy's np.interp(x, xp, fp): piecewise-linear through (xpᵢ, fpᵢ), xp increasing, constant beyond the ends. */
export function interp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>): number {
  const n = xp.length;
  if (x <= xp[0]) return fp[0];
  if (x >= xp[n - 1]) return fp[n - 1];
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid] <= x) lo = mid;
    else hi = mid;
  }
  const w = (x - xp[lo]) / (xp[hi] - xp[lo]);
  return fp[lo] + w * (fp[hi] - fp[lo]);
}

/**
 * SAMP-SIGMAS-INTERP: σ at a (fractional) train timestep t ∈ [0, N−1], read off the train grid
 * (clamped outside): "linear" interpolates σ (diffusers' np.interp(t, arange(N), σ)), "log_linear"
 * interpolates log σ (k-diffusion's DiscreteSchedule.t_to_sigma).
 */
export function sigmaAtTimestep(t: number, sigmasTrain: ArrayLike<number>, interpolation: InterpolationType = "linear"): number {
  const n = sigmasTrain.length;
  const lo = Math.min(Math.max(Math.floor(t), 0), n - 1);
  const hi = Math.min(lo + 1, n - 1);
  if (t <= 0) return sigmasTrain[0];
  if (t >= n - 1) return sigmasTrain[n - 1];
  const w = t - lo;
  if (interpolation === "linear") return sigmasTrain[lo] + w * (sigmasTrain[hi] - sigmasTrain[lo]);
  return Math.exp((1 - w) * Math.log(sigmasTrain[lo]) + w * Math.log(sigmasTrain[hi]));
}

/**
 * SAMP-SIGMAS-INTERP: diffusers' `_sigma_to_t` (also k-diffusion's DiscreteSchedule.sigma_to_t): the
 * fractional timestep whose log σ interpolates linearly between the two nearest train log σ, clamped to
 * [0, N−1]. `logSigmasTrain` = log σₜ, increasing in t. σ ≤ 1e-10 is treated as 1e-10 (→ t = 0).
 */
export function sigmaToTimestep(sigma: number, logSigmasTrain: ArrayLike<number>): number {
  const n = logSigmasTrain.length;
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // low = the last index with log σᵢ ≤ log σ (0 if none), at most N − 2 (np.cumsum(dists >= 0).argmax().clip(max=N−2)).
  let low = 0;
  for (let i = 0; i < n; i++) if (logSigma - logSigmasTrain[i] >= 0) low = i;
  low = Math.min(low, n - 2);
  const high = low + 1;
  const w = Math.min(Math.max((logSigmasTrain[low] - logSigma) / (logSigmasTrain[low] - logSigmasTrain[high]), 0), 1);
  return (1 - w) * low + w * high;
}

/**
 * SAMP-SIGMAS-INTERP: the exact inverse of `sigmaAtTimestep` with the same interpolation, so that
 * σ(t(σ)) = σ for σ in [σ₀, σ_{N−1}] (clamped outside). With "log_linear" this is `sigmaToTimestep`.
 */
export function timestepForSigma(sigma: number, sigmasTrain: ArrayLike<number>, interpolation: InterpolationType = "linear"): number {
  const n = sigmasTrain.length;
  if (interpolation === "log_linear") return sigmaToTimestep(sigma, Float64Array.from(sigmasTrain, Math.log));
  if (sigma <= sigmasTrain[0]) return 0;
  if (sigma >= sigmasTrain[n - 1]) return n - 1;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sigmasTrain[mid] <= sigma) lo = mid;
    else hi = mid;
  }
  return lo + (sigma - sigmasTrain[lo]) / (sigmasTrain[hi] - sigmasTrain[lo]);
}

// ─── timesteps ───────────────────────────────────────────────────────────────────────────────────

/**
 * SAMP-SIGMAS: the n train timesteps an n-step σ-based run visits, decreasing (TS-SPACING), as the
 * σ-based diffusers schedulers space them:
 * - linspace: linspace(0, N−1, n) reversed, NOT rounded (fractional timesteps; σ is interpolated);
 * - leading / trailing: as reference/timesteps.ts (integers).
 * compat "diffusers": trailing is numpy's arange(N, 0, −N/n), whose length is ⌈N/(N/n)⌉ in floating
 * point: n + 1 for some n (e.g. N = 1000, n = 61), the extra timestep being −1; values are float32.
 */
export function spacedTimesteps(n: number, numTrainTimesteps: number, spacing: TimestepSpacing, stepsOffset = 0, compat: Compat = "math"): number[] {
  const N = requirePositiveInt("numTrainTimesteps", numTrainTimesteps);
  requirePositiveInt("numInferenceSteps", n);
  require(n <= N, "numInferenceSteps", n, `an integer ≤ numTrainTimesteps (${N})`);
  requireOneOf("timestepSpacing", spacing, TIMESTEP_SPACINGS);
  let ts: number[];
  if (spacing === "linspace") ts = Array.from(linspace(0, N - 1, n)).reverse();
  else if (spacing === "trailing" && compat === "diffusers") {
    const ratio = N / n;
    const length = Math.ceil(-N / -ratio);
    ts = Array.from({ length }, (_, k) => roundHalfEven(N - k * ratio) - 1);
  } else ts = setTimesteps(n, N, spacing, stepsOffset);
  return compat === "diffusers" ? ts.map(f32) : ts;
}

// ─── σ ramps ─────────────────────────────────────────────────────────────────────────────────────

/** The σ ramp selected by diffusers' three flags; more than one set is a ConfigError. */
export function sigmaRamp(c: { useKarrasSigmas?: unknown; useExponentialSigmas?: unknown; useBetaSigmas?: unknown }, className = "scheduler"): SigmaRamp {
  const on = (["useKarrasSigmas", "useExponentialSigmas", "useBetaSigmas"] as const).filter((k) => {
    const v = c[k];
    require(v === undefined || typeof v === "boolean", `${className}.${k}`, v, "true or false");
    return v === true;
  });
  if (on.length > 1) throw new ConfigError(`${className}.${on[1]}`, true, `false when ${on[0]} is true (only one of useKarrasSigmas, useExponentialSigmas, useBetaSigmas may be set)`);
  if (on.length === 0) return "none";
  return on[0] === "useKarrasSigmas" ? "karras" : on[0] === "useExponentialSigmas" ? "exponential" : "beta";
}

/**
 * SAMP-SIGMAS-KARRAS / -EXPONENTIAL / -BETA: n noise levels from σ_max down to σ_min, with diffusers'
 * conventions: σ_max = `sigmaMax` ?? inSigmas[0], σ_min = `sigmaMin` ?? inSigmas[last] (the interpolated
 * σ of the first and last spaced timestep, so σ_min is the smallest train σ only for spacings ending at t = 0).
 * - karras: (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, ρ = 7 (Karras et al. 2022, eq. 5);
 * - exponential: log σ evenly spaced;
 * - beta: σ_min + F⁻¹(1 − i/(n−1))·(σ_max − σ_min), F the Beta(0.6, 0.6) CDF (Lee et al. 2024).
 */
export function convertSigmas(ramp: Exclude<SigmaRamp, "none">, inSigmas: ArrayLike<number>, n: number, sigmaMin?: number | null, sigmaMax?: number | null): Float64Array {
  const lo = sigmaMin ?? inSigmas[inSigmas.length - 1];
  const hi = sigmaMax ?? inSigmas[0];
  require(Number.isFinite(lo) && lo > 0, "sigmaMin", lo, "a finite number > 0 (σ = 0 before the last step would divide by zero)");
  require(Number.isFinite(hi) && hi >= lo, "sigmaMax", hi, `a finite number ≥ sigmaMin (${lo})`);
  if (ramp === "karras") return karrasSigmas(n, lo, hi, 7).subarray(0, n).slice();
  if (ramp === "exponential") return exponentialSigmas(n, lo, hi).subarray(0, n).slice();
  return Float64Array.from(linspace(0, 1, n), (r) => lo + betaPpf(1 - r, 0.6, 0.6) * (hi - lo));
}

/** SAMP-SIGMAS: the σ appended after the last step: 0, or the smallest train σ √((1 − ᾱ₀)/ᾱ₀). */
export function finalSigma(type: FinalSigmasType, sigmasTrain: ArrayLike<number>): number {
  return type === "zero" ? 0 : sigmasTrain[0];
}

// ─── the whole schedule ──────────────────────────────────────────────────────────────────────────

export interface SigmaScheduleConfig {
  numTrainTimesteps: number;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  compat: Compat;
  /** default "linear" */
  interpolationType?: InterpolationType;
  /** default "none" (see `sigmaRamp`) */
  ramp?: SigmaRamp;
  sigmaMin?: number | null;
  sigmaMax?: number | null;
  /** default "zero" */
  finalSigmasType?: FinalSigmasType;
  /** default "discrete"; "continuous" only changes the timesteps with v_prediction (EDM's c_noise = ¼ log σ), as diffusers. */
  timestepType?: TimestepType;
  predictionType?: PredictionType;
}

export interface SigmaSchedule {
  /** The timesteps the model is evaluated at, in order (possibly fractional). */
  readonly timesteps: number[];
  /** σ at each timestep, then the final σ (length timesteps.length + 1, except diffusers' log_linear quirk). */
  readonly sigmas: Float64Array;
}

/**
 * SAMP-SIGMAS: `set_timesteps` of the σ-based schedulers (diffusers EulerDiscreteScheduler, which the
 * others follow): spaced timesteps → σ by interpolation → optional σ ramp and its timesteps → final σ.
 * `alphasCumprod` are the train ᾱ (after `zeroSnrSafe` where the class applies it).
 * compat "math": log_linear interpolates log σ at each timestep, and ramp timesteps invert the same
 * interpolation (σ(tᵢ) = σᵢ). compat "diffusers": log_linear is exp(linspace(log σ_max, log σ_min, n + 1))
 * regardless of the timesteps (n + 2 σ in all), ramp timesteps use `sigmaToTimestep` (log σ) whatever the
 * interpolation, and timesteps and σ are rounded to float32.
 */
export function makeSigmaSchedule(n: number, alphasCumprod: ArrayLike<number>, c: SigmaScheduleConfig): SigmaSchedule {
  const interpolation = requireOneOf("interpolationType", c.interpolationType ?? "linear", INTERPOLATION_TYPES);
  const finalType = requireOneOf("finalSigmasType", c.finalSigmasType ?? "zero", FINAL_SIGMAS_TYPES);
  const timestepType = requireOneOf("timestepType", c.timestepType ?? "discrete", TIMESTEP_TYPES);
  const ramp = c.ramp ?? "none";
  // diffusers: σ and log σ of the train grid are float32 arrays (torch, then np.log of float32).
  const train = c.compat === "diffusers" ? float32TrainSigmas(alphasCumprod) : trainSigmas(alphasCumprod);
  const logTrain = c.compat === "diffusers" ? train.map((v) => f32(Math.log(v))) : train.map(Math.log);
  let timesteps = spacedTimesteps(n, c.numTrainTimesteps, c.timestepSpacing, c.stepsOffset, c.compat);
  let sigmas: Float64Array;
  if (interpolation === "log_linear" && c.compat === "diffusers") {
    sigmas = linspace(logTrain[logTrain.length - 1], logTrain[0], n + 1).map(Math.exp);
  } else sigmas = Float64Array.from(timesteps, (t) => sigmaAtTimestep(t, train, interpolation));
  if (ramp !== "none") {
    sigmas = convertSigmas(ramp, sigmas, n, c.sigmaMin, c.sigmaMax);
    timesteps = Array.from(sigmas, (s) => (c.compat === "diffusers" ? sigmaToTimestep(s, logTrain) : timestepForSigma(s, train, interpolation)));
  }
  const all = new Float64Array(sigmas.length + 1);
  all.set(sigmas);
  all[sigmas.length] = finalSigma(finalType, train);
  const out = c.compat === "diffusers" ? all.map(f32) : all;
  if (timestepType === "continuous" && c.predictionType === "v_prediction") {
    timesteps = Array.from(out.subarray(0, out.length - 1), (s) => 0.25 * Math.log(s));
  }
  return { timesteps: c.compat === "diffusers" ? timesteps.map(f32) : timesteps, sigmas: out };
}

/**
 * SAMP-SIGMAS: the std of the initial sample x̃_T. compat "math": √(σ_max² + 1), the std of x_T/√ᾱ_T for
 * x_T ~ 𝒩(0, I) (DDPM's prior, scaled into the VE view). compat "diffusers": σ_max for linspace/trailing
 * spacing and √(σ_max² + 1) for leading (diffusers' init_noise_sigma).
 */
export function initNoiseSigma(sigmas: ArrayLike<number>, spacing: TimestepSpacing, compat: Compat): number {
  let max = 0;
  for (let i = 0; i < sigmas.length; i++) max = Math.max(max, sigmas[i]);
  if (compat === "diffusers" && (spacing === "linspace" || spacing === "trailing")) return max;
  const v = Math.sqrt(max * max + 1);
  return compat === "diffusers" ? f32(v) : v;
}

// ─── the VE view of the model output ─────────────────────────────────────────────────────────────

/**
 * PARAM-TO-X0 in the VE view: coefficients [c_x, c_out] with x̂₀ = c_x·x̃ + c_out·output, where x̃ = x₀ + σ ε
 * is the scheduler's (unscaled) sample and the model saw x̃/√(σ² + 1) = xₜ (SAMP-SCALE-INPUT):
 * epsilon [1, −σ]; v_prediction [1/(σ² + 1), −σ/√(σ² + 1)]; sample [0, 1].
 */
export function denoisedCoeffs(predictionType: PredictionType, sigma: number): [number, number] {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  if (predictionType === "epsilon") return [1, -sigma];
  const [cs, co] = x0Coeffs(predictionType, alpha, sigma * alpha);
  return [cs * alpha, co];
}

/** SAMP-SCALE-INPUT: the factor 1/√(σ² + 1) that turns the VE sample x̃ into the model's input xₜ = √ᾱ x̃. */
export const scaleInputFactor = (sigma: number): number => 1 / Math.sqrt(sigma * sigma + 1);

// ─── the step counter ────────────────────────────────────────────────────────────────────────────

/**
 * diffusers' `index_for_timestep`: the position of `timestep` in the schedule; the second occurrence when
 * it occurs more than once (so a run started mid-schedule, img2img, does not skip a σ). Typed errors for an
 * empty schedule (StateError) and a timestep not in it (ConfigError).
 */
export function indexForTimestep(timesteps: readonly number[], timestep: number, className: string): number {
  if (timesteps.length === 0) throw new StateError(`${className}: call setTimesteps(n) before scaleModelInput() / step()`);
  const first = timesteps.indexOf(timestep);
  if (first < 0) throw new ConfigError(`${className}.step timestep`, timestep, `a timestep of the current schedule (${timesteps.slice(0, 6).join(", ")}${timesteps.length > 6 ? ", …" : ""})`);
  const second = timesteps.indexOf(timestep, first + 1);
  return second >= 0 ? second : first;
}

/**
 * The step counter of the σ-based schedulers (diffusers' `_step_index`): set by the first call from the
 * timestep (`indexForTimestep`), then advanced by one per `step`. A call whose timestep is not the one the
 * counter points at is a ConfigError; a step past the end is a StateError.
 */
export class StepCounter {
  private index: number | null = null;
  constructor(private readonly className: string) {}

  reset(): void {
    this.index = null;
  }

  /** The index `timestep` denotes now (without advancing). */
  current(timesteps: readonly number[], timestep: number): number {
    if (this.index === null) return indexForTimestep(timesteps, timestep, this.className);
    if (this.index >= timesteps.length) throw new StateError(`${this.className}: all ${timesteps.length} steps were taken; call setTimesteps(n) to sample again`);
    if (timesteps[this.index] !== timestep) throw new ConfigError(`${this.className}.step timestep`, timestep, `the next timestep of the schedule, timesteps[${this.index}] = ${timesteps[this.index]}`);
    return this.index;
  }

  /** Step `i` is done: the next call is step i + 1. */
  advance(i: number): void {
    this.index = i + 1;
  }
}

// ─── betas of diffusers' "exp" schedule (Heun) ───────────────────────────────────────────────────

/** diffusers `betas_for_alpha_bar(N, alpha_transform_type="exp")`: ᾱ(t) = e^{−12t}, βᵢ = min(1 − ᾱ((i+1)/N)/ᾱ(i/N), 0.999). */
export function expBetas(n: number): Float64Array {
  const abar = (t: number): number => Math.exp(t * -12);
  return Float64Array.from({ length: n }, (_, i) => Math.min(1 - abar((i + 1) / n) / abar(i / n), 0.999));
}

// ─── the Beta distribution's quantile (scipy.stats.beta.ppf) ─────────────────────────────────────

/** log Γ(x), x > 0 (Lanczos, g = 7, 9 terms; relative error ≈ 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes `betacf`). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** SAMP-SIGMAS-BETA: the regularised incomplete beta function I_x(a, b) = P(X ≤ x), X ~ Beta(a, b). */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** SAMP-SIGMAS-BETA: the quantile F⁻¹(p) of Beta(a, b) (scipy.stats.beta.ppf), by bisection to the last bit. */
export function betaPpf(p: number, a: number, b: number): number {
  require(p >= 0 && p <= 1, "p", p, "a probability in [0, 1]");
  if (p === 0) return 0;
  if (p === 1) return 1;
  let lo = 0;
  let hi = 1;
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (betaCdf(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// ─── the shared scheduler shell ──────────────────────────────────────────────────────────────────

/** Config keys every σ-based scheduler has (camelCase diffusers names), plus diffspec's `compat`. */
export interface SigmaSchedulerConfig extends Omit<ScheduleConfig, "rescaleBetasZeroSnr"> {
  /** Only Euler and Euler ancestral have it (diffusers); ᾱ_T = 0 is then made 2⁻²⁴. */
  rescaleBetasZeroSnr?: boolean;
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  compat: Compat;
  trainedBetas?: readonly number[];
  betaSchedule: BetaSchedule;
}

/** Beta schedules a σ-based class accepts: diffspec's four; compat "diffusers" only diffusers' (no sigmoid); Heun adds "exp". */
function allowedBetaSchedules(compat: Compat, exp: boolean): string[] {
  const base: string[] = compat === "diffusers" ? ["linear", "scaled_linear", "squaredcos_cap_v2"] : [...BETA_SCHEDULES];
  return exp ? [...base, "exp"] : base;
}

/**
 * Resolves and validates a σ-based scheduler's config: `resolveConfig` (unknown keys, predictionType,
 * timestepSpacing, compat) plus the σ options each class may have (interpolationType, timestepType,
 * finalSigmasType, the σ-ramp flags, sigmaMin/sigmaMax, stepsOffset, clipSample/clipSampleRange).
 */
export function resolveSigmaConfig<C extends SigmaSchedulerConfig>(className: string, defaults: C, given: Record<string, unknown>, opts: { expSchedule?: boolean } = {}): C {
  const c = resolveConfig(className, defaults, given) as C & Record<string, unknown>;
  const f = (k: string): string => `${className}.${k}`;
  requireOneOf(f("betaSchedule"), c.betaSchedule, allowedBetaSchedules(c.compat, opts.expSchedule ?? false));
  require(Number.isInteger(c.stepsOffset) && c.stepsOffset >= 0, f("stepsOffset"), c.stepsOffset, "a non-negative integer");
  require(c.trainedBetas === undefined || Array.isArray(c.trainedBetas) || ArrayBuffer.isView(c.trainedBetas), f("trainedBetas"), c.trainedBetas, "null or an array of numbers in (0, 1)");
  if ("interpolationType" in c) requireOneOf(f("interpolationType"), c.interpolationType, INTERPOLATION_TYPES);
  if ("timestepType" in c) requireOneOf(f("timestepType"), c.timestepType, TIMESTEP_TYPES);
  if ("finalSigmasType" in c) requireOneOf(f("finalSigmasType"), c.finalSigmasType, FINAL_SIGMAS_TYPES);
  for (const k of ["rescaleBetasZeroSnr", "clipSample"]) if (k in c) require(typeof c[k] === "boolean", f(k), c[k], "true or false");
  for (const k of ["sigmaMin", "sigmaMax"]) if (k in c && c[k] !== undefined) require(typeof c[k] === "number" && Number.isFinite(c[k]) && (c[k] as number) > 0, f(k), c[k], "null (use the schedule's own) or a finite number > 0");
  sigmaRamp(c as { useKarrasSigmas?: unknown }, className);
  return c;
}

/**
 * The train ᾱ of a σ-based scheduler: its beta schedule ("exp" via `expBetas`), zero-SNR rescaling made
 * finite with 2⁻²⁴. compat "diffusers": ᾱ as diffusers computes it in float32 (`float32AlphasCumprod`).
 */
export function trainAlphasCumprod(c: SigmaSchedulerConfig): Float64Array {
  if (c.compat === "diffusers") {
    const ac = float32AlphasCumprod(c);
    return c.rescaleBetasZeroSnr ? zeroSnrSafe(ac) : ac;
  }
  const exp = (c.betaSchedule as string) === "exp" && !c.trainedBetas;
  const s = makeSchedule({
    numTrainTimesteps: c.numTrainTimesteps,
    betaStart: c.betaStart,
    betaEnd: c.betaEnd,
    betaSchedule: exp ? "linear" : c.betaSchedule,
    trainedBetas: exp ? Array.from(expBetas(c.numTrainTimesteps)) : c.trainedBetas,
    rescaleBetasZeroSnr: c.rescaleBetasZeroSnr ?? false,
  });
  return c.rescaleBetasZeroSnr ? zeroSnrSafe(s.alphasCumprod) : s.alphasCumprod;
}

/**
 * The common shell of the σ-based schedulers (Euler, Euler ancestral, Heun, LMS): the train σ, the σ
 * schedule of `setTimesteps`, `initNoiseSigma`, SAMP-SCALE-INPUT and the step counter. Subclasses write
 * `step` (the method) and may override `makeSchedule` (Heun interleaves) and `resetState` (multistep memory).
 */
export abstract class SigmaScheduler<T extends BTensor, C extends SigmaSchedulerConfig> implements Scheduler<T> {
  timesteps: readonly number[] = [];
  sigmas: Float64Array | undefined = undefined;
  readonly order: number = 1;
  /** Train ᾱ, t = 0 … N−1. */
  readonly alphasCumprod: Float64Array;
  /** Train σ, t = 0 … N−1. */
  readonly sigmasTrain: Float64Array;
  protected readonly counter: StepCounter;

  constructor(
    readonly className: string,
    readonly config: Readonly<C>,
    readonly backend: Backend<T>,
  ) {
    this.alphasCumprod = trainAlphasCumprod(config);
    this.sigmasTrain = trainSigmas(this.alphasCumprod);
    this.counter = new StepCounter(className);
  }

  /** SAMP-SIGMAS: the std of the initial x̃ (before setTimesteps: from the train σ, as diffusers). */
  get initNoiseSigma(): number {
    return initNoiseSigma(this.sigmas ?? this.sigmasTrain, this.config.timestepSpacing, this.config.compat);
  }

  /** The σ schedule of an n-step run (timesteps and σ with the final σ). */
  protected abstract makeSchedule(n: number): SigmaSchedule;

  /** Forget the multistep memory (called by setTimesteps). */
  protected resetState(): void {}

  setTimesteps(numInferenceSteps: number): void {
    const s = this.makeSchedule(numInferenceSteps);
    this.timesteps = s.timesteps;
    this.sigmas = s.sigmas;
    this.counter.reset();
    this.resetState();
  }

  /** The step index `timestep` denotes now, and the σ schedule (typed errors when not set or not in it). */
  protected locate(timestep: number): { i: number; sigmas: Float64Array } {
    const i = this.counter.current(this.timesteps, timestep);
    return { i, sigmas: this.sigmas as Float64Array };
  }

  /** SAMP-SCALE-INPUT: x̃/√(σ² + 1), the VP sample xₜ the network was trained on. */
  async scaleModelInput(sample: T, timestep: number): Promise<T> {
    const { i, sigmas } = this.locate(timestep);
    return this.backend.combine([sample], [scaleInputFactor(sigmas[i])]);
  }

  /** x̂₀ in the VE view from the model output at noise level σ (`denoisedCoeffs`). */
  protected denoised(output: T, sample: T, sigma: number): Promise<T> | T {
    return this.backend.combine([sample, output], denoisedCoeffs(this.config.predictionType, sigma));
  }

  abstract step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>>;
}

/** x + s·z with z ~ 𝒩(0, I) from `noise`; a ConfigError naming `what` when a needed provider is missing. */
export async function addNoise<T extends BTensor>(backend: Backend<T>, x: T, scale: number, noise: NoiseProvider<T> | undefined, what: string): Promise<T> {
  if (!noise) throw new ConfigError(`${what} options.noise`, undefined, "a NoiseProvider (this step adds fresh Gaussian noise; pass e.g. backendNoise(backend, seed))");
  const z = await noise.next(x.shape);
  return backend.combine([x, z], [1, scale]);
}

// ─── diffusers' float32 train schedule ───────────────────────────────────────────────────────────

/**
 * torch.linspace(start, end, n, dtype=float32) on the CPU, bit for bit (torch 1.13, AVX2): float32
 * arithmetic with fused multiply-adds, anchored at `start` in the first half and at `end` in the second,
 * 8-lane vector blocks `base + i·step` over the first ⌊n/16⌋·16 entries and the scalar formula after.
 */
export function torchLinspaceFloat32(start: number, end: number, n: number): Float64Array {
  const s = f32(start);
  const e = f32(end);
  if (n === 1) return Float64Array.of(s);
  const step = f32((e - s) / (n - 1));
  const half = Math.floor(n / 2);
  const at = (idx: number): number => (idx < half ? f32(s + step * idx) : f32(e - step * (n - idx - 1)));
  const out = new Float64Array(n);
  const nVec = Math.floor(n / 16) * 16;
  for (let idx = 0; idx < nVec; idx += 8) {
    const base = at(idx);
    for (let i = 0; i < 8; i++) out[idx + i] = f32(base + i * step);
  }
  for (let idx = nVec; idx < n; idx++) out[idx] = at(idx);
  return out;
}

/**
 * ᾱ as diffusers stores it (`compat: "diffusers"`): float32 αᵢ = fl(1 − fl(βᵢ)), a cumulative product
 * accumulated in double (torch's CPU accumulation type) and stored as float32. This matters for σ₀:
 * 1 − ᾱ₀ ≈ β₀ ≈ 10⁻³ cancels, so float32 rounding of ᾱ₀ moves σ₀ by ≈ 10⁻⁵ relative, which Karras
 * and exponential spacings (anchored at σ_min = σ₀) carry into every σ.
 */
export function float32Cumprod(betas: ArrayLike<number>): Float64Array {
  let p = 1;
  return Float64Array.from(betas, (b) => f32((p *= f32(1 - f32(b)))));
}

/**
 * compat "diffusers": the train ᾱ exactly as diffusers v0.40.0 computes it, in float32 torch arithmetic
 * (betas by `torchLinspaceFloat32`, or float64 formulas rounded once; zero-SNR rescaling op by op). The
 * float32 rounding of ᾱ matters where 1 − ᾱ cancels (σ near t = 0, relative error up to ~1e-5) and in
 * the σ → t inversion of Karras timesteps, which amplifies it (~1e-3 in t); the Float64 schedule stays
 * the meaning of the spec (compat "math").
 */
export function float32AlphasCumprod(c: Pick<ScheduleConfig, "numTrainTimesteps" | "betaStart" | "betaEnd" | "trainedBetas"> & { betaSchedule: string; rescaleBetasZeroSnr?: boolean }): Float64Array {
  const N = requirePositiveInt("numTrainTimesteps", c.numTrainTimesteps);
  let betas: Float64Array;
  if (c.trainedBetas) betas = makeSchedule({ numTrainTimesteps: N, trainedBetas: c.trainedBetas }).betas.map(f32);
  else if (c.betaSchedule === "linear") betas = torchLinspaceFloat32(c.betaStart, c.betaEnd, N);
  else if (c.betaSchedule === "scaled_linear") betas = torchLinspaceFloat32(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), N).map((r) => f32(r * r));
  else if (c.betaSchedule === "exp") betas = expBetas(N).map(f32);
  else betas = makeSchedule({ numTrainTimesteps: N, betaStart: c.betaStart, betaEnd: c.betaEnd, betaSchedule: c.betaSchedule as BetaSchedule }).betas.map(f32);
  makeSchedule({ numTrainTimesteps: N, betaStart: c.betaStart, betaEnd: c.betaEnd, trainedBetas: Array.from(betas) }); // validates the config
  if (c.rescaleBetasZeroSnr) {
    // diffusers rescale_zero_terminal_snr, float32 op by op.
    const sq = float32Cumprod(betas).map((a) => f32(Math.sqrt(a)));
    const [s0, sT] = [sq[0], sq[N - 1]];
    const k = f32(s0 / f32(s0 - sT));
    const abar = sq.map((v) => f32(f32(v - sT) * k)).map((v) => f32(v * v));
    betas = abar.map((a, i) => f32(1 - (i === 0 ? a : f32(a / abar[i - 1]))));
  }
  return float32Cumprod(betas);
}

/** compat "diffusers": σ = ((1 − ᾱ)/ᾱ)^½ in float32 torch arithmetic. */
export function float32TrainSigmas(alphasCumprod: ArrayLike<number>): Float64Array {
  return Float64Array.from(alphasCumprod, (a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

// ─── k-diffusion's σ schedules ───────────────────────────────────────────────────────────────────

/**
 * SAMP-KDIFF-SIGMAS-POLYEXP: k-diffusion `get_sigmas_polyexponential`: log σ runs from log σ_max to
 * log σ_min along the ramp r^ρ, r = 1 … 0 evenly spaced (ρ = 1 is the exponential schedule, larger ρ spends
 * more steps at small σ), then a final 0: σᵢ = exp(log σ_min + rᵢ^ρ (log σ_max − log σ_min)).
 */
export function polyexponentialSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 1): Float64Array {
  requirePositiveInt("n", n);
  require(Number.isFinite(sigmaMin) && sigmaMin > 0, "sigmaMin", sigmaMin, "a finite number > 0");
  require(Number.isFinite(sigmaMax) && sigmaMax >= sigmaMin, "sigmaMax", sigmaMax, `a finite number ≥ sigmaMin (${sigmaMin})`);
  require(Number.isFinite(rho) && rho > 0, "rho", rho, "a finite number > 0");
  const [lo, hi] = [Math.log(sigmaMin), Math.log(sigmaMax)];
  const out = new Float64Array(n + 1);
  linspace(1, 0, n).forEach((r, i) => (out[i] = Math.exp(r ** rho * (hi - lo) + lo)));
  return out;
}

/**
 * SAMP-KDIFF-SIGMAS-VP: k-diffusion `get_sigmas_vp`, the continuous VP schedule of Song et al. (2021) in
 * the VE view: with log ᾱ(t) = −(β_d t²/2 + β_min t), σ(t) = √(1/ᾱ(t) − 1) = √(e^{β_d t²/2 + β_min t} − 1)
 * at t evenly spaced from 1 to ε_s, then a final 0. Defaults β_d = 19.9, β_min = 0.1, ε_s = 10⁻³.
 */
export function vpSigmas(n: number, betaD = 19.9, betaMin = 0.1, epsS = 1e-3): Float64Array {
  requirePositiveInt("n", n);
  require(Number.isFinite(betaD) && betaD >= 0, "betaD", betaD, "a finite number ≥ 0");
  require(Number.isFinite(betaMin) && betaMin >= 0, "betaMin", betaMin, "a finite number ≥ 0");
  require(Number.isFinite(epsS) && epsS > 0 && epsS < 1, "epsS", epsS, "a number in (0, 1) (the smallest t)");
  require(betaD + betaMin > 0, "betaMin", betaMin, "a number > 0 when betaD = 0 (else every σ is 0)");
  const out = new Float64Array(n + 1);
  linspace(1, epsS, n).forEach((t, i) => (out[i] = Math.sqrt(Math.expm1((betaD * t * t) / 2 + betaMin * t))));
  return out;
}

/** k-diffusion's σ-schedule functions by name, with their keyword arguments (snake_case, as the fixtures store them). */
export const KDIFFUSION_SIGMAS = {
  get_sigmas_karras: (a: Record<string, number>) => karrasSigmas(a.n, a.sigma_min, a.sigma_max, a.rho ?? 7),
  get_sigmas_exponential: (a: Record<string, number>) => exponentialSigmas(a.n, a.sigma_min, a.sigma_max),
  get_sigmas_polyexponential: (a: Record<string, number>) => polyexponentialSigmas(a.n, a.sigma_min, a.sigma_max, a.rho ?? 1),
  get_sigmas_vp: (a: Record<string, number>) => vpSigmas(a.n, a.beta_d ?? 19.9, a.beta_min ?? 0.1, a.eps_s ?? 1e-3),
} as const;
export type KDiffusionSigmasName = keyof typeof KDIFFUSION_SIGMAS;
