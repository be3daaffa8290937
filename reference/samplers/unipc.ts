/**
 * SAMP-UNIPC — diffusers' UniPCMultistepScheduler (spec/07-samplers-dpm-unipc-deis.md; article:
 * "Reverse diffusion in practice").
 *
 * UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework", arXiv:2302.04867,
 * Alg. 1–3 and App. B "B(h)" variants): a multistep exponential-integrator predictor UniP-p and a
 * corrector UniC-p that re-uses the model evaluation at the new point, so the order rises by one at no
 * extra cost. With data prediction (predictX0), step s₀ → t, h = λ_t − λ_{s₀}, rₖ = (λ_{sₖ} − λ_{s₀})/h:
 *   Dₖ = (x̂₀(sₖ) − x̂₀(s₀))/rₖ,
 *   UniP:  x_t = (σ_t/σ_{s₀}) x_{s₀} − α_t (e^{−h} − 1) x̂₀(s₀) − α_t B(h) Σₖ ρₖᵖ Dₖ
 *   UniC:  x_t^c = (σ_t/σ_{s₀}) x_{s₀} − α_t (e^{−h} − 1) x̂₀(s₀) − α_t B(h) (Σₖ ρₖᶜ Dₖ + ρ_pᶜ (x̂₀(t) − x̂₀(s₀)))
 * where the ρ's solve R·ρ = b with R_{jk} = rₖ^{j−1}, b_j = j!·φ_{j+1}(−h)·h/B(h) (φ's by the recursion
 * below), B(h) = −h (bh1) or e^{−h} − 1 (bh2). Order 2 uses ρ = ½ (the paper's choice).
 */
import type { Backend, BTensor } from "../contract.ts";
import { require } from "../errors.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import { resolveConfig } from "./common.ts";
import {
  History, M0, StepCounter, combineUpdate, convertModelOutput, inferenceSchedule, requireInert, requireOrder,
  requireSteps, sigmaSpacingOf, solveLinear, trainSchedule, vAdd, vScale, vSub, vp, x0FromEps,
  type SigmaSpacing, type TrainSchedule, type Vec, type VP,
  type MultistepCommonConfig, MULTISTEP_COMMON_DEFAULTS,
} from "./multistep.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";

const NAME = "UniPCMultistepScheduler";

export type UniPCConfig = MultistepCommonConfig & {
  predictX0: boolean;
  solverType: "bh1" | "bh2";
  disableCorrector: readonly number[];
  solverP: null;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  finalSigmasType: "zero" | "sigma_min";
  rescaleBetasZeroSnr: boolean;
  timeShiftType: "exponential" | "linear";
  sigmaMin: number | null;
  sigmaMax: number | null;
  shiftTerminal: number | null;
};

/** diffusers v0.40.0 defaults (every key of its config), plus `compat`. */
export const UNIPC_DEFAULTS: UniPCConfig = {
  ...MULTISTEP_COMMON_DEFAULTS,
  predictX0: true,
  solverType: "bh2",
  lowerOrderFinal: true,
  disableCorrector: [],
  solverP: null,
  timestepSpacing: "linspace",
  stepsOffset: 0,
  finalSigmasType: "zero",
  rescaleBetasZeroSnr: false,
  timeShiftType: "exponential",
  sigmaMin: null,
  sigmaMax: null,
  shiftTerminal: null,
};

/** The B(h)-scaled right-hand side and the φ weight of UniPC (diffusers' recursion, k = 1 … order). */
export interface UniPCWeights {
  /** h·φ₁ = e^{hh} − 1 with hh = −h (data prediction) or h (noise prediction). */
  readonly hPhi1: number;
  readonly Bh: number;
  /** R (order × order) and b (order) of R·ρ = b. */
  readonly R: number[][];
  readonly b: number[];
}

/** SAMP-UNIPC: R_{jk} = rₖ^{j}, b_j = (j+1)!·hφ_{j+2}/B(h) for j = 0 … order−1 (rks ends with 1). */
export function unipcWeights(h: number, rks: readonly number[], order: number, predictX0: boolean, solverType: "bh1" | "bh2"): UniPCWeights {
  const hh = predictX0 ? -h : h;
  const hPhi1 = Math.expm1(hh);
  const Bh = solverType === "bh1" ? hh : Math.expm1(hh);
  let hPhiK = hPhi1 / hh - 1;
  let factorial = 1;
  const R: number[][] = [];
  const b: number[] = [];
  for (let j = 1; j <= order; j++) {
    R.push(rks.map((r) => r ** (j - 1)));
    b.push((hPhiK * factorial) / Bh);
    factorial *= j + 1;
    hPhiK = hPhiK / hh - 1 / factorial;
  }
  return { hPhi1, Bh, R, b };
}

