/**
 * BROKEN on purpose (test/adapters-broken.test.ts): `randn` returns uniform noise on [−√3, √3].
 * Its mean (0) and variance (1) are right, so only the shape of the distribution is wrong:
 * BACKEND-RANDN ks-normality must fail; every other clause passes.
 */
import type { Backend } from "../../contract.ts";
import { GaussianStream } from "../../../reference/rng.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-uniform-noise");
export const backend: Backend<F32Tensor> = {
  ...base,
  randn(shape, seed, index) {
    const g = new GaussianStream(`${seed}:${index}`);
    const n = shape.reduce((a, b) => a * b, 1);
    return { shape: [...shape], data: Float32Array.from({ length: n }, () => Math.sqrt(3) * (2 * g.uniform() - 1)) };
  },
};
