/**
 * BROKEN on purpose (test/adapters-broken.test.ts): `randn` keeps the draw index in a 16-bit counter, so
 * draw index + 2¹⁶ repeats draw index. Every single draw is perfect 𝒩(0, I) and neighbouring streams are
 * independent; BACKEND-RANDN distinct-over-a-seed-index-grid must fail, naming the two colliding draws.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-short-counter");
export const backend: Backend<F32Tensor> = {
  ...base,
  randn: (shape, seed, index) => base.randn!(shape, seed, index & 0xffff),
};
