/**
 * BROKEN on purpose (test/adapters-broken.test.ts): the denoiser of `loadModel` is right on its first two
 * calls and returns NaN in one element from the third on (as an uninitialised buffer reused once a pool
 * warms up). A single evaluation (BACKEND-MODEL mlp-matches-reference) cannot see it;
 * BACKEND-MODEL sampling-loop-finite-and-matching must fail with a NonFiniteError naming step 2.
 */
import type { Backend } from "../../contract.ts";
import { mlpForward } from "../../../reference/models/mlp.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-nan-third-call");
export const backend: Backend<F32Tensor> = {
  ...base,
  loadModel: (spec) => {
    let calls = 0;
    return {
      predictionType: spec.predictionType,
      evaluate(x, t) {
        const out = Float32Array.from(mlpForward(spec, { shape: x.shape, data: Float64Array.from(x.data) }, t).data);
        if (++calls >= 3) out[0] = NaN;
        return { shape: [...x.shape], data: out };
      },
    };
  },
};
