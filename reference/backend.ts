/**
 * The reference backend: Float64 host arrays, the executable meaning of each BACKEND- clause.
 * Every other backend is checked against this one.
 */
import type { Backend } from "./contract.ts";
import type { Shape, Tensor } from "./tensor.ts";
import { clampTensor, concatBatch, linearCombination, splitBatch, tensor } from "./tensor.ts";
import { philoxRandn } from "./philox.ts";
import { dynamicThreshold } from "./threshold.ts";
import type { Denoiser } from "./contract.ts";
import { mlpForward, type ModelSpec } from "./models/mlp.ts";

export class ReferenceBackend implements Backend<Tensor> {
  readonly name = "reference";
  readonly detail = "Float64 JavaScript (reference/)";
  readonly dtype = "float64" as const;

  fromHost(data: ArrayLike<number>, shape: Shape): Tensor {
    return tensor(data, shape);
  }
  toHost(t: Tensor): Float64Array {
    return t.data.slice();
  }
  combine(terms: readonly Tensor[], coeffs: readonly number[]): Tensor {
    return linearCombination(terms, coeffs);
  }
  /** BACKEND-RANDN: stream `seed`, draw `index`: NOISE-PHILOX (Philox4x32-10 + Box–Muller, reference/philox.ts). */
  randn(shape: Shape, seed: number, index: number): Tensor {
    return philoxRandn(shape, seed, index);
  }
  clamp(t: Tensor, lo: number, hi: number): Tensor {
    return clampTensor(t, lo, hi);
  }
  threshold(t: Tensor, ratio: number, maxValue: number): Tensor {
    return dynamicThreshold(t, ratio, maxValue);
  }
  concat(ts: readonly Tensor[]): Tensor {
    return concatBatch(ts);
  }
  split(t: Tensor, sizes: readonly number[]): Tensor[] {
    return splitBatch(t, sizes);
  }
  /** BACKEND-MODEL: the MLP evaluated in Float64 (reference/models/mlp.ts). */
  loadModel(spec: ModelSpec): Denoiser<Tensor> {
    return { predictionType: spec.predictionType, evaluate: (x, t) => mlpForward(spec, x, t) };
  }
}

export const referenceBackend = new ReferenceBackend();
