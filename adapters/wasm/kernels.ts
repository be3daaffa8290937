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
 * `clamp`: out = min(max(x, lo), hi) (f32x4.max/min: NaN propagates, max(−0, +0) = +0, as Math.max).
 * `clampdiv`: out = min(max(x, −s), s) / s (dynamic thresholding once s is known; f32 division is
 * correctly rounded).
 * `fill`: out = v.
 */

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

const clampFunc = `
  (func (export "clamp") (param $out i32) (param $p0 i32) (param $n i32) (param $lo f32) (param $hi f32)
    ${loops({
      locals: "(local $vlo v128) (local $vhi v128)",
      setup: "(local.set $vlo (f32x4.splat (local.get $lo))) (local.set $vhi (f32x4.splat (local.get $hi)))",
      vecBody: `(v128.store offset=0 ${addr("$out")} (f32x4.min (f32x4.max (v128.load offset=0 ${addr("$p0")}) (local.get $vlo)) (local.get $vhi)))
        (v128.store offset=16 ${addr("$out")} (f32x4.min (f32x4.max (v128.load offset=16 ${addr("$p0")}) (local.get $vlo)) (local.get $vhi)))`,
      scalarBody: `(f32.store ${addr("$out")} (f32.min (f32.max (f32.load ${addr("$p0")}) (local.get $lo)) (local.get $hi)))`,
    })})`;

const clampDivFunc = `
  (func (export "clampdiv") (param $out i32) (param $p0 i32) (param $n i32) (param $s f32)
    ${loops({
      locals: "(local $vs v128) (local $vm v128) (local $ms f32)",
      setup: "(local.set $ms (f32.neg (local.get $s))) (local.set $vs (f32x4.splat (local.get $s))) (local.set $vm (f32x4.splat (local.get $ms)))",
      vecBody: `(v128.store offset=0 ${addr("$out")} (f32x4.div (f32x4.min (f32x4.max (v128.load offset=0 ${addr("$p0")}) (local.get $vm)) (local.get $vs)) (local.get $vs)))
        (v128.store offset=16 ${addr("$out")} (f32x4.div (f32x4.min (f32x4.max (v128.load offset=16 ${addr("$p0")}) (local.get $vm)) (local.get $vs)) (local.get $vs)))`,
      scalarBody: `(f32.store ${addr("$out")} (f32.div (f32.min (f32.max (f32.load ${addr("$p0")}) (local.get $ms)) (local.get $s)) (local.get $s)))`,
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

/** The whole module's text: every kernel, over an imported memory `env.memory`. */
export function kernelModuleText(maxTerms = MAX_TERMS): string {
  return `(module
  (import "env" "memory" (memory 1))
  ${range(maxTerms).map((j) => combineF64(j + 1)).join("\n")}
  ${range(maxTerms).map((j) => combineF32(j + 1)).join("\n")}
  ${clampFunc}
  ${clampDivFunc}
  ${fillFunc}
)`;
}

/** The exports of the kernel module (pointers are byte offsets, n counts f32 elements). */
export interface Kernels {
  /** combine_{mode}_{k}(out, n, p0, c0, …, p_{k−1}, c_{k−1}) */
  combine: Record<CombineMode, ((out: number, n: number, ...termsAndCoeffs: number[]) => void)[]>;
  clamp(out: number, p: number, n: number, lo: number, hi: number): void;
  clampdiv(out: number, p: number, n: number, s: number): void;
  fill(out: number, n: number, v: number): void;
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
  return { combine: { f64: pick("f64"), f32: pick("f32") }, clamp: ex.clamp, clampdiv: ex.clampdiv, fill: ex.fill };
}
