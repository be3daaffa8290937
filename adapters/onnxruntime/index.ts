/**
 * The onnxruntime-node backends: "onnxruntime-cpu", "onnxruntime-webgpu" (Dawn, bundled with
 * onnxruntime-node 1.30) and "onnxruntime-cuda" (only where the user's install has the CUDA provider).
 * spec/10-backends.md, adapters/README.md.
 *
 * - dtype float32. Every primitive runs as a small ONNX graph emitted by adapters/onnx/models.ts, on the
 *   chosen execution provider: one InferenceSession per graph kind (and per k for combine/concat/split),
 *   created on first use, cached and reused for every shape (the graphs' inputs have unknown rank).
 * - `combine(terms, coeffs)`: y = ((x₀c₀ + x₁c₁) + x₂c₂) + …, the coefficients fed as float32 scalars that
 *   reach the GPU as shader uniforms, without an upload (emitCombine's doc). Terms with cᵢ = 0 are dropped on
 *   the host first (as linearCombination does, so 0·∞ never makes NaN).
 * - `threshold`: one graph (emitThreshold's doc): TopK of |x| per batch item, the linear-interpolation
 *   quantile, clamp and divide; the host only computes the integer positions from the item size and ratio.
 *   (On webgpu onnxruntime has no TopK kernel and runs that node on the CPU, with the copies it needs.)
 * - `randn(shape, seed, index)`: drawn on the host with the reference stream
 *   (NOISE-PHILOX, reference/philox.ts), rounded to float32 and uploaded. So it is
 *   counter-based, deterministic and equal to the reference backend's noise up to float32 rounding; it
 *   is not generated on the device (ONNX RandomNormal's seed is fixed per session, not per call).
 * - On "webgpu", Dawn's validation is off by default (`webgpuValidationMode`); measured on an H200
 *   (onnxruntime-node 1.30): combine k = 2 of 16×1×128×128 ≈ 140 µs per call, k = 4 ≈ 180 µs, on [2, 3]
 *   ≈ 85 µs (the per-run floor of the provider), clamp ≈ 120 µs, threshold ≈ 1.6 ms (TopK is not a WebGPU
 *   kernel: onnxruntime runs it on the CPU with copies), fromHost/toHost of 1 MB ≈ 1.1/1.8 ms.
 *   onnxruntime-cpu on the same 16-core host: combine k = 2 ≈ 0.3–0.5 ms (memory-bound), [2, 3] ≈ 15–20 µs.
 * - Tensors stay on the device between steps where onnxruntime-node allows it: on "webgpu" every tensor
 *   is a GPU buffer (sessions use preferredOutputLocation "gpu-buffer"; uploads and downloads go through
 *   an Identity graph, since onnxruntime-node 1.30 has no Tensor.getData() for GPU buffers). The
 *   onnxruntime-node API exposes device tensors only for WebGPU, so on "cuda" and "cpu" tensors live in
 *   host memory and each run copies its inputs to the provider.
 * - Availability: "webgpu" and "cuda" are probed once per process in a child process (a tiny Add graph,
 *   with a time limit, so a hanging driver cannot hang this process); a failure becomes
 *   UnavailableError with the provider's own message.
 * - `close()` releases every session; the backend cannot be used afterwards.
 */
import * as ort from "onnxruntime-node";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Backend, BTensor, Conditioning, Denoiser, PredictionType } from "../contract.ts";
import { PREDICTION_TYPES } from "../contract.ts";
import type { Shape } from "../../reference/tensor.ts";
import { size } from "../../reference/tensor.ts";
import { philoxNormals } from "../../reference/philox.ts";
import type { ModelSpec } from "../../reference/models/mlp.ts";
import { ConfigError, InputFileError, ShapeError, StateError, UnavailableError, require as requireThat, requireFinite, requireOneOf } from "../../reference/errors.ts";
import { webgpuAdapterInfo } from "../webgpu-limits.ts";
import { DENOISER_IO, emitClamp, emitCombine, emitConcat, emitIdentity, emitMlp, emitSplit, emitThreshold, thresholdFeeds } from "../onnx/models.ts";
import { GraphBuilder } from "../onnx/builder.ts";

