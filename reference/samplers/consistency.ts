/**
 * SAMP-LCM, SAMP-TCD — few-step samplers of consistency-distilled models: diffusers' LCMScheduler
 * (Luo et al. 2023, "Latent Consistency Models", Alg. 1 and eq. 9) and TCDScheduler (Zheng et al. 2024,
 * "Trajectory Consistency Distillation", §4.2 strategic stochastic sampling)
 * (spec/07-samplers-flow-lcm-edm.md).
 *
 * A consistency model f(xₜ, t) maps any point of a probability-flow trajectory to its origin x₀. It is
 * parameterised so that f(x, 0) = x (CM-BOUNDARY): f = c_skip(t)·xₜ + c_out(t)·x̂₀(xₜ, t), with
 * c_skip(0) = 1, c_out(0) = 0. Multistep consistency sampling alternates "jump to x₀" and "re-noise to
 * the next, lower timestep" with fresh noise (CM-STEP). TCD jumps only part of the way, to s = ⌊(1 − γ)·t'⌋,
 * then re-noises from s to t' (γ = 0: deterministic DDIM-like; γ = 1: LCM's full jump).
 * Schedule, x̂₀ and the DDPM forward process are the shared ones (reference/schedule.ts, param.ts).
 */
import type { Backend, BTensor } from "../contract.ts";
import { require, requirePositiveInt } from "../errors.ts";
import type { Schedule } from "../schedule.ts";
import { BASE_DEFAULTS, postprocessX0, predictEps, predictX0, resolveConfig, stepIndexOf, type BaseSchedulerConfig } from "./common.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";
import { alphaBarOr, requireDefinedX0, requireNoise, scheduleOf, validateCommon } from "./ddpm.ts";

export type ConsistencyConfig = BaseSchedulerConfig & {
  originalInferenceSteps: number;
  setAlphaToOne: boolean;
  timestepScaling: number;
} & Record<string, unknown>;

/** diffusers v0.40.0 LCMScheduler / TCDScheduler defaults (SD's scaled-linear β from 0.00085 to 0.012). */
export const CONSISTENCY_DEFAULTS = {
  ...BASE_DEFAULTS,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: "scaled_linear",
  trainedBetas: undefined,
  originalInferenceSteps: 50,
  setAlphaToOne: true,
  timestepScaling: 10,
} as ConsistencyConfig;

/** EDM's data standard deviation σ_data = 0.5, which LCM's boundary condition uses (Song et al. 2023). */
export const CM_SIGMA_DATA = 0.5;

/**
 * CM-BOUNDARY: the boundary-condition scalings at (discrete) timestep t, with τ = t·timestepScaling:
 * c_skip = σ_d²/(τ² + σ_d²), c_out = τ/√(τ² + σ_d²) (Song et al. 2023, App. C, with σ_min = 0;
 * LCM's discrete form). c_skip(0) = 1 and c_out(0) = 0, so f(x, 0) = x.
 */
export function consistencyScalings(t: number, timestepScaling: number): { cSkip: number; cOut: number } {
  const tau = t * timestepScaling;
  const d2 = CM_SIGMA_DATA * CM_SIGMA_DATA;
  return { cSkip: d2 / (tau * tau + d2), cOut: tau / Math.sqrt(tau * tau + d2) };
}

/**
 * SAMP-LCM: the skipping-step schedule (Luo et al. 2023, §4.2). Distillation visited the `originalSteps`
 * timesteps k·j − 1, j = 1 … originalSteps, k = ⌊N/originalSteps⌋; inference takes n of them, evenly by
 * index from the top: indices ⌊i·m/n⌋, i = 0 … n−1, of the m = originalSteps timesteps in decreasing order.
 * (`timestepSpacing` is not used by these classes, as in diffusers.)
 */
export function consistencyTimesteps(n: number, numTrainTimesteps: number, originalSteps: number, className: string): number[] {
  requirePositiveInt(`${className}.originalInferenceSteps`, originalSteps);
  require(originalSteps <= numTrainTimesteps, `${className}.originalInferenceSteps`, originalSteps, `an integer ≤ numTrainTimesteps (${numTrainTimesteps})`);
  requirePositiveInt(`${className}.setTimesteps numInferenceSteps`, n);
  require(n <= originalSteps, `${className}.setTimesteps numInferenceSteps`, n, `an integer ≤ originalInferenceSteps (${originalSteps}): the model was distilled on that many timesteps`);
  const k = Math.floor(numTrainTimesteps / originalSteps);
  const origin = Array.from({ length: originalSteps }, (_, j) => (originalSteps - j) * k - 1);
  return Array.from({ length: n }, (_, i) => origin[Math.floor((i * originalSteps) / n)]);
}

