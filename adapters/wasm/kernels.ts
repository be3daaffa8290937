/**
 * The WASM SIMD kernels of the "wasm-simd" backend, written as WebAssembly text generated here and
 * assembled at start-up with the `wabt` package (no committed binaries).
 *
 * Every kernel works on f32 arrays at byte offsets into ONE imported memory, 4 lanes (f32x4) at a time,
 * two vectors (8 floats, 32 bytes) per loop iteration, with a scalar loop for the last n mod 8 elements
 * that performs exactly the same operations in the same order per element (so a value does not depend on
 * its position). Lengths need not be multiples of 4; offsets need not be aligned (the allocator aligns
 * them to 64 bytes anyway).
 *
 * `combine_k` (k = 1 … MAX_TERMS): out[i] = Σⱼ cⱼ·xⱼ[i], j in order 0 … k−1. The coefficients are passed
 * as f64. Two arithmetic modes (COMBINE_MODES), chosen when the module is built:
 * - "f64" (default): each xⱼ[i] is widened to f64 (exact), multiplied by the f64 coefficient and
 *   accumulated in f64 (f64x2 lanes); the sum is rounded to f32 once. Error: one f32 rounding of a
 *   result computed with relative error ≤ γ_{k+1}(f64) ≈ k·2⁻⁵³ of Σ|cⱼxⱼ|, i.e. |err| ≤ 2⁻²⁴·|result|
 *   + (k+1)·2⁻⁵³·Σ|cⱼxⱼ| — far inside the float32 combine row (γ_{k+2}·Σ|cⱼxⱼ|), and the coefficients
 *   are used unrounded, so fused forms whose coefficients come from Float64 host arithmetic (and may
 *   cancel) lose nothing to coefficient rounding.
 * - "f32": coefficients rounded to f32 once, products and sums in f32. Error: the float32 combine row
 *   exactly, |err| ≤ γ_{k+2}·Σ|cⱼxⱼ| (coefficient rounding 1 + product 1 + k−1 sums; the input is
 *   already f32). About as fast here; kept for comparison (bench `--mode f32`).
 * Both modes: subnormals are kept (WebAssembly arithmetic never flushes them).
 *
 * `clamp`: out = min(max(x, lo), hi) with f32x4.pmax/pmin (NaN x propagates).
 * `clampdiv`: out = min(max(x, −s), s) / s (dynamic thresholding once s is known; f32 division is
 * correctly rounded).
 * `fill`: out = v. `demote`: f64 → f32 for fromHost.
 * `hist11` / `gather`: the radix select of dynamic thresholding's quantile. `affine`: the MLP's layers.
 * `randn`: NOISE-PHILOX (Philox4x32-10 + Box–Muller), in adapters/wasm/randn-kernel.ts.
 */
import { randnFunc } from "./randn-kernel.ts";

/** The most terms one kernel call combines; longer combinations are split (see adapters/wasm/index.ts). */
export const MAX_TERMS = 8;

export type CombineMode = "f64" | "f32";
export const COMBINE_MODES: readonly CombineMode[] = ["f64", "f32"];

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** `(param $p0 i32) (param $c0 f64) …` */
const termParams = (k: number): string => range(k).map((j) => `(param $p${j} i32) (param $c${j} f64)`).join(" ");

/** The loop skeleton shared by every kernel: a 32-byte SIMD body, then a 4-byte scalar tail. */
function loops(opts: { locals: string; setup: string; vecBody: string; scalarBody: string }): string {
  return `
    (local $i i32) (local $end i32) (local $end8 i32) ${opts.locals}
    ${opts.setup}
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (block $vdone
      (loop $vloop
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end8)))
        ${opts.vecBody}
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $vloop)))
    (block $sdone
      (loop $sloop
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $end)))
        ${opts.scalarBody}
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $sloop)))`;
}

const addr = (p: string): string => `(i32.add (local.get ${p}) (local.get $i))`;

