/**
 * SAMP-EXPINT — pieces shared by the exponential-integrator samplers: DPM-Solver / DPM-Solver++
 * (multistep and singlestep), UniPC and DEIS (spec/07-samplers-dpm-unipc-deis.md; article:
 * "Reverse diffusion in practice").
 *
 * All four integrate the probability-flow ODE in the half log-SNR λ = log α − log σ, where the linear
 * part is solved exactly and only the model prediction is interpolated (Lu et al. 2022, eq. 3.4):
 *   x_t = (σ_t/σ_s)·x_s + σ_t ∫_{λ_s}^{λ_t} e^{λ} x̂₀(λ) dλ          (data prediction, "++")
 *   x_t = (α_t/α_s)·x_s − α_t ∫_{λ_s}^{λ_t} e^{−λ} ε̂(λ) dλ           (noise prediction)
 * Here: the VP coefficients of a σ, λ, the inference schedule (timesteps and σ's, as diffusers v0.40.0
 * computes them), the conversion of a model output to x̂₀ or ε̂ (with dynamic thresholding), the
 * history of converted outputs, the step counter and the noise draw. Scalars are host Float64;
 * tensors only go through `backend.combine` (and `threshold`, `toHost`/`fromHost` for `varianceType`).
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import { ConfigError, ShapeError, StateError, require, requireOneOf, requirePositiveInt } from "../errors.ts";
import { DEFAULT_SCHEDULE, alphasCumprod as cumprod, linspace, makeBetas, type BetaSchedule, type ScheduleConfig } from "../schedule.ts";
import { convertSigmas, float32Cumprod, sigmaToTimestep, timestepForSigma } from "./sigmas.ts";
import { roundHalfEven, type TimestepSpacing } from "../timesteps.ts";
import type { Compat } from "./common.ts";
import { postprocessX0, predictEps, predictX0 } from "./common.ts";
import type { NoiseProvider, StepOptions } from "./scheduler.ts";

// ─── λ and the VP coefficients of a noise level ───────────────────────────────────────────────────

/** The VP view of a VE noise level σ: α = 1/√(σ²+1), σ_t = σ·α, λ = log α − log σ_t (= −log σ). */

/** diffusers v0.40.0's default values of the shared keys (lowerOrderFinal differs per class). */
export const MULTISTEP_COMMON_DEFAULTS: Omit<MultistepCommonConfig, "lowerOrderFinal"> = {
  numTrainTimesteps: DEFAULT_SCHEDULE.numTrainTimesteps,
  betaStart: DEFAULT_SCHEDULE.betaStart,
  betaEnd: DEFAULT_SCHEDULE.betaEnd,
  betaSchedule: DEFAULT_SCHEDULE.betaSchedule,
  trainedBetas: undefined,
  solverOrder: 2,
  predictionType: "epsilon",
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  sampleMaxValue: 1,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  useFlowSigmas: false,
  flowShift: 1,
  useDynamicShifting: false,
  compat: "math",
};

/** The config keys every diffusers multistep solver (DPM-Solver ±, UniPC, DEIS) shares, camelCase. */
export type MultistepCommonConfig = {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  trainedBetas?: readonly number[];
  solverOrder: number;
  predictionType: PredictionType;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  lowerOrderFinal: boolean;
  useKarrasSigmas: boolean;
  useExponentialSigmas: boolean;
  useBetaSigmas: boolean;
  useFlowSigmas: boolean;
  flowShift: number;
  useDynamicShifting: boolean;
  compat: Compat;
};

export interface VP {
  readonly alpha: number;
  readonly sigma: number;
  readonly lambda: number;
}

/** SAMP-EXPINT: diffusers `_sigma_to_alpha_sigma_t` plus λ. σ = 0 gives α = 1, σ_t = 0, λ = +∞. */
export function vp(sigmaVE: number): VP {
  const alpha = 1 / Math.sqrt(sigmaVE * sigmaVE + 1);
  const sigma = sigmaVE * alpha;
  return { alpha, sigma, lambda: Math.log(alpha) - Math.log(sigma) };
}

// ─── the training schedule and the inference schedule ─────────────────────────────────────────────

