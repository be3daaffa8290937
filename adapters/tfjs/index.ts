/**
 * The TensorFlow.js backends: "tfjs-cpu" (pure JavaScript), "tfjs-wasm" (XNNPACK/SIMD WebAssembly),
 * "tfjs-webgpu" (WebGPU through Dawn, the `webgpu` npm package) and "tfjs-node" (libtensorflow,
 * @tensorflow/tfjs-node or -node-gpu, an optional peer dependency). spec/10-backends.md, adapters/README.md.
 *
 * - dtype float32: `fromHost` rounds Float64 input to float32 (IEEE round-to-nearest-even, as
 *   `Float32Array.from`; magnitudes above 3.4028235e38 become ±∞). `toHost` widens exactly.
 * - `combine` is one fused expression: tf.tidy(addN(cₖ·xₖ)), terms with cₖ = 0 skipped (as the reference).
 *   AddN takes at most 7 inputs at a time (adapters/webgpu-limits.ts `reduceInGroups`): tfjs-webgpu binds every input as a storage
 *   buffer and does not split a larger AddN (its Concat does), so 8+ terms exceed WebGPU's default
 *   `maxStorageBuffersPerShaderStage` of 8, the pipeline is invalid and tfjs returns the stale contents
 *   of an earlier buffer without an error. Found by SAMP-PNDM (a v-prediction RK4 stage combines 9 terms)
 *   on a software WebGPU adapter; BACKEND-COMBINE `many-terms` now checks k up to 16.
 * - `threshold` sorts |x| per batch item on the device (tf.topk over all elements) and interpolates
 *   the quantile linearly (torch.quantile's default, reference/threshold.ts).
 * - `randn(shape, seed, index)` uses tfjs's own generator, tf.randomNormal (Marsaglia's polar method over
 *   seedrandom's alea, drawn on the host by tfjs-core for every tfjs backend, then uploaded), seeded with a
 *   53-bit hash of (seed, index): counter-based and deterministic, the same numbers on every tfjs backend.
 *   The polar method rejects s = 0 and s ≥ 1, so it has no u = 0 → ∞ failure.
 * - `loadModel` builds the MLP of reference/models/mlp.ts from tfjs ops (matMul, SiLU = z·sigmoid(z));
 *   the sinusoidal timestep embedding is computed on the host in Float64 (reference `timestepEmbedding`)
 *   and uploaded, rounded to float32.
 * - tfjs is a process-wide singleton with one active backend. Several of these Backend objects may live
 *   in one process ("tfjs-cpu" and "tfjs-wasm" side by side): every primitive first makes its own tfjs
 *   backend active (tf.setBackend), then runs synchronously, so interleaved async calls never compute on
 *   the wrong backend. A tensor made by another tfjs backend is moved by tfjs on first use.
 * - On webgpu, tfjs does not raise WebGPU errors (Dawn only prints them; a failed pipeline leaves stale data
 *   in the output). The adapter listens for the device's `uncapturederror` events and throws a DeviceError
 *   from the next call or read-back, so no wrong number is ever returned silently.
 * - Tensors are handles { shape, tensor }. `dispose` frees one now; a handle that is garbage-collected
 *   without `dispose` is freed by a FinalizationRegistry (tfjs memory is not garbage-collected by itself).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Backend, BTensor, Denoiser } from "../contract.ts";
import type { Shape } from "../../reference/tensor.ts";
import { size } from "../../reference/tensor.ts";
import { ConfigError, DeviceError, ShapeError, UnavailableError, require as requireThat, requireFinite } from "../../reference/errors.ts";
import { describeAdapter, navigatorGpu, reduceInGroups, WEBGPU_DEFAULT_STORAGE_BUFFERS } from "../webgpu-limits.ts";
import { timestepEmbedding, type ModelSpec } from "../../reference/models/mlp.ts";
import { withOptional } from "../../reference/optional.ts";

type TF = typeof import("@tensorflow/tfjs");
type TfTensor = import("@tensorflow/tfjs").Tensor;

export type TfjsKind = "cpu" | "wasm" | "webgpu" | "node";
export const TFJS_KINDS: readonly TfjsKind[] = ["cpu", "wasm", "webgpu", "node"];

/** A tensor of a tfjs backend: the tfjs tensor and its shape. */
export interface TfjsTensor extends BTensor {
  readonly shape: Shape;
  readonly tensor: TfTensor;
}

