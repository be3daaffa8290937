/**
 * BROKEN on purpose (test/adapters-broken.test.ts, test/conformance-samplers-backend-noise.test.ts): `randn`
 * ignores the draw index, so a stochastic sampler adds the SAME noise at every step. One draw is perfect
 * 𝒩(0, I); SAMP-DISTRIBUTION's backend-randn variants (the sampler's output law) and BACKEND-RANDN
 * distinct-over-a-seed-index-grid must fail.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-frozen-noise");
export const backend: Backend<F32Tensor> = {
  ...base,
  randn: (shape, seed) => base.randn!(shape, seed, 0),
};
