/**
 * SCHED — noise schedules (spec/03-schedules.md; article: "Forward diffusion, or “noising”").
 * All arithmetic in Float64. diffusers computes the same formulas in float32; the fixtures
 * compare within float32 rounding (fixtures/README.md).
 */
import { require, requireOneOf, requirePositiveInt, requireFinite } from "./errors.ts";

export type BetaSchedule = "linear" | "scaled_linear" | "squaredcos_cap_v2" | "sigmoid";
export const BETA_SCHEDULES: readonly BetaSchedule[] = ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"];

export interface ScheduleConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  /** SCHED-ZERO-SNR: rescale so that ᾱ_T = 0 (Lin et al. 2023). */
  rescaleBetasZeroSnr: boolean;
  /** Explicit betas (diffusers `trained_betas`); overrides betaSchedule. */
  trainedBetas?: readonly number[];
}

export const DEFAULT_SCHEDULE: ScheduleConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: "linear",
  rescaleBetasZeroSnr: false,
};

/** np.linspace(start, stop, n): y[i] = i·step + start, last = stop (bit-for-bit numpy's formula). */
export function linspace(start: number, stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) { out[0] = start; return out; }
  const step = (stop - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step + start;
  out[n - 1] = stop;
  return out;
}

/** SCHED-LINEAR: βᵢ evenly spaced in [β_start, β_end] (Ho et al. 2020). */
export function linearBetas(n: number, betaStart: number, betaEnd: number): Float64Array {
  return linspace(betaStart, betaEnd, n);
}

/** SCHED-SCALED-LINEAR: √βᵢ evenly spaced (Stable Diffusion's schedule). */
export function scaledLinearBetas(n: number, betaStart: number, betaEnd: number): Float64Array {
  return linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), n).map((r) => r * r);
}

/** ᾱ(t) of the cosine schedule: cos²((t + s)/(1 + s) · π/2), s = 0.008 (Nichol & Dhariwal 2021). */
export const cosineAlphaBar = (t: number, s = 0.008): number => Math.cos(((t + s) / (1 + s)) * (Math.PI / 2)) ** 2;

/** SCHED-COSINE: βᵢ = min(1 − ᾱ((i+1)/N)/ᾱ(i/N), maxBeta), maxBeta = 0.999. */
export function cosineBetas(n: number, maxBeta = 0.999): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(1 - cosineAlphaBar((i + 1) / n) / cosineAlphaBar(i / n), maxBeta);
  return out;
}

/** SCHED-SIGMOID: βᵢ = sigmoid(linspace(−6, 6))·(β_end − β_start) + β_start (GeoDiff). */
export function sigmoidBetas(n: number, betaStart: number, betaEnd: number): Float64Array {
  return linspace(-6, 6, n).map((x) => (1 / (1 + Math.exp(-x))) * (betaEnd - betaStart) + betaStart);
}

/**
 * ᾱₜ = Πₛ≤ₜ (1 − βₛ). SCHED-CUMPROD. The running product is carried in double-double arithmetic
 * (Dekker 1971: exact TwoSum for 1 − β, TwoProduct by Veltkamp splitting), so each ᾱₜ is the exact
 * product of the Float64 betas rounded once (plus O(N·2⁻¹⁰⁶)). A plain Float64 running product drifts
 * by up to 2N·2⁻⁵³ (measured 5e-14 relative at N = 1000, e.g. for a constant β, where the rounding
 * of 1 − β repeats N times).
 */
export function alphasCumprod(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let hi = 1;
  let lo = 0;
  for (let i = 0; i < betas.length; i++) {
    const [ah, al] = twoSum(1, -betas[i]);
    const [ph, pl] = twoProduct(hi, ah);
    [hi, lo] = twoSum(ph, pl + (hi * al + lo * ah));
    out[i] = hi;
  }
  return out;
}

/** s + e = a + b exactly, s = fl(a + b) (Knuth's TwoSum). */
function twoSum(a: number, b: number): [number, number] {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

/** p + e = a·b exactly, p = fl(a·b) (Dekker's TwoProduct with Veltkamp's split; |a|, |b| ≤ 1 here). */
function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  const split = (x: number): [number, number] => {
    const c = 134217729 * x; // 2²⁷ + 1
    const h = c - (c - x);
    return [h, x - h];
  };
  const [a1, a2] = split(a);
  const [b1, b2] = split(b);
  return [p, a1 * b1 - p + a1 * b2 + a2 * b1 + a2 * b2];
}

/**
 * SCHED-ZERO-SNR: rescale √ᾱ linearly so that √ᾱ_T = 0 while √ᾱ₀ is kept (Lin et al. 2023, Alg. 1),
 * then recover β from the ratios of consecutive ᾱ.
 */
export function rescaleZeroTerminalSnr(betas: ArrayLike<number>): Float64Array {
  const sqrtAbar = alphasCumprod(betas).map(Math.sqrt);
  const first = sqrtAbar[0];
  const last = sqrtAbar[sqrtAbar.length - 1];
  const abar = sqrtAbar.map((s) => ((s - last) * first / (first - last)) ** 2);
  return abar.map((a, i) => 1 - (i === 0 ? a : a / abar[i - 1]));
}

