/**
 * SAMP-DPMPP-2M, SAMP-DPMPP-3M, SAMP-DPMPP-SDE, SAMP-DPM-SOLVER — diffusers' DPMSolverMultistepScheduler
 * (spec/07-samplers-dpm-unipc-deis.md; article: "Reverse diffusion in practice").
 *
 * Multistep DPM-Solver (Lu et al. 2022a, "DPM-Solver", arXiv:2206.00927) and DPM-Solver++
 * (Lu et al. 2022b, arXiv:2211.01095, Alg. 2): one model evaluation per step; the k-th order step
 * reuses the converted outputs of the k − 1 previous steps (divided differences in λ).
 *   DPM-Solver++(2M), step s₀ → t, h = λ_t − λ_{s₀}, r₀ = (λ_{s₀} − λ_{s₁})/h:
 *     D₀ = x̂₀(s₀),  D₁ = (x̂₀(s₀) − x̂₀(s₁))/r₀
 *     x_t = (σ_t/σ_{s₀}) x_{s₀} + α_t (1 − e^{−h}) (D₀ + ½ D₁)              (midpoint)
 * The first step is first order (no history), and with lowerOrderFinal and fewer than 15 steps the
 * last two steps drop to orders 1 and 2 (the step to σ = 0 is always first order).
 */
import type { Backend, BTensor } from "../contract.ts";
import { require, requireOneOf } from "../errors.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import { resolveConfig } from "./common.ts";
import {
  History, M0, M1, M2, StepCounter, clippedSteps, combineUpdate, convertModelOutput, dpmWeights, drawNoise, inferenceSchedule,
  requireInert, requireOrder, requireSteps, sigmaSpacingOf, trainSchedule, vAdd, vScale, vSub, vp, x0FromEps,
  type DpmAlgorithm, type SigmaSpacing, type TrainSchedule, type VP, type Vec,
  type MultistepCommonConfig, MULTISTEP_COMMON_DEFAULTS,
} from "./multistep.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";

const NAME = "DPMSolverMultistepScheduler";

export type DPMSolverMultistepConfig = MultistepCommonConfig & {
  algorithmType: DpmAlgorithm;
  solverType: "midpoint" | "heun";
  eulerAtFinal: boolean;
  useLuLambdas: boolean;
  finalSigmasType: "zero" | "sigma_min";
  lambdaMinClipped: number;
  varianceType: "learned" | "learned_range" | null;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  rescaleBetasZeroSnr: boolean;
  timeShiftType: "exponential";
};

/** diffusers v0.40.0 defaults (every key of its config), plus `compat`. */
export const DPM_MULTISTEP_DEFAULTS: DPMSolverMultistepConfig = {
  ...MULTISTEP_COMMON_DEFAULTS,
  algorithmType: "dpmsolver++",
  solverType: "midpoint",
  lowerOrderFinal: true,
  eulerAtFinal: false,
  useLuLambdas: false,
  finalSigmasType: "zero",
  lambdaMinClipped: -Infinity,
  varianceType: null,
  timestepSpacing: "linspace",
  stepsOffset: 0,
  rescaleBetasZeroSnr: false,
  timeShiftType: "exponential",
};

export const DPM_ALGORITHMS: readonly DpmAlgorithm[] = ["dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver"];

/**
 * The DPM-Solver algorithm and solver type, with diffusers' aliases: algorithmType "deis" means
 * "dpmsolver++", solverType "logrho" / "bh1" / "bh2" mean "midpoint" (configs shared between classes).
 */
