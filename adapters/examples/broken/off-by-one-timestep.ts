/**
 * BROKEN on purpose: `loadModel` returns a denoiser that evaluates the model at t + 1 (an off-by-one
 * timestep, as when a port indexes the schedule from 1). The Denoiser wrapper is not a backend
 * primitive, so the bug lives in the model: BACKEND-MODEL must fail.
 */
import type { Backend } from "../../contract.ts";
import { mlpForward } from "../../../reference/models/mlp.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-off-by-one-timestep");
export const backend: Backend<F32Tensor> = {
  ...base,
  loadModel: (spec) => ({
    predictionType: spec.predictionType,
    evaluate(x, t) {
      const out = mlpForward(spec, { shape: x.shape, data: Float64Array.from(x.data) }, t + 1); // the bug: t + 1
      return { shape: [...x.shape], data: Float32Array.from(out.data) };
    },
  }),
};