export type OrtProvider = "cpu" | "webgpu" | "cuda";
export const ORT_PROVIDERS: readonly OrtProvider[] = ["cpu", "webgpu", "cuda"];

export interface OnnxruntimeBackendOptions {
  /** Threads of onnxruntime's intra-op pool (default: onnxruntime's choice, the number of cores). */
  readonly intraOpNumThreads?: number;
  /** Let idle pool threads spin between runs (default false: a sampler alternates host work and short runs, and spinning threads then steal the host's cores; measured 3× slower on 2 cores). */
  readonly allowSpinning?: boolean;
  /** CUDA device index (default 0). */
  readonly deviceId?: number;
  /**
   * Dawn's validation of WebGPU calls (onnxruntime's webgpu option validationMode): "disabled" (default,
   * measured 1.2–2× less per-run overhead), "wgpuOnly", "basic" or "full" (for debugging a provider).
   */
  readonly webgpuValidationMode?: "disabled" | "wgpuOnly" | "basic" | "full";
  /** Time limit of the availability probe of webgpu/cuda, ms (default 15000). */
  readonly probeTimeoutMs?: number;
}

/** A tensor of an onnxruntime backend: its shape and the ort.Tensor (host memory, or a GPU buffer on webgpu). */
export class OrtTensor implements BTensor {
  constructor(
    readonly shape: Shape,
    readonly value: ort.Tensor,
    /** The backend that made it (tensors of another backend or provider are refused). */
    readonly owner: OnnxruntimeBackend,
  ) {}
}

type Session = ort.InferenceSession;
type Feeds = Record<string, ort.Tensor>;

const f32 = (values: ArrayLike<number>, dims: readonly number[]): ort.Tensor => new ort.Tensor("float32", Float32Array.from(values), dims);
const i64 = (values: readonly number[], dims: readonly number[]): ort.Tensor => new ort.Tensor("int64", BigInt64Array.from(values.map((v) => BigInt(v))), dims);

/** Creates an onnxruntime backend; throws UnavailableError (with the reason) when the provider cannot run here. */
export async function createOnnxruntimeBackend(provider: OrtProvider, options: OnnxruntimeBackendOptions = {}): Promise<OnnxruntimeBackend> {
  requireOneOf("onnxruntime provider", provider, ORT_PROVIDERS);
  const name = `onnxruntime-${provider}`;
  if (provider !== "cpu") {
    const reason = await providerUnavailableReason(provider, options.probeTimeoutMs ?? 15_000);
    if (reason) throw new UnavailableError(name, reason);
  }
  const backend = new OnnxruntimeBackend(provider, options);
  if (provider === "webgpu") backend.adapter = (await webgpuAdapterInfo())?.description;
  return backend;
}

export class OnnxruntimeBackend implements Backend<OrtTensor> {
  readonly name: string;
  readonly dtype = "float32" as const;
  private readonly sessions = new Map<string, Promise<Session>>();
  private userSessions = 0;
  private closed = false;

  constructor(
    readonly provider: OrtProvider,
    private readonly options: OnnxruntimeBackendOptions = {},
  ) {
    this.name = `onnxruntime-${provider}`;
  }

  /** On webgpu: the default adapter's description (adapters/webgpu-limits.ts), for reports. */
  adapter?: string;

  /** For reports: the onnxruntime-node version and execution provider (and the WebGPU adapter). */
  get detail(): string {
    return `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}, ${this.provider} execution provider${this.adapter ? ` on ${this.adapter}` : ""}`;
  }

  /** True when tensors of this backend are GPU buffers (webgpu). */
  get onDevice(): boolean {
    return this.provider === "webgpu";
  }

