/**
 * SAMP-DEIS — diffusers' DEISMultistepScheduler (spec/07-samplers-dpm-unipc-deis.md; article:
 * "Reverse diffusion in practice").
 *
 * DEIS (Zhang & Chen 2023, "Fast Sampling of Diffusion Models with Exponential Integrator",
 * arXiv:2204.13902, §4 "ρAB-DEIS"): in the variable ρ = σ/α (the VE noise level) the ODE is
 * d(x/α)/dρ = ε̂, so
 *   x_t/α_t = x_s/α_s + ∫_{ρ_s}^{ρ_t} ε̂(ρ) dρ,
 * and the k-th order step integrates exactly the Lagrange polynomial through the last k noise
 * predictions, taken in log ρ (diffusers' "logrho" solver):
 *   x_t = α_t (x_{s₀}/α_{s₀} + Σⱼ cⱼ ε̂(sⱼ)),  cⱼ = ∫_{ρ_{s₀}}^{ρ_t} ℓⱼ(log ρ) dρ.
 */
import type { Backend, BTensor } from "../contract.ts";
import { require, requireOneOf } from "../errors.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import { resolveConfig } from "./common.ts";
import {
  History, StepCounter, combineUpdate, inferenceSchedule, noisePrediction, requireInert, requireOrder, requireSteps,
  sigmaSpacingOf, trainSchedule, vp, x0FromEps, type SigmaSpacing, type TrainSchedule,
  type MultistepCommonConfig, MULTISTEP_COMMON_DEFAULTS,
} from "./multistep.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";

const NAME = "DEISMultistepScheduler";

export type DEISConfig = MultistepCommonConfig & {
  algorithmType: "deis";
  solverType: "logrho";
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  timeShiftType: "exponential";
};

/** diffusers v0.40.0 defaults (every key of its config), plus `compat`. */
export const DEIS_DEFAULTS: DEISConfig = {
  ...MULTISTEP_COMMON_DEFAULTS,
  algorithmType: "deis",
  solverType: "logrho",
  lowerOrderFinal: true,
  timestepSpacing: "linspace",
  stepsOffset: 0,
  timeShiftType: "exponential",
};

/** ∫ (log τ − log c)/(log b − log c) dτ, evaluated at τ = t (the linear Lagrange basis in log ρ). */
const ind2 = (t: number, b: number, c: number): number => (t * (-Math.log(c) + Math.log(t) - 1)) / (Math.log(b) - Math.log(c));

/** ∫ (log τ − log c)(log τ − log d)/((log b − log c)(log b − log d)) dτ at τ = t (the quadratic basis). */
function ind3(t: number, b: number, c: number, d: number): number {
  const [lt, lb, lc, ld] = [Math.log(t), Math.log(b), Math.log(c), Math.log(d)];
  return (t * (lc * (ld - lt + 1) - ld * lt + ld + lt ** 2 - 2 * lt + 2)) / ((lb - lc) * (lb - ld));
}

/**
 * SAMP-DEIS: the weights cⱼ of ε̂(s₀), ε̂(s₁), ε̂(s₂) for a step of the given order from ρ_{s₀} to ρ_t
 * (ρ = σ/α), i.e. ∫_{ρ_{s₀}}^{ρ_t} ℓⱼ dρ with ℓⱼ the Lagrange basis in log ρ.
 */
export function deisCoefficients(order: number, rhoT: number, rhos: readonly number[]): number[] {
  const [r0, r1, r2] = rhos;
  if (order === 1) return [rhoT - r0];
  if (order === 2) return [ind2(rhoT, r0, r1) - ind2(r0, r0, r1), ind2(rhoT, r1, r0) - ind2(r0, r1, r0)];
  return [
    ind3(rhoT, r0, r1, r2) - ind3(r0, r0, r1, r2),
    ind3(rhoT, r1, r2, r0) - ind3(r0, r1, r2, r0),
    ind3(rhoT, r2, r0, r1) - ind3(r0, r2, r0, r1),
  ];
}

