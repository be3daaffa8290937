/**
 * SAMP-KDIFF-DPM-SOLVER — DPM-Solver (Lu et al. 2022, "DPM-Solver: A Fast ODE Solver for Diffusion
 * Probabilistic Model Sampling in Around 10 Steps", Alg. 1–5) as k-diffusion writes it (`DPMSolver`,
 * `sample_dpm_fast`, `sample_dpm_adaptive`, commit 4601bf0); spec/07-samplers-kdiffusion-dpm-solver.md;
 * article: "Sampling: do we need all 1000 steps?".
 *
 * The solver works in t = λ = −log σ (the half log-SNR of the VE view x = x₀ + σ ε) on the noise
 * prediction ε̂(x, t) = (x − D(x, σ(t)))/σ(t), which is exactly the Karras derivative `toD`. The exact
 * solution of the probability-flow ODE from t to t + h is
 *   x(t + h) = (σ(t + h)/σ(t)) x(t) − σ(t + h) ∫₀ʰ e^{τ} ε̂(t + τ) dτ,
 * and DPM-Solver-k approximates ε̂ by its Taylor polynomial of degree k − 1 (k = 1, 2, 3 intermediate
 * evaluations per step), integrating the exponential exactly with expm1.
 *
 * Unlike the samplers of kdiffusion.ts these take σ_min and σ_max and build their own time grid: uniform in
 * t for `sampleDpmFast`, and chosen by a PID step-size controller on an embedded error estimate for
 * `sampleDpmAdaptive`. The adaptive solver reads x back to the host once per step to compute the error
 * norm (a reduction; every update is still a `combine`).
 */
import type { Backend, BTensor } from "../contract.ts";
import { ConfigError, require } from "../errors.ts";
import type { NoiseProvider } from "./scheduler.ts";
import { addNoise, getAncestralStep, toD, type KDenoiser } from "./kdiffusion.ts";

/** What the info callback receives (k-diffusion's `info_callback` dict, with σ for t as `sample_dpm_*` report it). */
export interface DpmSolverInfo<T extends BTensor> {
  /** Step index (fast) / attempt index (adaptive). */
  readonly i: number;
  /** Fast: the state at the start of step i. Adaptive: the state after the accept/reject decision. */
  readonly x: T;
  /** σ(t) of that state. */
  readonly sigma: number;
  readonly sigmaHat: number;
  /** D(x, σ) at the start of the step. */
  readonly denoised: T;
  /** Adaptive only: the error estimate of this attempt, the next step size h, and the counts so far. */
  readonly error?: number;
  readonly h?: number;
  readonly steps?: number;
  readonly nfe?: number;
  readonly nAccept?: number;
  readonly nReject?: number;
}

export interface DpmSolverOptions<T extends BTensor> {
  /** Stochasticity (ancestral steps down to σ_down, then noise of std σ_up·sNoise); default 0. */
  eta?: number;
  sNoise?: number;
  noise?: NoiseProvider<T>;
  infoCallback?: (info: DpmSolverInfo<T>) => void;
}

export interface DpmAdaptiveOptions<T extends BTensor> extends DpmSolverOptions<T> {
  /** 2 (DPM-Solver-12) or 3 (DPM-Solver-23); default 3. */
  order?: number;
  rtol?: number;
  atol?: number;
  hInit?: number;
  pcoeff?: number;
  icoeff?: number;
  dcoeff?: number;
  acceptSafety?: number;
}

/** The counts `sample_dpm_adaptive(..., return_info=True)` reports. */
export interface DpmAdaptiveInfo {
  steps: number;
  nfe: number;
  nAccept: number;
  nReject: number;
}

const sigmaOf = (t: number): number => Math.exp(-t);
const tOf = (sigma: number): number => -Math.log(sigma);

/** ε̂ at (x, t), computed once per key per step (k-diffusion's `eps_cache`): D is evaluated once per key. */
class EpsCache<T extends BTensor> {
  private readonly cache = new Map<string, T>();
  constructor(
    private readonly backend: Backend<T>,
    private readonly model: KDenoiser<T>,
  ) {}

  async eps(key: string, x: T, t: number): Promise<T> {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const sigma = sigmaOf(t);
    const e = await toD(this.backend, x, sigma, await this.model(x, sigma));
    this.cache.set(key, e);
    return e;
  }
}

/** SAMP-KDIFF-DPM-SOLVER: DPM-Solver-1 (= DDIM): x − σ(t + h)(eʰ − 1) ε̂(x, t). */
async function dpmSolver1Step<T extends BTensor>(b: Backend<T>, c: EpsCache<T>, x: T, t: number, tNext: number): Promise<T> {
  const h = tNext - t;
  return b.combine([x, await c.eps("eps", x, t)], [1, -sigmaOf(tNext) * Math.expm1(h)]);
}