/** What the samplers need of the N training steps. */
export interface TrainSchedule {
  readonly alphasCumprod: Float64Array;
  /** VE σₜ = √((1 − ᾱₜ)/ᾱₜ), increasing in t. */
  readonly sigmas: Float64Array;
  readonly logSigmas: Float64Array;
  /** λₜ = log √ᾱₜ − log √(1 − ᾱₜ), decreasing in t. */
  readonly lambdas: Float64Array;
}

/**
 * The training schedule. With zero terminal SNR (ᾱ_{N−1} = 0) the last ᾱ is set to 2⁻²⁴ so that σ_max
 * is finite, as diffusers does for DPMSolverMultistep and UniPC (SCHED-ZERO-SNR).
 */
export function trainSchedule(config: ScheduleConfig, compat: Compat = "math"): TrainSchedule {
  const betas = makeBetas(config);
  const ac = compat === "diffusers" ? float32Cumprod(betas) : cumprod(betas);
  if (config.rescaleBetasZeroSnr) ac[ac.length - 1] = 2 ** -24;
  const f = compat === "diffusers" ? Math.fround : (v: number) => v;
  const sigmas = ac.map((a) => f(Math.sqrt(f(f(1 - a) / a))));
  return {
    alphasCumprod: ac,
    sigmas,
    logSigmas: sigmas.map(Math.log),
    lambdas: ac.map((a) => 0.5 * Math.log(a) - 0.5 * Math.log1p(-a)),
  };
}


/**
 * TS-SPACING as the multistep samplers define it (diffusers DPMSolverMultistep/UniPC/DEIS
 * `set_timesteps`): n + 1 points, the last (t = 0) dropped, so the final step goes to the appended σ.
 * - linspace: round(linspace(0, last − 1, n + 1)) reversed, without its final 0;
 * - leading:  k·⌊last/(n+1)⌋ + stepsOffset for k = n … 1;
 * - trailing: round(last − k·last/n) − 1 for k = 0 … n − 1 (n points stepping down from `last`, like
 *   linspace and leading, scaled to the kept range).
 * `last` = N minus the steps clipped by `lambdaMinClipped`. diffusers' trailing is a floating-point
 * `np.arange(last, 0, −N/n)`: its step ignores the clipping, so an active `lambdaMinClipped` gives fewer
 * than n timesteps, and for some n it yields n + 1 values ending at t = −1; `compat: "diffusers"` keeps
 * both. (Stepping by N/n for n points from a clipped `last` would reach negative timesteps.)
 */
export function spacedTimesteps(n: number, N: number, spacing: TimestepSpacing, stepsOffset: number, last: number, compat: Compat): number[] {
  if (spacing === "linspace") return Array.from(linspace(0, last - 1, n + 1), roundHalfEven).reverse().slice(0, n);
  if (spacing === "leading") {
    const ratio = Math.floor(last / (n + 1));
    return Array.from({ length: n }, (_, k) => (n - k) * ratio + stepsOffset);
  }
  const ratio = compat === "diffusers" ? N / n : last / n;
  const count = compat === "diffusers" ? Math.ceil((0 - last) / -ratio) : n;
  return Array.from({ length: count }, (_, k) => roundHalfEven(last + k * -ratio) - 1);
}

/** Number of training steps at the low-noise end whose λ lies below `lambdaMinClipped` (diffusers `searchsorted`). */
export function clippedSteps(lambdas: ArrayLike<number>, lambdaMinClipped: number): number {
  let k = 0;
  for (let i = 0; i < lambdas.length; i++) if (lambdas[i] < lambdaMinClipped) k++;
  return k;
}

export type SigmaSpacing = "interpolated" | "karras" | "exponential" | "beta" | "lu";