/** How long creating a backend may take before it is reported unavailable (a GPU probe must never hang). */
const INIT_TIMEOUT_MS = 20_000;

/** Creates a tfjs backend; throws UnavailableError (with the reason) when it cannot run on this machine. */
export async function createTfjsBackend(kind: TfjsKind): Promise<Backend<TfjsTensor>> {
  if (!TFJS_KINDS.includes(kind)) throw new ConfigError("tfjs backend kind", kind, `one of ${TFJS_KINDS.join(", ")}`);
  const name = `tfjs-${kind}`;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnavailableError(name, `initialisation did not finish within ${INIT_TIMEOUT_MS / 1000} s`)), INIT_TIMEOUT_MS);
    timer.unref?.();
  });
  try {
    const [tf, tfName, detail] = await Promise.race([INIT[kind](), limit]);
    return new TfjsBackend(name, tf, tfName, detail);
  } catch (e) {
    if (e instanceof UnavailableError) throw e;
    throw new UnavailableError(name, (e as Error)?.message ?? String(e));
  } finally {
    clearTimeout(timer);
  }
}

// ─── initialisation, once per kind and process ──────────────────────────────────────────────────

type Init = [tf: TF, tfBackendName: string, detail: string];
const once = <T>(f: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= f().catch((e) => { p = undefined; throw e; }));
};

const loadTf = (name: string): Promise<TF> => withOptional(name, () => import("@tensorflow/tfjs")) as Promise<TF>;

async function activate(tf: TF, tfName: string, name: string): Promise<void> {
  let ok = false;
  try {
    ok = await tf.setBackend(tfName);
  } catch (e) {
    throw new UnavailableError(name, `tf.setBackend("${tfName}") threw: ${(e as Error).message}`);
  }
  if (!ok) throw new UnavailableError(name, `tf.setBackend("${tfName}") failed to initialise the backend`);
}

const INIT: Record<TfjsKind, () => Promise<Init>> = {
  cpu: once(async () => {
    const tf = await loadTf("tfjs-cpu");
    await activate(tf, "cpu", "tfjs-cpu");
    // The cpu backend prints "looks like you are running TensorFlow.js in Node.js" on first use;
    // choosing tfjs-cpu is deliberate here, so that notice is switched off (and only it).
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return [tf, "cpu", "pure JavaScript"];
  }),

  wasm: once(async () => {
    const tf = await loadTf("tfjs-wasm");
    const wasm = await withOptional("tfjs-wasm", () => import("@tensorflow/tfjs-backend-wasm"));
    // In Node the .wasm binaries are read from the package's dist/ folder (offline, no fetch).
    const dist = join(dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + "/";
    try {
      wasm.setWasmPaths(dist);
    } catch {
      // Already initialised by someone else in this process: their paths stand.
    }
    await activate(tf, "wasm", "tfjs-wasm");
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    return [tf, "wasm", `${simd ? "SIMD" : "no SIMD"}, ${threads ? `${wasm.getThreadsCount()} threads` : "single-threaded (tfjs's multithread probe is false in Node)"}`];
  }),

  webgpu: once(async () => {
    const tf = await loadTf("tfjs-webgpu");
    const adapter = await (await navigatorGpu("tfjs-webgpu")).requestAdapter();
    if (!adapter) throw new UnavailableError("tfjs-webgpu", "no WebGPU adapter: navigator.gpu.requestAdapter() returned null (Dawn found no usable GPU; it needs Vulkan, Metal or D3D12 with a working driver)");
    await withOptional("tfjs-webgpu", () => import("@tensorflow/tfjs-backend-webgpu"));
    await activate(tf, "webgpu", "tfjs-webgpu");
    return [tf, "webgpu", describeAdapter(adapter)];
  }),

  node: once(async () => {
    const errors: string[] = [];
    for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
      try {
        createRequire(import.meta.url).resolve(pkg);
      } catch {
        continue; // not installed
      }
      let tf: TF;
      try {
        tf = (await import(/* @vite-ignore */ pkg as string)) as TF;
      } catch (e) {
        errors.push(`${pkg} is installed but did not load: ${(e as Error).message}`);
        continue;
      }
      await activate(tf, "tensorflow", "tfjs-node");
      return [tf, "tensorflow", pkg];
    }
    throw new UnavailableError("tfjs-node", errors.length ? errors.join("; ") : "@tensorflow/tfjs-node is not installed (optional peer dependency): npm install @tensorflow/tfjs-node");
  }),
};