export function dpmAlgorithmOf(className: string, c: { algorithmType: string; solverType: string; finalSigmasType: string }, allowed: readonly DpmAlgorithm[]): { algorithm: DpmAlgorithm; solverType: "midpoint" | "heun" } {
  const algorithm = requireOneOf(`${className}.algorithmType`, c.algorithmType === "deis" ? "dpmsolver++" : c.algorithmType, allowed);
  const solverType = requireOneOf(`${className}.solverType`, ["logrho", "bh1", "bh2"].includes(c.solverType) ? "midpoint" : c.solverType, ["midpoint", "heun"] as const);
  require(
    algorithm === "dpmsolver++" || algorithm === "sde-dpmsolver++" || c.finalSigmasType !== "zero",
    `${className}.finalSigmasType`, c.finalSigmasType,
    `"sigma_min" for algorithmType "${algorithm}" (the noise-prediction step to σ = 0 multiplies 0 by ∞ in diffusers; use a "++" algorithm for σ = 0)`,
  );
  return { algorithm, solverType };
}

/**
 * SAMP-DPMPP-2M / SAMP-DPMPP-3M / SAMP-DPMPP-SDE / SAMP-DPM-SOLVER: the multistep DPM-Solver family
 * as a diffusers-compatible scheduler.
 */
export class DPMSolverMultistepScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: DPMSolverMultistepConfig;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas?: Float64Array;
  /** The solver order the last `step` used (1 … solverOrder). */
  lastStepOrder = 0;
  private readonly algorithm: DpmAlgorithm;
  private readonly solverType: "midpoint" | "heun";
  private readonly sigmaSpacing: SigmaSpacing;
  private readonly train: TrainSchedule;
  private readonly history: History<T>;
  private readonly counter = new StepCounter();
  private lowerOrderNums = 0;

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const c = resolveConfig(NAME, DPM_MULTISTEP_DEFAULTS, config);
    requireInert(NAME, c as unknown as Record<string, unknown>);
    requireOrder(NAME, c.solverOrder);
    require(typeof c.lambdaMinClipped === "number" && !Number.isNaN(c.lambdaMinClipped), `${NAME}.lambdaMinClipped`, c.lambdaMinClipped, "a number (−Infinity for no clipping)");
    requireOneOf(`${NAME}.timeShiftType`, c.timeShiftType, ["exponential"] as const);
    const { algorithm, solverType } = dpmAlgorithmOf(NAME, c, DPM_ALGORITHMS);
    require(!(algorithm === "sde-dpmsolver" && c.solverOrder === 3), `${NAME}.solverOrder`, 3, `1 or 2 for algorithmType "sde-dpmsolver" (diffusers has no third-order SDE-DPM-Solver)`);
    this.sigmaSpacing = sigmaSpacingOf(NAME, c);
    this.config = { ...c, algorithmType: algorithm, solverType };
    this.algorithm = algorithm;
    this.solverType = solverType;
    this.train = trainSchedule(c, c.compat);
    this.history = new History<T>(c.solverOrder);
  }

  /** SAMP-EXPINT-SCHEDULE: timesteps and σ's for n steps; resets the history. */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const n = requireSteps(NAME, numInferenceSteps, c.numTrainTimesteps);
    const s = inferenceSchedule({
      n, train: this.train, spacing: c.timestepSpacing, stepsOffset: c.stepsOffset,
      clipped: clippedSteps(this.train.lambdas, c.lambdaMinClipped),
      sigmaSpacing: this.sigmaSpacing, finalSigmasType: c.finalSigmasType, finalFrom: "train",
      roundKarras: c.betaSchedule !== "squaredcos_cap_v2", compat: c.compat,
    });
    this.timesteps = s.timesteps;
    this.sigmas = s.sigmas;
    this.history.reset();
    this.lowerOrderNums = 0;
    this.counter.reset();
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  async step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>> {
    const c = this.config;
    const i = this.counter.locate(this.timesteps, timestep, NAME, c.compat);
    const sigmas = this.sigmas as Float64Array;
    const n = this.timesteps.length;
    const lowerOrderFinal = i === n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigmasType === "zero");
    const lowerOrderSecond = i === n - 2 && c.lowerOrderFinal && n < 15;
    const dataPred = this.algorithm === "dpmsolver++" || this.algorithm === "sde-dpmsolver++";
    const m = await convertModelOutput(this.backend, c, dataPred, modelOutput, sample, sigmas[i]);
    const noise = this.algorithm.startsWith("sde") ? await drawNoise(options, sample.shape, NAME, `algorithmType "${this.algorithm}"`) : undefined;
    this.history.push(m);
    const order = c.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal ? 1 : c.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond ? 2 : 3;
    const prevSample = await this.update(order, i, sample, noise);
    this.lastStepOrder = order;
    if (this.lowerOrderNums < c.solverOrder) this.lowerOrderNums++;
    this.counter.advance(i);
    return { prevSample, predOriginalSample: dataPred ? m : await x0FromEps(this.backend, m, sample, sigmas[i]) };
  }

  /** One multistep update of the given order from σᵢ to σᵢ₊₁ (`dpmMultistepUpdate` on the VP points of σᵢ₊₁, σᵢ, σᵢ₋₁, σᵢ₋₂). */
  private async update(order: number, i: number, x: T, noise: T | undefined): Promise<T> {
    const sig = this.sigmas as Float64Array;
    const points = [vp(sig[i + 1]), vp(sig[i]), ...(order >= 2 ? [vp(sig[i - 1])] : []), ...(order >= 3 ? [vp(sig[i - 2])] : [])];
    return dpmMultistepUpdate(this.backend, { algorithm: this.algorithm, solverType: this.solverType, compat: this.config.compat }, order, points, x, this.history, noise);
  }
}

