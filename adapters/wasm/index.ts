/**
 * "wasm-simd": a float32 backend whose tensors live in ONE WebAssembly.Memory and whose arithmetic is
 * WASM SIMD (f32x4) kernels generated as text in adapters/wasm/kernels.ts and assembled at start-up
 * with `wabt`. Single-threaded. spec/10-backends.md, adapters/README.md.
 *
 * - dtype float32: `fromHost` rounds each Float64 value to float32 once (TypedArray conversion: round to
 *   nearest even, subnormals kept, overflow to ±∞); `toHost` widens exactly.
 * - `combine(terms, coeffs)`: ONE kernel pass for up to MAX_TERMS (8) terms (out = Σ cⱼxⱼ, read k
 *   tensors, write one); longer combinations run in chunks of 8 accumulating into the output. Terms with
 *   cⱼ = 0 are skipped (as the reference: 0·∞ is not NaN). Arithmetic: see kernels.ts — mode "f32"
 *   (default) rounds each coefficient to float32 once and multiplies/adds in float32: |err| ≤
 *   γ_{k+2}·Σ|cⱼxⱼ|, exactly the float32 combine row of conformance/tolerances.ts (the coefficient's
 *   rounding is one of its k + 2 roundings). Mode "f64" (`createWasmBackend({ combine: "f64" })`) keeps the
 *   coefficients in f64 and accumulates in f64, rounding once: |err| ≤ 2⁻²⁴|result| + (k+1)·2⁻⁵³·Σ|cⱼxⱼ|,
 *   at ≈ 2.5× the time (compute-bound, bench/sampler-overhead.ts --mode f64).
 * - `randn(shape, seed, index)`: NOISE-PHILOX (reference/philox.ts), the reference backend's stream, in one
 *   SIMD kernel (adapters/wasm/randn-kernel.ts): Philox4x32-10 on four counters per i32x4, Box–Muller with
 *   float32 polynomial ln/sin/cos — the reference's numbers within 2⁻²⁰(1 + |z|).
 * - `clamp`: one SIMD pass (lo and hi rounded to float32; the clamp row allows that).
 * - `fromHost` of a Float64Array: a memcpy of the f64 values into WASM memory and a SIMD demote (2× faster
 *   than a Float32Array store of Float64 values); `toHost`: a TypedArray set (V8 widens at memory speed).
 * - `threshold`: per batch item, the quantile of |x| by a radix select in WASM (a histogram of the top
 *   11 bits of |x|'s bit pattern, then the values of the one or two bins holding the two order statistics
 *   gathered and sorted on the host — the same two values the reference's full sort picks, interpolated in
 *   Float64 exactly as reference/threshold.ts), then one SIMD pass: min(max(x, −s), s)/s with s rounded to
 *   float32 (|err| ≤ 2u on outputs in [−1, 1]; the threshold row allows 10u). Scalar passes (a histogram
 *   cannot be vectorised in WASM SIMD): the slowest primitive per byte.
 * - `concat` / `split`: memory copies (copyWithin) inside the WASM memory.
 * - Memory: a bump allocator with exact-size free lists (sizes rounded up to 64 bytes, blocks 64-byte
 *   aligned). Samplers allocate many tensors of one size, so a freed block is reused by the next tensor
 *   of that size; the WebAssembly.Memory only grows (by at least a quarter of its size at a time) when no
 *   free block fits, and never shrinks (WebAssembly cannot). `dispose` returns a block (idempotent; using
 *   a disposed tensor throws StateError). The primary mechanism for samplers is the per-step mark and
 *   sweep of adapters/memory.ts (`trackMemory`, swept by runPipeline; `sweepingFused` below wires it up); a
 *   FinalizationRegistry returns the block of a tensor that is garbage-collected without `dispose`, as a
 *   safety net only (GC timing is not under our control).
 * - `loadModel`: the MLP of reference/models/mlp.ts in float32: weights copied into WASM memory once, each
 *   layer one SIMD `affine` kernel call per batch item (f32x4 partial sums), SiLU on the host per value
 *   (z/(1 + e^{−z}) in Float64, rounded to float32: within the model row's SiLU allowance), the sinusoidal
 *   timestep embedding computed in Float64 and rounded to float32 (as tfjs-wasm does).
 */