// ─── the backend ────────────────────────────────────────────────────────────────────────────────

/** Frees the tfjs memory of handles that were garbage-collected without `dispose`. */
const finalizer = new FinalizationRegistry<TfTensor>((t) => {
  try {
    if (!t.isDisposed) t.dispose();
  } catch {
    // The tfjs backend may be gone at exit; nothing left to free.
  }
});

/** 53-bit FNV-1a-style hash of (seed, index), never 0 (tf.randomNormal treats seed 0 as "unseeded"). */
export function streamSeed(seed: number, index: number): number {
  const s = `diffspec-randn:${seed}:${index}`;
  let h1 = 0x811c9dc5 ^ 0;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  const v = (h1 >>> 0) * 2 ** 21 + ((h2 >>> 0) & 0x1fffff);
  return v === 0 ? 1 : v;
}

class TfjsBackend implements Backend<TfjsTensor> {
  readonly dtype = "float32" as const;
  private readonly models: TfTensor[][] = [];
  private closed = false;
  /** WebGPU errors reported by the device since the last check (see the header). */
  private readonly deviceErrors: string[] = [];

  constructor(
    readonly name: string,
    private readonly tf: TF,
    /** The tfjs backend name ("cpu", "wasm", "webgpu", "tensorflow"). */
    readonly tfBackend: string,
    /** What runs underneath (SIMD/threads, GPU adapter, package), for reports. */
    readonly detail: string,
  ) {
    if (tfBackend === "webgpu") {
      const device = (tf.findBackend("webgpu") as unknown as { device?: EventTarget }).device;
      device?.addEventListener("uncapturederror", (ev) => this.deviceErrors.push(String((ev as unknown as { error?: { message?: string } }).error?.message ?? ev.type)));
    }
  }

  /** Throws a DeviceError for WebGPU errors reported since the last check (then forgets them). */
  private checkDevice(): void {
    if (this.deviceErrors.length === 0) return;
    const errors = this.deviceErrors.splice(0);
    throw new DeviceError(this.name, errors);
  }

  /** Makes this backend's tfjs backend the active one (tfjs is a process-wide singleton). */
  private async use(): Promise<TF> {
    if (this.closed) throw new ConfigError(`${this.name} backend`, "closed", "a backend that has not been closed (create a new one)");
    this.checkDevice();
    if (this.tf.getBackend() !== this.tfBackend) await activate(this.tf, this.tfBackend, this.name);
    return this.tf;
  }

  private wrap(t: TfTensor): TfjsTensor {
    const h: TfjsTensor = { shape: [...t.shape], tensor: t };
    finalizer.register(h, t, h);
    return h;
  }

  async fromHost(data: ArrayLike<number>, shape: Shape): Promise<TfjsTensor> {
    const n = size(shape);
    if (data.length !== n) throw new ShapeError(`${this.name}.fromHost data length`, data.length, `${n} (the product of shape [${shape.join(", ")}])`);
    const tf = await this.use();
    return this.wrap(tf.tensor(Float32Array.from(data), [...shape], "float32"));
  }

  async toHost(t: TfjsTensor): Promise<Float64Array> {
    // cpu/wasm/node: dataSync is a copy; webgpu: data() waits for the GPU read-back.
    const v = this.tfBackend === "webgpu" ? await t.tensor.data() : t.tensor.dataSync();
    this.checkDevice();
    return Float64Array.from(v as Float32Array);
  }