/** The betas of a schedule config, validated. SCHED-BETAS. */
export function makeBetas(config: Partial<ScheduleConfig> = {}): Float64Array {
  const c = validateSchedule({ ...DEFAULT_SCHEDULE, ...config });
  const n = c.numTrainTimesteps;
  let betas: Float64Array;
  if (c.trainedBetas) betas = Float64Array.from(c.trainedBetas);
  else if (c.betaSchedule === "linear") betas = linearBetas(n, c.betaStart, c.betaEnd);
  else if (c.betaSchedule === "scaled_linear") betas = scaledLinearBetas(n, c.betaStart, c.betaEnd);
  else if (c.betaSchedule === "squaredcos_cap_v2") betas = cosineBetas(n);
  else betas = sigmoidBetas(n, c.betaStart, c.betaEnd);
  return c.rescaleBetasZeroSnr ? rescaleZeroTerminalSnr(betas) : betas;
}

export function validateSchedule(c: ScheduleConfig): ScheduleConfig {
  requirePositiveInt("numTrainTimesteps", c.numTrainTimesteps);
  requireOneOf("betaSchedule", c.betaSchedule, BETA_SCHEDULES);
  for (const f of ["betaStart", "betaEnd"] as const) {
    requireFinite(f, c[f]);
    require(c[f] > 0 && c[f] < 1, f, c[f], "a number in (0, 1)");
  }
  require(c.betaStart <= c.betaEnd, "betaStart", c.betaStart, `a number ≤ betaEnd (${c.betaEnd})`);
  // SCHED-ZERO-SNR maps √ᾱ₀ ↦ √ᾱ₀ and √ᾱ_T ↦ 0: it needs ᾱ₀ ≠ ᾱ_T, i.e. T ≥ 1 (N = 1 gives 0/0 = NaN).
  require(!c.rescaleBetasZeroSnr || c.numTrainTimesteps >= 2, "numTrainTimesteps", c.numTrainTimesteps, "an integer ≥ 2 when rescaleBetasZeroSnr is set");
  if (c.trainedBetas) {
    require(c.trainedBetas.length === c.numTrainTimesteps, "trainedBetas", `length ${c.trainedBetas.length}`, `numTrainTimesteps (${c.numTrainTimesteps}) values`);
    c.trainedBetas.forEach((b, i) => require(Number.isFinite(b) && b > 0 && b < 1, `trainedBetas[${i}]`, b, "a number in (0, 1)"));
  }
  return c;
}

/** Everything a sampler derives from the betas (SCHED-DERIVED). Index t = 0 … N−1. */
export interface Schedule {
  readonly config: ScheduleConfig;
  readonly betas: Float64Array;
  /** αₜ = 1 − βₜ */
  readonly alphas: Float64Array;
  /** ᾱₜ = Π αₛ */
  readonly alphasCumprod: Float64Array;
  /** σₜ = √((1 − ᾱₜ)/ᾱₜ): the noise level of the variance-exploding view xₜ/√ᾱₜ = x₀ + σₜ ε. */
  readonly sigmas: Float64Array;
  /** λₜ = log(ᾱₜ/(1 − ᾱₜ)) = −2 log σₜ: the log signal-to-noise ratio. */
  readonly logSnr: Float64Array;
}

export function makeSchedule(config: Partial<ScheduleConfig> = {}): Schedule {
  const full = { ...DEFAULT_SCHEDULE, ...config };
  const betas = makeBetas(full);
  const ac = alphasCumprod(betas);
  return {
    config: full,
    betas,
    alphas: betas.map((b) => 1 - b),
    alphasCumprod: ac,
    sigmas: ac.map(sigmaFromAlphaBar),
    logSnr: ac.map(logSnrFromAlphaBar),
  };
}

/** SCHED-SIGMA: σ = √((1 − ᾱ)/ᾱ). */
export const sigmaFromAlphaBar = (abar: number): number => Math.sqrt((1 - abar) / abar);
/** SCHED-SIGMA: ᾱ = 1/(1 + σ²). */
export const alphaBarFromSigma = (sigma: number): number => 1 / (1 + sigma * sigma);
/** SCHED-LOGSNR: λ = log ᾱ − log(1 − ᾱ). */
export const logSnrFromAlphaBar = (abar: number): number => Math.log(abar) - Math.log1p(-abar);

/** SCHED-KARRAS: σᵢ = (σ_max^{1/ρ} + i/(n−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, ρ = 7, then a final 0 (Karras et al. 2022, eq. 5). */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  validateSigmaRange(n, sigmaMin, sigmaMax);
  const lo = sigmaMin ** (1 / rho);
  const hi = sigmaMax ** (1 / rho);
  const out = new Float64Array(n + 1);
  linspace(0, 1, n).forEach((r, i) => (out[i] = (hi + r * (lo - hi)) ** rho));
  return out;
}

/** SCHED-EXPONENTIAL: log σ evenly spaced from log σ_max to log σ_min, then a final 0. */
export function exponentialSigmas(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  validateSigmaRange(n, sigmaMin, sigmaMax);
  const out = new Float64Array(n + 1);
  linspace(Math.log(sigmaMax), Math.log(sigmaMin), n).forEach((l, i) => (out[i] = Math.exp(l)));
  return out;
}

function validateSigmaRange(n: number, sigmaMin: number, sigmaMax: number): void {
  requirePositiveInt("n", n);
  require(Number.isFinite(sigmaMin) && sigmaMin > 0, "sigmaMin", sigmaMin, "a finite number > 0");
  require(Number.isFinite(sigmaMax) && sigmaMax >= sigmaMin, "sigmaMax", sigmaMax, `a finite number ≥ sigmaMin (${sigmaMin})`);
}