export interface InferenceScheduleOptions {
  n: number;
  train: TrainSchedule;
  spacing: TimestepSpacing;
  stepsOffset: number;
  /** Training steps removed by `lambdaMinClipped` (0 for classes without it). */
  clipped: number;
  sigmaSpacing: SigmaSpacing;
  finalSigmasType: "zero" | "sigma_min";
  /**
   * Where a `sigma_min` final σ comes from for karras/exponential/lu spacing: the training σ₀
   * ("train", DPMSolver*) or the last converted σ ("last", UniPC, DEIS). Equal unless sigmaMin is set.
   */
  finalFrom: "train" | "last";
  /** diffusers rounds karras/lu timesteps (DPMSolverMultistep: except for squaredcos_cap_v2); exponential and beta ones are truncated. */
  roundKarras: boolean;
  sigmaMin?: number | null;
  sigmaMax?: number | null;
  compat: Compat;
}

/**
 * SAMP-EXPINT-SCHEDULE: the timesteps the network is evaluated at and the σ's the solver steps through
 * (n + 1 of them: the last is 0 or σ_min). For karras / exponential / beta / lu spacing the σ's are
 * spaced first (reference/samplers/sigmas.ts `convertSigmas`) and each timestep is the (fractional)
 * timestep of its σ (compat "math") or diffusers' integer approximation of it.
 */
export function inferenceSchedule(o: InferenceScheduleOptions): { timesteps: number[]; sigmas: Float64Array } {
  const N = o.train.sigmas.length;
  const trainSigma = (t: number): number => o.train.sigmas[Math.min(Math.max(t, 0), N - 1)];
  let sigmas: number[];
  let timesteps: number[];
  if (o.sigmaSpacing === "interpolated") {
    timesteps = spacedTimesteps(o.n, N, o.spacing, o.stepsOffset, N - o.clipped, o.compat);
    sigmas = timesteps.map(trainSigma);
  } else {
    const ends = [o.train.sigmas[N - 1], o.train.sigmas[0]];
    if (o.sigmaSpacing === "lu") sigmas = Array.from(linspace(Math.log(ends[0]), Math.log(ends[1]), o.n), Math.exp);
    else sigmas = Array.from(convertSigmas(o.sigmaSpacing, ends, o.n, o.sigmaMin, o.sigmaMax));
    // The ramp ends at σ_min exactly ((σ_min^{1/ρ})^ρ and exp(log σ_min) may be an ulp off, which would make the
    // last step to a σ_min final one of negative length and the SDE noise scale √(e^{2h} − 1) NaN).
    if (o.n > 1) sigmas[o.n - 1] = o.sigmaSpacing === "lu" ? ends[1] : (o.sigmaMin ?? ends[1]);
    // compat "math": the network is told the noise level the solver assumes, t(σ) inverting the linear
    // interpolation of the train σ (SAMP-SIGMAS-INTERP; fractional). diffusers: the int64 of `_sigma_to_t`,
    // rounded for karras/lu, truncated for exponential/beta (and for karras with squaredcos_cap_v2).
    const round = (o.sigmaSpacing === "karras" || o.sigmaSpacing === "lu") && o.roundKarras;
    timesteps = sigmas.map((s) => {
      if (o.compat === "math") return timestepForSigma(s, o.train.sigmas, "linear");
      const t = sigmaToTimestep(s, o.train.logSigmas);
      return round ? roundHalfEven(t) : Math.trunc(t);
    });
  }
  const last = o.finalSigmasType === "zero" ? 0 : o.sigmaSpacing !== "interpolated" && o.finalFrom === "last" ? sigmas[sigmas.length - 1] : o.train.sigmas[0];
  // A repeated σ before the last step is a step of length h = 0, which the multistep divided differences divide by.
  const k = sigmas.findIndex((s, i) => i > 0 && !(s < sigmas[i - 1]));
  if (k > 0) throw new ConfigError("numInferenceSteps", o.n, `fewer steps for this spacing: the schedule repeats σ = ${sigmas[k]} (timestep ${timesteps[k]}), a zero-length step`);
  return { timesteps, sigmas: Float64Array.from([...sigmas, last]) };
}

// ─── configuration pieces shared by the four classes ─────────────────────────────────────────────

