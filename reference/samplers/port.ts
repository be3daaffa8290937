/**
 * PORT-DECLARE — the scheduler-port contract (spec/14-scheduler-ports.md): what a sampler written outside
 * diffspec implements so that `diffspec conformance --scheduler ./port.ts` can check it.
 *
 * A port is a plain module over typed arrays, with the shape of reference/samplers/scheduler.ts minus the
 * backend: it exports `capabilities` (what it declares to support) and one factory per diffusers class it
 * implements, named after the class (`export function DDIMScheduler(config) { … }`). Nothing here imports
 * diffspec's backends: a port needs no diffspec code at all, these types only describe it.
 * The same contract, spoken over stdin/stdout as JSON lines, is the protocol of `--scheduler-cmd`.
 */
import type { PredictionType } from "../contract.ts";

/** The JSON-lines protocol version this suite speaks (spec/14-scheduler-ports.md, PORT-PROTOCOL). */
export const PORT_PROTOCOL_VERSION = 1;

/** The arithmetic precision a port computes in; it sets the tolerances of every comparison. */
export type PortDType = "float32" | "float64";
export type PortArray = Float32Array | Float64Array;

/**
 * The space one config key may take: an enumeration of allowed values, a numeric range (inclusive;
 * `integer` for integers), or "betas" (`trainedBetas`: an array of numTrainTimesteps values in (0, 1)).
 */
export type ConfigSpace = readonly (string | number | boolean | null)[] | { readonly min: number; readonly max: number; readonly integer?: boolean } | "betas";

/** What a port declares about one scheduler class. Keys it does not declare are left at diffusers' default. */
export interface ClassCapabilities {
  /** camelCase diffusers config keys → the values the port supports. */
  readonly config: Readonly<Record<string, ConfigSpace>>;
  /** The step counts `setTimesteps(n)` supports (default 1 … numTrainTimesteps). */
  readonly numInferenceSteps?: { readonly min: number; readonly max: number };
  /** DDIM's η range (default: only η = 0, the deterministic sampler). */
  readonly eta?: { readonly min: number; readonly max: number };
  /** Whether the port offers `addNoise` / `getVelocity` (checked only when true). */
  readonly addNoise?: boolean;
  readonly getVelocity?: boolean;
}

export interface PortCapabilities {
  /** The port's name, as reports print it. */
  readonly name: string;
  readonly dtype: PortDType;
  /** "math" follows the spec; "diffusers" reproduces diffusers v0.40.0 where it deviates (spec, deviations). */
  readonly compat: "math" | "diffusers";
  /** diffusers class name → what the port supports of it. */
  readonly classes: Readonly<Record<string, ClassCapabilities>>;
}

/** Options of one `step` call. */
export interface PortStepOptions {
  /** DDIM's η (only sent when the class declares an η range). */
  readonly eta?: number;
  /** The fresh 𝒩(0, I) draw of a stochastic step, supplied by the suite (the shape of the sample). */
  readonly noise?: PortArray;
}

export interface PortStepOutput {
  readonly prevSample: PortArray;
  readonly predOriginalSample?: PortArray;
}

/** One scheduler instance of a port: diffusers' scheduler API over flat typed arrays of a fixed shape. */
export interface PortScheduler {
  /** After `setTimesteps`: the timesteps to visit, in order. */
  readonly timesteps: ArrayLike<number>;
  /** σ-based classes: the σ schedule with its final σ appended (length = timesteps + 1). */
  readonly sigmas?: ArrayLike<number>;
  /** The train schedule ᾱ₀ … ᾱ_{N−1} (diffusers `alphas_cumprod`). */
  readonly alphasCumprod: ArrayLike<number>;
  readonly initNoiseSigma: number;
  readonly order: number;
  setTimesteps(numInferenceSteps: number): void;
  scaleModelInput(sample: PortArray, timestep: number): PortArray;
  step(modelOutput: PortArray, timestep: number, sample: PortArray, options?: PortStepOptions): PortStepOutput;
  addNoise?(originalSamples: PortArray, noise: PortArray, timestep: number): PortArray;
  getVelocity?(sample: PortArray, noise: PortArray, timestep: number): PortArray;
}

/** A class factory: a camelCase (partial) config → a scheduler; throws on a config it does not support. */
export type PortSchedulerFactory = (config: Record<string, unknown>) => PortScheduler;

/** The module `--scheduler PATH` loads: `capabilities` plus one factory per declared class, named after it. */
export interface SchedulerPortModule {
  readonly capabilities: PortCapabilities;
  readonly [className: string]: PortSchedulerFactory | PortCapabilities;
}

export type { PredictionType };