import type { Backend, BTensor, Denoiser } from "../contract.ts";
import { timestepEmbedding, type ModelSpec } from "../../reference/models/mlp.ts";
import type { Shape } from "../../reference/tensor.ts";
import { size } from "../../reference/tensor.ts";
import { philoxKey } from "../../reference/philox.ts";
import { ConfigError, DiffspecError, ShapeError, StateError, UnavailableError, require as requireThat, requireFinite } from "../../reference/errors.ts";
import { fused, type FusedBackend, type LinearForm } from "../fused.ts";
import { trackMemory, type TrackedBackend } from "../memory.ts";
import { COMBINE_MODES, MAX_TERMS, compileKernels, instantiateKernels, type CombineMode, type Kernels } from "./kernels.ts";

export { MAX_TERMS, COMBINE_MODES, type CombineMode } from "./kernels.ts";

const PAGE = 65536;
const ALIGN = 64;
const blockBytes = (bytes: number): number => Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
/** Histogram bins of the threshold's radix select (11 bits of |x|'s pattern). */
const BINS = 2048;
/** wasm32: 65536 pages of 64 KiB = 4 GiB. */
const MAX_PAGES = 65536;

/** A tensor of the wasm-simd backend: `length` float32 values at byte offset `ptr` of its backend's memory. */
export class WasmTensor implements BTensor {
  /** Byte offset in the memory; −1 once disposed. */
  ptr: number;
  constructor(
    readonly shape: Shape,
    ptr: number,
    readonly length: number,
    /** Bytes of the block (length·4 rounded up to 64). */
    readonly blockBytes: number,
    /** The backend that owns the memory. */
    readonly owner: WasmBackend,
  ) {
    this.ptr = ptr;
  }
  get disposed(): boolean {
    return this.ptr < 0;
  }
}

export interface WasmBackendOptions {
  /** Arithmetic of `combine` (default "f32"); see kernels.ts. */
  combine?: CombineMode;
  /** Initial memory size in bytes (default 16 MiB); it grows as needed. */
  initialBytes?: number;
  /** Return the blocks of garbage-collected, undisposed tensors (default true). */
  finalizer?: boolean;
}

export interface WasmMemoryStats {
  /** Bytes of blocks held by live (undisposed) tensors. */
  liveBytes: number;
  liveTensors: number;
  /** Bytes of freed blocks waiting in the free lists. */
  freeBytes: number;
  /** The allocator's high-water mark (bytes of the memory ever handed out). */
  heapBytes: number;
  /** The WebAssembly.Memory's size. */
  memoryBytes: number;
  /** Allocations served from a free list / by growing the heap. */
  reused: number;
  fresh: number;
  /** Blocks returned by the FinalizationRegistry (tensors garbage-collected without dispose). */
  finalized: number;
  /** Free blocks by size in bytes. */
  freeBlocks: Record<number, number>;
}