/** SAMP-KDIFF-DPM-SOLVER: DPM-Solver-2 (Alg. 1) with the intermediate point at t + r₁h. */
async function dpmSolver2Step<T extends BTensor>(b: Backend<T>, c: EpsCache<T>, x: T, t: number, tNext: number, r1 = 1 / 2): Promise<T> {
  const h = tNext - t;
  const eps = await c.eps("eps", x, t);
  const s1 = t + r1 * h;
  const u1 = await b.combine([x, eps], [1, -sigmaOf(s1) * Math.expm1(r1 * h)]);
  const epsR1 = await c.eps("eps_r1", u1, s1);
  const k = sigmaOf(tNext) * Math.expm1(h);
  // x − σ' (eʰ − 1) ε − σ'/(2r₁) (eʰ − 1)(ε_r1 − ε)
  return b.combine([x, eps, epsR1], [1, -k + k / (2 * r1), -k / (2 * r1)]);
}

/** SAMP-KDIFF-DPM-SOLVER: DPM-Solver-3 (Alg. 2) with intermediate points at t + h/3 and t + 2h/3. */
async function dpmSolver3Step<T extends BTensor>(b: Backend<T>, c: EpsCache<T>, x: T, t: number, tNext: number, r1 = 1 / 3, r2 = 2 / 3): Promise<T> {
  const h = tNext - t;
  const eps = await c.eps("eps", x, t);
  const [s1, s2] = [t + r1 * h, t + r2 * h];
  const u1 = await b.combine([x, eps], [1, -sigmaOf(s1) * Math.expm1(r1 * h)]);
  const epsR1 = await c.eps("eps_r1", u1, s1);
  const a2 = sigmaOf(s2) * Math.expm1(r2 * h);
  const c2 = sigmaOf(s2) * (r2 / r1) * (Math.expm1(r2 * h) / (r2 * h) - 1);
  const u2 = await b.combine([x, eps, epsR1], [1, -a2 + c2, -c2]);
  const epsR2 = await c.eps("eps_r2", u2, s2);
  const a3 = sigmaOf(tNext) * Math.expm1(h);
  const c3 = (sigmaOf(tNext) / r2) * (Math.expm1(h) / h - 1);
  return b.combine([x, eps, epsR2], [1, -a3 + c3, -c3]);
}

/** The ancestral split of t → t_next: the deterministic target t_next_ ≤ t_end and the noise std σ_up. */
function ancestralTarget(t: number, tNext: number, tEnd: number, eta: number): { target: number; sigmaUp: number } {
  if (!eta) return { target: tNext, sigmaUp: 0 };
  const { sigmaDown } = getAncestralStep(sigmaOf(t), sigmaOf(tNext), eta);
  const target = Math.min(tEnd, tOf(sigmaDown));
  return { target, sigmaUp: Math.sqrt(Math.max(sigmaOf(tNext) ** 2 - sigmaOf(target) ** 2, 0)) };
}

function validateRange(name: string, sigmaMin: number, sigmaMax: number): void {
  require(Number.isFinite(sigmaMin) && sigmaMin > 0, `${name} sigmaMin`, sigmaMin, "a finite number > 0 (t = −log σ must be finite)");
  require(Number.isFinite(sigmaMax) && sigmaMax > sigmaMin, `${name} sigmaMax`, sigmaMax, `a finite number > sigmaMin = ${sigmaMin} (sampling runs from σ_max down to σ_min)`);
}

function validateNoise(name: string, eta: unknown, sNoise: unknown): void {
  require(typeof eta === "number" && Number.isFinite(eta) && eta >= 0, `${name} options.eta`, eta, "a finite number ≥ 0");
  require(typeof sNoise === "number" && Number.isFinite(sNoise) && sNoise >= 0, `${name} options.sNoise`, sNoise, "a finite number ≥ 0");
}

/**
 * SAMP-KDIFF-DPM-FAST: DPM-Solver-fast (Lu et al. 2022, §3.4): `nfe` model evaluations spent on
 * m = ⌊nfe/3⌋ + 1 steps uniform in t from −log σ_max to −log σ_min; the steps are DPM-Solver-3 except the
 * last, which is DPM-Solver-(nfe mod 3), or DPM-Solver-2 then DPM-Solver-1 when 3 divides nfe
 * (k-diffusion `sample_dpm_fast`). Returns the sample at σ_min.
 */