/** The σ-spacing options (diffusers keys) and the one in use. Throws ConfigError for unsupported ones. */
export function sigmaSpacingOf(className: string, c: { useKarrasSigmas?: boolean; useExponentialSigmas?: boolean; useBetaSigmas?: boolean; useLuLambdas?: boolean; useFlowSigmas?: boolean; useDynamicShifting?: boolean }): SigmaSpacing {
  for (const k of ["useKarrasSigmas", "useExponentialSigmas", "useBetaSigmas", "useLuLambdas", "useFlowSigmas", "useDynamicShifting"] as const) {
    if (k in c) require(typeof c[k] === "boolean", `${className}.${k}`, c[k], "true or false");
  }
  require(!c.useFlowSigmas, `${className}.useFlowSigmas`, c.useFlowSigmas, "false (flow-matching σ's are not a VP schedule; diffspec's flow samplers are separate)");
  require(!c.useDynamicShifting, `${className}.useDynamicShifting`, c.useDynamicShifting, "false (dynamic shifting needs flow σ's and a `mu`)");
  const on = (["useKarrasSigmas", "useExponentialSigmas", "useBetaSigmas", "useLuLambdas"] as const).filter((k) => c[k]);
  require(on.length <= 1, `${className}.${on.join("+")}`, true, "at most one of useKarrasSigmas, useExponentialSigmas, useBetaSigmas, useLuLambdas");
  if (c.useKarrasSigmas) return "karras";
  if (c.useExponentialSigmas) return "exponential";
  if (c.useBetaSigmas) return "beta";
  if (c.useLuLambdas) return "lu";
  return "interpolated";
}

/** A solver order in 1 … max, or a ConfigError. */
export function requireOrder(className: string, order: unknown, max = 3): number {
  require(Number.isInteger(order) && (order as number) >= 1 && (order as number) <= max, `${className}.solverOrder`, order, `1, 2${max >= 3 ? " or 3" : ""}`);
  return order as number;
}

/** numInferenceSteps: a positive integer ≤ numTrainTimesteps. */
export function requireSteps(className: string, n: unknown, N: number): number {
  requirePositiveInt(`${className}.setTimesteps numInferenceSteps`, n);
  require((n as number) <= N, `${className}.setTimesteps numInferenceSteps`, n, `an integer ≤ numTrainTimesteps (${N})`);
  return n as number;
}

/** Validates the keys diffusers accepts but that only matter for flow models or unsupported features. */
export function requireInert(className: string, c: Record<string, unknown>): void {
  if ("flowShift" in c) require(typeof c.flowShift === "number" && Number.isFinite(c.flowShift) && c.flowShift > 0, `${className}.flowShift`, c.flowShift, "a number > 0 (used only with flow σ's)");
  if ("timeShiftType" in c) requireOneOf(`${className}.timeShiftType`, c.timeShiftType, ["exponential", "linear"] as const);
  if ("finalSigmasType" in c) requireOneOf(`${className}.finalSigmasType`, c.finalSigmasType, ["zero", "sigma_min"] as const);
  if ("stepsOffset" in c) require(Number.isInteger(c.stepsOffset) && (c.stepsOffset as number) >= 0, `${className}.stepsOffset`, c.stepsOffset, "a non-negative integer");
  for (const k of ["thresholding", "lowerOrderFinal", "rescaleBetasZeroSnr", "eulerAtFinal", "predictX0"]) {
    if (k in c) require(typeof c[k] === "boolean", `${className}.${k}`, c[k], "true or false");
  }
  if ("dynamicThresholdingRatio" in c) require(typeof c.dynamicThresholdingRatio === "number" && c.dynamicThresholdingRatio > 0 && c.dynamicThresholdingRatio <= 1, `${className}.dynamicThresholdingRatio`, c.dynamicThresholdingRatio, "a number in (0, 1]");
  if ("sampleMaxValue" in c) require(typeof c.sampleMaxValue === "number" && Number.isFinite(c.sampleMaxValue) && c.sampleMaxValue > 0, `${className}.sampleMaxValue`, c.sampleMaxValue, "a finite number > 0");
  if ("varianceType" in c && c.varianceType !== null) requireOneOf(`${className}.varianceType`, c.varianceType, ["learned", "learned_range"] as const);
}

// ─── model output → x̂₀ or ε̂ ───────────────────────────────────────────────────────────────────────