export class DEISMultistepScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: DEISConfig;
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

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const given = { ...config };
    // diffusers' aliases: DPM-Solver names map to DEIS's own.
    if (["dpmsolver", "dpmsolver++"].includes(given.algorithmType as string)) given.algorithmType = "deis";
    if (["midpoint", "heun", "bh1", "bh2"].includes(given.solverType as string)) given.solverType = "logrho";
    const c = resolveConfig(NAME, DEIS_DEFAULTS, given);
    requireInert(NAME, c as unknown as Record<string, unknown>);
    requireOrder(NAME, c.solverOrder);
    requireOneOf(`${NAME}.algorithmType`, c.algorithmType, ["deis"] as const);
    requireOneOf(`${NAME}.solverType`, c.solverType, ["logrho"] as const);
    requireOneOf(`${NAME}.timeShiftType`, c.timeShiftType, ["exponential"] as const);
    this.sigmaSpacing = sigmaSpacingOf(NAME, c);
    require(this.sigmaSpacing !== "lu", `${NAME}.useLuLambdas`, true, "not an option of this class");
    this.config = c;
    this.train = trainSchedule({ ...c, rescaleBetasZeroSnr: false }, c.compat);
    this.history = new History<T>(c.solverOrder);
  }

  /** SAMP-EXPINT-SCHEDULE; DEIS always ends at σ_min (ρ = 0 is outside its log ρ interpolation). */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const n = requireSteps(NAME, numInferenceSteps, c.numTrainTimesteps);
    const s = inferenceSchedule({
      n, train: this.train, spacing: c.timestepSpacing, stepsOffset: c.stepsOffset, clipped: 0,
      sigmaSpacing: this.sigmaSpacing, finalSigmasType: "sigma_min", finalFrom: "last", roundKarras: true, compat: c.compat,
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

  async step(modelOutput: T, timestep: number, sample: T, _options?: StepOptions<T>): Promise<StepOutput<T>> {
    const c = this.config;
    const i = this.counter.locate(this.timesteps, timestep, NAME, c.compat);
    const sig = this.sigmas as Float64Array;
    const n = this.timesteps.length;
    const lowerOrderFinal = i === n - 1 && c.lowerOrderFinal && n < 15;
    const lowerOrderSecond = i === n - 2 && c.lowerOrderFinal && n < 15;
    const eps = await noisePrediction(this.backend, c, modelOutput, sample, sig[i]);
    this.history.push(eps);
    const order = c.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal ? 1 : c.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond ? 2 : 3;
    const [s0, t] = [vp(sig[i]), vp(sig[i + 1])];
    let prevSample: T;
    if (order === 1) {
      // DDIM: x_t = (α_t/α_s) x_s − σ_t (e^{h} − 1) ε̂  (= α_t (x_s/α_s + (ρ_t − ρ_s) ε̂))
      const h = t.lambda - s0.lambda;
      prevSample = await combineUpdate(this.backend, sample, t.alpha / s0.alpha, this.history, [-t.sigma * Math.expm1(h)]);
    } else {
      const rhos = [0, 1, 2].slice(0, order).map((k) => { const v = vp(sig[i - k]); return v.sigma / v.alpha; });
      const coefs = deisCoefficients(order, t.sigma / t.alpha, rhos);
      prevSample = await combineUpdate(this.backend, sample, t.alpha / s0.alpha, this.history, coefs.map((cj) => t.alpha * cj));
    }
    this.lastStepOrder = order;
    if (this.lowerOrderNums < c.solverOrder) this.lowerOrderNums++;
    this.counter.advance(i);
    return { prevSample, predOriginalSample: await x0FromEps(this.backend, eps, sample, sig[i]) };
  }
}

export function createDEISMultistepScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): DEISMultistepScheduler<T> {
  return new DEISMultistepScheduler(config, backend);
}
