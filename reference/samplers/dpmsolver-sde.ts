/**
 * SAMP-DPMSOLVER-SDE — diffusers' DPMSolverSDEScheduler (Katherine Crowson's stochastic DPM-Solver++, the
 * sampler of the article's closing video; spec/07-samplers-dpmsolver-sde.md; article: "Fun extras").
 *
 * In λ = −log σ each interval σ → σ' is split at its midpoint s = (λ + λ')/2, i.e. σ_s = √(σ σ'), and
 * taken in two `step` calls, each an ancestral DPM-Solver++(1) step from σ (η = 1):
 *   first call:  x_s = (σ_d/σ) x + (1 − σ_d/σ) D(x, σ)  + σ_u z₁,   (σ_d, σ_u) = ancestral split of σ → σ_s
 *   second call: x'  = (σ_d/σ) x + (1 − σ_d/σ) D(x_s, σ_s) + σ_u z₂, (σ_d, σ_u) = ancestral split of σ → σ'
 * (both start from x: the midpoint only supplies the better x̂₀), with z = the Brownian tree's normalised
 * increments over (σ, σ_s) and (σ, σ'), so the two draws are correlated as pieces of one Brownian path. The
 * last interval, to σ' = 0, is one Euler step (one call). Schedule of n steps: timesteps
 * [t₀, t(σ_s₀), t₁, t(σ_s₁), …, t_{n−1}] (2n − 1 calls) and σ [σ₀, σ₁, σ₁, …, σ_{n−1}, σ_{n−1}, 0].
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import type { BetaSchedule } from "../schedule.ts";
import { require } from "../errors.ts";
import { BrownianTreeNoiseSampler } from "../brownian.ts";
import type { StepOptions, StepOutput } from "./scheduler.ts";
import type { Compat } from "./common.ts";
import { getAncestralStep } from "./kdiffusion.ts";
import { repeatInterior } from "./heun.ts";
import { SigmaScheduler, float32TrainSigmas, makeSigmaSchedule, resolveSigmaConfig, sigmaRamp, sigmaToTimestep, trainSigmas, type SigmaSchedule, type SigmaSchedulerConfig } from "./sigmas.ts";

export interface DPMSolverSDEConfig extends SigmaSchedulerConfig {
  useKarrasSigmas: boolean;
  useExponentialSigmas: boolean;
  useBetaSigmas: boolean;
  /** Seed of the Brownian tree. diffusers draws a random one when None; the reference uses 0 then, to stay deterministic. */
  noiseSamplerSeed: number | undefined;
}

/** diffusers v0.40.0 DPMSolverSDEScheduler defaults, plus compat "math". */
export const DPMSOLVER_SDE_DEFAULTS: DPMSolverSDEConfig = {
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: "linear" as BetaSchedule,
  trainedBetas: undefined,
  predictionType: "epsilon" as PredictionType,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  noiseSamplerSeed: undefined,
  timestepSpacing: "linspace" as TimestepSpacing,
  stepsOffset: 0,
  compat: "math" as Compat,
};

/** k-diffusion's λ = t_fn(σ) = −log σ and its inverse σ = sigma_fn(λ) = e^{−λ}. */
const tFn = (sigma: number): number => -Math.log(sigma);
const sigmaFn = (t: number): number => Math.exp(-t);

/** SAMP-DPMSOLVER-SDE: the midpoint of σ → σ' in λ: e^{−(λ + (λ' − λ)/2)} = √(σ σ'). */
export function midpointSigma(sigma: number, sigmaNext: number): number {
  const t = tFn(sigma);
  return sigmaFn(t + (tFn(sigmaNext) - t) * 0.5);
}

/** SAMP-DPMSOLVER-SDE: timesteps [t₀, t(σ_s₀), t₁, …] and σ [σ₀, σ₁, σ₁, …, σ_{n−1}, σ_{n−1}, 0] of an n-step run. */
export function dpmSolverSdeSchedule(base: SigmaSchedule, logSigmasTrain: ArrayLike<number>): SigmaSchedule {
  const n = base.timesteps.length;
  const timesteps: number[] = [base.timesteps[0]];
  for (let i = 1; i < n; i++) timesteps.push(sigmaToTimestep(midpointSigma(base.sigmas[i - 1], base.sigmas[i]), logSigmasTrain), base.timesteps[i]);
  return { timesteps, sigmas: Float64Array.from(repeatInterior(Array.from(base.sigmas), true)) };
}