  /** Number of InferenceSessions created so far (each graph kind once; for tests and reports). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  // ---------------------------------------------------------------- sessions

  /** Session options for this provider. `outputsOnDevice`: keep outputs as GPU buffers (webgpu only). */
  sessionOptions(outputsOnDevice = true): ort.InferenceSession.SessionOptions {
    const o = this.options;
    const common: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: "all",
      logSeverityLevel: 3,
      ...(o.intraOpNumThreads ? { intraOpNumThreads: o.intraOpNumThreads } : {}),
      extra: { session: { intra_op: { allow_spinning: o.allowSpinning ? "1" : "0" } } },
    };
    if (this.provider === "webgpu") {
      const ep = { name: "webgpu", validationMode: o.webgpuValidationMode ?? "disabled" } as ort.InferenceSession.ExecutionProviderConfig;
      return { ...common, executionProviders: [ep], preferredOutputLocation: outputsOnDevice ? "gpu-buffer" : "cpu" };
    }
    if (this.provider === "cuda") return { ...common, executionProviders: [{ name: "cuda", deviceId: o.deviceId ?? 0 } as ort.InferenceSession.ExecutionProviderConfig] };
    return { ...common, executionProviders: ["cpu"] };
  }

  /** Creates a session on this backend's provider (not cached; released by close()). */
  async createSession(model: Uint8Array | string, outputsOnDevice = true): Promise<Session> {
    const key = `user:${this.userSessions++}`;
    this.assertOpen();
    const p = ort.InferenceSession.create(model as Uint8Array, this.sessionOptions(outputsOnDevice));
    this.sessions.set(key, p);
    p.catch(() => this.sessions.delete(key));
    return p;
  }

  /** The cached session for `key`, emitting its graph with `emit` on first use. */
  private session(key: string, emit: () => Uint8Array, outputsOnDevice = true): Promise<Session> {
    this.assertOpen();
    let p = this.sessions.get(key);
    if (!p) {
      p = ort.InferenceSession.create(emit(), this.sessionOptions(outputsOnDevice));
      this.sessions.set(key, p);
      p.catch(() => this.sessions.delete(key));
    }
    return p;
  }

  private assertOpen(): void {
    if (this.closed) throw new StateError(`backend "${this.name}" was closed; create a new one`);
  }

  private own(t: OrtTensor, what: string): ort.Tensor {
    if (!(t instanceof OrtTensor) || t.owner !== this) throw new ConfigError(what, t && typeof t === "object" ? `a tensor of ${t instanceof OrtTensor ? t.owner.name + " (another instance)" : "another backend"}` : t, `a tensor made by this ${this.name} backend`);
    return t.value;
  }

  private wrap(v: ort.OnnxValue, shape?: Shape): OrtTensor {
    const t = v as ort.Tensor;
    return new OrtTensor(shape ? [...shape] : t.dims.map(Number), t, this);
  }

  // ---------------------------------------------------------------- BACKEND-TRANSFER

  async fromHost(data: ArrayLike<number>, shape: Shape): Promise<OrtTensor> {
    this.assertOpen();
    const n = size(shape);
    if (data.length !== n) throw new ShapeError("data length", data.length, `${n} (the product of shape [${shape.join(", ")}])`);
    const host = f32(data, shape);
    if (!this.onDevice) return new OrtTensor([...shape], host, this);
    const s = await this.session("upload", emitIdentity, true);
    return this.wrap((await s.run({ x: host })).y, shape);
  }

  async toHost(t: OrtTensor): Promise<Float64Array> {
    const v = this.own(t, "toHost tensor");
    if (v.location === "cpu") return Float64Array.from(v.data as Float32Array);
    const s = await this.session("download", emitIdentity, false);
    return Float64Array.from((await s.run({ x: v })).y.data as Float32Array);
  }

  // ---------------------------------------------------------------- BACKEND-COMBINE

  async combine(terms: readonly OrtTensor[], coeffs: readonly number[]): Promise<OrtTensor> {
    if (terms.length === 0 || terms.length !== coeffs.length) {
      throw new ShapeError("combine", terms.length, `as many terms as coefficients (${coeffs.length}), at least one`);
    }
    const shape = terms[0].shape;
    terms.forEach((t, k) => {
      this.own(t, `combine term ${k}`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new ShapeError(`combine term ${k}`, [...t.shape], `shape [${shape.join(", ")}]`);
    });
    const keep = coeffs.map((c, i) => i).filter((i) => coeffs[i] !== 0);
    if (keep.length === 0) return this.fromHost(new Float32Array(size(shape)), shape);
    const k = keep.length;
    const s = await this.session(`combine:${k}`, () => emitCombine(k));
    const feeds: Feeds = {};
    keep.forEach((i, j) => {
      feeds[`x${j}`] = terms[i].value;
      feeds[`c${j}`] = f32([coeffs[i]], []);
    });
    return this.wrap((await s.run(feeds)).y, shape);
  }

  // ---------------------------------------------------------------- optional primitives

  /** BACKEND-RANDN: the reference backend's stream (NOISE-PHILOX, reference/philox.ts), rounded to float32 and uploaded. */
  randn(shape: Shape, seed: number, index: number): Promise<OrtTensor> {
    return this.fromHost(philoxNormals(size(shape), seed, index), shape);
  }

  async clamp(t: OrtTensor, lo: number, hi: number): Promise<OrtTensor> {
    const x = this.own(t, "clamp tensor");
    const s = await this.session("clamp", emitClamp);
    return this.wrap((await s.run({ x, lo: f32([lo], []), hi: f32([hi], []) })).y, t.shape);
  }

  async threshold(t: OrtTensor, ratio: number, maxValue: number): Promise<OrtTensor> {
    const x = this.own(t, "threshold tensor");
    requireThat(ratio > 0 && ratio <= 1, "dynamicThresholdingRatio", ratio, "a number in (0, 1]");
    requireFinite("sampleMaxValue", maxValue);
    // diffusers clamps s into [1, maxValue]; with maxValue < 1 that is maxValue itself (reference/threshold.ts).
    requireThat(maxValue > 0, "sampleMaxValue", maxValue, "a number > 0");
    if (t.shape.length === 0) throw new ShapeError("threshold tensor", [], "a batch tensor [B, …] (rank ≥ 1)");
    const itemSize = size(t.shape) / t.shape[0];
    const p = thresholdFeeds(itemSize, ratio);
    const s = await this.session("threshold", emitThreshold);
    const feeds: Feeds = { x, k: i64([p.k], [1]), i_lo: i64([p.iLo], []), i_hi: i64([p.iHi], []), frac: f32([p.frac], []), max_value: f32([maxValue], []) };
    return this.wrap((await s.run(feeds)).y, t.shape);
  }

  async concat(ts: readonly OrtTensor[]): Promise<OrtTensor> {
    if (ts.length === 0) throw new ShapeError("concat", 0, "at least one tensor");
    const rest = ts[0].shape.slice(1);
    ts.forEach((t, k) => {
      this.own(t, `concat item ${k}`);
      const r = t.shape.slice(1);
      if (t.shape.length === 0 || r.length !== rest.length || r.some((d, i) => d !== rest[i])) throw new ShapeError(`concat item ${k} (all but the batch axis)`, [...t.shape.slice(1)], `shape [${rest.join(", ")}]`);
    });
    const s = await this.session(`concat:${ts.length}`, () => emitConcat(ts.length));
    const feeds: Feeds = {};
    ts.forEach((t, i) => (feeds[`x${i}`] = t.value));
    const batch = ts.reduce((a, t) => a + t.shape[0], 0);
    return this.wrap((await s.run(feeds)).y, [batch, ...rest]);
  }

  async split(t: OrtTensor, sizes: readonly number[]): Promise<OrtTensor[]> {
    const x = this.own(t, "split tensor");
    const total = sizes.reduce((a, b) => a + b, 0);
    if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n <= 0) || total !== t.shape[0]) {
      throw new ShapeError("split sizes", [...sizes], `positive integers summing to the batch size ${t.shape[0]}`);
    }
    const n = sizes.length;
    const s = await this.session(`split:${n}`, () => emitSplit(n));
    const out = await s.run({ x, sizes: i64(sizes, [n]) });
    return sizes.map((b, i) => this.wrap(out[`y${i}`], [b, ...t.shape.slice(1)]));
  }

  dispose(t: OrtTensor): void {
    if (t instanceof OrtTensor && t.owner === this) t.value.dispose();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.release()).catch(() => undefined)));
  }

  /** Releases one session made by createSession now (instead of at close()). */
  async releaseSession(session: Session): Promise<void> {
    for (const [key, p] of this.sessions) {
      if ((await p.catch(() => undefined)) === session) this.sessions.delete(key);
    }
    await session.release().catch(() => undefined);
  }

  // ---------------------------------------------------------------- BACKEND-MODEL

  /**
   * The MLP of reference/models/mlp.ts as an ONNX graph (adapters/onnx/models.ts emitMlp), on this
   * provider. One session per item shape (the graph's sample input has a fixed rank). Conditioning is
   * ignored, as in the reference MLP.
   */
  loadModel(spec: ModelSpec): Denoiser<OrtTensor> {
    this.assertOpen();
    requireThat(spec?.kind === "mlp", "model spec kind", spec?.kind, '"mlp"');
    const byShape = new Map<string, Promise<OnnxDenoiser>>();
    const backend = this;
    return {
      predictionType: spec.predictionType,
      async evaluate(sample: OrtTensor, timestep: number): Promise<OrtTensor> {
        const item = sample.shape.slice(1);
        const key = item.join("x");
        let d = byShape.get(key);
        if (!d) {
          if (size(item) !== spec.dim) throw new ShapeError("MLP input item size", size(item), `the model's dim ${spec.dim}`);
          d = loadOnnxDenoiser(backend, emitMlp(spec, { itemShape: item }), { predictionType: spec.predictionType });
          byShape.set(key, d);
          d.catch(() => byShape.delete(key));
        }
        return (await d).evaluate(sample, timestep);
      },
    };
  }
}