export class UniPCMultistepScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: UniPCConfig;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas?: Float64Array;
  /** The solver order the last `step` used (1 … solverOrder). */
  lastStepOrder = 0;
  private readonly sigmaSpacing: SigmaSpacing;
  private readonly train: TrainSchedule;
  private readonly history: History<T>;
  private readonly counter = new StepCounter();
  private lowerOrderNums = 0;
  private thisOrder = 1;
  private lastSample: T | undefined;

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const given = { ...config };
    if (["midpoint", "heun", "logrho"].includes(given.solverType as string)) given.solverType = "bh2"; // diffusers' alias
    const c = resolveConfig(NAME, UNIPC_DEFAULTS, given);
    requireInert(NAME, c as unknown as Record<string, unknown>);
    requireOrder(NAME, c.solverOrder);
    require(c.solverType === "bh1" || c.solverType === "bh2", `${NAME}.solverType`, c.solverType, `"bh1" or "bh2"`);
    require(Array.isArray(c.disableCorrector) && c.disableCorrector.every((k) => Number.isInteger(k) && k >= 0), `${NAME}.disableCorrector`, c.disableCorrector, "a list of step indices (non-negative integers)");
    require(c.solverP === null, `${NAME}.solverP`, c.solverP, "null (an external predictor scheduler is not supported)");
    require(c.shiftTerminal === null, `${NAME}.shiftTerminal`, c.shiftTerminal, "null (only used with flow σ's)");
    for (const k of ["sigmaMin", "sigmaMax"] as const) {
      require(c[k] === null || (typeof c[k] === "number" && Number.isFinite(c[k]) && (c[k] as number) > 0), `${NAME}.${k}`, c[k], "null or a finite number > 0");
    }
    this.sigmaSpacing = sigmaSpacingOf(NAME, c);
    require(this.sigmaSpacing !== "lu", `${NAME}.useLuLambdas`, true, "not an option of this class");
    this.config = c;
    this.train = trainSchedule(c, c.compat);
    this.history = new History<T>(c.solverOrder);
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const n = requireSteps(NAME, numInferenceSteps, c.numTrainTimesteps);
    const s = inferenceSchedule({
      n, train: this.train, spacing: c.timestepSpacing, stepsOffset: c.stepsOffset, clipped: 0,
      sigmaSpacing: this.sigmaSpacing, finalSigmasType: c.finalSigmasType, finalFrom: "last", roundKarras: true,
      sigmaMin: c.sigmaMin, sigmaMax: c.sigmaMax, compat: c.compat,
    });
    this.timesteps = s.timesteps;
    this.sigmas = s.sigmas;
    this.history.reset();
    this.lowerOrderNums = 0;
    this.lastSample = undefined;
    this.counter.reset();
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  async step(modelOutput: T, timestep: number, sample: T, _options?: StepOptions<T>): Promise<StepOutput<T>> {
    const c = this.config;
    const i = this.counter.locate(this.timesteps, timestep, NAME, c.compat);
    const sigmas = this.sigmas as Float64Array;
    const n = this.timesteps.length;
    const m = await convertModelOutput(this.backend, c, c.predictX0, modelOutput, sample, sigmas[i]);
    // UniC: correct the sample the previous predictor produced, with the model output just evaluated there.
    const useCorrector = i > 0 && !c.disableCorrector.includes(i - 1) && this.lastSample !== undefined;
    const x = useCorrector ? await this.corrector(m, this.lastSample as T, i, this.thisOrder) : sample;
    this.history.push(m);
    let order = Math.min(c.lowerOrderFinal ? Math.min(c.solverOrder, n - i) : c.solverOrder, this.lowerOrderNums + 1);
    if (c.compat === "math" && sigmas[i + 1] === 0) order = 1; // SAMP-UNIPC-FINAL: the step to σ = 0 is its first-order limit
    this.thisOrder = order;
    this.lastSample = x;
    const prevSample = await this.predictor(i, x, order);
    this.lastStepOrder = order;
    if (this.lowerOrderNums < c.solverOrder) this.lowerOrderNums++;
    this.counter.advance(i);
    return { prevSample, predOriginalSample: c.predictX0 ? m : await x0FromEps(this.backend, m, x, sigmas[i]) };
  }

  /** UniP-p from σᵢ to σᵢ₊₁ (diffusers `multistep_uni_p_bh_update`). */
  private async predictor(i: number, x: T, order: number): Promise<T> {
    const c = this.config;
    const sig = this.sigmas as Float64Array;
    const [s0, t] = [vp(sig[i]), vp(sig[i + 1])];
    const [scaleX, scaleM] = c.predictX0 ? [t.sigma / s0.sigma, t.alpha] : [t.alpha / s0.alpha, t.sigma];
    if (t.sigma === 0 && c.compat === "math") {
      // SAMP-UNIPC-FINAL: h → ∞; x_t → α_t·x̂₀(s₀) (the B(h)·0 and σ_t·∞ of the literal formula are 0).
      return c.predictX0 ? combineUpdate(this.backend, x, 0, this.history, [t.alpha]) : combineUpdate(this.backend, x, t.alpha / s0.alpha, this.history, [(-t.alpha * s0.sigma) / s0.alpha]);
    }
    const h = t.lambda - s0.lambda;
    const { rks, D } = this.differences(i, s0, h, order);
    const w = unipcWeights(h, [...rks, 1], order, c.predictX0, c.solverType);
    const rhos = order === 1 ? [] : order === 2 ? [0.5] : solveLinear(w.R.slice(0, -1).map((r) => r.slice(0, -1)), w.b.slice(0, -1));
    const res = vAdd(...rhos.map((rho, k) => vScale(D[k], rho)));
    // diffusers subtracts α_t·B(h)·0 when there is no correction term: NaN when B(h) = ±∞ (bh1 into σ = 0).
    const zeroTerm = order === 1 ? scaleM * w.Bh * 0 : 0;
    return combineUpdate(this.backend, x, scaleX - zeroTerm, this.history, vSub(vScale(M0, -scaleM * w.hPhi1), vScale(res, scaleM * w.Bh)));
  }

  /** UniC-p correcting x_{σᵢ} (predicted from x_{σᵢ₋₁} = `last`) with x̂(σᵢ) = `mT` (diffusers `multistep_uni_c_bh_update`). */
  private async corrector(mT: T, last: T, i: number, order: number): Promise<T> {
    const c = this.config;
    const sig = this.sigmas as Float64Array;
    const [s0, t] = [vp(sig[i - 1]), vp(sig[i])];
    const [scaleX, scaleM] = c.predictX0 ? [t.sigma / s0.sigma, t.alpha] : [t.alpha / s0.alpha, t.sigma];
    const h = t.lambda - s0.lambda;
    const { rks, D } = this.differences(i - 1, s0, h, order);
    const w = unipcWeights(h, [...rks, 1], order, c.predictX0, c.solverType);
    const rhos = order === 1 ? [0.5] : solveLinear(w.R, w.b);
    const res = vAdd(...rhos.slice(0, -1).map((rho, k) => vScale(D[k], rho)));
    const cT = -scaleM * w.Bh * rhos[rhos.length - 1];
    // x_t − α_t B(h) ρ_p (x̂₀(t) − m₀): the m₀ part joins the history coefficients.
    const cm = vSub(vSub(vScale(M0, -scaleM * w.hPhi1), vScale(res, scaleM * w.Bh)), vScale(M0, cT));
    return combineUpdate(this.backend, last, scaleX, this.history, cm, [[mT, cT]]);
  }

  /** rₖ = (λ_{j−k} − λ_j)/h and Dₖ = (m_k − m₀)/rₖ for k = 1 … order−1, from step j = `j` (history as stored). */
  private differences(j: number, s0: VP, h: number, order: number): { rks: number[]; D: Vec[] } {
    const sig = this.sigmas as Float64Array;
    const rks: number[] = [];
    const D: Vec[] = [];
    for (let k = 1; k < order; k++) {
      const rk = (vp(sig[j - k]).lambda - s0.lambda) / h;
      const Mk = [0, 0, 0];
      Mk[k] = 1;
      rks.push(rk);
      D.push(vScale(vSub(Mk, M0), 1 / rk));
    }
    return { rks, D };
  }
}

export function createUniPCMultistepScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): UniPCMultistepScheduler<T> {
  return new UniPCMultistepScheduler(config, backend);
}
