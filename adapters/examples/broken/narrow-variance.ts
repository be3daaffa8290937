/**
 * BROKEN on purpose (test/adapters-broken.test.ts): `randn` returns 𝒩(0, 0.98) — a variance 2 % short (as
 * a Box–Muller radius computed from a uniform in [0, 0.98) instead of [0, 1) would, roughly). The 20 000-draw
 * moment test has ≈ 2σ power against it; BACKEND-RANDN variance-detects-2-percent (n derived for power ≥ 0.99)
 * must fail.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const SCALE = Math.sqrt(0.98);
const base = createFloat32ArrayBackend("broken-narrow-variance");
export const backend: Backend<F32Tensor> = {
  ...base,
  async randn(shape, seed, index) {
    const t = await base.randn!(shape, seed, index);
    return { shape: t.shape, data: t.data.map((v) => v * SCALE) };
  },
};