// ------------------------------------------------------------------ any ONNX noise predictor

/** What loadOnnxDenoiser found in the model (also shown in its errors). */
export interface OnnxDenoiserInterface {
  readonly sample: { readonly shape: readonly (number | string)[] | null };
  readonly timestep: { readonly type: string; readonly shape: readonly (number | string)[] };
  readonly encoderHiddenStates?: { readonly shape: readonly (number | string)[] | null };
  readonly encoderAttentionMask?: { readonly type: string };
  readonly output: string;
}

export interface LoadOnnxDenoiserOptions {
  readonly predictionType: PredictionType;
}

const EXPECTED_INTERFACE =
  "inputs `sample` (float32 [batch, …]) and `timestep` (float32, float64, int64 or int32; a scalar, [1] or [batch]), optionally `encoder_hidden_states` (float32 [batch, tokens, dim]) and `encoder_attention_mask` ([batch, tokens]); one output of the sample's shape (named model_output, out_sample or noise_pred when there are several)";
const OUTPUT_NAMES = [DENOISER_IO.output, "out_sample", "noise_pred"];
const TIMESTEP_TYPES = ["float32", "float64", "int64", "int32"];

/**
 * Loads any ONNX noise predictor with inputs (sample, timestep[, encoder_hidden_states[, encoder_attention_mask]])
 * — e.g. a diffusers UNet exported to ONNX — as a Denoiser on an onnxruntime backend. The model's inputs
 * are validated on load (InputFileError naming what is expected) and the sample's shape on every call
 * (ShapeError naming the model's declared shape).
 */
