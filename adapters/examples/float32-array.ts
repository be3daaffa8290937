/**
 * A complete diffspec backend in ~50 lines: plain Float32Array tensors on the CPU (adapters/README.md).
 * Check it with:  npx diffspec conformance --adapter ./adapters/examples/float32-array.ts
 *
 * Required: fromHost, toHost, combine. Optional here: randn, clamp, concat, split.
 * Not implemented (reported `missing`): threshold, loadModel.
 */
import type { Backend } from "../contract.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { ShapeError } from "../../reference/errors.ts";

export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const f = Math.fround; // round a double to float32

export function createFloat32ArrayBackend(name = "float32-array"): Backend<F32Tensor> {
  return {
    name,
    dtype: "float32",
    fromHost(data, shape) {
      if (data.length !== count(shape)) throw new ShapeError("fromHost data length", data.length, `${count(shape)} for shape [${shape.join(", ")}]`);
      return { shape: [...shape], data: Float32Array.from(data) }; // rounds Float64 → float32
    },
    toHost: (t) => Float64Array.from(t.data), // widening is exact
    combine(terms, coeffs) {
      if (terms.length === 0 || terms.length !== coeffs.length) throw new ShapeError("combine", terms.length, `${coeffs.length} terms`);
      const out = new Float32Array(terms[0].data.length);
      terms.forEach((t, k) => {
        if (t.data.length !== out.length) throw new ShapeError(`combine term ${k}`, [...t.shape], `shape [${terms[0].shape.join(", ")}]`);
        const c = f(coeffs[k]);
        if (c !== 0) for (let i = 0; i < out.length; i++) out[i] = f(out[i] + f(c * t.data[i])); // float32 arithmetic
      });
      return { shape: [...terms[0].shape], data: out };
    },
    // Counter-based: draw `index` of stream `seed` is its own seeded generator, so draws can be made in any order.
    randn: (shape, seed, index) => ({ shape: [...shape], data: Float32Array.from(new GaussianStream(`${seed}:${index}`).normals(count(shape))) }),
    clamp: (t, lo, hi) => ({ shape: [...t.shape], data: t.data.map((v) => Math.min(Math.max(v, f(lo)), f(hi))) }),
    concat(ts) {
      const data = new Float32Array(ts.reduce((n, t) => n + t.data.length, 0));
      ts.reduce((o, t) => (data.set(t.data, o), o + t.data.length), 0);
      return { shape: [ts.reduce((n, t) => n + t.shape[0], 0), ...ts[0].shape.slice(1)], data };
    },
    split(t, sizes) {
      const per = t.data.length / t.shape[0];
      let o = 0;
      return sizes.map((n) => ({ shape: [n, ...t.shape.slice(1)], data: t.data.slice(per * o, per * (o += n)) }));
    },
  };
}

export const backend = createFloat32ArrayBackend();
