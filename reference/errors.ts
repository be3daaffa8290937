/**
 * Typed errors. Every error names the field (or input) that was wrong and what is allowed,
 * so a user reading one message knows what to change. Nothing in diffspec silently clamps.
 */

/** Base class: `code` is stable and machine-readable, `message` is for people. */
export class DiffspecError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A configuration value is outside its allowed set or range. */
export class ConfigError extends DiffspecError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super("E_CONFIG", `${field} = ${show(value)} is not allowed: ${allowed}`);
  }
}

/** Tensor shapes do not agree (or a shape is not a list of positive integers). */
export class ShapeError extends DiffspecError {
  constructor(
    readonly what: string,
    readonly got: readonly number[] | number | string,
    readonly expected: string,
  ) {
    super("E_SHAPE", `${what}: got ${show(got)}, expected ${expected}`);
  }
}

/** A tensor (or scalar) that must be finite holds NaN or ±∞. */
export class NonFiniteError extends DiffspecError {
  constructor(
    readonly what: string,
    readonly index: number,
    readonly value: number,
  ) {
    super("E_NONFINITE", `${what} holds a non-finite value ${value} at flat index ${index}; only finite numbers are allowed`);
  }
}

/** An operation was called in the wrong state (e.g. `step` before `setTimesteps`). */
export class StateError extends DiffspecError {
  constructor(message: string) {
    super("E_STATE", message);
  }
}

/** An input file (fixture, checkpoint, adapter module, report) is missing, corrupt or of an unknown kind. */
export class InputFileError extends DiffspecError {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super("E_INPUT_FILE", `${path}: ${problem}`);
  }
}

/** A backend lacks a primitive that a clause needs. Reported as `missing`, not `failed`. */
export class MissingPrimitiveError extends DiffspecError {
  constructor(
    readonly primitive: string,
    readonly backend: string,
  ) {
    super("E_MISSING", `backend "${backend}" does not implement the primitive "${primitive}"`);
  }
}

/** A backend cannot run on this machine (no GPU adapter, optional package not installed). */
export class UnavailableError extends DiffspecError {
  constructor(
    readonly backend: string,
    readonly reason: string,
  ) {
    super("E_UNAVAILABLE", `backend "${backend}" is unavailable: ${reason}`);
  }
}

/** A backend's device reported an error (e.g. WebGPU validation) that its library did not raise itself. */
export class DeviceError extends DiffspecError {
  constructor(
    readonly backend: string,
    readonly errors: readonly string[],
  ) {
    super("E_DEVICE", `backend "${backend}": the device reported ${errors.length} error(s) since the last check, so results computed since then are wrong; first: ${errors[0]}`);
  }
}

/** A backend call did not return within its time limit. */
export class TimeoutError extends DiffspecError {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super("E_TIMEOUT", `${what} did not finish within ${ms} ms`);
  }
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(", ")}]`;
  return String(v);
}

/** Throws a ConfigError unless `ok`. Keeps validation one line per rule. */
export function require(ok: boolean, field: string, value: unknown, allowed: string): void {
  if (!ok) throw new ConfigError(field, value, allowed);
}

/** A positive integer, or a ConfigError naming `field`. */
export function requirePositiveInt(field: string, value: unknown): number {
  require(typeof value === "number" && Number.isInteger(value) && value > 0, field, value, "a positive integer");
  return value as number;
}

/** A finite number, or a ConfigError naming `field`. */
export function requireFinite(field: string, value: unknown): number {
  require(typeof value === "number" && Number.isFinite(value), field, value, "a finite number");
  return value as number;
}

/** One of `options`, or a ConfigError naming `field`. */
export function requireOneOf<T extends string>(field: string, value: unknown, options: readonly T[]): T {
  require(typeof value === "string" && (options as readonly string[]).includes(value), field, value, `one of ${options.map((o) => JSON.stringify(o)).join(", ")}`);
  return value as T;
}
