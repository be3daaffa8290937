/**
 * SAMP-IPNDM — improved pseudo linear multistep (iPNDM): diffusers' IPNDMScheduler (Zhang & Chen 2023,
 * "Fast Sampling of Diffusion Models with Exponential Integrator", §5 and App. B; Liu et al. 2022, PNDM)
 * (spec/07-samplers-flow-lcm-edm.md).
 *
 * The noise level lives on the quarter circle α² + σ² = 1 with σ(s) = sin²(πs/2), s = 1 → 0 evenly in n
 * steps, so the first step starts from pure noise (α = 0). The network's output m is a velocity in the
 * sense of v-diffusion, and ε̂ = σ·x + α·m (for m = αε − σx₀ this is exactly ε). iPNDM extrapolates ε̂ with
 * the Adams–Bashforth formula of the highest order the history allows (1, 2, 3, then 4: no Runge–Kutta
 * warm-up, unlike PNDM) and takes a DDIM step with it:
 *   x̂₀ = (x − σ·ē)/α,  x' = α'·x̂₀ + σ'·ē                        (ē the extrapolated ε̂).
 */
import type { Backend, BTensor } from "../contract.ts";
import { require, requirePositiveInt } from "../errors.ts";
import { linspace } from "../schedule.ts";
import { resolveConfig, type Compat } from "./common.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";
import { StepCounter } from "./sigmas.ts";
import { ADAMS_BASHFORTH } from "./pndm.ts";

const f32 = Math.fround;

export type IPNDMConfig = {
  numTrainTimesteps: number;
  trainedBetas?: readonly number[];
  compat: Compat;
};

/** diffusers v0.40.0 IPNDMScheduler defaults. */
export const IPNDM_DEFAULTS: IPNDMConfig = { numTrainTimesteps: 1000, trainedBetas: undefined, compat: "math" };

/**
 * SAMP-IPNDM: the n + 1 points (α_k, σ_k) of an n-step run, σ_k = sin²(π s_k/2) for s = linspace(1, 0, n + 1)
 * (or `trainedBetas` as σ), α_k = √(1 − σ_k²); the timesteps are the angles (2/π)·atan2(σ_k, α_k) of the
 * first n. compat "diffusers" rounds every operation to float32 as torch does.
 */
export function ipndmSchedule(n: number, c: IPNDMConfig): { timesteps: number[]; alphas: Float64Array<ArrayBuffer>; sigmas: Float64Array<ArrayBuffer> } {
  requirePositiveInt("IPNDMScheduler.setTimesteps numInferenceSteps", n);
  const r = (v: number): number => (c.compat === "diffusers" ? f32(v) : v);
  let sigmas: Float64Array<ArrayBuffer>;
  if (c.trainedBetas) {
    require(c.trainedBetas.length === n + 1, "IPNDMScheduler.trainedBetas", c.trainedBetas.length, `n + 1 = ${n + 1} values (one σ per point of the run)`);
    sigmas = Float64Array.from(c.trainedBetas, r);
  } else {
    const steps = linspace(1, 0, n + 1).map(r);
    steps[n] = 0;
    sigmas = steps.map((s) => r(r(Math.sin(r(r(s * Math.PI) / 2))) ** 2));
  }
  const alphas = sigmas.map((s) => r(Math.sqrt(r(1 - r(s * s)))));
  const timesteps = Array.from(sigmas.subarray(0, n), (s, k) => r(r(r(Math.atan2(s, alphas[k])) / Math.PI) * 2));
  return { timesteps, alphas, sigmas };
}

export class IPNDMScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: IPNDMConfig;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: readonly number[] = [];
  private alphas = new Float64Array(0);
  private sigmaPoints = new Float64Array(0);
  private ets: T[] = [];
  private readonly counter = new StepCounter("IPNDMScheduler");

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    this.config = resolveConfig("IPNDMScheduler", IPNDM_DEFAULTS, config);
    requirePositiveInt("IPNDMScheduler.numTrainTimesteps", this.config.numTrainTimesteps);
  }

  setTimesteps(numInferenceSteps: number): void {
    const s = ipndmSchedule(numInferenceSteps, this.config);
    this.timesteps = s.timesteps;
    this.alphas = s.alphas;
    this.sigmaPoints = s.sigmas;
    this.ets = [];
    this.counter.reset();
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  /** SAMP-IPNDM: ε̂ = σ·x + α·m, Adams–Bashforth over the last (up to) 4 ε̂, then the DDIM step. */
  async step(modelOutput: T, timestep: number, sample: T, _options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const i = this.counter.current(this.timesteps, timestep);
    const b = this.backend;
    const [alpha, sigma, alphaNext, sigmaNext] = [this.alphas[i], this.sigmaPoints[i], this.alphas[i + 1], this.sigmaPoints[i + 1]];
    this.ets = [...this.ets, await b.combine([sample, modelOutput], [sigma, alpha])].slice(-4);
    const w = ADAMS_BASHFORTH[this.ets.length];
    const e = await b.combine([...this.ets].reverse(), w);
    // α = 0 at the first point (pure noise): diffusers divides by max(α, 1e-8) there.
    const a = Math.max(alpha, 1e-8);
    const x0 = await b.combine([sample, e], [1 / a, -sigma / a]);
    const prevSample = await b.combine([x0, e], [alphaNext, sigmaNext]);
    this.counter.advance(i);
    return { prevSample };
  }
}

export function createIPNDMScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): IPNDMScheduler<T> {
  return new IPNDMScheduler(config, backend);
}
