/**
 * BROKEN on purpose (test/adapters-broken.test.ts): `randn` draws ONE batch item and repeats it over the
 * batch axis (as a port that draws per item shape and broadcasts). Every item is 𝒩(0, I), so 1-D tests
 * pass; BACKEND-RANDN batch-items-differ-and-are-uncorrelated must fail, naming the identical items.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-identical-batch-noise");
export const backend: Backend<F32Tensor> = {
  ...base,
  async randn(shape, seed, index) {
    if (shape.length < 2) return base.randn!(shape, seed, index); // the bug is in the batch loop, which 1-D draws do not use
    const [B, ...item] = shape;
    const one = await base.randn!([1, ...item], seed, index);
    const data = new Float32Array(one.data.length * B);
    for (let b = 0; b < B; b++) data.set(one.data, b * one.data.length);
    return { shape: [...shape], data };
  },
};