export async function loadOnnxDenoiser(backend: Backend<any>, pathOrBytes: string | Uint8Array, options: LoadOnnxDenoiserOptions): Promise<OnnxDenoiser> {
  if (!(backend instanceof OnnxruntimeBackend)) throw new ConfigError("loadOnnxDenoiser backend", (backend as Backend | undefined)?.name ?? backend, "an onnxruntime backend (createOnnxruntimeBackend or createBackend(\"onnxruntime-…\"))");
  requireOneOf("predictionType", options?.predictionType, PREDICTION_TYPES);
  const where = typeof pathOrBytes === "string" ? pathOrBytes : `<ONNX model, ${pathOrBytes.byteLength} bytes>`;
  let bytes: Uint8Array;
  if (typeof pathOrBytes === "string") {
    try {
      bytes = new Uint8Array(await readFile(pathOrBytes));
    } catch (e) {
      throw new InputFileError(where, `cannot read it: ${(e as Error).message}`);
    }
  } else bytes = pathOrBytes;
  let session: Session;
  try {
    session = await backend.createSession(bytes, true);
  } catch (e) {
    throw new InputFileError(where, `onnxruntime could not load it as an ONNX model: ${(e as Error).message}`);
  }
  let iface: OnnxDenoiserInterface;
  try {
    iface = describeInterface(session, where);
  } catch (e) {
    await backend.releaseSession(session);
    throw e;
  }
  return new OnnxDenoiser(backend, session, iface, options.predictionType);
}