/** combine_k in f32 arithmetic. */
function combineF32(k: number): string {
  const locals = [...range(k).map((j) => `(local $s${j} f32) (local $v${j} v128)`), "(local $a v128) (local $b v128) (local $x f32)"].join(" ");
  const setup = range(k).map((j) => `(local.set $s${j} (f32.demote_f64 (local.get $c${j}))) (local.set $v${j} (f32x4.splat (local.get $s${j})))`).join("\n    ");
  const vterm = (j: number, off: number) => `(f32x4.mul (v128.load offset=${off} ${addr(`$p${j}`)}) (local.get $v${j}))`;
  const vsum = (off: number) => range(k).slice(1).reduce((acc, j) => `(f32x4.add ${acc} ${vterm(j, off)})`, vterm(0, off));
  const sterm = (j: number) => `(f32.mul (f32.load ${addr(`$p${j}`)}) (local.get $s${j}))`;
  const ssum = range(k).slice(1).reduce((acc, j) => `(f32.add ${acc} ${sterm(j)})`, sterm(0));
  return `
  (func (export "combine_f32_${k}") (param $out i32) (param $n i32) ${termParams(k)}
    ${loops({
      locals,
      setup,
      vecBody: `(local.set $a ${vsum(0)})
        (local.set $b ${vsum(16)})
        (v128.store offset=0 ${addr("$out")} (local.get $a))
        (v128.store offset=16 ${addr("$out")} (local.get $b))`,
      scalarBody: `(f32.store ${addr("$out")} ${ssum})`,
    })})`;
}

/** combine_k in f64 arithmetic: two f64x2 accumulators per f32x4 vector. */
function combineF64(k: number): string {
  const locals = [...range(k).map((j) => `(local $v${j} v128)`), "(local $lo0 v128) (local $hi0 v128) (local $lo1 v128) (local $hi1 v128)"].join(" ");
  const setup = range(k).map((j) => `(local.set $v${j} (f64x2.splat (local.get $c${j})))`).join("\n    ");
  // Lanes 0,1 of the 4 floats at byte offset `off` widened to f64x2, and lanes 2,3.
  const half = (j: number, off: number) => `(f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero offset=${off} ${addr(`$p${j}`)})) (local.get $v${j}))`;
  const sum = (off: number) => range(k).slice(1).reduce((acc, j) => `(f64x2.add ${acc} ${half(j, off)})`, half(0, off));
  // [a0, a1, 0, 0] and [a2, a3, 0, 0] (f32) → [a0, a1, a2, a3]
  const pack = (lo: string, hi: string) => `(i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get ${lo})) (f32x4.demote_f64x2_zero (local.get ${hi})))`;
  const sterm = (j: number) => `(f64.mul (f64.promote_f32 (f32.load ${addr(`$p${j}`)})) (local.get $c${j}))`;
  const ssum = range(k).slice(1).reduce((acc, j) => `(f64.add ${acc} ${sterm(j)})`, sterm(0));
  return `
  (func (export "combine_f64_${k}") (param $out i32) (param $n i32) ${termParams(k)}
    ${loops({
      locals,
      setup,
      vecBody: `(local.set $lo0 ${sum(0)})
        (local.set $hi0 ${sum(8)})
        (local.set $lo1 ${sum(16)})
        (local.set $hi1 ${sum(24)})
        (v128.store offset=0 ${addr("$out")} ${pack("$lo0", "$hi0")})
        (v128.store offset=16 ${addr("$out")} ${pack("$lo1", "$hi1")})`,
      scalarBody: `(f32.store ${addr("$out")} (f32.demote_f64 ${ssum}))`,
    })})`;
}

/**
 * clamp with pseudo-min/max (one instruction each on x64/arm64): max(x, lo) = x < lo ? lo : x, then
 * min(y, hi) = hi < y ? hi : y. NaN x stays NaN (both comparisons are false), as Math.max/Math.min.
 * The only difference from Math.max/min is the sign of a zero result (−0 may stay −0 where Math.max(−0, +0)
 * is +0), which compares equal. NaN bounds are handled by the caller.
 */