export interface OutputConversion {
  predictionType: PredictionType;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  /** "learned" / "learned_range": the output also carries a variance in its second half of channels. */
  varianceType?: string | null;
}

/**
 * SAMP-VARIANCE-CHANNELS: a model with a learned variance outputs [B, 2C, …]; the samplers use the mean,
 * the first C channels. (diffusers slices `[:, :3]`, the same for RGB.) Done on the host.
 */
export async function meanChannels<T extends BTensor>(backend: Backend<T>, output: T, sample: T): Promise<T> {
  const [B, C2] = output.shape;
  const C = sample.shape[1];
  if (output.shape.length !== sample.shape.length || C2 !== 2 * C || B !== sample.shape[0]) {
    throw new ShapeError("model output with varianceType learned", [...output.shape], `[${sample.shape[0]}, ${2 * C}, ${sample.shape.slice(2).join(", ")}] (mean and variance channels)`);
  }
  const data = await backend.toHost(output);
  const per = data.length / B;
  const out = new Float64Array(data.length / 2);
  for (let b = 0; b < B; b++) out.set(data.subarray(b * per, b * per + per / 2), (b * per) / 2);
  return backend.fromHost(out, sample.shape);
}

/**
 * SAMP-X0-CONVERT: the data prediction x̂₀ = (x − σ_t ε̂)/α_t (or α_t x − σ_t v̂, or the output itself),
 * then optional dynamic thresholding (Saharia et al. 2022). σ is the VE noise level of the sample.
 */
export async function dataPrediction<T extends BTensor>(backend: Backend<T>, c: OutputConversion, output: T, sample: T, sigmaVE: number): Promise<T> {
  if (c.varianceType === "learned" || c.varianceType === "learned_range") output = await meanChannels(backend, output, sample);
  const { alpha, sigma } = vp(sigmaVE);
  const x0 = await predictX0(backend, c.predictionType, output, sample, alpha, sigma);
  return postprocessX0(backend, x0, { ...c, clipSample: false, clipSampleRange: 1 });
}

/** SAMP-X0-CONVERT: the noise prediction ε̂; with thresholding, ε̂ = (x − α_t·threshold(x̂₀))/σ_t. */
export async function noisePrediction<T extends BTensor>(backend: Backend<T>, c: OutputConversion, output: T, sample: T, sigmaVE: number): Promise<T> {
  const { alpha, sigma } = vp(sigmaVE);
  if (c.thresholding) {
    const x0 = await dataPrediction(backend, c, output, sample, sigmaVE);
    return backend.combine([sample, x0], [1 / sigma, -alpha / sigma]);
  }
  if (c.varianceType === "learned" || c.varianceType === "learned_range") output = await meanChannels(backend, output, sample);
  return predictEps(backend, c.predictionType, output, sample, alpha, sigma);
}

/**
 * SAMP-X0-CONVERT: diffusers' `convert_model_output`, the quantity a solver's history holds: the data
 * prediction x̂₀ for a data-prediction solver (`dataPred`), else the noise prediction ε̂.
 */
export async function convertModelOutput<T extends BTensor>(backend: Backend<T>, c: OutputConversion, dataPred: boolean, output: T, sample: T, sigmaVE: number): Promise<T> {
  return dataPred ? dataPrediction(backend, c, output, sample, sigmaVE) : noisePrediction(backend, c, output, sample, sigmaVE);
}

/** x̂₀ from ε̂ at a VE σ (for `predOriginalSample` of the noise-prediction variants). */
export async function x0FromEps<T extends BTensor>(backend: Backend<T>, eps: T, sample: T, sigmaVE: number): Promise<T> {
  const { alpha, sigma } = vp(sigmaVE);
  return backend.combine([sample, eps], [1 / alpha, -sigma / alpha]);
}

// ─── the state of a multistep sampler ────────────────────────────────────────────────────────────