/** The shell LCM and TCD share: schedule, ᾱ past the end, the skipping-step timesteps, identity scaling. */
abstract class ConsistencyScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: ConsistencyConfig;
  readonly schedule: Schedule;
  readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  protected ts: number[] = [];

  constructor(readonly className: string, config: Record<string, unknown>, readonly backend: Backend<T>) {
    const c = resolveConfig(className, CONSISTENCY_DEFAULTS, config);
    validateCommon(className, c, ["clipSample", "thresholding", "rescaleBetasZeroSnr", "setAlphaToOne"]);
    require(typeof c.timestepScaling === "number" && Number.isFinite(c.timestepScaling) && c.timestepScaling > 0, `${className}.timestepScaling`, c.timestepScaling, "a finite number > 0");
    this.config = c;
    this.schedule = scheduleOf(c);
    this.finalAlphaCumprod = c.setAlphaToOne ? 1 : this.schedule.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.ts;
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const ts = consistencyTimesteps(numInferenceSteps, c.numTrainTimesteps, c.originalInferenceSteps, this.className);
    requireDefinedX0(this.className, c.predictionType, this.schedule, ts);
    this.ts = ts;
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  abstract step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>>;

  /** √ᾱₜ, √(1 − ᾱₜ) at an integer timestep. */
  protected alphaSigma(t: number): [number, number] {
    const a = this.schedule.alphasCumprod[t];
    return [Math.sqrt(a), Math.sqrt(1 - a)];
  }
}

/**
 * SAMP-LCM: one multistep consistency step (Luo et al. 2023, Alg. 1 / Song et al. 2023, Alg. 1):
 *   x̂₀ = the model's x₀ prediction at t (optionally clipped / thresholded),
 *   f = c_skip(t)·xₜ + c_out(t)·x̂₀                                 (CM-BOUNDARY, "denoised"),
 *   x_{t'} = √ᾱ_{t'}·f + √(1 − ᾱ_{t'})·z, z ~ 𝒩(0, I)             (CM-STEP; t' the next timestep),
 * and the last step returns f itself (no noise is drawn: one-step sampling is deterministic).
 */
export class LCMScheduler<T extends BTensor> extends ConsistencyScheduler<T> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super("LCMScheduler", config, backend);
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T> & { denoised: T }> {
    const c = this.config;
    const b = this.backend;
    const i = stepIndexOf(this.ts, timestep, this.className);
    const [alpha, sigma] = this.alphaSigma(timestep);
    const x0 = await postprocessX0(b, await predictX0(b, c.predictionType, modelOutput, sample, alpha, sigma), c);
    const { cSkip, cOut } = consistencyScalings(timestep, c.timestepScaling);
    const denoised = await b.combine([x0, sample], [cOut, cSkip]);
    if (i === this.ts.length - 1) return { prevSample: denoised, denoised };
    const abarPrev = alphaBarOr(this.schedule, this.ts[i + 1], this.finalAlphaCumprod);
    const z = await requireNoise(options, this.className, "every LCM step but the last re-noises the consistency prediction").next(sample.shape);
    return { prevSample: await b.combine([denoised, z], [Math.sqrt(abarPrev), Math.sqrt(1 - abarPrev)]), denoised };
  }
}

export function createLCMScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): LCMScheduler<T> {
  return new LCMScheduler(config, backend);
}

/**
 * SAMP-TCD: strategic stochastic sampling (Zheng et al. 2024, eq. 14) with γ = options.eta ∈ [0, 1]
 * (default 0.3). From t to the next timestep t' (0 after the last step), through s = ⌊(1 − γ)·t'⌋:
 *   x̂₀, ε̂ = the model's x₀ and ε predictions at t,
 *   x_s = √ᾱ_s·x̂₀ + √(1 − ᾱ_s)·ε̂                                  (the DDIM jump to s, "pred_noised_sample"),
 *   x_{t'} = √(ᾱ_{t'}/ᾱ_s)·x_s + √(1 − ᾱ_{t'}/ᾱ_s)·z               (forward diffusion from s back up to t').
 * γ = 0 is deterministic (s = t'); the last step returns x_s without noise.
 */
export class TCDScheduler<T extends BTensor> extends ConsistencyScheduler<T> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super("TCDScheduler", config, backend);
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T> & { predNoisedSample: T }> {
    const c = this.config;
    const b = this.backend;
    const gamma = options.eta ?? 0.3;
    require(typeof gamma === "number" && gamma >= 0 && gamma <= 1, `${this.className}.step eta`, gamma, "a number in [0, 1] (the paper's γ)");
    const i = stepIndexOf(this.ts, timestep, this.className);
    const last = i === this.ts.length - 1;
    const tPrev = last ? 0 : this.ts[i + 1];
    const s = Math.floor((1 - gamma) * tPrev);
    const [alpha, sigma] = this.alphaSigma(timestep);
    const [alphaS, sigmaS] = this.alphaSigma(s);
    const x0 = await predictX0(b, c.predictionType, modelOutput, sample, alpha, sigma);
    const eps = await predictEps(b, c.predictionType, modelOutput, sample, alpha, sigma);
    const predNoisedSample = await b.combine([x0, eps], [alphaS, sigmaS]);
    if (gamma === 0 || last) return { prevSample: predNoisedSample, predNoisedSample };
    const ratio = alphaBarOr(this.schedule, tPrev, this.finalAlphaCumprod) / this.schedule.alphasCumprod[s];
    const z = await requireNoise(options, this.className, "TCD with γ > 0 re-noises from s to the next timestep").next(sample.shape);
    return { prevSample: await b.combine([predNoisedSample, z], [Math.sqrt(ratio), Math.sqrt(1 - ratio)]), predNoisedSample };
  }
}

export function createTCDScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): TCDScheduler<T> {
  return new TCDScheduler(config, backend);
}
