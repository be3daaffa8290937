/**
 * BROKEN on purpose: `combine` starts a promise that rejects with no handler, and returns one that never
 * settles. Run supervised, BACKEND-COMBINE fails naming the unhandled rejection.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-unhandled-rejection");
export const backend: Backend<F32Tensor> = {
  ...base,
  combine: () => {
    void Promise.reject(new TypeError("queue submit failed, nobody listening"));
    return new Promise<F32Tensor>(() => {});
  },
};