const clampFunc = `
  (func (export "clamp") (param $out i32) (param $p0 i32) (param $n i32) (param $lo f32) (param $hi f32)
    ${loops({
      locals: "(local $vlo v128) (local $vhi v128) (local $y f32)",
      setup: "(local.set $vlo (f32x4.splat (local.get $lo))) (local.set $vhi (f32x4.splat (local.get $hi)))",
      vecBody: `(v128.store offset=0 ${addr("$out")} (f32x4.pmin (f32x4.pmax (v128.load offset=0 ${addr("$p0")}) (local.get $vlo)) (local.get $vhi)))
        (v128.store offset=16 ${addr("$out")} (f32x4.pmin (f32x4.pmax (v128.load offset=16 ${addr("$p0")}) (local.get $vlo)) (local.get $vhi)))`,
      scalarBody: `(local.set $y (f32.load ${addr("$p0")}))
        (local.set $y (select (local.get $lo) (local.get $y) (f32.lt (local.get $y) (local.get $lo))))
        (f32.store ${addr("$out")} (select (local.get $hi) (local.get $y) (f32.lt (local.get $hi) (local.get $y))))`,
    })})`;

/** clampdiv: clamp(x, −s, s)/s with the same pseudo-min/max; the division is correctly rounded. */
const clampDivFunc = `
  (func (export "clampdiv") (param $out i32) (param $p0 i32) (param $n i32) (param $s f32)
    ${loops({
      locals: "(local $vs v128) (local $vm v128) (local $ms f32) (local $y f32)",
      setup: "(local.set $ms (f32.neg (local.get $s))) (local.set $vs (f32x4.splat (local.get $s))) (local.set $vm (f32x4.splat (local.get $ms)))",
      vecBody: `(v128.store offset=0 ${addr("$out")} (f32x4.div (f32x4.pmin (f32x4.pmax (v128.load offset=0 ${addr("$p0")}) (local.get $vm)) (local.get $vs)) (local.get $vs)))
        (v128.store offset=16 ${addr("$out")} (f32x4.div (f32x4.pmin (f32x4.pmax (v128.load offset=16 ${addr("$p0")}) (local.get $vm)) (local.get $vs)) (local.get $vs)))`,
      scalarBody: `(local.set $y (f32.load ${addr("$p0")}))
        (local.set $y (select (local.get $ms) (local.get $y) (f32.lt (local.get $y) (local.get $ms))))
        (local.set $y (select (local.get $s) (local.get $y) (f32.lt (local.get $s) (local.get $y))))
        (f32.store ${addr("$out")} (f32.div (local.get $y) (local.get $s)))`,
    })})`;

const fillFunc = `
  (func (export "fill") (param $out i32) (param $n i32) (param $v f32)
    ${loops({
      locals: "(local $vv v128)",
      setup: "(local.set $vv (f32x4.splat (local.get $v)))",
      vecBody: `(v128.store offset=0 ${addr("$out")} (local.get $vv))
        (v128.store offset=16 ${addr("$out")} (local.get $vv))`,
      scalarBody: `(f32.store ${addr("$out")} (local.get $v))`,
    })})`;

/**
 * demote: out[i] = f32(in[i]) from f64 (IEEE round to nearest even, subnormals kept, overflow to ±∞: the
 * same rounding as a Float32Array store). $p0 points at f64 values; 8 values (two f32x4) per iteration.
 */
const demoteFunc = `
  (func (export "demote") (param $out i32) (param $p0 i32) (param $n i32)
    (local $i i32) (local $j i32) (local $end i32) (local $end8 i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end8 (i32.and (local.get $end) (i32.const -32)))
    (block $vdone
      (loop $vloop
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $j (i32.add (local.get $p0) (i32.shl (local.get $i) (i32.const 1))))
        (v128.store offset=0 ${addr("$out")} (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (v128.load offset=0 (local.get $j))) (f32x4.demote_f64x2_zero (v128.load offset=16 (local.get $j)))))
        (v128.store offset=16 ${addr("$out")} (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (v128.load offset=32 (local.get $j))) (f32x4.demote_f64x2_zero (v128.load offset=48 (local.get $j)))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $vloop)))
    (block $sdone
      (loop $sloop
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store ${addr("$out")} (f32.demote_f64 (f64.load (i32.add (local.get $p0) (i32.shl (local.get $i) (i32.const 1))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $sloop))))`;

