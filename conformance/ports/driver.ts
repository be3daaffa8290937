/**
 * The suite's side of a scheduler port (spec/14-scheduler-ports.md): one asynchronous interface over
 * both routes — a JS/TS module loaded in-process (module.ts) and a process speaking the JSON-lines
 * protocol (process.ts). Arrays cross it as Float64Array on the suite's side; the driver converts to and
 * from the port's declared dtype and checks every returned array's length.
 */
import { DiffspecError } from "../../reference/errors.ts";
import type { PortCapabilities } from "../../reference/samplers/port.ts";

/** A port broke its contract: a call threw, returned the wrong shape or type, crashed, hung or spoke garbage. */
export class PortError extends DiffspecError {
  constructor(
    readonly call: string,
    problem: string,
    /** The last lines the port's process wrote to stderr (process ports only). */
    readonly stderrTail = "",
  ) {
    super("E_PORT", `${call}: ${problem}${stderrTail ? `\n--- port stderr (tail) ---\n${stderrTail}` : ""}`);
  }
}

/** What a report says about the port under test. */
export interface PortInfo {
  /** The declared name (capabilities.name). */
  readonly name: string;
  /** How it was given: `--scheduler PATH` or `--scheduler-cmd "CMD"`. */
  readonly source: string;
  readonly protocolVersion: number;
  readonly capabilities: PortCapabilities;
}

/** The schedule a port reports after `setTimesteps(n)`. */
export interface PortTimesteps {
  readonly timesteps: number[];
  readonly sigmas?: Float64Array;
  readonly initNoiseSigma: number;
  readonly order: number;
}

export interface PortStepResult {
  readonly prevSample: Float64Array;
  readonly predOriginalSample?: Float64Array;
}

/** One scheduler instance of a port, as the suite drives it. `shape` is the sample's shape ([batch, dim]). */
export interface PortInstance {
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma: number;
  readonly order: number;
  setTimesteps(n: number): Promise<PortTimesteps>;
  scaleModelInput(sample: Float64Array, shape: readonly number[], timestep: number): Promise<Float64Array>;
  step(modelOutput: Float64Array, timestep: number, sample: Float64Array, shape: readonly number[], options?: { eta?: number; noise?: Float64Array }): Promise<PortStepResult>;
  addNoise(original: Float64Array, noise: Float64Array, shape: readonly number[], timestep: number): Promise<Float64Array>;
  getVelocity(sample: Float64Array, noise: Float64Array, shape: readonly number[], timestep: number): Promise<Float64Array>;
}

export interface PortDriver {
  readonly info: PortInfo;
  create(className: string, config: Record<string, unknown>): Promise<PortInstance>;
  /** Called before every property: a process port whose process died or misbehaved is restarted here. */
  recover(): Promise<void>;
  close(): Promise<void>;
}

/** The port's dtype applied to suite data: what a float32 port actually receives. */
export function toPortArray(dtype: "float32" | "float64", a: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === "float32" ? Float32Array.from(a) : Float64Array.from(a);
}

/** A returned array: a Float32Array/Float64Array (or, over the protocol, decoded) of exactly `length` numbers. */
export function fromPortArray(call: string, what: string, a: unknown, length: number): Float64Array {
  if (!(a instanceof Float32Array || a instanceof Float64Array)) {
    throw new PortError(call, `${what} must be a Float32Array or Float64Array, got ${a === null ? "null" : Array.isArray(a) ? "a plain array" : typeof a}`);
  }
  if (a.length !== length) throw new PortError(call, `${what} has ${a.length} elements, expected ${length} (the sample's shape)`);
  return Float64Array.from(a);
}
