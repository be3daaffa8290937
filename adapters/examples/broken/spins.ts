/**
 * BROKEN on purpose: `combine` never returns and never yields (a synchronous infinite loop): no timer in
 * its process can fire. Run supervised, the watchdog stops the process after the per-call limit and
 * BACKEND-COMBINE fails with "blocked the event loop".
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-spins");
export const backend: Backend<F32Tensor> = {
  ...base,
  combine: () => {
    for (;;) { /* spin */ }
  },
};
