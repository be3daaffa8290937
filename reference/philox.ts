/**
 * NOISE-PHILOX — counter-based standard-normal noise: Philox4x32-10 (Salmon, Moraes, Dror & Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the generator of Random123, cuRAND and
 * torch's CUDA randn) followed by Box–Muller. The `index`-th draw of stream `seed` is a pure function of
 * (seed, index, element), so a backend computes any element without state and in parallel; the
 * reference backend's BACKEND-RANDN (adapters/reference/) and the wasm-simd kernel (adapters/wasm/) compute
 * these numbers.
 *
 * The bijection: key = (seed mod 2³², ⌊seed/2³²⌋ mod 2³²), counter of block j of draw `index` =
 * (j mod 2³², ⌊j/2³²⌋, index mod 2³², ⌊index/2³²⌋). Block j gives four words x₀…x₃ and four normals,
 * elements 4j … 4j + 3: two Box–Muller pairs from 24-bit uniforms (exact in float32, so a float32 kernel
 * reads the same uniforms):
 *   u = (⌊x₀/2⁸⌋ + 1)·2⁻²⁴ ∈ (0, 1],  v = ⌊x₁/2⁸⌋·2⁻²⁴ ∈ [0, 1),  r = √(−2 ln u):
 *   z₄ⱼ = r cos 2πv, z₄ⱼ₊₁ = r sin 2πv; likewise (x₂, x₃) → z₄ⱼ₊₂, z₄ⱼ₊₃.
 * NOISE-FINITE: u > 0, so |z| ≤ √(48 ln 2) ≈ 5.77 (the tail beyond has probability 8·10⁻⁹).
 */
import type { Shape, Tensor } from "./tensor.ts";
import { size } from "./tensor.ts";
import { require } from "./errors.ts";

/** Philox4x32's round multipliers and Weyl key increments (Random123 philox.h). */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

/**
 * The high 32 bits of the 64-bit product a·m of two uint32, in doubles without rounding: with m = m₁·2¹⁶ + m₀,
 * a·m₀ < 2⁴⁸ and a·m₁ + ⌊a·m₀/2¹⁶⌋ < 2⁴⁹ are exact, and hi = ⌊(a·m₁ + ⌊a·m₀/2¹⁶⌋)/2¹⁶⌋.
 */
function mulhi(a: number, m: number): number {
  return Math.floor((a * (m >>> 16) + Math.floor((a * (m & 0xffff)) / 65536)) / 65536);
}

/**
 * Philox4x32-R of `counter` under `key` (four and two uint32): R rounds of
 * (x₀, x₁, x₂, x₃) ← (hi(M₁x₂) ⊕ x₁ ⊕ k₀, lo(M₁x₂), hi(M₀x₀) ⊕ x₃ ⊕ k₁, lo(M₀x₀)), the key bumped by
 * (W₀, W₁) between rounds. Writes the four output words into `out`.
 */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>, out: Uint32Array | number[] = new Uint32Array(4), rounds = PHILOX_ROUNDS): Uint32Array | number[] {
  let x0 = counter[0] >>> 0;
  let x1 = counter[1] >>> 0;
  let x2 = counter[2] >>> 0;
  let x3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) { k0 = (k0 + W0) >>> 0; k1 = (k1 + W1) >>> 0; }
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ k0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ k1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3;
  return out;
}

const TWO32 = 2 ** 32;
const U24 = 2 ** -24;

/** The Philox key of a stream seed: its low and high 32-bit words (two's complement for negative seeds). */
export function philoxKey(seed: number): [number, number] {
  require(Number.isSafeInteger(seed), "randn seed", seed, "an integer with |seed| < 2⁵³");
  return [seed >>> 0, Math.floor(seed / TWO32) >>> 0];
}

/** NOISE-PHILOX: the first n normals of draw `index` of stream `seed` (elements 0 … n − 1), in Float64. */
export function philoxNormals(n: number, seed: number, index: number): Float64Array {
  require(Number.isSafeInteger(index) && index >= 0, "randn index", index, "an integer in [0, 2⁵³)");
  const key = philoxKey(seed);
  const counter = [0, 0, index >>> 0, Math.floor(index / TWO32) >>> 0];
  const x = new Uint32Array(4);
  const out = new Float64Array(n);
  for (let j = 0, e = 0; e < n; j++) {
    counter[0] = j >>> 0;
    counter[1] = Math.floor(j / TWO32);
    philox4x32(counter, key, x);
    for (let p = 0; p < 4 && e < n; p += 2) {
      const r = Math.sqrt(-2 * Math.log(((x[p] >>> 8) + 1) * U24));
      const theta = 2 * Math.PI * ((x[p + 1] >>> 8) * U24);
      out[e++] = r * Math.cos(theta);
      if (e < n) out[e++] = r * Math.sin(theta);
    }
  }
  return out;
}

/** NOISE-PHILOX as a tensor: randn(shape, seed, index). */
export function philoxRandn(shape: Shape, seed: number, index: number): Tensor {
  return { shape: [...shape], data: philoxNormals(size(shape), seed, index) };
}