/** Creates the wasm-simd backend (compiles the kernels; throws UnavailableError where WASM SIMD is missing). */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const mode = options.combine ?? "f32";
  if (!COMBINE_MODES.includes(mode)) throw new ConfigError("wasm-simd combine mode", mode, `one of ${COMBINE_MODES.join(", ")}`);
  const initial = options.initialBytes ?? 16 * 2 ** 20;
  requireThat(Number.isFinite(initial) && initial > 0 && initial <= MAX_PAGES * PAGE, "wasm-simd initialBytes", initial, "a number of bytes in (0, 4 GiB]");
  let module: WebAssembly.Module;
  try {
    module = await (moduleCache ??= compileKernels().catch((e) => { moduleCache = undefined; throw e; }));
  } catch (e) {
    throw new UnavailableError("wasm-simd", `the SIMD kernels did not assemble or compile (${(e as Error).message}); WebAssembly SIMD needs Node ≥ 16.4 or a browser with SIMD`);
  }
  const memory = new WebAssembly.Memory({ initial: Math.ceil(initial / PAGE), maximum: MAX_PAGES });
  const kernels = await instantiateKernels(module, memory);
  return new WasmBackend(memory, kernels, mode, options.finalizer ?? true);
}

let moduleCache: Promise<WebAssembly.Module> | undefined;

export class WasmBackend implements Backend<WasmTensor> {
  readonly name = "wasm-simd";
  readonly detail = "float32 WebAssembly SIMD kernels (adapters/wasm/), one thread";
  readonly dtype = "float32" as const;
  private f32: Float32Array;
  /** First byte never handed out (offset 0 is kept unused, so a stray 0 pointer never aliases a tensor). */
  private top = ALIGN;
  private readonly free = new Map<number, number[]>();
  private live = 0;
  private liveCount = 0;
  private freeBytes = 0;
  private counts = { reused: 0, fresh: 0, finalized: 0 };
  private closed = false;
  private readonly registry?: FinalizationRegistry<{ ptr: number; bytes: number }>;
  private readonly combineKernels: Kernels["combine"]["f32"];

  constructor(
    readonly memory: WebAssembly.Memory,
    private readonly kernels: Kernels,
    readonly combineMode: CombineMode,
    finalizer: boolean,
  ) {
    this.f32 = new Float32Array(memory.buffer);
    this.combineKernels = kernels.combine[combineMode];
    if (finalizer) {
      this.registry = new FinalizationRegistry(({ ptr, bytes }) => {
        if (this.closed) return;
        this.counts.finalized++;
        this.release(ptr, bytes);
      });
    }
  }

  // ─── memory ─────────────────────────────────────────────────────────────────────────────────────

  /** A Float32Array view of the whole memory (renewed after the memory grows). */
  private view(): Float32Array {
    if (this.f32.buffer !== this.memory.buffer) this.f32 = new Float32Array(this.memory.buffer);
    return this.f32;
  }

  /** A block of at least `bytes` bytes (rounded up to 64): from the free list of its size, else from the top of the heap. */
  private allocBlock(bytes: number): number {
    if (this.closed) throw new StateError("wasm-simd: the backend was closed");
    let ptr = this.free.get(bytes)?.pop();
    if (ptr !== undefined) {
      this.counts.reused++;
      this.freeBytes -= bytes;
    } else {
      this.counts.fresh++;
      ptr = this.top;
      const end = ptr + bytes;
      const have = this.memory.buffer.byteLength;
      if (end > have) {
        const pages = have / PAGE;
        const need = Math.ceil((end - have) / PAGE);
        const grow = Math.min(Math.max(need, Math.ceil(pages / 4)), MAX_PAGES - pages);
        const full = (why: string) => new DiffspecError("E_OUT_OF_MEMORY", `wasm-simd: a block of ${bytes} bytes does not fit: ${why} (live ${this.live} bytes in ${this.liveCount} tensors, ${this.freeBytes} bytes in free blocks of other sizes); dispose tensors (adapters/memory.ts trackMemory + sweep)`);
        if (grow < need) throw full("the WebAssembly memory is at its 4 GiB limit");
        try {
          this.memory.grow(grow);
        } catch (e) {
          throw full(`the WebAssembly memory could not grow from ${have} bytes by ${grow * PAGE} (${(e as Error).message})`);
        }
      }
      this.top = end;
    }
    this.live += bytes;
    return ptr;
  }

