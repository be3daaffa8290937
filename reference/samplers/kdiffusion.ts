/**
 * SAMP-KDIFF — k-diffusion's functional samplers over a σ schedule (spec/07-samplers-kdiffusion.md;
 * article: "Reverse diffusion in practice"). Each sampler is one short function that reads like
 * k-diffusion's `k_diffusion/sampling.py` (commit 4601bf0) and the paper it implements.
 *
 * The state is the variance-exploding sample x = x₀ + σ ε (Karras et al. 2022, "EDM"); `model` is the
 * denoiser D(x, σ) ≈ E[x₀ | x] (an x̂₀ prediction). The probability-flow ODE is dx/dσ = (x − D(x, σ))/σ.
 * Scalars (step sizes, exponential-integrator weights, LMS coefficients) are host-side Float64; tensors
 * only go through the backend's `combine` and a NoiseProvider, so the same code runs on every backend.
 *
 * Conventions shared by every sampler here:
 * - `sigmas` is strictly decreasing, finite and ≥ 0 (only the last may be 0), with at least 2 entries;
 *   n = sigmas.length − 1 iterations are run;
 * - `callback(i, x)` receives the state after iteration i (the fixtures' trajectory[i]);
 * - fresh noise comes from `options.noise` and is drawn only where k-diffusion's `noise_sampler` is
 *   called: when σᵢ₊₁ > 0 (and, for dpmpp_2m_sde, η ≠ 0); churn noise (γ > 0) only when γ > 0.
 */
import type { Backend, BTensor } from "../contract.ts";
import { ConfigError, require, requireOneOf } from "../errors.ts";
import type { NoiseProvider } from "./scheduler.ts";
import type { KDiffusionSamplerName } from "./index.ts";

/** The denoiser D(x, σ): the x̂₀ prediction at noise level σ (VE view). */
export type KDenoiser<T extends BTensor> = (x: T, sigma: number) => Promise<T>;

export interface KSamplerOptions<T extends BTensor> {
  noise?: NoiseProvider<T>;
  /**
   * Called with the state after iteration i (i = 0 … n−1), and what k-diffusion's callback dict holds
   * besides it: the model input of iteration i's first evaluation (after churn), its σ̂ and D there.
   */
  callback?: (i: number, x: T, info: KCallbackInfo<T>) => void;
  [kwarg: string]: unknown;
}

/** k-diffusion's callback dict: iteration i's first model input x (after churn), its σ̂ and the denoiser output. */
export interface KCallbackInfo<T extends BTensor> {
  readonly x: T;
  readonly sigmaHat: number;
  readonly denoised: T;
}

export type KSampler = <T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options?: KSamplerOptions<T>) => Promise<T>;

// ─── helpers named after the math ───────────────────────────────────────────────────────────────

/** SAMP-KDIFF-ODE: the Karras ODE derivative d = (x − D)/σ (k-diffusion `to_d`). */
export async function toD<T extends BTensor>(backend: Backend<T>, x: T, sigma: number, denoised: T): Promise<T> {
  return backend.combine([x, denoised], [1 / sigma, -1 / sigma]);
}

/** x + Σ cₖ·termsₖ: one explicit update. */
export const step = async <T extends BTensor>(backend: Backend<T>, x: T, terms: readonly T[], coeffs: readonly number[]): Promise<T> =>
  backend.combine([x, ...terms], [1, ...coeffs]);

/**
 * SAMP-KDIFF-ANCESTRAL: split the step σ_from → σ_to into a deterministic step down to σ_down and fresh
 * noise of std σ_up, with σ_down² + σ_up² = σ_to² (k-diffusion `get_ancestral_step`). η = 1 is DDPM's
 * posterior variance, η = 0 is the ODE.
 */
export function getAncestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): { sigmaDown: number; sigmaUp: number } {
  if (!eta || sigmaTo === 0) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  // σ_up = min(σ_to, η·√(σ_to²(σ_from² − σ_to²)/σ_from²)), σ_down = √(σ_to² − σ_up²), with σ_to factored
  // out so that tiny σ (≈ 1e-162) do not underflow when squared.
  const r = sigmaTo / sigmaFrom;
  const up = Math.min(1, eta * Math.sqrt(Math.max(1 - r * r, 0)));
  return { sigmaDown: sigmaTo * Math.sqrt(1 - up * up), sigmaUp: sigmaTo * up };
}

