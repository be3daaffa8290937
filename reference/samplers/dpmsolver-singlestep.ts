/**
 * SAMP-DPM-SINGLESTEP — diffusers' DPMSolverSinglestepScheduler (spec/07-samplers-dpm-unipc-deis.md;
 * article: "Reverse diffusion in practice").
 *
 * Singlestep DPM-Solver (Lu et al. 2022a, arXiv:2206.00927, Alg. 1 "DPM-Solver-2/3") with the
 * DPM-Solver++ data-prediction form (Lu et al. 2022b, arXiv:2211.01095, Alg. 1): the schedule is cut
 * into blocks of k steps (k = solverOrder); a block starts at x_{s} with a first-order step, its
 * intermediate points are evaluated, and its last step goes from the block's start x_{s} straight to
 * the block's end with a k-th order formula that uses every model evaluation of the block:
 *   order 2 (from s₁ via s₀ to t): h = λ_t − λ_{s₁}, r₀ = (λ_{s₀} − λ_{s₁})/h,
 *     D₀ = x̂₀(s₁), D₁ = (x̂₀(s₀) − x̂₀(s₁))/r₀, x_t = (σ_t/σ_{s₁}) x_{s₁} + α_t(1 − e^{−h})(D₀ + ½D₁).
 * Orders per step come from `orderList` (diffusers `get_order_list`); the step to σ = 0 is first order.
 */
import type { Backend, BTensor } from "../contract.ts";
import { require, requireOneOf } from "../errors.ts";
import { resolveConfig } from "./common.ts";
import { dpmAlgorithmOf } from "./dpmsolver-multistep.ts";
import {
  History, M0, M1, M2, StepCounter, clippedSteps, combineUpdate, convertModelOutput, dpmWeights, drawNoise, inferenceSchedule,
  requireInert, requireOrder, requireSteps, sigmaSpacingOf, trainSchedule, vAdd, vScale, vSub, vp, x0FromEps,
  type DpmAlgorithm, type SigmaSpacing, type TrainSchedule, type Vec,
  type MultistepCommonConfig, MULTISTEP_COMMON_DEFAULTS,
} from "./multistep.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";

const NAME = "DPMSolverSinglestepScheduler";

export type DPMSolverSinglestepConfig = MultistepCommonConfig & {
  algorithmType: "dpmsolver++" | "sde-dpmsolver++" | "dpmsolver";
  solverType: "midpoint" | "heun";
  finalSigmasType: "zero" | "sigma_min";
  lambdaMinClipped: number;
  varianceType: "learned" | "learned_range" | null;
  timeShiftType: "exponential";
};

/** diffusers v0.40.0 defaults (every key of its config; this class has no timestepSpacing), plus `compat`. */
export const DPM_SINGLESTEP_DEFAULTS: DPMSolverSinglestepConfig = {
  ...MULTISTEP_COMMON_DEFAULTS,
  algorithmType: "dpmsolver++",
  solverType: "midpoint",
  lowerOrderFinal: false,
  finalSigmasType: "zero",
  lambdaMinClipped: -Infinity,
  varianceType: null,
  timeShiftType: "exponential",
};

/**
 * SAMP-DPM-SINGLESTEP: the solver order of each of the n steps (diffusers `get_order_list`): blocks
 * [1, 2, …, k]; with lowerOrderFinal the tail is a shorter block; the step to σ = 0 is order 1.
 */
export function orderList(n: number, order: number, lowerOrderFinal: boolean, finalZero: boolean): number[] {
  const rep = (block: number[], times: number): number[] => Array.from({ length: Math.max(times, 0) }, () => block).flat();
  let orders: number[];
  if (lowerOrderFinal) {
    if (order === 3) orders = n % 3 === 0 ? [...rep([1, 2, 3], n / 3 - 1), 1, 2, 1] : n % 3 === 1 ? [...rep([1, 2, 3], (n - 1) / 3), 1] : [...rep([1, 2, 3], (n - 2) / 3), 1, 2];
    else if (order === 2) orders = n % 2 === 0 ? [...rep([1, 2], n / 2 - 1), 1, 1] : [...rep([1, 2], (n - 1) / 2), 1];
    else orders = rep([1], n);
  } else orders = order === 3 ? rep([1, 2, 3], n / 3) : order === 2 ? rep([1, 2], n / 2) : rep([1], n);
  if (finalZero) orders[orders.length - 1] = 1;
  return orders;
}