  async combine(terms: readonly TfjsTensor[], coeffs: readonly number[]): Promise<TfjsTensor> {
    if (terms.length === 0 || terms.length !== coeffs.length) throw new ShapeError(`${this.name}.combine`, terms.length, `as many terms as coefficients (${coeffs.length}), at least one`);
    terms.forEach((t, k) => checkSameShape(`${this.name}.combine term ${k}`, terms[0].shape, t.shape));
    coeffs.forEach((c, k) => requireFinite(`${this.name}.combine coeffs[${k}]`, c));
    const tf = await this.use();
    return this.wrap(
      tf.tidy(() => {
        const parts = terms.flatMap((t, k) => (coeffs[k] === 0 ? [] : [tf.mul(t.tensor, tf.scalar(coeffs[k], "float32"))]));
        if (parts.length === 0) return tf.zeros([...terms[0].shape], "float32");
        return reduceInGroups(parts, WEBGPU_DEFAULT_STORAGE_BUFFERS - 1, (group) => tf.addN(group)); // inputs + the output
      }),
    );
  }

  async randn(shape: Shape, seed: number, index: number): Promise<TfjsTensor> {
    size(shape);
    requireThat(Number.isFinite(seed), `${this.name}.randn seed`, seed, "a finite number");
    requireThat(Number.isInteger(index) && index >= 0, `${this.name}.randn index`, index, "an integer ≥ 0");
    const tf = await this.use();
    return this.wrap(tf.randomNormal([...shape], 0, 1, "float32", streamSeed(seed, index)));
  }

  async clamp(t: TfjsTensor, lo: number, hi: number): Promise<TfjsTensor> {
    requireThat(!Number.isNaN(lo) && !Number.isNaN(hi) && lo <= hi, `${this.name}.clamp bounds`, [lo, hi], "numbers with lo ≤ hi");
    const tf = await this.use();
    return this.wrap(clip(tf, t.tensor, lo, hi));
  }

