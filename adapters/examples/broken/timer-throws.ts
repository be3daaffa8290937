/**
 * BROKEN on purpose: `combine` schedules work on a timer that throws (an error no caller can catch), and
 * its promise never settles. Run supervised, BACKEND-COMBINE fails naming the uncaught exception.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-timer-throws");
export const backend: Backend<F32Tensor> = {
  ...base,
  combine: () =>
    new Promise<F32Tensor>(() => {
      setTimeout(() => {
        throw new RangeError("device lost in a timer callback");
      }, 1);
    }),
};
