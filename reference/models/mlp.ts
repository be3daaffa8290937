/**
 * A small MLP noise predictor: the project's portable test denoiser (spec/10-backends.md,
 * BACKEND-MODEL). The same weights run in the reference (Float64, here), in tfjs and as an ONNX
 * graph, so "the same model gives the same ε on every backend" can be checked.
 *
 *   e   = timestepEmbedding(t)                      (sinusoidal, width E)
 *   h₁  = SiLU(W₁ [x; e] + b₁),  h₂ = SiLU(W₂ h₁ + b₂),  out = W₃ h₂ + b₃
 * Matrices are row-major [out, in]; x is one batch item flattened to D values.
 */
import type { PredictionType } from "../contract.ts";
import type { Tensor } from "../tensor.ts";
import { GaussianStream } from "../rng.ts";
import { ShapeError, requirePositiveInt } from "../errors.ts";

export interface MlpModelSpec {
  readonly kind: "mlp";
  /** Flattened size D of one sample. */
  readonly dim: number;
  readonly hidden: number;
  /** Width E of the sinusoidal timestep embedding (even). */
  readonly timeEmbedDim: number;
  readonly predictionType: PredictionType;
  /** w1 [H, D+E], b1 [H], w2 [H, H], b2 [H], w3 [D, H], b3 [D]; Float32 values (portable to every backend). */
  readonly weights: { w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array; w3: Float32Array; b3: Float32Array };
}

export type ModelSpec = MlpModelSpec;

/**
 * MODEL-TIME-EMBED (spec/14-model.md): e = [sin(t·fⱼ), cos(t·fⱼ)], fⱼ = 10000^(−j/(E/2)), j = 0 … E/2 − 1
 * (the glyffuser's U-Net orders the halves [cos, sin], diffusers' flip_sin_to_cos). E must be even.
 */
export function timestepEmbedding(t: number, width: number): Float64Array {
  if (!Number.isInteger(width) || width < 2 || width % 2) throw new ShapeError("timestep embedding width", width, "an even integer ≥ 2");
  const half = width / 2;
  const e = new Float64Array(width);
  for (let j = 0; j < half; j++) {
    const f = Math.exp((-Math.log(10000) * j) / half);
    e[j] = Math.sin(t * f);
    e[half + j] = Math.cos(t * f);
  }
  return e;
}

export const silu = (v: number): number => v / (1 + Math.exp(-v));

/** y = W x + b for row-major W [out, in]. */
function affine(w: Float32Array, b: Float32Array, x: Float64Array): Float64Array {
  const out = b.length;
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b[o];
    for (let i = 0; i < n; i++) s += w[o * n + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** The MLP on a batch [B, ...] (items flatten to D), in Float64. */
export function mlpForward(spec: MlpModelSpec, x: Tensor, t: number): Tensor {
  const B = x.shape[0];
  const D = x.data.length / B;
  if (D !== spec.dim) throw new ShapeError("MLP input item size", D, `the model's dim ${spec.dim}`);
  const e = timestepEmbedding(t, spec.timeEmbedDim);
  const { w1, b1, w2, b2, w3, b3 } = spec.weights;
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < B; b++) {
    const input = new Float64Array(D + e.length);
    input.set(x.data.subarray(b * D, (b + 1) * D));
    input.set(e, D);
    const h1 = affine(w1, b1, input).map(silu);
    const h2 = affine(w2, b2, h1).map(silu);
    out.set(affine(w3, b3, h2), b * D);
  }
  return { shape: [...x.shape], data: out };
}

/** Random weights (scaled 1/√fan-in), reproducible from a seed. */
export function randomMlp(dim: number, hidden: number, seed: number | string, predictionType: PredictionType = "epsilon", timeEmbedDim = 16): MlpModelSpec {
  requirePositiveInt("dim", dim);
  requirePositiveInt("hidden", hidden);
  const g = new GaussianStream(`mlp/${seed}`);
  const mat = (rows: number, cols: number) => Float32Array.from(g.normals(rows * cols), (v) => v / Math.sqrt(cols));
  const vec = (n: number) => Float32Array.from(g.normals(n), (v) => 0.1 * v);
  return {
    kind: "mlp",
    dim,
    hidden,
    timeEmbedDim,
    predictionType,
    weights: { w1: mat(hidden, dim + timeEmbedDim), b1: vec(hidden), w2: mat(hidden, hidden), b2: vec(hidden), w3: mat(dim, hidden), b3: vec(dim) },
  };
}