export async function sampleDpmFast<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmaMin: number, sigmaMax: number, nfe: number, options: DpmSolverOptions<T> = {}): Promise<T> {
  validateRange("sample_dpm_fast", sigmaMin, sigmaMax);
  require(Number.isInteger(nfe) && nfe >= 1, "sample_dpm_fast n", nfe, "an integer ≥ 1 (the number of model evaluations)");
  const { eta = 0, sNoise = 1 } = options;
  validateNoise("sample_dpm_fast", eta, sNoise);
  const [tStart, tEnd] = [tOf(sigmaMax), tOf(sigmaMin)];
  const m = Math.floor(nfe / 3) + 1;
  const ts = Array.from({ length: m + 1 }, (_, i) => (i === m ? tEnd : tStart + ((tEnd - tStart) * i) / m));
  const orders = dpmFastOrders(nfe);
  for (let i = 0; i < orders.length; i++) {
    const cache = new EpsCache(backend, model);
    const [t, tNext] = [ts[i], ts[i + 1]];
    const { target, sigmaUp } = ancestralTarget(t, tNext, tEnd, eta);
    if (options.infoCallback) {
      const eps = await cache.eps("eps", x, t);
      const denoised = await backend.combine([x, eps], [1, -sigmaOf(t)]);
      options.infoCallback({ i, x, sigma: sigmaOf(t), sigmaHat: sigmaOf(t), denoised });
    }
    if (orders[i] === 1) x = await dpmSolver1Step(backend, cache, x, t, target);
    else if (orders[i] === 2) x = await dpmSolver2Step(backend, cache, x, t, target);
    else x = await dpmSolver3Step(backend, cache, x, t, target);
    if (eta) x = await addNoise(backend, x, sigmaUp * sNoise, options.noise, "sample_dpm_fast");
  }
  return x;
}

/** SAMP-KDIFF-DPM-FAST: the orders of the m = ⌊nfe/3⌋ + 1 steps of `sampleDpmFast`; they sum to nfe. */
export function dpmFastOrders(nfe: number): number[] {
  const m = Math.floor(nfe / 3) + 1;
  return nfe % 3 === 0 ? [...Array(m - 2).fill(3), 2, 1] : [...Array(m - 1).fill(3), nfe % 3];
}

/**
 * SAMP-KDIFF-DPM-ADAPTIVE: the PID step-size controller (k-diffusion `PIDStepSizeController`; Söderlind
 * 2003): factor = 1 + atan(ε₀^{b₁} ε₁^{b₂} ε₂^{b₃} − 1) with εₖ = 1/(errorₖ + 10⁻⁸) the inverse errors of the
 * last accepted steps; a step is accepted when factor ≥ acceptSafety; h is multiplied by factor either way.
 */
export class PidStepSizeController {
  private readonly b: readonly [number, number, number];
  private errs: number[] = [];

  constructor(
    public h: number,
    pcoeff: number,
    icoeff: number,
    dcoeff: number,
    order: number,
    private readonly acceptSafety: number,
    private readonly eps = 1e-8,
  ) {
    this.b = [(pcoeff + icoeff + dcoeff) / order, -(pcoeff + 2 * dcoeff) / order, dcoeff / order];
  }

  /** Accept or reject a step with this error estimate; updates h. */
  proposeStep(error: number): boolean {
    const inv = 1 / (error + this.eps);
    if (this.errs.length === 0) this.errs = [inv, inv, inv];
    this.errs[0] = inv;
    const factor = 1 + Math.atan(this.errs[0] ** this.b[0] * this.errs[1] ** this.b[1] * this.errs[2] ** this.b[2] - 1);
    const accept = factor >= this.acceptSafety;
    if (accept) this.errs = [this.errs[0], this.errs[0], this.errs[1]];
    this.h *= factor;
    return accept;
  }

  /**
   * The largest error estimate a step can have and be accepted by the integral controller
   * (pcoeff = dcoeff = 0, so factor depends on this step's error only): (1 + tan(acceptSafety − 1))^{−order/icoeff}
   * (≈ 1.90 for the defaults order 3, icoeff 1, acceptSafety 0.81), minus the 10⁻⁸ guard.
   */
  static acceptedErrorBound(icoeff: number, order: number, acceptSafety: number): number {
    return (1 / (1 + Math.tan(acceptSafety - 1))) ** (order / icoeff);
  }
}

/** RMS over elements of (low − high)/max(atol, rtol·max(|low|, |prev|)): the scaled error of one attempt. */
export function scaledError(low: ArrayLike<number>, high: ArrayLike<number>, prev: ArrayLike<number>, rtol: number, atol: number): number {
  let s = 0;
  for (let k = 0; k < low.length; k++) {
    const delta = Math.max(atol, rtol * Math.max(Math.abs(low[k]), Math.abs(prev[k])));
    s += ((low[k] - high[k]) / delta) ** 2;
  }
  return Math.sqrt(s / low.length);
}