/**
 * The order statistics of |x| for dynamic thresholding, by a two-pass radix select on the bits: for
 * float32, |x| ordered as numbers is |x|'s bit pattern (sign cleared) ordered as unsigned integers (NaN
 * patterns sort above +∞, as NaN sorts last in a TypedArray sort).
 * - hist11(p, n, h): h[bits >>> 20]++ for every element, into 4 interleaved histograms of 2048 i32 bins at
 *   h (element i counts into histogram i mod 4 — no store-to-load chains on runs of one bin), zeroed and
 *   summed by the caller;
 * - gather(p, n, lo, hi, out) → count: the bit patterns whose bin lies in [lo, hi], stored at out.
 */
const selectFuncs = `
  (func (export "hist11") (param $p0 i32) (param $n i32) (param $h i32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $v v128) (local $a i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    ;; 4 interleaved histograms (lane j of each vector counts into h + j·4·BINS), so that runs of one bin do
    ;; not serialise on a load-add-store chain; the caller sums them.
    (block $vdone
      (loop $vl
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $v (i32x4.shl (i32x4.shr_u (v128.and (v128.load ${addr("$p0")}) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)) (i32.const 20)) (i32.const 2)))
        ${[0, 1, 2, 3].map((j) => `(local.set $a (i32.add (local.get $h) (i32.add (i32x4.extract_lane ${j} (local.get $v)) (i32.const ${j * 4 * 2048}))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))`).join("\n        ")}
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vl)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $a (i32.add (local.get $h) (i32.shl (i32.shr_u (i32.and (i32.load ${addr("$p0")}) (i32.const 0x7fffffff)) (i32.const 20)) (i32.const 2))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l))))
  (func (export "gather") (param $p0 i32) (param $n i32) (param $lo i32) (param $hi i32) (param $out i32) (result i32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $v i32) (local $c i32) (local $w i32)
    (local $vv v128) (local $vlo v128) (local $vw v128) (local $j i32) (local $k i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (local.set $w (i32.sub (local.get $hi) (local.get $lo)))
    (local.set $vlo (i32x4.splat (local.get $lo)))
    (local.set $vw (i32x4.splat (local.get $w)))
    ;; 4 at a time: skip the vector unless some lane's bin is in [lo, hi] (unsigned (bin − lo) ≤ w), which is rare.
    (block $vdone
      (loop $vl
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $vv (v128.and (v128.load ${addr("$p0")}) (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff)))
        (if (v128.any_true (i32x4.le_u (i32x4.sub (i32x4.shr_u (local.get $vv) (i32.const 20)) (local.get $vlo)) (local.get $vw)))
          (then
            (local.set $k (i32.const 0))
            (loop $lanes
              (local.set $v (i32.and (i32.load (i32.add ${addr("$p0")} (local.get $k))) (i32.const 0x7fffffff)))
              (i32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))) (local.get $v))
              (local.set $c (i32.add (local.get $c) (i32.le_u (i32.sub (i32.shr_u (local.get $v) (i32.const 20)) (local.get $lo)) (local.get $w))))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br_if $lanes (i32.lt_u (local.get $k) (i32.const 16))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vl)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (i32.and (i32.load ${addr("$p0")}) (i32.const 0x7fffffff)))
        (i32.store (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))) (local.get $v))
        (local.set $c (i32.add (local.get $c) (i32.le_u (i32.sub (i32.shr_u (local.get $v) (i32.const 20)) (local.get $lo)) (local.get $w))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
    (local.get $c))`;

/**
 * affine(out, w, b, a, nOut, nIn): out[o] = (Σᵢ w[o·nIn + i]·a[i]) + b[o], f32: four partial sums (f32x4)
 * over i ≡ 0…3 mod 4, added lane 0 + 1 + 2 + 3, then the tail and the bias (any summation order is within
 * the model row's γ_{n+1}·(|b| + Σ|w||a|)). The MLP denoiser's layers (loadModel).
 */
