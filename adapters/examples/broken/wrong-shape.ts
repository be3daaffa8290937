/**
 * BROKEN on purpose: `combine` returns the right values with the wrong shape (flattened to one axis).
 * BACKEND-COMBINE must fail with a shape message.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-wrong-shape");
export const backend: Backend<F32Tensor> = {
  ...base,
  async combine(terms, coeffs) {
    const out = await base.combine(terms, coeffs);
    return { shape: [out.data.length, 1], data: out.data };
  },
};
