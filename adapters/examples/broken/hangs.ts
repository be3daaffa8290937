/**
 * BROKEN on purpose: `combine` returns a promise that never settles (a GPU fence that never signals).
 * Under the runner's per-call time limit (conformance/timeout.ts) BACKEND-COMBINE must fail with a
 * TimeoutError, and the run goes on.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-hangs");
export const backend: Backend<F32Tensor> = {
  ...base,
  combine: () => new Promise<F32Tensor>(() => {}),
};