  private alloc(shape: Shape): WasmTensor {
    const n = size(shape);
    const bytes = blockBytes(n * 4);
    const ptr = this.allocBlock(bytes);
    const t = new WasmTensor([...shape], ptr, n, bytes, this);
    this.liveCount++;
    this.registry?.register(t, { ptr, bytes }, t);
    return t;
  }

  /** Runs f with a scratch block of `bytes` bytes (returned to the free lists afterwards). */
  private withScratch<R>(bytes: number, f: (ptr: number) => R): R {
    const b = blockBytes(bytes);
    const ptr = this.allocBlock(b);
    try {
      return f(ptr);
    } finally {
      this.releaseBlock(ptr, b);
    }
  }

  private releaseBlock(ptr: number, bytes: number): void {
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(ptr);
    this.freeBytes += bytes;
    this.live -= bytes;
  }

  private release(ptr: number, bytes: number): void {
    this.releaseBlock(ptr, bytes);
    this.liveCount--;
  }

  /** The float32 index of a live tensor of this backend, or a typed error. */
  private at(t: WasmTensor, what: string): number {
    if (!(t instanceof WasmTensor) || t.owner !== this) throw new ConfigError(`wasm-simd ${what}`, typeof t, "a tensor created by this wasm-simd backend");
    if (t.ptr < 0) throw new StateError(`wasm-simd ${what}: the tensor [${t.shape.join(", ")}] was disposed`);
    return t.ptr >>> 2;
  }

  /** Frees a tensor's block now. Idempotent. */
  dispose(t: WasmTensor): void {
    if (!(t instanceof WasmTensor) || t.owner !== this || t.ptr < 0) return;
    this.registry?.unregister(t);
    this.release(t.ptr, t.blockBytes);
    t.ptr = -1;
  }

  /** Bytes held by live tensors. */
  memoryBytes(): number {
    return this.live;
  }

  stats(): WasmMemoryStats {
    const freeBlocks: Record<number, number> = {};
    for (const [bytes, list] of this.free) if (list.length) freeBlocks[bytes] = list.length;
    return { liveBytes: this.live, liveTensors: this.liveCount, freeBytes: this.freeBytes, heapBytes: this.top, memoryBytes: this.memory.buffer.byteLength, ...this.counts, freeBlocks };
  }

  /** A copy of a tensor's float32 values (for tests and benchmarks). */
  values(t: WasmTensor): Float32Array {
    const i = this.at(t, "values");
    return this.view().slice(i, i + t.length);
  }

  close(): void {
    this.closed = true;
    this.free.clear();
  }

  // ─── primitives ─────────────────────────────────────────────────────────────────────────────────

  /** Float64Array input: copied into WASM memory as f64 and demoted by a SIMD kernel (a per-element JS conversion is ≈ 10× slower). */
  fromHost(data: ArrayLike<number>, shape: Shape): WasmTensor {
    const n = size(shape);
    if (data.length !== n) throw new ShapeError("data length", data.length, `${n} (the product of shape [${shape.join(", ")}])`);
    const t = this.alloc(shape);
    if (data instanceof Float64Array && n >= 64) {
      this.withScratch(8 * n, (tmp) => {
        new Float64Array(this.memory.buffer, tmp, n).set(data);
        this.kernels.demote(t.ptr, tmp, n);
      });
    } else this.view().set(data, t.ptr >>> 2);
    return t;
  }

  /** A TypedArray set widens float32 → float64 at memory speed in V8 (Float64Array.from is ≈ 20× slower). */
  toHost(t: WasmTensor): Float64Array {
    const i = this.at(t, "toHost");
    const out = new Float64Array(t.length);
    out.set(this.view().subarray(i, i + t.length));
    return out;
  }

