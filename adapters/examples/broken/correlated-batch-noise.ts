/**
 * BROKEN on purpose (test/adapters-broken.test.ts): batch item b > 0 of `randn` is ρ·item₀ + √(1 − ρ²)·own
 * noise with ρ = 0.2 (as a port that reuses part of one item's counter range for the next). Each item is
 * still 𝒩(0, I) and no two are equal, so only the correlation test of BACKEND-RANDN
 * batch-items-differ-and-are-uncorrelated can see it.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const RHO = 0.2;
const base = createFloat32ArrayBackend("broken-correlated-batch-noise");
export const backend: Backend<F32Tensor> = {
  ...base,
  async randn(shape, seed, index) {
    const t = await base.randn!(shape, seed, index);
    if (shape.length < 2) return t; // the bug is in the batch loop, which 1-D draws do not use
    const per = t.data.length / shape[0];
    const data = Float32Array.from(t.data, (v, i) => (i < per ? v : RHO * t.data[i % per] + Math.sqrt(1 - RHO * RHO) * v));
    return { shape: [...shape], data };
  },
};
