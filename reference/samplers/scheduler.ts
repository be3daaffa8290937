/**
 * SAMP — the shared shape of every sampler (spec/07-samplers.md).
 *
 * Two faces, as users know them:
 * - diffusers-style schedulers (`setTimesteps`, `scaleModelInput`, `step`), driven by `runPipeline`;
 * - k-diffusion-style functional samplers over a σ schedule (reference/samplers/kdiffusion.ts).
 * Both do host-side Float64 arithmetic on scalars and ask a Backend (adapters/contract.ts) for
 * tensor primitives, so one sampler serves every backend.
 */
import type { Backend, BTensor, Conditioning, Denoiser, PredictionType } from "../contract.ts";
import { MissingPrimitiveError, StateError } from "../errors.ts";
import { assertFiniteOutput } from "./common.ts";
import type { NoiseSource } from "../rng.ts";
import type { Shape } from "../tensor.ts";

/** Where a stochastic sampler gets its fresh Gaussian noise. */
export interface NoiseProvider<T extends BTensor = BTensor> {
  /**
   * The next draw of `shape`. `interval` is the [σ, σ_next] a Brownian-noise sampler asks about
   * (DPMSolverSDE's noise_sampler(σ, σ_next)); other samplers pass none.
   */
  next(shape: Shape, interval?: readonly [number, number]): Promise<T>;
}

/** NOISE from the backend's own counter-based generator: draw k is `backend.randn(shape, seed, k)`. */
export function backendNoise<T extends BTensor>(backend: Backend<T>, seed: number): NoiseProvider<T> {
  let k = 0;
  return {
    async next(shape) {
      if (!backend.randn) throw new MissingPrimitiveError("randn", backend.name);
      return backend.randn(shape, seed, k++);
    },
  };
}

/** NOISE drawn on the host (a seeded GaussianStream or recorded arrays) and uploaded. */
export function hostNoise<T extends BTensor>(backend: Backend<T>, source: NoiseSource): NoiseProvider<T> {
  return {
    async next(shape) {
      const t = source.randn(shape);
      return backend.fromHost(t.data, shape);
    },
  };
}

export interface StepOptions<T extends BTensor = BTensor> {
  /** DDIM's η (0 = deterministic). */
  eta?: number;
  /** Noise for stochastic steps; required by samplers that draw noise. */
  noise?: NoiseProvider<T>;
  /** Sampler-specific step options in camelCase (Euler's sChurn, sTmin, sTmax, sNoise; LMS's order; ...). */
  [option: string]: unknown;
}

export interface StepOutput<T extends BTensor = BTensor> {
  prevSample: T;
  predOriginalSample?: T;
}

/** Keyword arguments of `setTimesteps` beyond the step count (diffusers `set_timesteps(n, **kwargs)`). */
export interface SetTimestepsOptions {
  /** FLOW-SHIFT: the dynamic shift μ (FlowMatchEuler with useDynamicShifting; Flux computes it from the image size). */
  mu?: number;
}

/** A diffusers-compatible scheduler over backend tensors of type T. */
export interface Scheduler<T extends BTensor = BTensor> {
  /** The resolved config (camelCase diffusers names). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Timesteps to visit, in order, after `setTimesteps` (may repeat for Heun / PNDM). */
  readonly timesteps: readonly number[];
  /** σ schedule (with the final appended σ) for σ-based schedulers. */
  readonly sigmas?: Float64Array;
  readonly initNoiseSigma: number;
  /** Model evaluations per step of the underlying method (diffusers `order`). */
  readonly order: number;
  /** The backend its tensors live on. */
  readonly backend: Backend<T>;
  setTimesteps(numInferenceSteps: number, options?: SetTimestepsOptions): void;
  scaleModelInput(sample: T, timestep: number): Promise<T>;
  step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>>;
}

/** Constructs a scheduler from a (camelCase, partial) config on a backend. */
export type SchedulerFactory = <T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>) => Scheduler<T>;

export interface PipelineOptions<T extends BTensor> {
  cond?: Conditioning<T>;
  noise?: NoiseProvider<T>;
  eta?: number;
  /** SAMP-FINITE: read back and check every model output (default true; benchmarks turn it off). */
  checkFinite?: boolean;
  /** Extra options passed to every `step` call (camelCase sampler kwargs). */
  stepOptions?: Record<string, unknown>;
  /** Called after every step with the step index, the timestep and the new sample. */
  onStep?: (i: number, t: number, sample: T) => void | Promise<void>;
}

/**
 * SAMP-PIPELINE: the diffusers pipeline loop. The SCALED sample goes to the model, the UNSCALED
 * sample goes to `step` (fixtures/README.md). `initial` must already be multiplied by initNoiseSigma.
 */
export async function runPipeline<T extends BTensor>(scheduler: Scheduler<T>, denoiser: Denoiser<T>, initial: T, options: PipelineOptions<T> = {}): Promise<T> {
  if (scheduler.timesteps.length === 0) throw new StateError("runPipeline: call setTimesteps(n) before sampling");
  let sample = initial;
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    const t = scheduler.timesteps[i];
    const input = await scheduler.scaleModelInput(sample, t);
    const output = await denoiser.evaluate(input, t, options.cond);
    const backend = backendOf(scheduler);
    if (isTracked(backend)) backend.adopt(output);
    if (options.checkFinite !== false) await assertFiniteOutput(backend, output, i, t);
    sample = (await scheduler.step(output, t, sample, { ...options.stepOptions, eta: options.eta, noise: options.noise })).prevSample;
    await options.onStep?.(i, t, sample);
    // Backends that need explicit freeing: dispose what neither the scheduler nor the loop still holds.
    if (isTracked(backend)) backend.sweep([scheduler, sample, initial, options.cond]);
  }
  return sample;
}

const backendOf = <T extends BTensor>(s: Scheduler<T>): Backend<T> => s.backend;

/** A backend wrapped by adapters/memory.ts `trackMemory` (duck-typed: reference/ imports no adapter code). */
interface Sweeping<T extends BTensor> extends Backend<T> {
  adopt(t: T): T;
  sweep(roots: readonly unknown[]): number;
}
const isTracked = <T extends BTensor>(b: Backend<T>): b is Sweeping<T> => typeof (b as Partial<Sweeping<T>>).sweep === "function";

export type { PredictionType };