  async threshold(t: TfjsTensor, ratio: number, maxValue: number): Promise<TfjsTensor> {
    requireThat(ratio > 0 && ratio <= 1, "dynamicThresholdingRatio", ratio, "a number in (0, 1]");
    requireFinite("sampleMaxValue", maxValue);
    // diffusers clamps s into [1, maxValue]; with maxValue < 1 that is maxValue itself (reference/threshold.ts).
    requireThat(maxValue > 0, "sampleMaxValue", maxValue, "a number > 0");
    const tf = await this.use();
    const B = t.shape[0];
    const N = size(t.shape) / B;
    // Linear-interpolation quantile: position (N − 1)·ratio in the ascending order, computed on the host.
    const pos = (N - 1) * ratio;
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, N - 1);
    const frac = pos - lo;
    return this.wrap(
      tf.tidy(() => {
        const x = tf.reshape(t.tensor, [B, N]);
        const desc = tf.topk(tf.abs(x), N, true).values; // per row, descending: ascending index i ↔ N − 1 − i
        const vLo = tf.slice(desc, [0, N - 1 - lo], [B, 1]);
        const vHi = tf.slice(desc, [0, N - 1 - hi], [B, 1]);
        const q = frac === 0 ? vLo : tf.add(vLo, tf.mul(tf.scalar(frac, "float32"), tf.sub(vHi, vLo)));
        const s = maxValue < 1 ? tf.fill([B, 1], maxValue, "float32") : clip(tf, q, 1, maxValue);
        return tf.reshape(tf.div(tf.minimum(tf.maximum(x, tf.neg(s)), s), s), [...t.shape]);
      }),
    );
  }

  async concat(ts: readonly TfjsTensor[]): Promise<TfjsTensor> {
    if (ts.length === 0) throw new ShapeError(`${this.name}.concat`, 0, "at least one tensor");
    const rest = ts[0].shape.slice(1);
    ts.forEach((t, k) => checkSameShape(`${this.name}.concat item ${k} (all but the batch axis)`, rest, t.shape.slice(1)));
    const tf = await this.use();
    return this.wrap(ts.length === 1 ? tf.clone(ts[0].tensor) : tf.concat(ts.map((t) => t.tensor), 0));
  }

  async split(t: TfjsTensor, sizes: readonly number[]): Promise<TfjsTensor[]> {
    sizes.forEach((n, k) => requireThat(Number.isInteger(n) && n > 0, `${this.name}.split sizes[${k}]`, n, "a positive integer"));
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== t.shape[0]) throw new ShapeError(`${this.name}.split sizes`, [...sizes], `sizes summing to the batch size ${t.shape[0]}`);
    const tf = await this.use();
    if (sizes.length === 1) return [this.wrap(tf.clone(t.tensor))];
    return tf.split(t.tensor, [...sizes], 0).map((p) => this.wrap(p));
  }

  dispose(t: TfjsTensor): void {
    finalizer.unregister(t);
    if (!t.tensor.isDisposed) t.tensor.dispose();
  }

  /** Frees the models this backend loaded. The tfjs backend itself stays registered (it is process-wide). */
  close(): void {
    for (const ws of this.models.splice(0)) for (const w of ws) w.dispose();
    this.closed = true;
  }

  /** BACKEND-MODEL: the MLP of reference/models/mlp.ts from tfjs ops. */
  async loadModel(spec: ModelSpec): Promise<Denoiser<TfjsTensor>> {
    requireThat(spec?.kind === "mlp", "model kind", spec?.kind, '"mlp" (reference/models/mlp.ts)');
    const tf = await this.use();
    const { dim: D, hidden: H, timeEmbedDim: E } = spec;
    const w = spec.weights;
    const mat = (v: Float32Array, r: number, c: number, what: string) => {
      if (v.length !== r * c) throw new ShapeError(`MLP ${what}`, v.length, `${r}×${c} = ${r * c} values`);
      return tf.tensor2d(v, [r, c], "float32");
    };
    const weights = [mat(w.w1, H, D + E, "w1"), mat(w.b1, 1, H, "b1"), mat(w.w2, H, H, "w2"), mat(w.b2, 1, H, "b2"), mat(w.w3, D, H, "w3"), mat(w.b3, 1, D, "b3")];
    this.models.push(weights);
    const [w1, b1, w2, b2, w3, b3] = weights;
    return {
      predictionType: spec.predictionType,
      evaluate: async (x: TfjsTensor, t: number): Promise<TfjsTensor> => {
        requireFinite("timestep", t);
        const B = x.shape[0];
        const n = size(x.shape) / B;
        if (n !== D) throw new ShapeError("MLP input item size", n, `the model's dim ${D}`);
        const emb = Float32Array.from(timestepEmbedding(t, E));
        await this.use();
        return this.wrap(
          tf.tidy(() => {
            const silu = (z: TfTensor) => tf.mul(z, tf.sigmoid(z));
            const e = tf.tile(tf.tensor2d(emb, [1, E], "float32"), [B, 1]);
            const input = tf.concat([tf.reshape(x.tensor, [B, D]), e], 1);
            const h1 = silu(tf.add(tf.matMul(input, w1, false, true), b1));
            const h2 = silu(tf.add(tf.matMul(h1, w2, false, true), b2));
            return tf.reshape(tf.add(tf.matMul(h2, w3, false, true), b3), [...x.shape]);
          }),
        );
      },
    };
  }

  /** Bytes tfjs holds (tf.memory(): GPU bytes for webgpu, all tensor bytes otherwise), process-wide. */
  async memoryBytes(): Promise<number | undefined> {
    const tf = await this.use();
    const m = tf.memory() as { numBytes: number; numBytesInGPU?: number };
    return m.numBytesInGPU ?? m.numBytes;
  }
}

/**
 * clipByValue with the bounds rounded to float32 first. tfjs-wasm's XNNPACK clamp rejects min = max
 * ("xnn_create_clamp_nc_f32 … status 2") and returns uninitialised memory; tfjs-core answers min === max
 * with a fill, but only when the bounds are equal as Float64 numbers. Bounds that differ in Float64 and
 * round to one float32 value (clamp(x, 0.5, 0.50000001), or a threshold s clipped to [1, 1 + 2⁻⁵²])
 * hit the bug; rounding first sends them to the fill. Found by BACKEND-CLAMP and BACKEND-THRESHOLD.
 */
function clip(tf: TF, x: TfTensor, lo: number, hi: number): TfTensor {
  return tf.clipByValue(x, Math.fround(lo), Math.fround(hi));
}

function checkSameShape(what: string, a: Shape, b: Shape): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) throw new ShapeError(what, [...b], `shape [${a.join(", ")}]`);
}