/** x + scale·z with z ~ 𝒩(0, I) from `noise`. A draw scaled by 0 without a provider is skipped. */
export async function addNoise<T extends BTensor>(backend: Backend<T>, x: T, scale: number, noise: NoiseProvider<T> | undefined, sampler: string): Promise<T> {
  if (!noise) {
    if (scale === 0) return x;
    throw new ConfigError(`${sampler} options.noise`, undefined, "a NoiseProvider (this sampler adds fresh Gaussian noise; pass e.g. backendNoise(backend, seed))");
  }
  const z = await noise.next(x.shape);
  return backend.combine([x, z], [1, scale]);
}

/** Karras et al. (2022) Alg. 2 "churn": γ = min(S_churn/n, √2 − 1) when S_tmin ≤ σ ≤ S_tmax, else 0. */
function churnGamma(sigma: number, n: number, o: ChurnOptions): number {
  return o.sChurn > 0 && o.sTmin <= sigma && sigma <= o.sTmax ? Math.min(o.sChurn / n, Math.SQRT2 - 1) : 0;
}

/** Raise the noise level σᵢ → σ̂ = σᵢ(1 + γ) by adding noise of std √(σ̂² − σᵢ²)·S_noise. Returns (x̂, σ̂). */
async function churn<T extends BTensor>(backend: Backend<T>, x: T, sigma: number, n: number, o: ChurnOptions, noise: NoiseProvider<T> | undefined, sampler: string): Promise<[T, number]> {
  const gamma = churnGamma(sigma, n, o);
  if (!(gamma > 0)) return [x, sigma];
  const sigmaHat = sigma * (gamma + 1);
  return [await addNoise(backend, x, o.sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2), noise, sampler), sigmaHat];
}

/** n-point Gauss–Legendre nodes and weights on [−1, 1], n = 1 … 4 (exact for polynomials of degree ≤ 2n − 1). */
const GAUSS_LEGENDRE: readonly (readonly [readonly number[], readonly number[]])[] = [
  [[0], [2]],
  [[-1 / Math.sqrt(3), 1 / Math.sqrt(3)], [1, 1]],
  [[-Math.sqrt(3 / 5), 0, Math.sqrt(3 / 5)], [5 / 9, 8 / 9, 5 / 9]],
  [
    [-Math.sqrt(3 / 7 + (2 / 7) * Math.sqrt(6 / 5)), -Math.sqrt(3 / 7 - (2 / 7) * Math.sqrt(6 / 5)), Math.sqrt(3 / 7 - (2 / 7) * Math.sqrt(6 / 5)), Math.sqrt(3 / 7 + (2 / 7) * Math.sqrt(6 / 5))],
    [(18 - Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 - Math.sqrt(30)) / 36],
  ],
];

/** ∫ₐᵇ f(τ) dτ by 4-point Gauss–Legendre: exact for polynomials of degree ≤ 7. */
export function gaussLegendre(f: (tau: number) => number, a: number, b: number): number {
  const [nodes, weights] = GAUSS_LEGENDRE[3];
  const half = (b - a) / 2;
  const mid = (a + b) / 2;
  let s = 0;
  for (let k = 0; k < nodes.length; k++) s += weights[k] * f(mid + half * nodes[k]);
  return s * half;
}

/**
 * SAMP-KDIFF-LMS: the Adams–Bashforth weight of the derivative at σ_{i−j}:
 * ∫_{σᵢ}^{σᵢ₊₁} ℓⱼ(τ) dτ with ℓⱼ the Lagrange basis polynomial over σᵢ, σᵢ₋₁, …, σᵢ₋ₒᵣ𝒹ₑᵣ₊₁
 * (k-diffusion `linear_multistep_coeff`). ℓⱼ has degree order − 1 ≤ 3, so Gauss–Legendre is exact
 * (k-diffusion integrates numerically with scipy's `quad`, which agrees to ~1e-15 here).
 */
export function linearMultistepCoeff(order: number, t: ArrayLike<number>, i: number, j: number): number {
  require(order - 1 <= i, "order", order, `at most ${i + 1} at step ${i} (there are only ${i + 1} derivatives so far)`);
  const basis = (tau: number): number => {
    let prod = 1;
    for (let k = 0; k < order; k++) if (k !== j) prod *= (tau - t[i - k]) / (t[i - j] - t[i - k]);
    return prod;
  };
  return gaussLegendre(basis, t[i], t[i + 1]);
}

