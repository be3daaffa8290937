/**
 * SAMP-KDPM2, SAMP-KDPM2-ANCESTRAL — DPM-Solver-2 in σ as diffusers schedulers: KDPM2DiscreteScheduler
 * and KDPM2AncestralDiscreteScheduler (v0.40.0), the scheduler form of k-diffusion's `sample_dpm_2` and
 * `sample_dpm_2_ancestral` (spec/07-samplers-kdiffusion-more.md; article: "Sampling: do we need all 1000
 * steps?").
 *
 * Each interval σ → σ' is the midpoint method with the midpoint at the geometric mean σ_mid = √(σ σ_to):
 *   d = (x̃ − D(x̃, σ))/σ,  x̃_mid = x̃ + (σ_mid − σ) d,  d_mid = (x̃_mid − D(x̃_mid, σ_mid))/σ_mid,
 *   x̃' = x̃ + (σ_to − σ) d_mid,
 * with σ_to = σ' (KDPM2) or σ_to = σ_down and fresh noise σ_up·z after it (ancestral; σ_down, σ_up from
 * SAMP-KDIFF-ANCESTRAL with η = 1). The last interval, to σ' = 0, is one Euler step (σ_mid = 0). As a
 * scheduler each model evaluation is one `step` call: 2n − 1 calls, timesteps [t₀, t_mid,0, t₁, t_mid,1, …,
 * t_{n−1}] (diffusers' order; the mid timesteps invert σ_mid on the train grid), and `sigmas` is diffusers'
 * interleaved [σ₀, σ₁, σ₁, …, σ_{n−1}, σ_{n−1}, 0, 0, 0].
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import { roundHalfEven } from "../timesteps.ts";
import type { BetaSchedule } from "../schedule.ts";
import type { StepOptions, StepOutput } from "./scheduler.ts";
import type { Compat } from "./common.ts";
import { getAncestralStep } from "./kdiffusion.ts";
import { repeatInterior } from "./heun.ts";
import {
  SigmaScheduler, addNoise, float32TrainSigmas, makeSigmaSchedule, resolveSigmaConfig, sigmaRamp, sigmaToTimestep, timestepForSigma, trainSigmas,
  type SigmaSchedule, type SigmaSchedulerConfig,
} from "./sigmas.ts";

export interface KDPM2Config extends SigmaSchedulerConfig {
  useKarrasSigmas: boolean;
  useExponentialSigmas: boolean;
  useBetaSigmas: boolean;
}

/** diffusers v0.40.0 KDPM2DiscreteScheduler / KDPM2AncestralDiscreteScheduler defaults, plus compat "math". */
export const KDPM2_DEFAULTS: KDPM2Config = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: "linear" as BetaSchedule,
  trainedBetas: undefined,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  predictionType: "epsilon" as PredictionType,
  timestepSpacing: "linspace" as TimestepSpacing,
  stepsOffset: 0,
  compat: "math" as Compat,
};

/** One interval of the plan: from σ to σ_mid (model evaluated there), then to σ_to, adding noise σ_up. */
interface Interval {
  sigma: number;
  sigmaMid: number;
  sigmaTo: number;
  sigmaUp: number;
}

/**
 * The shared two-stage scheduler. The first call of an interval evaluates at σ and moves to σ_mid (the
 * whole Euler step to 0 on the last interval); the second evaluates at σ_mid and restarts from the stored
 * x̃ with the midpoint derivative.
 */
abstract class KDPM2Base<T extends BTensor> extends SigmaScheduler<T, KDPM2Config> {
  override readonly order = 2;
  private intervals: Interval[] = [];
  /** The sample x̃ at the start of the interval (null in the first stage). */
  private stored: T | null = null;

  constructor(className: string, config: Record<string, unknown>, backend: Backend<T>, private readonly ancestral: boolean) {
    super(className, resolveSigmaConfig(className, KDPM2_DEFAULTS, config), backend);
  }

