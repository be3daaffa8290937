/**
 * BROKEN on purpose: `combine` throws. BACKEND-COMBINE must fail with the error's message (and the run
 * goes on: the other clauses are still checked).
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-throws");
export const backend: Backend<F32Tensor> = {
  ...base,
  combine() {
    throw new Error("device lost (deliberately broken adapter)");
  },
};