// ─── validation ─────────────────────────────────────────────────────────────────────────────────

type ChurnOptions = {
  sChurn: number;
  sTmin: number;
  sTmax: number;
  sNoise: number;
};

const CHURN_DEFAULTS: ChurnOptions = { sChurn: 0, sTmin: 0, sTmax: Infinity, sNoise: 1 };

/** The k-diffusion keyword arguments (camelCase) each sampler accepts, with k-diffusion's defaults. */
export const KDIFFUSION_OPTIONS: Record<KDiffusionSamplerName, Readonly<Record<string, unknown>>> = {
  sample_euler: CHURN_DEFAULTS,
  sample_euler_ancestral: { eta: 1, sNoise: 1 },
  sample_heun: CHURN_DEFAULTS,
  sample_dpm_2: CHURN_DEFAULTS,
  sample_lms: { order: 4 },
  sample_dpmpp_2m: {},
  sample_dpmpp_2m_sde: { eta: 1, sNoise: 1, solverType: "midpoint" },
  sample_dpm_2_ancestral: { eta: 1, sNoise: 1 },
  sample_dpmpp_2s_ancestral: { eta: 1, sNoise: 1 },
  sample_dpmpp_3m_sde: { eta: 1, sNoise: 1 },
};

/**
 * SAMP-KDIFF-SIGMAS: a σ schedule is ≥ 2 finite values, strictly decreasing, ≥ 0 (only the last may be 0).
 * Options: the sampler's known keyword arguments (plus `noise`, `callback`), with their ranges.
 */
function resolve<O extends object>(name: KDiffusionSamplerName, sigmas: Float64Array, options: Record<string, unknown>): O {
  require(sigmas instanceof Float64Array || Array.isArray(sigmas), `${name} sigmas`, typeof sigmas, "a Float64Array of noise levels");
  require(sigmas.length >= 2, `${name} sigmas`, `length ${sigmas.length}`, "at least 2 noise levels (σ₀ > … > σₙ ≥ 0, n ≥ 1 steps)");
  for (let i = 0; i < sigmas.length; i++) {
    require(Number.isFinite(sigmas[i]) && sigmas[i] >= 0, `${name} sigmas[${i}]`, sigmas[i], "a finite number ≥ 0");
    if (i > 0) require(sigmas[i] < sigmas[i - 1], `${name} sigmas[${i}]`, sigmas[i], `a value < sigmas[${i - 1}] = ${sigmas[i - 1]} (σ must strictly decrease)`);
  }
  const defaults = KDIFFUSION_OPTIONS[name];
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(options)) {
    if (k === "noise" || k === "callback") continue;
    if (!(k in defaults)) throw new ConfigError(`${name} options.${k}`, v, `a known option: ${[...Object.keys(defaults), "noise", "callback"].join(", ")}`);
    if (v !== undefined && v !== null) out[k] = v;
  }
  const num = (k: string, ok: (v: number) => boolean, allowed: string): void => {
    if (k in out) require(typeof out[k] === "number" && ok(out[k] as number), `${name} options.${k}`, out[k], allowed);
  };
  num("sChurn", (v) => Number.isFinite(v) && v >= 0, "a finite number ≥ 0");
  num("sTmin", (v) => !Number.isNaN(v), "a number (σ below which no churn is added)");
  num("sTmax", (v) => !Number.isNaN(v), "a number (σ above which no churn is added), e.g. Infinity");
  num("sNoise", (v) => Number.isFinite(v) && v >= 0, "a finite number ≥ 0");
  num("eta", (v) => Number.isFinite(v) && v >= 0, "a finite number ≥ 0");
  num("order", (v) => Number.isInteger(v) && v >= 1 && v <= 4, "an integer in 1 … 4");
  if ("solverType" in out) requireOneOf(`${name} options.solverType`, out.solverType, ["midpoint", "heun"] as const);
  return out as O;
}

// ─── the samplers ───────────────────────────────────────────────────────────────────────────────

/**
 * SAMP-KDIFF-EULER: Euler steps on the probability-flow ODE, with optional churn (Karras et al. 2022,
 * Alg. 2 with Euler steps; k-diffusion `sample_euler`): x ← x + (σᵢ₊₁ − σ̂)·d(x, σ̂).
 */
