/**
 * BROKEN on purpose: `combine` keeps allocating (a leak that grows without bound). Run supervised with
 * --memory-limit, the watchdog stops the process and BACKEND-COMBINE fails naming the memory it used.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-eats-memory");
const leak: Float64Array[] = [];
export const backend: Backend<F32Tensor> = {
  ...base,
  combine: async () => {
    for (;;) {
      const block = new Float64Array(1 << 20).fill(1); // 8 MB, touched so that it is resident
      leak.push(block);
      await new Promise((r) => setImmediate(r));
    }
  },
};