function describeInterface(session: Session, where: string): OnnxDenoiserInterface {
  const meta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const tensorMeta = (name: string) => {
    const m = meta.get(name);
    if (!m) return undefined;
    if (!m.isTensor) throw new InputFileError(where, `input \`${name}\` is not a tensor; expected ${EXPECTED_INTERFACE}`);
    return m as ort.InferenceSession.TensorValueMetadata;
  };
  const known = new Set<string>([DENOISER_IO.sample, DENOISER_IO.timestep, DENOISER_IO.encoderHiddenStates, DENOISER_IO.encoderAttentionMask]);
  const extra = session.inputNames.filter((n) => !known.has(n));
  const sample = tensorMeta(DENOISER_IO.sample);
  const timestep = tensorMeta(DENOISER_IO.timestep);
  const problems: string[] = [];
  if (!sample) problems.push("it has no input `sample`");
  if (!timestep) problems.push("it has no input `timestep`");
  if (extra.length) problems.push(`it has inputs this loader cannot feed: ${extra.map((n) => `\`${n}\``).join(", ")}`);
  if (sample && sample.type !== "float32") problems.push(`\`sample\` is ${sample.type}, not float32 (this backend computes in float32)`);
  if (timestep && !TIMESTEP_TYPES.includes(timestep.type)) problems.push(`\`timestep\` is ${timestep.type}, not one of ${TIMESTEP_TYPES.join(", ")}`);
  if (timestep && timestep.shape.length > 1) problems.push(`\`timestep\` has rank ${timestep.shape.length} ([${timestep.shape.join(", ")}]), not a scalar, [1] or [batch]`);
  const ehs = tensorMeta(DENOISER_IO.encoderHiddenStates);
  if (ehs && ehs.type !== "float32") problems.push(`\`encoder_hidden_states\` is ${ehs.type}, not float32`);
  if (ehs && ehs.shape.length !== 0 && ehs.shape.length !== 3) problems.push(`\`encoder_hidden_states\` has rank ${ehs.shape.length}, not 3 ([batch, tokens, dim])`);
  const mask = tensorMeta(DENOISER_IO.encoderAttentionMask);
  if (mask && !["float32", "int64", "int32", "bool"].includes(mask.type)) problems.push(`\`encoder_attention_mask\` is ${mask.type}, not float32, int64, int32 or bool`);
  const outs = session.outputNames;
  const output = outs.length === 1 ? outs[0] : OUTPUT_NAMES.find((n) => outs.includes(n));
  if (!output) problems.push(`its outputs are ${outs.map((n) => `\`${n}\``).join(", ")}: none is named ${OUTPUT_NAMES.join(", ")}`);
  if (problems.length) throw new InputFileError(where, `not a noise predictor this loader can run: ${problems.join("; ")}. Expected ${EXPECTED_INTERFACE}`);
  // A declared shape of rank 0 may mean "unknown rank": for the sample (never a scalar) it does.
  return {
    sample: { shape: sample!.shape.length === 0 ? null : sample!.shape },
    timestep: { type: timestep!.type, shape: timestep!.shape },
    ...(ehs ? { encoderHiddenStates: { shape: ehs.shape.length === 0 ? null : ehs.shape } } : {}),
    ...(mask ? { encoderAttentionMask: { type: mask.type } } : {}),
    output: output!,
  };
}

/** A Denoiser running an ONNX noise predictor on an onnxruntime backend (made by loadOnnxDenoiser). */
export class OnnxDenoiser implements Denoiser<OrtTensor> {
  constructor(
    readonly backend: OnnxruntimeBackend,
    private readonly session: Session,
    readonly io: OnnxDenoiserInterface,
    readonly predictionType: PredictionType,
  ) {}

  async evaluate(sample: OrtTensor, timestep: number, cond?: Conditioning<OrtTensor>): Promise<OrtTensor> {
    const b = this.backend;
    if (!(sample instanceof OrtTensor) || sample.owner !== b) throw new ConfigError("denoiser sample", sample?.shape ? "a tensor of another backend" : sample, `a tensor of the ${b.name} backend the model was loaded on`);
    requireFinite("timestep", timestep);
    checkShape("sample", sample.shape, this.io.sample.shape);
    const B = sample.shape[0];
    const feeds: Feeds = { [DENOISER_IO.sample]: sample.value, [DENOISER_IO.timestep]: this.timestepTensor(timestep, B) };
    if (this.io.encoderHiddenStates) {
      if (!cond) throw new ConfigError("conditioning", undefined, "embeddings [batch, tokens, dim]: the model has an encoder_hidden_states input");
      if (!(cond.embeddings instanceof OrtTensor) || cond.embeddings.owner !== b) throw new ConfigError("conditioning embeddings", "a tensor of another backend", `a tensor of the ${b.name} backend`);
      checkShape("encoder_hidden_states", cond.embeddings.shape, this.io.encoderHiddenStates.shape);
      if (cond.embeddings.shape.length !== 3 || cond.embeddings.shape[0] !== B) throw new ShapeError("conditioning embeddings", [...cond.embeddings.shape], `[${B}, tokens, dim] (the sample's batch ${B})`);
      feeds[DENOISER_IO.encoderHiddenStates] = cond.embeddings.value;
      if (this.io.encoderAttentionMask) feeds[DENOISER_IO.encoderAttentionMask] = await this.maskTensor(cond, B, cond.embeddings.shape[1]);
    } else if (cond) {
      throw new ConfigError("conditioning", "given", "none: this model has no encoder_hidden_states input (it is unconditional)");
    }
    const out = (await this.session.run(feeds))[this.io.output] as ort.Tensor;
    const dims = out.dims.map(Number);
    if (dims.length !== sample.shape.length || dims.some((d, i) => d !== sample.shape[i])) throw new ShapeError("model output", dims, `the sample's shape [${sample.shape.join(", ")}]`);
    return new OrtTensor([...sample.shape], out, b);
  }

  private timestepTensor(t: number, batch: number): ort.Tensor {
    const declared = this.io.timestep.shape;
    const dims = declared.length === 0 ? [] : [declared[0] === 1 ? 1 : batch];
    const n = dims.length ? dims[0] : 1;
    switch (this.io.timestep.type) {
      case "float64":
        return new ort.Tensor("float64", new Float64Array(n).fill(t), dims);
      case "int64":
      case "int32":
        requireThat(Number.isInteger(t), "timestep", t, `an integer: the model's timestep input is ${this.io.timestep.type}`);
        return this.io.timestep.type === "int64" ? new ort.Tensor("int64", new BigInt64Array(n).fill(BigInt(t)), dims) : new ort.Tensor("int32", new Int32Array(n).fill(t), dims);
      default:
        return new ort.Tensor("float32", new Float32Array(n).fill(t), dims);
    }
  }

  private async maskTensor(cond: Conditioning<OrtTensor>, batch: number, tokens: number): Promise<ort.Tensor> {
    const type = this.io.encoderAttentionMask!.type;
    let host: Float64Array;
    if (cond.mask) {
      if (cond.mask.shape.length !== 2 || cond.mask.shape[0] !== batch || cond.mask.shape[1] !== tokens) throw new ShapeError("conditioning mask", [...cond.mask.shape], `[${batch}, ${tokens}] (1 = keep)`);
      if (type === "float32") return cond.mask.value;
      host = await this.backend.toHost(cond.mask);
    } else host = new Float64Array(batch * tokens).fill(1);
    const dims = [batch, tokens];
    if (type === "int64") return new ort.Tensor("int64", BigInt64Array.from(host, (v) => BigInt(Math.round(v))), dims);
    if (type === "int32") return new ort.Tensor("int32", Int32Array.from(host), dims);
    if (type === "bool") return new ort.Tensor("bool", Uint8Array.from(host, (v) => (v ? 1 : 0)), dims);
    return f32(host, dims);
  }
}