  protected makeSchedule(n: number): SigmaSchedule {
    const c = this.config;
    const ramp = sigmaRamp(c, this.className);
    const base = makeSigmaSchedule(n, this.alphasCumprod, { ...c, ramp });
    const r = c.compat === "diffusers" ? Math.fround : (v: number) => v;
    // diffusers rounds the timesteps of a Karras ramp (only in the KDPM2 classes).
    const ts = c.compat === "diffusers" && ramp === "karras" ? base.timesteps.map(roundHalfEven) : base.timesteps;
    const s = base.sigmas;
    this.intervals = Array.from({ length: n }, (_, j) => {
      const { sigmaDown, sigmaUp } = this.ancestral ? getAncestralStep(s[j], s[j + 1], 1) : { sigmaDown: s[j + 1], sigmaUp: 0 };
      const [to, up] = [r(sigmaDown), r(sigmaUp)];
      return { sigma: s[j], sigmaMid: to === 0 ? 0 : r(Math.sqrt(s[j] * to)), sigmaTo: to, sigmaUp: up };
    });
    const train = c.compat === "diffusers" ? float32TrainSigmas(this.alphasCumprod) : trainSigmas(this.alphasCumprod);
    const logTrain = train.map((v) => r(Math.log(v)));
    const tOf = (sigma: number): number => (c.compat === "diffusers" ? r(sigmaToTimestep(sigma, logTrain)) : timestepForSigma(sigma, train));
    const timesteps: number[] = [ts[0]];
    for (let j = 1; j < n; j++) timesteps.push(tOf(this.intervals[j - 1].sigmaMid), ts[j]);
    return { timesteps, sigmas: Float64Array.from(repeatInterior([...Array.from(s), 0], true)) };
  }

  protected override resetState(): void {
    this.stored = null;
  }

  /** True when the next `step` is the first evaluation of an interval (diffusers `state_in_first_order`). */
  get stateInFirstOrder(): boolean {
    return this.stored === null;
  }

  /** The σ the model is evaluated at on call k: σ of interval ⌊k/2⌋ on even calls, its σ_mid on odd calls. */
  private evalSigma(k: number): number {
    const iv = this.intervals[k >> 1];
    return k % 2 === 0 ? iv.sigma : iv.sigmaMid;
  }

  /** SAMP-SCALE-INPUT at the σ of this evaluation (σ_mid in the second stage). */
  override async scaleModelInput(sample: T, timestep: number): Promise<T> {
    const { i } = this.locate(timestep);
    const s = this.evalSigma(i);
    return this.backend.combine([sample], [1 / Math.sqrt(s * s + 1)]);
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i } = this.locate(timestep);
    const b = this.backend;
    const iv = this.intervals[i >> 1];
    const sigmaEval = this.evalSigma(i);
    const denoised = await this.denoised(modelOutput, sample, sigmaEval);
    const d = await b.combine([sample, denoised], [1 / sigmaEval, -1 / sigmaEval]);
    let prevSample: T;
    if (this.stored === null) {
      prevSample = await b.combine([sample, d], [1, iv.sigmaMid - iv.sigma]);
      this.stored = sample;
    } else {
      prevSample = await b.combine([this.stored, d], [1, iv.sigmaTo - iv.sigma]);
      this.stored = null;
      if (this.ancestral) prevSample = await addNoise(b, prevSample, iv.sigmaUp, options.noise, `${this.className}.step`);
    }
    this.counter.advance(i);
    return { prevSample, predOriginalSample: denoised };
  }
}

/** SAMP-KDPM2: diffusers KDPM2DiscreteScheduler. */
export class KDPM2DiscreteScheduler<T extends BTensor> extends KDPM2Base<T> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super("KDPM2DiscreteScheduler", config, backend, false);
  }
}

/** SAMP-KDPM2-ANCESTRAL: diffusers KDPM2AncestralDiscreteScheduler (noise on every second-stage call). */
export class KDPM2AncestralDiscreteScheduler<T extends BTensor> extends KDPM2Base<T> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super("KDPM2AncestralDiscreteScheduler", config, backend, true);
  }
}

export function createKDPM2DiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): KDPM2DiscreteScheduler<T> {
  return new KDPM2DiscreteScheduler(config, backend);
}

export function createKDPM2AncestralDiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): KDPM2AncestralDiscreteScheduler<T> {
  return new KDPM2AncestralDiscreteScheduler(config, backend);
}