export class DPMSolverSinglestepScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: DPMSolverSinglestepConfig;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas?: Float64Array;
  /** The solver order the last `step` used (1 … solverOrder). */
  lastStepOrder = 0;
  /** Solver order of each step (after setTimesteps). */
  orders: number[] = [];
  /** Config keys that setTimesteps rewrote, as diffusers does (`lowerOrderFinal`). */
  readonly configChangedBySetTimesteps: Record<string, { before: unknown; after: unknown }> = {};
  private readonly algorithm: DpmAlgorithm;
  private readonly solverType: "midpoint" | "heun";
  private readonly sigmaSpacing: SigmaSpacing;
  private readonly train: TrainSchedule;
  private readonly history: History<T>;
  private readonly counter = new StepCounter();
  /** x at the start of the current block (diffusers `self.sample`). */
  private blockStart: T | undefined;

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const c = resolveConfig(NAME, DPM_SINGLESTEP_DEFAULTS, config);
    requireInert(NAME, c as unknown as Record<string, unknown>);
    requireOrder(NAME, c.solverOrder);
    require(typeof c.lambdaMinClipped === "number" && !Number.isNaN(c.lambdaMinClipped), `${NAME}.lambdaMinClipped`, c.lambdaMinClipped, "a number (−Infinity for no clipping)");
    requireOneOf(`${NAME}.timeShiftType`, c.timeShiftType, ["exponential"] as const);
    const { algorithm, solverType } = dpmAlgorithmOf(NAME, c, ["dpmsolver++", "sde-dpmsolver++", "dpmsolver"]);
    this.sigmaSpacing = sigmaSpacingOf(NAME, c);
    require(this.sigmaSpacing !== "lu", `${NAME}.useLuLambdas`, true, "not an option of this class");
    this.config = { ...c, algorithmType: algorithm as DPMSolverSinglestepConfig["algorithmType"], solverType };
    this.algorithm = algorithm;
    this.solverType = solverType;
    this.train = trainSchedule({ ...c, rescaleBetasZeroSnr: false }, c.compat);
    this.history = new History<T>(c.solverOrder);
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const n = requireSteps(NAME, numInferenceSteps, c.numTrainTimesteps);
    const s = inferenceSchedule({
      n, train: this.train, spacing: "linspace", stepsOffset: 0,
      clipped: clippedSteps(this.train.lambdas, c.lambdaMinClipped),
      sigmaSpacing: this.sigmaSpacing, finalSigmasType: c.finalSigmasType, finalFrom: "train", roundKarras: true, compat: c.compat,
    });
    this.timesteps = s.timesteps;
    this.sigmas = s.sigmas;
    // diffusers rewrites lowerOrderFinal to true for an n not divisible by the order, and for σ_last = 0.
    if (!c.lowerOrderFinal && (n % c.solverOrder !== 0 || c.finalSigmasType === "zero")) {
      this.configChangedBySetTimesteps.lowerOrderFinal = { before: false, after: true };
      this.config.lowerOrderFinal = true;
    }
    this.orders = orderList(n, c.solverOrder, c.lowerOrderFinal, c.finalSigmasType === "zero");
    this.history.reset();
    this.blockStart = undefined;
    this.counter.reset();
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  async step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>> {
    const c = this.config;
    const i = this.counter.locate(this.timesteps, timestep, NAME, c.compat);
    const sigmas = this.sigmas as Float64Array;
    const dataPred = this.algorithm !== "dpmsolver";
    const m = await convertModelOutput(this.backend, c, dataPred, modelOutput, sample, sigmas[i]);
    const noise = this.algorithm === "sde-dpmsolver++" ? await drawNoise(options, sample.shape, NAME, `algorithmType "sde-dpmsolver++"`) : undefined;
    this.history.push(m);
    let order = this.orders[i];
    while (!this.history.has(order - 1)) order--; // starting mid-schedule: the first steps of a block lack history
    if (order === 1) this.blockStart = sample;
    const prevSample = await this.update(order, i, this.blockStart as T, noise);
    this.lastStepOrder = order;
    this.counter.advance(i);
    return { prevSample, predOriginalSample: dataPred ? m : await x0FromEps(this.backend, m, sample, sigmas[i]) };
  }

  /** The order-k step from the block start σ_{i−k+1} to σ_{i+1}, using m₀ … m_{k−1} of the block. */
  private async update(order: number, i: number, x: T, noise: T | undefined): Promise<T> {
    const sig = this.sigmas as Float64Array;
    const t = vp(sig[i + 1]);
    const start = vp(sig[i - order + 1]);
    const w = dpmWeights(this.algorithm, start, t);
    const h = t.lambda - start.lambda;
    let ds: Vec;
    if (order === 1) ds = vScale(M0, w.w0);
    else if (order === 2) {
      const r0 = (vp(sig[i]).lambda - start.lambda) / h;
      const D1 = vScale(vSub(M0, M1), 1 / r0);
      ds = vAdd(vScale(M1, w.w0), vScale(D1, this.solverType === "midpoint" ? w.w1Midpoint : w.w1Heun));
    } else {
      const r0 = (vp(sig[i]).lambda - start.lambda) / h;
      const r1 = (vp(sig[i - 1]).lambda - start.lambda) / h;
      const D1_0 = vScale(vSub(M1, M2), 1 / r1);
      const D1_1 = vScale(vSub(M0, M2), 1 / r0);
      if (this.solverType === "midpoint") ds = vAdd(vScale(M2, w.w0), vScale(D1_1, w.w1Heun));
      else {
        const D1 = vScale(vSub(vScale(D1_0, r0), vScale(D1_1, r1)), 1 / (r0 - r1));
        const D2 = vScale(vSub(D1_1, D1_0), 2 / (r0 - r1));
        ds = vAdd(vScale(M2, w.w0), vScale(D1, w.w1Heun), vScale(D2, w.w2));
      }
    }
    return combineUpdate(this.backend, x, w.cx, this.history, vScale(ds, w.scale), noise ? [[noise, w.cn]] : []);
  }
}

export function createDPMSolverSinglestepScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): DPMSolverSinglestepScheduler<T> {
  return new DPMSolverSinglestepScheduler(config, backend);
}
