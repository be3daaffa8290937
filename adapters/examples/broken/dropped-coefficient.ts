/**
 * BROKEN on purpose: `combine` ignores its last term (a dropped coefficient, e.g. a missing noise term).
 * BACKEND-COMBINE must fail (and clauses built on combine: BACKEND-CFG-BATCH, BACKEND-SAMPLER-PARITY).
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-dropped-coefficient");
export const backend: Backend<F32Tensor> = {
  ...base,
  combine: (terms, coeffs) =>
    terms.length > 1 ? base.combine(terms.slice(0, -1), coeffs.slice(0, -1)) : base.combine(terms, coeffs),
};
