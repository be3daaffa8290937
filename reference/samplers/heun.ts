/**
 * SAMP-HEUN — Heun's second-order method on the probability-flow ODE: diffusers' HeunDiscreteScheduler
 * (Karras et al. 2022, Alg. 1; spec/07-samplers-euler-heun-lms.md; article: "Reverse diffusion in practice").
 *
 * Each interval σ → σ' takes an Euler predictor and a trapezoid corrector:
 *   d = (x̃ − D(x̃, σ))/σ,  x̃* = x̃ + (σ' − σ) d,  d* = (x̃* − D(x̃*, σ'))/σ',  x̃' = x̃ + (σ' − σ)(d + d*)/2,
 * two model evaluations per interval, except the last interval to σ' = 0, which is a plain Euler step
 * (d* would divide by σ' = 0): 2n − 1 evaluations for n steps. As a diffusers scheduler each evaluation is
 * one `step` call, so `timesteps` repeats every interior timestep: [t₀, t₁, t₁, t₂, t₂, …, t_{n−1}, t_{n−1}]
 * and `sigmas` is [σ₀, σ₁, σ₁, …, σ_{n−1}, σ_{n−1}, 0].
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import type { BetaSchedule } from "../schedule.ts";
import { require } from "../errors.ts";
import type { StepOptions, StepOutput } from "./scheduler.ts";
import { postprocessX0, type Compat } from "./common.ts";
import { SigmaScheduler, makeSigmaSchedule, resolveSigmaConfig, sigmaRamp, type SigmaSchedule, type SigmaSchedulerConfig } from "./sigmas.ts";

export interface HeunDiscreteConfig extends SigmaSchedulerConfig {
  useKarrasSigmas: boolean;
  useExponentialSigmas: boolean;
  useBetaSigmas: boolean;
  clipSample: boolean;
  clipSampleRange: number;
}

/** diffusers v0.40.0 HeunDiscreteScheduler defaults (note β_start = 0.00085, β_end = 0.012), plus compat "math". */
export const HEUN_DISCRETE_DEFAULTS: HeunDiscreteConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: "linear" as BetaSchedule,
  trainedBetas: undefined,
  predictionType: "epsilon" as PredictionType,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  clipSample: false,
  clipSampleRange: 1,
  timestepSpacing: "linspace" as TimestepSpacing,
  stepsOffset: 0,
  compat: "math" as Compat,
};

/** SAMP-HEUN: [a₀, a₁, a₁, a₂, a₂, …] — every entry after the first twice (torch.repeat_interleave). */
export function repeatInterior<A>(xs: readonly A[], keepLast: boolean): A[] {
  const out: A[] = [xs[0]];
  const end = keepLast ? xs.length - 1 : xs.length;
  for (let i = 1; i < end; i++) out.push(xs[i], xs[i]);
  if (keepLast && xs.length > 1) out.push(xs[xs.length - 1]);
  return out;
}

/**
 * SAMP-HEUN: diffusers HeunDiscreteScheduler. The scheduler is in its first (Euler) stage when it holds no
 * predictor state, in its second (corrector) stage after a first stage; `clipSample` clamps x̂₀ in both.
 */
export class HeunDiscreteScheduler<T extends BTensor> extends SigmaScheduler<T, HeunDiscreteConfig> {
  override readonly order = 2;
  /** The predictor's derivative d, step σ' − σ and start sample x̃ (null in the first stage). */
  private predictor: { d: T; dt: number; sample: T } | null = null;

  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    const c = resolveSigmaConfig("HeunDiscreteScheduler", HEUN_DISCRETE_DEFAULTS, config, { expSchedule: true });
    require(typeof c.clipSampleRange === "number" && c.clipSampleRange > 0, "HeunDiscreteScheduler.clipSampleRange", c.clipSampleRange, "a number > 0");
    super("HeunDiscreteScheduler", c, backend);
  }

  protected makeSchedule(n: number): SigmaSchedule {
    const s = makeSigmaSchedule(n, this.alphasCumprod, { ...this.config, ramp: sigmaRamp(this.config, this.className) });
    return { timesteps: repeatInterior(s.timesteps, false), sigmas: Float64Array.from(repeatInterior(Array.from(s.sigmas), true)) };
  }

  protected override resetState(): void {
    this.predictor = null;
  }

  /** True when the next `step` is an Euler predictor (diffusers `state_in_first_order`). */
  get stateInFirstOrder(): boolean {
    return this.predictor === null;
  }

  async step(modelOutput: T, timestep: number, sample: T, _options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i, sigmas } = this.locate(timestep);
    const b = this.backend;
    const first = this.predictor;
    // σ of this evaluation: σᵢ in the first stage, σ' (= sigmas[i]) in the corrector stage.
    const sigmaEval = sigmas[i];
    const denoised = await postprocessX0(b, await this.denoised(modelOutput, sample, sigmaEval), { ...this.config, thresholding: false, dynamicThresholdingRatio: 0.995, sampleMaxValue: 1 });
    let prevSample: T;
    if (first === null) {
      const dt = sigmas[i + 1] - sigmaEval;
      const d = await b.combine([sample, denoised], [1 / sigmaEval, -1 / sigmaEval]);
      prevSample = await b.combine([sample, d], [1, dt]);
      this.predictor = { d, dt, sample };
    } else {
      const d2 = await b.combine([sample, denoised], [1 / sigmaEval, -1 / sigmaEval]);
      prevSample = await b.combine([first.sample, first.d, d2], [1, first.dt / 2, first.dt / 2]);
      this.predictor = null;
    }
    this.counter.advance(i);
    return { prevSample, predOriginalSample: denoised };
  }
}

export function createHeunDiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): HeunDiscreteScheduler<T> {
  return new HeunDiscreteScheduler(config, backend);
}