/** The last `size` converted model outputs; `at(0)` is the newest (m₀), `at(1)` the one before (m₁), … */
export class History<T> {
  private items: (T | undefined)[];
  constructor(readonly size: number) {
    this.items = new Array(size).fill(undefined);
  }
  push(x: T): void {
    this.items = [...this.items.slice(1), x];
  }
  at(k: number): T {
    const x = this.items[this.size - 1 - k];
    if (x === undefined) throw new StateError(`multistep history: no model output ${k} steps back`);
    return x;
  }
  has(k: number): boolean {
    return k < this.size && this.items[this.size - 1 - k] !== undefined;
  }
  reset(): void {
    this.items = new Array(this.size).fill(undefined);
  }
}

/**
 * SAMP-ORDER-OF-CALLS for samplers with history: the step index is a counter (diffusers `_step_index`),
 * started from the first timestep passed; every later call must pass the next timestep of the schedule.
 */
export class StepCounter {
  private index: number | null = null;
  reset(): void {
    this.index = null;
  }
  get current(): number | null {
    return this.index;
  }
  /** The index of this step; does not advance (call `advance` once the step succeeded). */
  locate(timesteps: readonly number[], timestep: number, className: string, _compat: Compat): number {
    if (timesteps.length === 0) throw new StateError(`${className}.step: call setTimesteps(n) before step()`);
    const hits = timesteps.flatMap((t, i) => (t === timestep ? [i] : []));
    if (hits.length === 0) {
      throw new ConfigError(`${className}.step timestep`, timestep, `a timestep of the current schedule (${timesteps.slice(0, 6).join(", ")}${timesteps.length > 6 ? ", …" : ""})`);
    }
    // The first call starts at the first occurrence. (diffusers takes the second when the timestep repeats, for
    // img2img starts; for a run from timesteps[0] that skips σ₀ and fails on the last step — not reproduced.)
    if (this.index === null) return hits[0];
    if (this.index >= timesteps.length) throw new StateError(`${className}.step: all ${timesteps.length} steps are done; call setTimesteps(n) to sample again`);
    if (timesteps[this.index] !== timestep) {
      throw new StateError(`${className}.step: expected timestep ${timesteps[this.index]} (step ${this.index}), got ${timestep}; a multistep sampler keeps a history and must be stepped in schedule order (setTimesteps restarts it)`);
    }
    return this.index;
  }
  advance(i: number): void {
    this.index = i + 1;
  }
}

/** The fresh N(0, I) tensor of a stochastic step, or a typed error when the caller gave no noise. */
export async function drawNoise<T extends BTensor>(options: StepOptions<T> | undefined, shape: readonly number[], className: string, what: string): Promise<T> {
  const noise: NoiseProvider<T> | undefined = options?.noise;
  if (!noise) throw new ConfigError(`${className}.step options.noise`, undefined, `a NoiseProvider: ${what} draws fresh Gaussian noise every step`);
  return noise.next(shape);
}

// ─── linear combinations built on the host ──────────────────────────────────────────────────────

/** A coefficient vector over the history [m₀, m₁, m₂] (the D's of the papers are such vectors). */
export type Vec = readonly number[];
export const vAdd = (...vs: Vec[]): number[] => vs.reduce<number[]>((acc, v) => acc.map((a, i) => a + (v[i] ?? 0)), [0, 0, 0]);
/** c·v; an exact 0 stays 0 (a term that is absent is not multiplied by an infinite weight). */
export const vScale = (v: Vec, c: number): number[] => [0, 1, 2].map((i) => ((v[i] ?? 0) === 0 ? 0 : (v[i] as number) * c));
export const vSub = (a: Vec, b: Vec): number[] => vAdd(a, vScale(b, -1));
/** The unit vectors m₀, m₁, m₂. */
export const M0: Vec = [1, 0, 0];
export const M1: Vec = [0, 1, 0];
export const M2: Vec = [0, 0, 1];

/**
 * One update x_next = c_x·x + Σₖ cₖ·mₖ (+ c_n·noise) evaluated with a single `backend.combine`.
 * Only history entries with a non-zero coefficient are used (a zero coefficient on a missing entry is fine).
 */
export async function combineUpdate<T extends BTensor>(backend: Backend<T>, x: T, cx: number, history: History<T>, cm: Vec, extra: readonly (readonly [T, number])[] = []): Promise<T> {
  const terms: T[] = [x];
  const coeffs: number[] = [cx];
  cm.forEach((c, k) => {
    if (c !== 0) { terms.push(history.at(k)); coeffs.push(c); }
  });
  for (const [t, c] of extra) { terms.push(t); coeffs.push(c); }
  return backend.combine(terms, coeffs);
}

