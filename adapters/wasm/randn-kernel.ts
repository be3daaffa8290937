/**
 * The wasm-simd `randn` kernel: NOISE-PHILOX (reference/philox.ts) in WASM SIMD — the same Philox4x32-10
 * words and the same 24-bit uniforms as the reference, so the same numbers up to float32 evaluation of
 * ln, sin and cos (|z − z_ref| ≤ 2⁻²⁰(1 + |z_ref|); test/adapters-wasm.test.ts).
 *
 * One loop iteration makes 16 normals: the four Philox blocks j … j + 3 run side by side, one per i32x4
 * lane (10 rounds; the 32×32 → 64-bit products by i64x2.extmul), then Box–Muller in f32x4:
 * - ln u (u ∈ (0, 1]): u = m·2ᵉ with m ∈ [√½, √2), ln u = e ln 2 + ln m, ln m by Cephes' logf polynomial
 *   (degree 9 in m − 1; e ln 2 in two parts, 0.693359375 − 2.12194440e−4);
 * - cos 2πv, sin 2πv from the 24-bit integer k = ⌊x/2⁸⌋: 2πv = qπ/2 + φ with q = ⌊(⌊k/2²¹⌋ + 1)/2⌋ and
 *   φ = (k − q·2²²)·π·2⁻²³ ∈ [−π/4, π/4) (integer reduction: exact), Cephes' sinf/cosf polynomials on φ,
 *   then the quadrant's rotation (swap and signs);
 * and a 4×4 transpose so block j's four normals are elements 4j … 4j + 3.
 * The kernel writes whole groups of 16: the output block must hold ⌈n/16⌉·16 floats (the allocator's
 * 64-byte blocks do).
 */

const W0 = 0x9e3779b9 | 0;
const W1 = 0xbb67ae85 | 0;
const M0 = 0xd2511f53 | 0;
const M1 = 0xcd9e8d57 | 0;

const i32 = (v: number): string => `(v128.const i32x4 ${v | 0} ${v | 0} ${v | 0} ${v | 0})`;
const f32 = (v: number): string => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;
const get = (name: string): string => `(local.get $${name})`;

/** The high words of the four 32×32-bit products x·M (lanes 0–3). */
const mulhi = (x: string, m: number): string =>
  `(i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (i64x2.extmul_low_i32x4_u ${x} ${i32(m)}) (i64x2.extmul_high_i32x4_u ${x} ${i32(m)}))`;

/** One Philox round on locals x0…x3 with keys k0, k1. */
const round = (): string => `
      (local.set $h0 ${mulhi(get("x0"), M0)})
      (local.set $l0 (i32x4.mul ${get("x0")} ${i32(M0)}))
      (local.set $h1 ${mulhi(get("x2"), M1)})
      (local.set $x0 (v128.xor (v128.xor (local.get $h1) ${get("x1")}) ${get("k0")}))
      (local.set $x1 (i32x4.mul ${get("x2")} ${i32(M1)}))
      (local.set $x2 (v128.xor (v128.xor (local.get $h0) ${get("x3")}) ${get("k1")}))
      (local.set $x3 (local.get $l0))`;

const bump = `
      (local.set $k0 (i32x4.add ${get("k0")} ${i32(W0)}))
      (local.set $k1 (i32x4.add ${get("k1")} ${i32(W1)}))`;

/** r = √(−2 ln u), u = (⌊x/2⁸⌋ + 1)·2⁻²⁴, into local $r. Cephes logf. */
const radius = (x: string): string => `
      (local.set $u (f32x4.mul (f32x4.convert_i32x4_u (i32x4.add (i32x4.shr_u ${x} (i32.const 8)) ${i32(1)})) ${f32(2 ** -24)}))
      (local.set $e (i32x4.sub (i32x4.shr_u (local.get $u) (i32.const 23)) ${i32(126)}))
      (local.set $m (v128.or (v128.and (local.get $u) ${i32(0x007fffff)}) ${i32(0x3f000000)}))
      (local.set $mask (f32x4.lt (local.get $m) ${f32(0.70710677)}))
      (local.set $e (i32x4.add (local.get $e) (local.get $mask)))
      (local.set $m (f32x4.sub (f32x4.add (local.get $m) (v128.and (local.get $m) (local.get $mask))) ${f32(1)}))
      (local.set $z (f32x4.mul (local.get $m) (local.get $m)))
      (local.set $p ${[-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1].reduce(
        (acc, c) => `(f32x4.add (f32x4.mul ${acc} (local.get $m)) ${f32(c)})`,
        f32(7.0376836292e-2),
      )})
      (local.set $fe (f32x4.convert_i32x4_s (local.get $e)))
      (local.set $p (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $m)) (local.get $z)) (f32x4.mul (local.get $fe) ${f32(-2.12194440e-4)})))
      (local.set $p (f32x4.sub (local.get $p) (f32x4.mul (local.get $z) ${f32(0.5)})))
      (local.set $p (f32x4.add (f32x4.add (local.get $m) (local.get $p)) (f32x4.mul (local.get $fe) ${f32(0.693359375)})))
      (local.set $r (f32x4.sqrt (f32x4.mul (local.get $p) ${f32(-2)})))`;