export async function sampleEuler<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<ChurnOptions>("sample_euler", sigmas, options);
  const n = sigmas.length - 1;
  for (let i = 0; i < n; i++) {
    let sigmaHat: number;
    [x, sigmaHat] = await churn(backend, x, sigmas[i], n, o, options.noise, "sample_euler");
    const denoised = await model(x, sigmaHat);
    const info = { x, sigmaHat: sigmaHat, denoised };
    const d = await toD(backend, x, sigmaHat, denoised);
    x = await step(backend, x, [d], [sigmas[i + 1] - sigmaHat]);
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-EULER-ANCESTRAL: an Euler step down to σ_down, then fresh noise of std σ_up·S_noise
 * (k-diffusion `sample_euler_ancestral`; η = 1 matches DDPM's ancestral sampling, Ho et al. 2020).
 */
export async function sampleEulerAncestral<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<{ eta: number; sNoise: number }>("sample_euler_ancestral", sigmas, options);
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = await model(x, sigmas[i]);
    const info = { x, sigmaHat: sigmas[i], denoised };
    const { sigmaDown, sigmaUp } = getAncestralStep(sigmas[i], sigmas[i + 1], o.eta);
    const d = await toD(backend, x, sigmas[i], denoised);
    x = await step(backend, x, [d], [sigmaDown - sigmas[i]]);
    if (sigmas[i + 1] > 0) x = await addNoise(backend, x, o.sNoise * sigmaUp, options.noise, "sample_euler_ancestral");
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-HEUN: Heun's second-order method (trapezoid corrector), Euler on the last step to σ = 0
 * (Karras et al. 2022, Alg. 1/2; k-diffusion `sample_heun`). 2n − 1 model evaluations when σₙ = 0.
 */
export async function sampleHeun<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<ChurnOptions>("sample_heun", sigmas, options);
  const n = sigmas.length - 1;
  for (let i = 0; i < n; i++) {
    let sigmaHat: number;
    [x, sigmaHat] = await churn(backend, x, sigmas[i], n, o, options.noise, "sample_heun");
    const denoised = await model(x, sigmaHat);
    const info = { x, sigmaHat: sigmaHat, denoised };
    const d = await toD(backend, x, sigmaHat, denoised);
    const dt = sigmas[i + 1] - sigmaHat;
    if (sigmas[i + 1] === 0) {
      x = await step(backend, x, [d], [dt]); // Euler method
    } else {
      const x2 = await step(backend, x, [d], [dt]);
      const d2 = await toD(backend, x2, sigmas[i + 1], await model(x2, sigmas[i + 1]));
      x = await step(backend, x, [d, d2], [dt / 2, dt / 2]); // Heun's method: (d + d₂)/2·dt
    }
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-DPM2: the midpoint method with the midpoint at the geometric mean σ_mid = √(σ̂ σᵢ₊₁)
 * (DPM-Solver-2 in σ, Lu et al. 2022; k-diffusion `sample_dpm_2`); Euler on the last step to σ = 0.
 */
export async function sampleDpm2<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<ChurnOptions>("sample_dpm_2", sigmas, options);
  const n = sigmas.length - 1;
  for (let i = 0; i < n; i++) {
    let sigmaHat: number;
    [x, sigmaHat] = await churn(backend, x, sigmas[i], n, o, options.noise, "sample_dpm_2");
    const denoised = await model(x, sigmaHat);
    const info = { x, sigmaHat: sigmaHat, denoised };
    const d = await toD(backend, x, sigmaHat, denoised);
    if (sigmas[i + 1] === 0) {
      x = await step(backend, x, [d], [sigmas[i + 1] - sigmaHat]); // Euler method
    } else {
      const sigmaMid = Math.exp((Math.log(sigmaHat) + Math.log(sigmas[i + 1])) / 2);
      const x2 = await step(backend, x, [d], [sigmaMid - sigmaHat]);
      const d2 = await toD(backend, x2, sigmaMid, await model(x2, sigmaMid));
      x = await step(backend, x, [d2], [sigmas[i + 1] - sigmaHat]);
    }
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-LMS: linear multistep (Adams–Bashforth) in σ over the last `order` derivatives, the
 * order rising 1, 2, … during warm-up (k-diffusion `sample_lms`; diffusers LMSDiscreteScheduler).
 */
export async function sampleLms<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<{ order: number }>("sample_lms", sigmas, options);
  const ds: T[] = [];
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = await model(x, sigmas[i]);
    const info = { x, sigmaHat: sigmas[i], denoised };
    ds.unshift(await toD(backend, x, sigmas[i], denoised)); // ds[j] = d at σ_{i−j}
    if (ds.length > o.order) ds.pop();
    const curOrder = Math.min(i + 1, o.order);
    const coeffs = Array.from({ length: curOrder }, (_, j) => linearMultistepCoeff(curOrder, sigmas, i, j));
    x = await step(backend, x, ds, coeffs);
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-DPMPP-2M: DPM-Solver++(2M), the second-order multistep exponential integrator in
 * λ = −log σ on the data prediction (Lu et al. 2022b, Alg. 2; k-diffusion `sample_dpmpp_2m`):
 *   x ← (σᵢ₊₁/σᵢ) x − (e^{−h} − 1) D̃,  h = log(σᵢ/σᵢ₊₁),  D̃ = (1 + 1/2r) Dᵢ − (1/2r) Dᵢ₋₁,  r = hᵢ₋₁/h.
 * First order (DDIM) on the first step and on the last step to σ = 0 (where x ← D).
 */
export async function sampleDpmpp2m<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  resolve<object>("sample_dpmpp_2m", sigmas, options);
  let oldDenoised: T | undefined;
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = await model(x, sigmas[i]);
    const info = { x, sigmaHat: sigmas[i], denoised };
    const [sigma, sigmaNext] = [sigmas[i], sigmas[i + 1]];
    const h = lambda(sigmaNext) - lambda(sigma);
    const w = -Math.expm1(-h); // 1 − σᵢ₊₁/σᵢ, = 1 at σᵢ₊₁ = 0 (h = ∞)
    if (!oldDenoised || sigmaNext === 0) {
      x = await backend.combine([x, denoised], [sigmaNext / sigma, w]);
    } else {
      const r = (lambda(sigma) - lambda(sigmas[i - 1])) / h;
      x = await backend.combine([x, denoised, oldDenoised], [sigmaNext / sigma, w * (1 + 1 / (2 * r)), -w / (2 * r)]);
    }
    oldDenoised = denoised;
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-DPMPP-2M-SDE: DPM-Solver++(2M) for the reverse SDE (Lu et al. 2022b, §4.2; k-diffusion
 * `sample_dpmpp_2m_sde`), with stochasticity η (η = 0: the ODE solver with a different 2nd-order term):
 *   x ← (σᵢ₊₁/σᵢ) e^{−ηh} x + (1 − e^{−(1+η)h}) Dᵢ + c·(Dᵢ − Dᵢ₋₁)/r + σᵢ₊₁ √(1 − e^{−2ηh}) S_noise z,
 * c = ½(1 − e^{−(1+η)h}) (midpoint) or (1 − e^{−(1+η)h})/(−(1+η)h) + 1 (heun). The last step to σ = 0 returns D.
 */
export async function sampleDpmpp2mSde<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<{ eta: number; sNoise: number; solverType: "midpoint" | "heun" }>("sample_dpmpp_2m_sde", sigmas, options);
  let oldDenoised: T | undefined;
  let hLast = 0;
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = await model(x, sigmas[i]);
    const info = { x, sigmaHat: sigmas[i], denoised };
    const [sigma, sigmaNext] = [sigmas[i], sigmas[i + 1]];
    if (sigmaNext === 0) {
      x = denoised; // denoising step
    } else {
      const h = lambda(sigmaNext) - lambda(sigma);
      const etaH = o.eta * h;
      const w = -Math.expm1(-h - etaH);
      const terms: T[] = [x, denoised];
      const coeffs = [(sigmaNext / sigma) * Math.exp(-etaH), w];
      if (oldDenoised) {
        const r = hLast / h;
        const c = o.solverType === "heun" ? w / (-h - etaH) + 1 : 0.5 * w;
        terms.push(oldDenoised);
        coeffs[1] += c / r;
        coeffs.push(-c / r);
      }
      x = await backend.combine(terms, coeffs);
      if (o.eta) x = await addNoise(backend, x, sigmaNext * Math.sqrt(-Math.expm1(-2 * etaH)) * o.sNoise, options.noise, "sample_dpmpp_2m_sde");
      hLast = h;
    }
    oldDenoised = denoised;
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-DPM2-ANCESTRAL: DPM-2's midpoint step down to σ_down, then fresh noise of std σ_up·S_noise
 * (k-diffusion `sample_dpm_2_ancestral`): σ_mid = √(σᵢ σ_down), x ← x + (σ_down − σᵢ)·d(x + (σ_mid − σᵢ)d, σ_mid);
 * Euler when σ_down = 0. η = 0 is `sample_dpm_2` without churn.
 */
export async function sampleDpm2Ancestral<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<{ eta: number; sNoise: number }>("sample_dpm_2_ancestral", sigmas, options);
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const denoised = await model(x, sigma);
    const info = { x, sigmaHat: sigma, denoised };
    const { sigmaDown, sigmaUp } = getAncestralStep(sigma, sigmas[i + 1], o.eta);
    const d = await toD(backend, x, sigma, denoised);
    if (sigmaDown === 0) {
      x = await step(backend, x, [d], [sigmaDown - sigma]); // Euler method
    } else {
      const sigmaMid = Math.exp(0.5 * (Math.log(sigma) + Math.log(sigmaDown)));
      const x2 = await step(backend, x, [d], [sigmaMid - sigma]);
      const d2 = await toD(backend, x2, sigmaMid, await model(x2, sigmaMid));
      x = await step(backend, x, [d2], [sigmaDown - sigma]);
    }
    if (sigmas[i + 1] > 0) x = await addNoise(backend, x, o.sNoise * sigmaUp, options.noise, "sample_dpm_2_ancestral");
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-DPMPP-2S-ANCESTRAL: one DPM-Solver++(2S) step (Lu et al. 2022b, Alg. 1, r = ½) in λ = −log σ
 * from σᵢ down to σ_down, then fresh noise of std σ_up·S_noise (k-diffusion `sample_dpmpp_2s_ancestral`):
 *   h = λ_down − λᵢ, σ_s = √(σᵢ σ_down), u = (σ_s/σᵢ) x + (1 − e^{−h/2}) Dᵢ, x ← (σ_down/σᵢ) x + (1 − e^{−h}) D(u, σ_s);
 * Euler when σ_down = 0.
 */
export async function sampleDpmpp2sAncestral<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<{ eta: number; sNoise: number }>("sample_dpmpp_2s_ancestral", sigmas, options);
  for (let i = 0; i < sigmas.length - 1; i++) {
    const sigma = sigmas[i];
    const denoised = await model(x, sigma);
    const info = { x, sigmaHat: sigma, denoised };
    const { sigmaDown, sigmaUp } = getAncestralStep(sigma, sigmas[i + 1], o.eta);
    if (sigmaDown === 0) {
      x = await step(backend, x, [await toD(backend, x, sigma, denoised)], [sigmaDown - sigma]); // Euler method
    } else {
      const h = lambda(sigmaDown) - lambda(sigma);
      const sigmaS = Math.exp(-(lambda(sigma) + 0.5 * h));
      const u = await backend.combine([x, denoised], [sigmaS / sigma, -Math.expm1(-0.5 * h)]);
      const denoised2 = await model(u, sigmaS);
      x = await backend.combine([x, denoised2], [sigmaDown / sigma, -Math.expm1(-h)]);
    }
    if (sigmas[i + 1] > 0) x = await addNoise(backend, x, o.sNoise * sigmaUp, options.noise, "sample_dpmpp_2s_ancestral");
    options.callback?.(i, x, info);
  }
  return x;
}

/**
 * SAMP-KDIFF-DPMPP-3M-SDE: DPM-Solver++(3M) for the reverse SDE (k-diffusion `sample_dpmpp_3m_sde`), with
 * stochasticity η. With hη = (1 + η)h, φ₂ = 1 − (1 − e^{−hη})/hη and φ₃ = φ₂/hη − ½, and D₁, D₂ the first
 * and second divided differences of D over the last three λ (scaled by h):
 *   x ← e^{−hη} x + (1 − e^{−hη}) Dᵢ + φ₂ D₁ − φ₃ D₂ + σᵢ₊₁ √(1 − e^{−2ηh}) S_noise z,
 * (second order with one previous D, first order at the start); the last step to σ = 0 returns D.
 */
export async function sampleDpmpp3mSde<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T> = {}): Promise<T> {
  const o = resolve<{ eta: number; sNoise: number }>("sample_dpmpp_3m_sde", sigmas, options);
  let [denoised1, denoised2]: (T | undefined)[] = [undefined, undefined];
  let [h1, h2]: (number | undefined)[] = [undefined, undefined];
  for (let i = 0; i < sigmas.length - 1; i++) {
    const denoised = await model(x, sigmas[i]);
    const info = { x, sigmaHat: sigmas[i], denoised };
    let h: number | undefined;
    if (sigmas[i + 1] === 0) {
      x = denoised; // denoising step
    } else {
      h = lambda(sigmas[i + 1]) - lambda(sigmas[i]);
      const hEta = h * (o.eta + 1);
      const phi2 = Math.expm1(-hEta) / hEta + 1;
      const terms: T[] = [x, denoised];
      const coeffs = [Math.exp(-hEta), -Math.expm1(-hEta)];
      if (h2 !== undefined && denoised1 && denoised2) {
        // D₁ = D1_0 + (D1_0 − D1_1)·r₀/(r₀ + r₁), D₂ = (D1_0 − D1_1)/(r₀ + r₁), D1_0 = (Dᵢ − Dᵢ₋₁)/r₀, D1_1 = (Dᵢ₋₁ − Dᵢ₋₂)/r₁.
        const [r0, r1] = [(h1 as number) / h, h2 / h];
        const phi3 = phi2 / hEta - 0.5;
        const a = phi2 * (1 + r0 / (r0 + r1)) - phi3 / (r0 + r1); // weight of D1_0
        const b = -phi2 * (r0 / (r0 + r1)) + phi3 / (r0 + r1); // weight of D1_1
        terms.push(denoised1, denoised2);
        coeffs[1] += a / r0;
        coeffs.push(-a / r0 + b / r1, -b / r1);
      } else if (h1 !== undefined && denoised1) {
        const r = h1 / h;
        terms.push(denoised1);
        coeffs[1] += phi2 / r;
        coeffs.push(-phi2 / r);
      }
      x = await backend.combine(terms, coeffs);
      if (o.eta) x = await addNoise(backend, x, sigmas[i + 1] * Math.sqrt(-Math.expm1(-2 * h * o.eta)) * o.sNoise, options.noise, "sample_dpmpp_3m_sde");
    }
    [denoised1, denoised2] = [denoised, denoised1];
    [h1, h2] = [h, h1];
    options.callback?.(i, x, info);
  }
  return x;
}

/** λ = −log σ: the half log-SNR of the VE view (k-diffusion's `t_fn`); +∞ at σ = 0. */
export const lambda = (sigma: number): number => -Math.log(sigma);

/** The catalogue, keyed by k-diffusion's function names (reference/samplers/index.ts). */
export const KDIFFUSION: Record<KDiffusionSamplerName, KSampler> = {
  sample_euler: sampleEuler,
  sample_euler_ancestral: sampleEulerAncestral,
  sample_heun: sampleHeun,
  sample_dpm_2: sampleDpm2,
  sample_lms: sampleLms,
  sample_dpmpp_2m: sampleDpmpp2m,
  sample_dpmpp_2m_sde: sampleDpmpp2mSde,
  sample_dpm_2_ancestral: sampleDpm2Ancestral,
  sample_dpmpp_2s_ancestral: sampleDpmpp2sAncestral,
  sample_dpmpp_3m_sde: sampleDpmpp3mSde,
};

/**
 * SAMP-KDIFF-NFE: model evaluations of a run over `sigmas` (2 per step for Heun/DPM-2 except a final step
 * to σ = 0; 2 per step for the ancestral DPM-2 / DPM-Solver++(2S) except steps with σ_down = 0: the step to
 * σ = 0, and any step where η > 1 makes σ_up = σᵢ₊₁).
 */
export function kdiffusionEvaluations(name: KDiffusionSamplerName, sigmas: ArrayLike<number>, options: { eta?: unknown } = {}): number {
  const n = sigmas.length - 1;
  if (name === "sample_heun" || name === "sample_dpm_2") return 2 * n - (sigmas[n] === 0 ? 1 : 0);
  if (name === "sample_dpm_2_ancestral" || name === "sample_dpmpp_2s_ancestral") {
    const eta = typeof options.eta === "number" ? options.eta : 1;
    let evals = 0;
    for (let i = 0; i < n; i++) evals += getAncestralStep(sigmas[i], sigmas[i + 1], eta).sigmaDown === 0 ? 1 : 2;
    return evals;
  }
  return n;
}