/**
 * SAMP-DPMPP-2M / SAMP-DPMPP-3M: one multistep DPM-Solver update of the given order from s₀ to t using the
 * converted outputs at s₀, s₁, s₂ (history m₀, m₁, m₂); `points` = [t, s₀, s₁?, s₂?] (α, σ, λ of each).
 * D's are coefficient vectors over [m₀, m₁, m₂]. Shared by DPMSolverMultistep and EDMDPMSolverMultistep
 * (whose points have α = 1: the same update in the VE coordinates).
 */
export async function dpmMultistepUpdate<T extends BTensor>(
  backend: Backend<T>,
  m: { algorithm: DpmAlgorithm; solverType: "midpoint" | "heun"; compat: "math" | "diffusers" },
  order: number,
  points: readonly VP[],
  x: T,
  history: History<T>,
  noise: T | undefined,
): Promise<T> {
  const [t, s0, s1, s2] = points;
  const w = dpmWeights(m.algorithm, s0, t);
  let ds: Vec;
  if (order === 1) ds = vScale(M0, w.w0);
  else {
    const h = t.lambda - s0.lambda;
    const r0 = (s0.lambda - s1.lambda) / h;
    const D1_0 = vScale(vSub(M0, M1), 1 / r0);
    if (order === 2) ds = vAdd(vScale(M0, w.w0), vScale(D1_0, m.solverType === "midpoint" ? w.w1Midpoint : w.w1Heun));
    else {
      const r1 = (s1.lambda - s2.lambda) / h;
      const D1_1 = vScale(vSub(M1, M2), 1 / r1);
      const D1 = vAdd(D1_0, vScale(vSub(D1_0, D1_1), r0 / (r0 + r1)));
      const D2 = vScale(vSub(D1_0, D1_1), 1 / (r0 + r1)); // ≈ (h²/2)·d²D/dλ²
      // The Taylor expansion of the exponential integral weights (h²/2)·D'' by 2·w2; diffusers uses w2 alone,
      // which halves the third-order term and leaves the method second order (spec/08-order.md, SAMP-DPMPP-3M).
      const k2 = m.compat === "diffusers" ? 1 : 2;
      ds = vAdd(vScale(M0, w.w0), vScale(D1, w.w1Heun), vScale(D2, k2 * w.w2));
    }
  }
  return combineUpdate(backend, x, w.cx, history, vScale(ds, w.scale), noise ? [[noise, w.cn]] : []);
}

/** Factory registered in reference/samplers/index.ts. */
export function createDPMSolverMultistepScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): DPMSolverMultistepScheduler<T> {
  return new DPMSolverMultistepScheduler(config, backend);
}