export class DPMSolverSDEScheduler<T extends BTensor> extends SigmaScheduler<T, DPMSolverSDEConfig> {
  override readonly order = 2;
  /** The sample x at σ and the midpoint σ_s, held between the two calls of an interval (null: first call next). */
  private pending: { sample: T; midSigma: number } | null = null;
  private brownian: BrownianTreeNoiseSampler | null = null;

  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    const c = resolveSigmaConfig("DPMSolverSDEScheduler", DPMSOLVER_SDE_DEFAULTS, config);
    require(c.noiseSamplerSeed === undefined || Number.isInteger(c.noiseSamplerSeed), "DPMSolverSDEScheduler.noiseSamplerSeed", c.noiseSamplerSeed, "null or an integer");
    super("DPMSolverSDEScheduler", c, backend);
  }

  protected makeSchedule(n: number): SigmaSchedule {
    const base = makeSigmaSchedule(n, this.alphasCumprod, { ...this.config, ramp: sigmaRamp(this.config, this.className) });
    const train = this.config.compat === "diffusers" ? float32TrainSigmas(this.alphasCumprod) : trainSigmas(this.alphasCumprod);
    return dpmSolverSdeSchedule(base, train.map(Math.log));
  }

  protected override resetState(): void {
    this.pending = null;
    this.brownian = null;
  }

  /** diffusers `state_in_first_order`: the next call starts an interval. */
  get stateInFirstOrder(): boolean {
    return this.pending === null;
  }

  /** SAMP-SCALE-INPUT at σ (first call) or at the midpoint σ_s (second call). */
  override async scaleModelInput(sample: T, timestep: number): Promise<T> {
    const { i, sigmas } = this.locate(timestep);
    const sigma = this.pending ? this.pending.midSigma : sigmas[i];
    return this.backend.combine([sample], [1 / Math.sqrt(sigma * sigma + 1)]);
  }

  /** z for the interval (σ, σ_to): `options.noise` (recorded noise) or the Brownian tree seeded by `noiseSamplerSeed`. */
  private async noise(sigma: number, sigmaTo: number, sample: T, options: StepOptions<T>): Promise<T> {
    if (options.noise) return options.noise.next(sample.shape, [sigma, sigmaTo]);
    if (!this.brownian) {
      const sigmas = Array.from(this.sigmas as Float64Array).filter((s) => s > 0);
      this.brownian = new BrownianTreeNoiseSampler(Math.min(...sigmas), Math.max(...sigmas), sample.shape, this.config.noiseSamplerSeed ?? 0);
    }
    const z = this.brownian.sample(sigma, sigmaTo);
    return this.backend.fromHost(z.data, z.shape);
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i, sigmas } = this.locate(timestep);
    const sNoise = (options.sNoise as number | undefined) ?? 1;
    require(Number.isFinite(sNoise) && sNoise >= 0, "DPMSolverSDEScheduler.step sNoise", sNoise, "a finite number ≥ 0");
    const first = this.pending === null;
    const [sigma, sigmaNext] = first ? [sigmas[i], sigmas[i + 1]] : [sigmas[i - 1], sigmas[i]];
    const sigmaInput = first ? sigma : (this.pending as { midSigma: number }).midSigma;
    const denoised = await this.denoised(modelOutput, sample, sigmaInput);
    let prevSample: T;
    if (sigmaNext === 0) {
      // The last interval: an Euler step x + (σ' − σ)(x − x̂₀)/σ = x̂₀.
      prevSample = await this.backend.combine([sample, denoised], [1 + (sigmaNext - sigma) / sigma, -(sigmaNext - sigma) / sigma]);
    } else {
      const x = first ? sample : (this.pending as { sample: T }).sample;
      const sigmaTo = first ? midpointSigma(sigma, sigmaNext) : sigmaNext;
      const { sigmaDown, sigmaUp } = getAncestralStep(sigma, sigmaTo, 1);
      const z = await this.noise(sigma, sigmaTo, sample, options);
      prevSample = await this.backend.combine([x, denoised, z], [sigmaDown / sigma, 1 - sigmaDown / sigma, sigmaUp * sNoise]);
      this.pending = first ? { sample: x, midSigma: sigmaTo } : null;
    }
    this.counter.advance(i);
    return { prevSample, predOriginalSample: denoised };
  }
}

export function createDPMSolverSDEScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): DPMSolverSDEScheduler<T> {
  return new DPMSolverSDEScheduler(config, backend);
}