function checkShape(what: string, got: Shape, declared: readonly (number | string)[] | null): void {
  if (declared === null) return;
  const ok = got.length === declared.length && declared.every((d, i) => typeof d !== "number" || d < 0 || d === got[i]);
  if (!ok) throw new ShapeError(what, [...got], `[${declared.join(", ")}] (the model's declared input shape; names are free dimensions)`);
}

// ------------------------------------------------------------------ provider availability

const probes = new Map<OrtProvider, Promise<string | null>>();

/** The folder of onnxruntime-node's native binding for this platform (where provider libraries live). */
function bindingDir(): string {
  const req = createRequire(import.meta.url);
  return join(dirname(req.resolve("onnxruntime-node/package.json")), "bin", "napi-v6", process.platform, process.arch);
}

const CUDA_HELP =
  "onnxruntime-node ships its CUDA execution provider separately: install it with `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12` (Linux x64 or Windows x64; needs an NVIDIA driver, CUDA 12 and cuDNN 9; this project's .npmrc sets onnxruntime-node-install=skip, which the flag overrides)";

/** Why `provider` cannot run here, or null when it can. Probed once per process, in a child process with a time limit. */
export function providerUnavailableReason(provider: Exclude<OrtProvider, "cpu">, timeoutMs = 15_000): Promise<string | null> {
  let p = probes.get(provider);
  if (!p) {
    p = probe(provider, timeoutMs);
    probes.set(provider, p);
  }
  return p;
}