/** (cos 2πv, sin 2πv), v = ⌊x/2⁸⌋·2⁻²⁴, times $r, into locals $c and $s. Cephes sinf/cosf on [−π/4, π/4]. */
const sincos = (x: string): string => `
      (local.set $k (i32x4.shr_u ${x} (i32.const 8)))
      (local.set $q (i32x4.shr_u (i32x4.add (i32x4.shr_u (local.get $k) (i32.const 21)) ${i32(1)}) (i32.const 1)))
      (local.set $phi (f32x4.mul (f32x4.convert_i32x4_s (i32x4.sub (local.get $k) (i32x4.shl (local.get $q) (i32.const 22)))) ${f32(Math.PI * 2 ** -23)}))
      (local.set $z (f32x4.mul (local.get $phi) (local.get $phi)))
      (local.set $s (f32x4.add (f32x4.mul (f32x4.mul (f32x4.sub (f32x4.mul (f32x4.add (f32x4.mul ${f32(-1.9515295891e-4)} (local.get $z)) ${f32(8.3321608736e-3)}) (local.get $z)) ${f32(1.6666654611e-1)}) (local.get $z)) (local.get $phi)) (local.get $phi)))
      (local.set $c (f32x4.add (f32x4.sub (f32x4.mul (f32x4.mul (f32x4.add (f32x4.mul (f32x4.sub (f32x4.mul ${f32(2.443315711809948e-5)} (local.get $z)) ${f32(1.388731625493765e-3)}) (local.get $z)) ${f32(4.166664568298827e-2)}) (local.get $z)) (local.get $z)) (f32x4.mul (local.get $z) ${f32(0.5)})) ${f32(1)}))
      (local.set $mask (i32x4.sub ${i32(0)} (v128.and (local.get $q) ${i32(1)})))
      (local.set $u (v128.bitselect (local.get $s) (local.get $c) (local.get $mask)))
      (local.set $s (v128.bitselect (local.get $c) (local.get $s) (local.get $mask)))
      (local.set $c (v128.xor (local.get $u) (i32x4.shl (v128.and (i32x4.add (local.get $q) ${i32(1)}) ${i32(2)}) (i32.const 30))))
      (local.set $s (v128.xor (local.get $s) (i32x4.shl (v128.and (local.get $q) ${i32(2)}) (i32.const 30))))
      (local.set $c (f32x4.mul (local.get $c) (local.get $r)))
      (local.set $s (f32x4.mul (local.get $s) (local.get $r)))`;

/** `randn(out, n, k0, k1, i0, i1)`: ⌈n/16⌉ groups of 16 normals of draw (i0 + 2³²i1) under key (k0, k1). */
export const randnFunc = `
  (func (export "randn") (param $out i32) (param $n i32) (param $key0 i32) (param $key1 i32) (param $i0 i32) (param $i1 i32)
    (local $j i32) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $k0 v128) (local $k1 v128)
    (local $h0 v128) (local $h1 v128) (local $l0 v128) (local $u v128) (local $e v128) (local $m v128) (local $mask v128)
    (local $z v128) (local $p v128) (local $fe v128) (local $r v128) (local $k v128) (local $q v128) (local $phi v128)
    (local $c v128) (local $s v128) (local $z0 v128) (local $z1 v128) (local $z2 v128) (local $z3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (block $done
      (loop $group
        (br_if $done (i32.ge_u (i32.shl (local.get $j) (i32.const 2)) (local.get $n)))
        (local.set $x0 (i32x4.add (i32x4.splat (local.get $j)) (v128.const i32x4 0 1 2 3)))
        (local.set $x1 ${i32(0)})
        (local.set $x2 (i32x4.splat (local.get $i0)))
        (local.set $x3 (i32x4.splat (local.get $i1)))
        (local.set $k0 (i32x4.splat (local.get $key0)))
        (local.set $k1 (i32x4.splat (local.get $key1)))
        ${Array.from({ length: 10 }, (_, r) => (r > 0 ? bump : "") + round()).join("")}
        ${radius(get("x0"))}
        ${sincos(get("x1"))}
        (local.set $z0 (local.get $c))
        (local.set $z1 (local.get $s))
        ${radius(get("x2"))}
        ${sincos(get("x3"))}
        (local.set $z2 (local.get $c))
        (local.set $z3 (local.get $s))
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $z0) (local.get $z1)))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $z0) (local.get $z1)))
        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $z2) (local.get $z3)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $z2) (local.get $z3)))
        (v128.store offset=0 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
        (v128.store offset=16 (local.get $out) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
        (v128.store offset=32 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
        (v128.store offset=48 (local.get $out) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $group))))`;
