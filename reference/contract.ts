/**
 * BACKEND — the contract every backend implements (spec/10-backends.md).
 *
 * It lives in the reference layer so that reference/ imports nothing from adapters/; adapters/contract.ts
 * re-exports it (existing imports stay valid). Public entry point: `diffspec/contract`.
 *
 * Samplers are host-side Float64 arithmetic on scalars (DESIGN.md): every step is a linear
 * combination of tensors the sampler already has, with coefficients that depend only on the
 * schedule and the step. So a backend supplies a handful of tensor primitives, and the same
 * sampler code runs on every backend. All primitives may be asynchronous (GPU read-back,
 * onnxruntime sessions), so callers always `await` them.
 *
 * Required: `fromHost`, `toHost`, `combine`. Optional: the rest. A clause that needs an
 * optional primitive a backend lacks is reported `missing`, not `failed`.
 */
import type { Shape } from "./tensor.ts";
import type { ModelSpec } from "./models/mlp.ts";

export type DType = "float64" | "float32" | "float16";
export type PredictionType = "epsilon" | "sample" | "v_prediction";
export const PREDICTION_TYPES: readonly PredictionType[] = ["epsilon", "sample", "v_prediction"];

/** A tensor living on a backend. Only its shape is visible to the host. */
export interface BTensor {
  readonly shape: Shape;
}

export type MaybePromise<T> = T | Promise<T>;

export interface Backend<T extends BTensor = BTensor> {
  /** Short name used in reports, e.g. "reference", "tfjs-wasm", "onnxruntime-cpu". */
  readonly name: string;
  /** The element type of its tensors; chooses the tolerance row (conformance/tolerances.ts). */
  readonly dtype: DType;
  /** Optional: what runs underneath (library version, device or GPU adapter), copied into reports. */
  readonly detail?: string;

  /** BACKEND-TRANSFER: upload host numbers (row-major) as a tensor of `shape`. */
  fromHost(data: ArrayLike<number>, shape: Shape): MaybePromise<T>;
  /** BACKEND-TRANSFER: read a tensor back as Float64 (exactly the stored values, widened). */
  toHost(t: T): MaybePromise<Float64Array>;
  /** BACKEND-COMBINE: Σₖ coeffs[k]·terms[k], elementwise; all terms have one shape. */
  combine(terms: readonly T[], coeffs: readonly number[]): MaybePromise<T>;

  /** BACKEND-RANDN: the `index`-th standard-normal tensor of the stream `seed` (counter-based: same (seed, index) → same tensor). */
  randn?(shape: Shape, seed: number, index: number): MaybePromise<T>;
  /** BACKEND-CLAMP: min(max(x, lo), hi) elementwise. */
  clamp?(t: T, lo: number, hi: number): MaybePromise<T>;
  /**
   * BACKEND-THRESHOLD: dynamic thresholding (Imagen; diffusers `_threshold_sample`): per batch item,
   * s = clamp(quantile(|x|, ratio), 1, maxValue); x ← clamp(x, −s, s) / s.
   */
  threshold?(t: T, ratio: number, maxValue: number): MaybePromise<T>;
  /** BACKEND-BATCH: concatenate along the leading (batch) axis. */
  concat?(ts: readonly T[]): MaybePromise<T>;
  /** BACKEND-BATCH: split along the leading axis into pieces of the given sizes. */
  split?(t: T, sizes: readonly number[]): MaybePromise<T[]>;
  /** Release a tensor's memory (no-op where garbage-collected). */
  dispose?(t: T): void;
  /** Release the backend (sessions, devices). */
  close?(): MaybePromise<void>;
  /** BACKEND-MODEL: build a denoiser on this backend from a portable model spec (reference/models/). */
  loadModel?(spec: ModelSpec): MaybePromise<Denoiser<T>>;
  /** Device memory in bytes, where the backend can tell. */
  memoryBytes?(): MaybePromise<number | undefined>;
}

/** Optional conditioning passed to a denoiser: token embeddings [B, n, d] and an optional mask [B, n] (1 = keep). */
export interface Conditioning<T extends BTensor = BTensor> {
  readonly embeddings: T;
  readonly mask?: T;
}

/**
 * DENOISER — a noise predictor: (sample, timestep[, conditioning]) → model output of the sample's shape.
 * `timestep` is the value the scheduler yields (train-time index, possibly fractional).
 * What the output means is `predictionType`.
 */
export interface Denoiser<T extends BTensor = BTensor> {
  readonly predictionType: PredictionType;
  evaluate(sample: T, timestep: number, cond?: Conditioning<T>): MaybePromise<T>;
}

/** The names of the optional primitives, as reported when missing. */
export type OptionalPrimitive = "randn" | "clamp" | "threshold" | "concat" | "split" | "loadModel";