async function probe(provider: Exclude<OrtProvider, "cpu">, timeoutMs: number): Promise<string | null> {
  const listed = ort.listSupportedBackends?.() ?? [];
  if (!listed.some((b) => b.name === provider)) return `this onnxruntime-node build (${process.platform}/${process.arch}) has no ${provider} execution provider${provider === "cuda" ? `. ${CUDA_HELP}` : ""}`;
  if (provider === "cuda") {
    const lib = process.platform === "win32" ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
    if (!existsSync(join(bindingDir(), lib))) return `the CUDA execution provider is not installed (${lib} is missing from ${bindingDir()}). ${CUDA_HELP}`;
  }
  // A tiny graph y = a + b, run once on the provider in a child process.
  const g = new GraphBuilder({ name: "probe" });
  g.output(g.add(g.input("a", "float32", [2]), g.input("b", "float32", [2])), "y");
  const model = Buffer.from(g.toBytes()).toString("base64");
  const ep = provider === "cuda" ? "{ name: 'cuda', deviceId: 0 }" : "'webgpu'";
  const script = `
    const ort = require(process.argv[1]);
    (async () => {
      try {
        const s = await ort.InferenceSession.create(Buffer.from(process.argv[2], 'base64'), { executionProviders: [${ep}], logSeverityLevel: 4 });
        const a = new ort.Tensor('float32', Float32Array.of(1, 2), [2]);
        const r = await s.run({ a, b: a });
        const y = Array.from(r.y.data);
        process.stdout.write(y[0] === 2 && y[1] === 4 ? 'DIFFSPEC_PROBE_OK' : 'DIFFSPEC_PROBE_WRONG ' + JSON.stringify(y));
        process.exit(0);
      } catch (e) { process.stdout.write('DIFFSPEC_PROBE_ERR ' + (e && e.message || e)); process.exit(0); }
    })();`;
  const ortPath = createRequire(import.meta.url).resolve("onnxruntime-node");
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", script, ortPath, model], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(`the ${provider} execution provider did not initialise within ${timeoutMs / 1000} s (probe killed)`);
    }, timeoutMs);
    timer.unref?.();
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve(`could not start the ${provider} probe: ${e.message}`);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (out.includes("DIFFSPEC_PROBE_OK")) return resolve(null);
      const msg = (out.replace(/^DIFFSPEC_PROBE_(ERR|WRONG) /, "") || `the probe exited with ${signal ?? code}`).trim();
      const warn = err.split("\n").map((l) => l.trim()).find((l) => /vulkan|adapter|cuda|libcu|dawn/i.test(l) && !l.includes("[E:onnxruntime"));
      const short = (msg.match(/Failed to get a WebGPU adapter.*$/s)?.[0] ?? msg.replace(/^\/\S+:\d+ /, "")).slice(0, 600);
      if (provider === "webgpu") resolve(`no usable WebGPU adapter for onnxruntime's WebGPU provider (Dawn): ${short}${warn ? ` (${warn})` : ""}. It needs a GPU with a working Vulkan (Linux), Metal (macOS) or D3D12 (Windows) driver; on Linux the Vulkan loader libvulkan.so.1 and the driver's ICD (NVIDIA: nvidia_icd.json, whose libGLX_nvidia.so.0 also needs libglvnd; point VK_DRIVER_FILES at it if it is not found), and VK_LOADER_DEBUG=error,warn shows why no driver loaded`);
      else resolve(`the CUDA execution provider failed to start: ${short}${warn ? ` (${warn})` : ""}. ${CUDA_HELP}`);
    });
  });
}