const ADAPTIVE_DEFAULTS = { order: 3, rtol: 0.05, atol: 0.0078, hInit: 0.05, pcoeff: 0, icoeff: 1, dcoeff: 0, acceptSafety: 0.81, eta: 0, sNoise: 1 };

/**
 * SAMP-KDIFF-DPM-ADAPTIVE: DPM-Solver-12 / DPM-Solver-23 with adaptive step size (Lu et al. 2022, Alg. 4–5;
 * k-diffusion `sample_dpm_adaptive`). Each attempt from t with step h computes a lower-order x_low
 * (DPM-Solver-1, or DPM-Solver-2 with r₁ = ⅓) and a higher-order x_high (DPM-Solver-2 / -3) sharing model
 * evaluations (`order` evaluations per attempt), estimates the error as the RMS of
 * (x_low − x_high)/max(atol, rtol·max(|x_low|, |x_prev|)), and lets the PID controller accept (x ← x_high)
 * or reject it and rescale h, until t reaches −log σ_min (within 10⁻⁵). Returns the sample and the counts.
 */
export async function sampleDpmAdaptive<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmaMin: number, sigmaMax: number, options: DpmAdaptiveOptions<T> = {}): Promise<{ x: T; info: DpmAdaptiveInfo }> {
  validateRange("sample_dpm_adaptive", sigmaMin, sigmaMax);
  const o = { ...ADAPTIVE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof ADAPTIVE_DEFAULTS & DpmAdaptiveOptions<T>;
  if (o.order !== 2 && o.order !== 3) throw new ConfigError("sample_dpm_adaptive options.order", o.order, "2 (DPM-Solver-12) or 3 (DPM-Solver-23)");
  for (const k of ["rtol", "atol"] as const) require(typeof o[k] === "number" && Number.isFinite(o[k]) && o[k] >= 0, `sample_dpm_adaptive options.${k}`, o[k], "a finite number ≥ 0");
  require(o.rtol > 0 || o.atol > 0, "sample_dpm_adaptive options.atol", o.atol, "a number > 0 when rtol = 0 (the error is divided by max(atol, rtol·|x|))");
  require(typeof o.hInit === "number" && Number.isFinite(o.hInit) && o.hInit !== 0, "sample_dpm_adaptive options.hInit", o.hInit, "a finite non-zero number");
  for (const k of ["pcoeff", "icoeff", "dcoeff"] as const) require(typeof o[k] === "number" && Number.isFinite(o[k]), `sample_dpm_adaptive options.${k}`, o[k], "a finite number");
  require(typeof o.acceptSafety === "number" && o.acceptSafety > 0 && o.acceptSafety <= 1 + Math.PI / 2, "sample_dpm_adaptive options.acceptSafety", o.acceptSafety, "a number in (0, 1 + π/2]");
  validateNoise("sample_dpm_adaptive", o.eta, o.sNoise);
  const [tStart, tEnd] = [tOf(sigmaMax), tOf(sigmaMin)];
  const pid = new PidStepSizeController(Math.abs(o.hInit), o.pcoeff, o.icoeff, o.dcoeff, o.eta ? 1.5 : o.order, o.acceptSafety);
  const info: DpmAdaptiveInfo = { steps: 0, nfe: 0, nAccept: 0, nReject: 0 };
  let s = tStart;
  let xPrev = Float64Array.from(await backend.toHost(x));
  while (s < tEnd - 1e-5) {
    const cache = new EpsCache(backend, model);
    const t = Math.min(tEnd, s + pid.h);
    const { target, sigmaUp } = ancestralTarget(s, t, tEnd, o.eta);
    const eps = await cache.eps("eps", x, s);
    const denoised = await backend.combine([x, eps], [1, -sigmaOf(s)]);
    const [low, high] = o.order === 2
      ? [await dpmSolver1Step(backend, cache, x, s, target), await dpmSolver2Step(backend, cache, x, s, target)]
      : [await dpmSolver2Step(backend, cache, x, s, target, 1 / 3), await dpmSolver3Step(backend, cache, x, s, target)];
    const lowHost = Float64Array.from(await backend.toHost(low));
    const error = scaledError(lowHost, await backend.toHost(high), xPrev, o.rtol, o.atol);
    if (pid.proposeStep(error)) {
      xPrev = lowHost;
      x = o.eta ? await addNoise(backend, high, sigmaUp * o.sNoise, o.noise, "sample_dpm_adaptive") : high;
      s = t;
      info.nAccept++;
    } else info.nReject++;
    info.nfe += o.order;
    info.steps++;
    o.infoCallback?.({ i: info.steps - 1, x, sigma: sigmaOf(s), sigmaHat: sigmaOf(s), denoised, error, h: pid.h, ...info });
  }
  return { x, info };
}
