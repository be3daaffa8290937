/**
 * BROKEN on purpose: `combine` returns NaN in one element (as an uninitialised buffer or 0·∞ would).
 * BACKEND-COMBINE must fail.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-nan");
export const backend: Backend<F32Tensor> = {
  ...base,
  async combine(terms, coeffs) {
    const out = await base.combine(terms, coeffs);
    const data = Float32Array.from(out.data);
    data[data.length - 1] = NaN;
    return { shape: out.shape, data };
  },
};