  combine(terms: readonly WasmTensor[], coeffs: readonly number[]): WasmTensor {
    if (terms.length === 0 || terms.length !== coeffs.length) throw new ShapeError("combine", terms.length, `as many terms as coefficients (${coeffs.length}), at least one`);
    const shape = terms[0].shape;
    const ptrs: number[] = [];
    const cs: number[] = [];
    terms.forEach((t, k) => {
      this.at(t, `combine term ${k}`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new ShapeError(`combine term ${k}`, [...t.shape], `shape [${shape.join(", ")}]`);
      if (coeffs[k] === 0) return;
      ptrs.push(t.ptr);
      cs.push(coeffs[k]);
    });
    const out = this.alloc(shape);
    this.combineInto(out.ptr, out.length, ptrs, cs);
    return out;
  }

  /** out = Σ cs[j]·(floats at ptrs[j]), in kernel calls of at most MAX_TERMS terms (later chunks accumulate into out). */
  private combineInto(out: number, n: number, ptrs: readonly number[], cs: readonly number[]): void {
    if (ptrs.length === 0) { this.kernels.fill(out, n, 0); return; }
    let j = 0;
    let first = true;
    while (j < ptrs.length) {
      const args: number[] = first ? [] : [out, 1];
      const take = Math.min(ptrs.length - j, MAX_TERMS - args.length / 2);
      for (let q = 0; q < take; q++, j++) args.push(ptrs[j], cs[j]);
      this.combineKernels[args.length / 2 - 1](out, n, ...args);
      first = false;
    }
  }

  randn(shape: Shape, seed: number, index: number): WasmTensor {
    const [k0, k1] = philoxKey(seed);
    requireThat(Number.isSafeInteger(index) && index >= 0, "randn index", index, "an integer in [0, 2⁵³)");
    const t = this.alloc(shape);
    // The kernel writes whole groups of 16 floats: the allocator's 64-byte blocks hold them.
    this.kernels.randn(t.ptr, t.length, k0, k1, index >>> 0, Math.floor(index / 2 ** 32) >>> 0);
    return t;
  }

  clamp(t: WasmTensor, lo: number, hi: number): WasmTensor {
    const i = this.at(t, "clamp");
    const out = this.alloc(t.shape);
    // Math.max(x, NaN) is NaN; the kernel's pseudo-max would keep x.
    if (Number.isNaN(lo) || Number.isNaN(hi)) this.kernels.fill(out.ptr, out.length, NaN);
    else this.kernels.clamp(out.ptr, i << 2, t.length, lo, hi);
    return out;
  }

  threshold(t: WasmTensor, ratio: number, maxValue: number): WasmTensor {
    // The reference's validation (reference/threshold.ts), with its messages.
    requireThat(ratio > 0 && ratio <= 1, "dynamicThresholdingRatio", ratio, "a number in (0, 1]");
    requireFinite("sampleMaxValue", maxValue);
    requireThat(maxValue > 0, "sampleMaxValue", maxValue, "a number > 0");
    const i0 = this.at(t, "threshold");
    const B = t.shape[0];
    const per = t.length / B;
    const out = this.alloc(t.shape);
    this.withScratch(4 * (4 * BINS + per), (scratch) => {
      for (let b = 0; b < B; b++) {
        const from = t.ptr + b * per * 4;
        const s = Math.min(Math.max(this.quantileAbs(from, per, ratio, scratch), 1), maxValue);
        this.kernels.clampdiv(out.ptr + b * per * 4, from, per, s);
      }
    });
    return out;
  }

  /**
   * quantileSorted(sort(|x|), q) of reference/threshold.ts for the n float32 values at byte offset p,
   * without sorting them all: a histogram of the top 11 bits of |x|'s bit pattern locates the bins of
   * the two order statistics the quantile interpolates, the values of those bins are gathered and sorted
   * (typically a few hundred), and the two are interpolated in Float64 exactly as the reference does.
   * `scratch` holds 4·BINS + n 32-bit words.
   */
  private quantileAbs(p: number, n: number, q: number, scratch: number): number {
    const pos = (n - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    const sub = new Uint32Array(this.memory.buffer, scratch, 4 * BINS);
    sub.fill(0);
    this.kernels.hist11(p, n, scratch);
    const hist = sub.subarray(0, BINS);
    for (let j = 1; j < 4; j++) for (let k = 0; k < BINS; k++) hist[k] += sub[j * BINS + k];
    let before = 0;
    let bin = 0;
    while (before + hist[bin] <= lo) before += hist[bin++];
    let binHi = bin;
    let upTo = before + hist[bin];
    while (upTo <= hi) upTo += hist[++binHi];
    const gathered = scratch + 16 * BINS;
    const count = this.kernels.gather(p, n, bin, binHi, gathered);
    const bits = new Uint32Array(this.memory.buffer, gathered, count).sort();
    const values = new Float32Array(bits.buffer, bits.byteOffset, count);
    const vlo = values[lo - before];
    const vhi = values[hi - before];
    return vlo + (pos - lo) * (vhi - vlo);
  }

  /** BACKEND-MODEL: the MLP in float32 (see the header). The weights stay in WASM memory while the backend lives. */
  loadModel(spec: ModelSpec): Denoiser<WasmTensor> {
    requireThat(spec?.kind === "mlp", "model spec kind", spec?.kind, '"mlp" (reference/models/mlp.ts)');
    const { dim: D, hidden: H, timeEmbedDim: E } = spec;
    const w = spec.weights;
    const expect = { w1: H * (D + E), b1: H, w2: H * H, b2: H, w3: D * H, b3: D } as const;
    for (const [k, n] of Object.entries(expect)) if (w[k as keyof typeof expect]?.length !== n) throw new ShapeError(`MLP weights ${k}`, w[k as keyof typeof expect]?.length ?? 0, `${n} values (dim ${D}, hidden ${H}, timeEmbedDim ${E})`);
    const upload = (a: Float32Array): number => {
      const p = this.allocBlock(blockBytes(4 * a.length));
      this.view().set(a, p >>> 2);
      return p;
    };
    const P = { w1: upload(w.w1), b1: upload(w.b1), w2: upload(w.w2), b2: upload(w.b2), w3: upload(w.w3), b3: upload(w.b3) };
    const silu = (p: number, n: number): void => {
      const f = this.view();
      for (let i = p >>> 2, end = i + n; i < end; i++) { const z = f[i]; f[i] = z / (1 + Math.exp(-z)); }
    };
    return {
      predictionType: spec.predictionType,
      evaluate: (x: WasmTensor, t: number): WasmTensor => {
        const i0 = this.at(x, "model input");
        const B = x.shape[0];
        if (x.length / B !== D) throw new ShapeError("MLP input item size", x.length / B, `the model's dim ${D}`);
        requireFinite("model timestep", t);
        const out = this.alloc(x.shape);
        const emb = timestepEmbedding(t, E);
        this.withScratch(4 * (D + E + 2 * H), (s) => {
          const a = s, h1 = s + 4 * (D + E), h2 = h1 + 4 * H;
          this.view().set(emb, (a >>> 2) + D);
          for (let b = 0; b < B; b++) {
            const f = this.view();
            f.copyWithin(a >>> 2, i0 + b * D, i0 + (b + 1) * D);
            this.kernels.affine(h1, P.w1, P.b1, a, H, D + E);
            silu(h1, H);
            this.kernels.affine(h2, P.w2, P.b2, h1, H, H);
            silu(h2, H);
            this.kernels.affine(out.ptr + 4 * b * D, P.w3, P.b3, h2, D, H);
          }
        });
        return out;
      },
    };
  }

  concat(ts: readonly WasmTensor[]): WasmTensor {
    if (ts.length === 0) throw new ShapeError("concatBatch", 0, "at least one tensor");
    const rest = ts[0].shape.slice(1);
    ts.forEach((t, k) => {
      this.at(t, `concat item ${k}`);
      const r = t.shape.slice(1);
      if (r.length !== rest.length || r.some((d, i) => d !== rest[i])) throw new ShapeError(`concatBatch item ${k} (all but the batch axis)`, [...t.shape], `shape [${rest.join(", ")}]`);
    });
    const out = this.alloc([ts.reduce((s, t) => s + t.shape[0], 0), ...rest]);
    const f = this.view();
    let o = out.ptr >>> 2;
    for (const t of ts) {
      f.copyWithin(o, t.ptr >>> 2, (t.ptr >>> 2) + t.length);
      o += t.length;
    }
    return out;
  }

  split(t: WasmTensor, sizes: readonly number[]): WasmTensor[] {
    const i0 = this.at(t, "split");
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== t.shape[0] || sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new ShapeError("splitBatch sizes", [...sizes], `positive integer sizes summing to the batch size ${t.shape[0]}`);
    const per = t.length / t.shape[0];
    let o = 0;
    return sizes.map((n) => {
      const piece = this.alloc([n, ...t.shape.slice(1)]);
      const from = i0 + o * per;
      this.view().copyWithin(piece.ptr >>> 2, from, from + n * per);
      o += n;
      return piece;
    });
  }
}

// ─── fused + tracked: the fast path for samplers ──────────────────────────────────────────────────

/**
 * `fused(trackMemory(base))` with the memory scope exposed on the fused backend, so that runPipeline
 * sweeps it every step (reference/samplers/scheduler.ts duck-types `sweep`/`adopt`):
 * - the tracked set holds BASE tensors (every fused primitive's base result, materialised forms included);
 * - `sweep(roots)` keeps the base tensors reachable from the roots — adapters/memory.ts's
 *   reachableTensors descends into linear forms' leaves and values — and disposes the rest;
 * - `adopt(form)` tracks a form's base value (a model output made outside the backend); `pin(form)` makes
 *   a form's base tensors permanent (never swept, never adopted: a constant model output, a conditioning).
 *
 * Why this order and not trackMemory(fused(base)): there the tracked objects would be forms, and a
 * sweep would dispose an unreachable form's value even when it is a leaf of a reachable form (fused's
 * combine uses a materialised term's value as the leaf), freeing memory still in use.
 */
export interface SweepingFused<T extends BTensor> extends FusedBackend<T> {
  readonly tracked: TrackedBackend<T>;
  sweep(roots: readonly unknown[]): number;
  adopt(x: LinearForm<T>): LinearForm<T>;
  pin(x: LinearForm<T>): LinearForm<T>;
  readonly liveCount: number;
}

export function sweepingFused<T extends BTensor>(base: Backend<T>): SweepingFused<T> {
  const tracked = trackMemory(base);
  const f = fused(tracked) as SweepingFused<T>;
  const pinned = new WeakSet<object>();
  const baseOf = (x: LinearForm<T>): T[] => (x.value !== undefined ? [x.value] : [...x.leaves]);
  Object.assign(f, {
    tracked,
    sweep: (roots: readonly unknown[]) => tracked.sweep(roots),
    adopt(x: LinearForm<T>) {
      for (const t of baseOf(x)) if (!pinned.has(t)) tracked.adopt(t);
      return x;
    },
    pin(x: LinearForm<T>) {
      for (const t of baseOf(x)) { pinned.add(t); tracked.keep(t); }
      return x;
    },
  });
  Object.defineProperty(f, "liveCount", { get: () => tracked.liveCount });
  return f;
}

/** The wasm-simd backend behind `fused` and `trackMemory`: one kernel pass per materialised form, swept every pipeline step. */
export async function createFusedWasmBackend(options: WasmBackendOptions = {}): Promise<SweepingFused<WasmTensor> & { readonly wasm: WasmBackend }> {
  const wasm = await createWasmBackend(options);
  return Object.assign(sweepingFused(wasm), { wasm });
}