/** Solves the small dense system A·x = b (Gaussian elimination with partial pivoting; UniPC's ρ's). */
export function solveLinear(A: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row.slice(0, n), b[i]]);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r][col]) > Math.abs(M[piv][col])) piv = r;
    [M[col], M[piv]] = [M[piv], M[col]];
    for (let r = col + 1; r < n; r++) {
      const f = M[r][col] / M[col][col];
      for (let k = col; k <= n; k++) M[r][k] -= f * M[col][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

// ─── DPM-Solver weights ──────────────────────────────────────────────────────────────────────────

export type DpmAlgorithm = "dpmsolver++" | "sde-dpmsolver++" | "dpmsolver" | "sde-dpmsolver";

/**
 * The exponential-integrator weights of one DPM-Solver step from s to t (h = λ_t − λ_s):
 *   x_t = cx·x_s + scale·(w0·D0 + w1·D1 + w2·D2) + cn·z,
 * with D0 the model prediction, D1 ≈ h·dD/dλ and D2 ≈ (h²/2)·d²D/dλ² its divided differences (diffusers'
 * third-order update weights D2 by w2 where the Taylor expansion needs 2·w2; see dpmsolver-multistep.ts).
 * - dpmsolver++ (Lu et al. 2022b, eq. 8 and App. B): cx = σ_t/σ_s, scale = α_t, w0 = 1 − e^{−h};
 * - sde-dpmsolver++ (ibid., SDE solver): cx = e^{−h}σ_t/σ_s, scale = α_t, w0 = 1 − e^{−2h}, cn = σ_t√(1 − e^{−2h});
 * - dpmsolver (Lu et al. 2022a, Alg. 1): cx = α_t/α_s, scale = −σ_t, w0 = e^{h} − 1;
 * - sde-dpmsolver: cx = α_t/α_s, scale = −σ_t, w0 = 2(e^{h} − 1), cn = σ_t√(e^{2h} − 1).
 * w1 is 0.5·w0 for the midpoint rule and the first-order Taylor weight for Heun's; w2 the second-order one.
 */
export interface DpmWeights {
  readonly cx: number;
  readonly scale: number;
  readonly w0: number;
  readonly w1Midpoint: number;
  readonly w1Heun: number;
  readonly w2: number;
  readonly cn: number;
}

export function dpmWeights(algorithm: DpmAlgorithm, s: VP, t: VP): DpmWeights {
  const h = t.lambda - s.lambda;
  if (algorithm === "dpmsolver++") {
    const phi = Math.exp(-h) - 1;
    return { cx: t.sigma / s.sigma, scale: t.alpha, w0: -phi, w1Midpoint: -0.5 * phi, w1Heun: phi / h + 1, w2: -((phi + h) / h ** 2 - 0.5), cn: 0 };
  }
  if (algorithm === "sde-dpmsolver++") {
    const chi = 1 - Math.exp(-2 * h);
    return { cx: (t.sigma / s.sigma) * Math.exp(-h), scale: t.alpha, w0: chi, w1Midpoint: 0.5 * chi, w1Heun: chi / (-2 * h) + 1, w2: (chi - 2 * h) / (2 * h) ** 2 - 0.5, cn: t.sigma * Math.sqrt(chi) };
  }
  const psi = Math.exp(h) - 1;
  if (algorithm === "dpmsolver") {
    return { cx: t.alpha / s.alpha, scale: -t.sigma, w0: psi, w1Midpoint: 0.5 * psi, w1Heun: psi / h - 1, w2: (psi - h) / h ** 2 - 0.5, cn: 0 };
  }
  return { cx: t.alpha / s.alpha, scale: -t.sigma, w0: 2 * psi, w1Midpoint: psi, w1Heun: 2 * (psi / h - 1), w2: NaN, cn: t.sigma * Math.sqrt(Math.exp(2 * h) - 1) };
}