const affineFunc = `
  (func (export "affine") (param $out i32) (param $w i32) (param $b i32) (param $a i32) (param $nout i32) (param $nin i32)
    (local $o i32) (local $i i32) (local $row i32) (local $acc v128) (local $s f32) (local $end4 i32) (local $endb i32)
    (local.set $endb (i32.shl (local.get $nin) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $endb) (i32.const -16)))
    (block $odone
      (loop $ol
        (br_if $odone (i32.ge_u (local.get $o) (local.get $nout)))
        (local.set $row (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $endb))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $vdone
          (loop $vl
            (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load ${addr("$row")}) (v128.load ${addr("$a")}))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $vl)))
        (local.set $s (f32.add (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc))) (f32x4.extract_lane 2 (local.get $acc))) (f32x4.extract_lane 3 (local.get $acc))))
        (block $sdone
          (loop $sl
            (br_if $sdone (i32.ge_u (local.get $i) (local.get $endb)))
            (local.set $s (f32.add (local.get $s) (f32.mul (f32.load ${addr("$row")}) (f32.load ${addr("$a")}))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $sl)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $o) (i32.const 2)))
          (f32.add (local.get $s) (f32.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2))))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $ol))))`;

/** The whole module's text: every kernel, over an imported memory `env.memory`. */
export function kernelModuleText(maxTerms = MAX_TERMS): string {
  return `(module
  (import "env" "memory" (memory 1))
  ${range(maxTerms).map((j) => combineF64(j + 1)).join("\n")}
  ${range(maxTerms).map((j) => combineF32(j + 1)).join("\n")}
  ${clampFunc}
  ${clampDivFunc}
  ${fillFunc}
  ${demoteFunc}
  ${selectFuncs}
  ${affineFunc}
  ${randnFunc}
)`;
}

/** The exports of the kernel module (pointers are byte offsets, n counts f32 elements). */
export interface Kernels {
  /** combine_{mode}_{k}(out, n, p0, c0, …, p_{k−1}, c_{k−1}) */
  combine: Record<CombineMode, ((out: number, n: number, ...termsAndCoeffs: number[]) => void)[]>;
  clamp(out: number, p: number, n: number, lo: number, hi: number): void;
  clampdiv(out: number, p: number, n: number, s: number): void;
  fill(out: number, n: number, v: number): void;
  /** f64 at p → f32 at out */
  demote(out: number, p: number, n: number): void;
  hist11(p: number, n: number, h: number): void;
  affine(out: number, w: number, b: number, a: number, nOut: number, nIn: number): void;
  gather(p: number, n: number, lo: number, hi: number, out: number): number;
  /** NOISE-PHILOX: ⌈n/16⌉·16 normals of draw (i0 + 2³²·i1) under the key (k0, k1) at out (adapters/wasm/randn-kernel.ts). */
  randn(out: number, n: number, k0: number, k1: number, i0: number, i1: number): void;
}

type Wabt = Awaited<ReturnType<typeof import("wabt")>>;
let wabtPromise: Promise<Wabt> | undefined;

/** Assembles the kernel text with wabt (SIMD enabled) into a WebAssembly.Module. */
export async function compileKernels(maxTerms = MAX_TERMS): Promise<WebAssembly.Module> {
  wabtPromise ??= import("wabt").then((m) => ((m as unknown as { default: () => Promise<Wabt> }).default ?? (m as unknown as () => Promise<Wabt>))());
  const wabt = await wabtPromise;
  const parsed = wabt.parseWat("diffspec-kernels.wat", kernelModuleText(maxTerms), { simd: true });
  try {
    parsed.resolveNames();
    parsed.validate();
    const { buffer } = parsed.toBinary({});
    return await WebAssembly.compile(new Uint8Array(buffer));
  } finally {
    parsed.destroy();
  }
}

/** Instantiates the kernels over `memory`. */
export async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, maxTerms = MAX_TERMS): Promise<Kernels> {
  const inst = await WebAssembly.instantiate(module, { env: { memory } });
  const ex = inst.exports as Record<string, (...a: number[]) => void>;
  const pick = (mode: CombineMode) => range(maxTerms).map((j) => ex[`combine_${mode}_${j + 1}`]);
  return {
    combine: { f64: pick("f64"), f32: pick("f32") },
    clamp: ex.clamp, clampdiv: ex.clampdiv, fill: ex.fill, demote: ex.demote, hist11: ex.hist11, affine: ex.affine, randn: ex.randn,
    gather: ex.gather as unknown as Kernels["gather"],
  };
}
