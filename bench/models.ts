/**
 * The denoisers the benchmark times, and the wrapper that measures model time.
 *
 * - `oracle`: the exact ε* of Gaussian-mixture data (reference/oracle.ts through order.ts's vpOracle).
 *   It is evaluated on the HOST: toHost → Float64 oracle → fromHost, so on a device backend its "model
 *   time" includes both transfers.
 * - `unet-small` / `unet-full`: the glyffuser's U-Net (glyffuser/unet.ts: ResNet blocks, sinusoidal
 *   timestep embedding, cross-attention Transformers) with random weights, at any resolution and batch:
 *   as ONNX (glyffuser/unet-onnx.ts `emitUNetOnnx`) on the onnxruntime backends, and as tfjs ops
 *   (glyffuser/unet-tfjs.ts) on the tfjs backends. Conditioning: seeded random token embeddings
 *   [batch, tokens, crossAttentionDim], every token kept.
 */
import type { Backend, BTensor, Conditioning, Denoiser } from "../adapters/contract.ts";
import { ConfigError } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";
import type { GaussianMixture } from "../reference/distributions.ts";
import type { Schedule } from "../reference/schedule.ts";
import { vpOracle } from "../reference/samplers/order.ts";
import { attentionQueryChunk, countParameters, GLYFFUSER_FULL_CONFIG, GLYFFUSER_SMALL_CONFIG, initUNetWeights, type AttentionPlan, type UNetConfig, type UNetWeights } from "../glyffuser/unet.ts";
import { WEBGPU_DEFAULT_BINDING_BYTES, webgpuMaxBindingBytes } from "../adapters/webgpu-limits.ts";
import { unetFlops } from "../glyffuser/flops.ts";
import { withOptional } from "../reference/optional.ts";

export type UNetSize = "small" | "full";
export const UNET_CONFIGS: Record<UNetSize, UNetConfig> = { small: GLYFFUSER_SMALL_CONFIG, full: GLYFFUSER_FULL_CONFIG };

/** A loaded model and what the benchmark needs to drive it. */
export interface LoadedModel<T extends BTensor> {
  readonly model: Denoiser<T>;
  readonly cond?: Conditioning<T>;
  /** Scalar parameters (U-Nets), for the report. */
  readonly parameters?: number;
  /** How a U-Net's attention runs (see attentionPlanFor), for the report. */
  readonly attention?: string;
  /** A U-Net's compute precision, for the report. */
  readonly precision?: "fp32" | "fp16";
  /** Floating-point operations of one pass (glyffuser/flops.ts), for the throughput reached. */
  readonly flops?: number;
  release?(): Promise<void> | void;
}

/** The exact oracle on a backend (host-side evaluation). */
export function oracleModel<T extends BTensor>(backend: Backend<T>, data: GaussianMixture, schedule: Schedule): LoadedModel<T> {
  return { model: vpOracle(backend, data, schedule) };
}

/** The U-Net config at a resolution (the architecture is fully convolutional; the side only has to halve evenly). */
export function unetConfigAt(size: UNetSize, resolution: number): UNetConfig {
  const base = UNET_CONFIGS[size];
  const f = 2 ** (base.blockChannels.length - 1);
  if (!Number.isInteger(resolution) || resolution < f || resolution % f) throw new ConfigError("--resolution", resolution, `a multiple of ${f} for the ${size} U-Net (${base.blockChannels.length} levels)`);
  return { ...base, sampleSize: resolution };
}

/** Score-tensor budget of "matmul" attention where no device limit applies (host memory), bytes. */
export const HOST_SCORE_BUDGET = 2 ** 30;

/**
 * The attention plan of a U-Net on `backend` (glyffuser/unet.ts AttentionPlan): "matmul" keeps every float32
 * score tensor within the WebGPU adapter's binding limit on webgpu backends (HOST_SCORE_BUDGET elsewhere);
 * "fused" needs onnxruntime. Returns the plan and a one-line description for the report.
 */
export async function attentionPlanFor(backend: Backend<BTensor>, impl: "matmul" | "fused", config: UNetConfig, batch: number): Promise<{ plan: AttentionPlan; description: string }> {
  if (impl === "fused") {
    if (!backend.name.startsWith("onnxruntime-")) throw new ConfigError("--attention", impl, `"matmul" on ${backend.name} (the fused kernel is onnxruntime's com.microsoft MultiHeadAttention)`);
    return { plan: { impl }, description: "fused (com.microsoft MultiHeadAttention)" };
  }
  const limit = backend.name.includes("webgpu") ? ((await webgpuMaxBindingBytes()) ?? WEBGPU_DEFAULT_BINDING_BYTES) : HOST_SCORE_BUDGET;
  const plan: AttentionPlan = { impl, maxScoreBytes: limit, batch };
  const L = config.sampleSize ** 2;
  const chunk = attentionQueryChunk(plan, { heads: config.heads, queryLength: L, keyLength: L });
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return { plan, description: `matmul, scores ≤ ${mib(limit)}${chunk === undefined ? "" : ` (${Math.ceil(L / chunk)} chunks of ${chunk} queries at ${config.sampleSize}²)`}` };
}

/** Loads the glyffuser-shaped U-Net with random weights on `backend`, for a batch of `batch` images. */
export async function loadUNet<T extends BTensor>(backend: Backend<T>, size: UNetSize, resolution: number, batch: number, seed: number, attention: "matmul" | "fused" = "matmul", precision: "fp32" | "fp16" = "fp32"): Promise<LoadedModel<T>> {
  const config = unetConfigAt(size, resolution);
  const parameters = countParameters(config);
  const flops = unetFlops(config, batch).total;
  const tokens = config.tokens;
  const embeddings = new GaussianStream(`bench-unet-context/${seed}`).normals(batch * tokens * config.crossAttentionDim);
  const onnx = backend.name.startsWith("onnxruntime-");
  if (!onnx && !backend.name.startsWith("tfjs-")) throw noImplementation(backend);
  if (!onnx && precision !== "fp32") throw new ConfigError("--precision", precision, `"fp32" on ${backend.name} (fp16 U-Nets are emitted as ONNX for onnxruntime backends)`);
  const { plan, description } = await attentionPlanFor(backend as Backend<BTensor>, attention, config, batch);
  const loaded = onnx
    ? await onnxUNet(backend, (await import("../glyffuser/unet-onnx.ts")).emitUNetOnnx(config, "random", seed, { attention: plan, precision }), config, embeddings, undefined, batch, parameters)
    : await tfjsUNet(backend, config, initUNetWeights(config, seed), embeddings, undefined, batch, parameters, plan);
  return { ...loaded, attention: description, precision, flops };
}

const noImplementation = (backend: Backend<BTensor>): ConfigError =>
  new ConfigError(`U-Net on ${backend.name}`, backend.name, "an onnxruntime-* backend (ONNX graph) or a tfjs-* backend (tfjs ops): the glyffuser U-Net has no implementation for this backend");

/** Prompts the learned model is sampled with (quality (c)); batch item b gets LEARNED_PROMPTS[b mod 4]. */
export const LEARNED_PROMPTS = ["water", "fire", "tree", "mountain"] as const;

/**
 * A learned glyffuser (glyffuser/model.ts manifest + ONNX) on `backend`, conditioned on LEARNED_PROMPTS
 * through the embedded text encoder it was trained with. Returns the model and the schedule it was trained on.
 */
export async function loadLearned<T extends BTensor>(backend: Backend<T>, path: string, batch: number): Promise<LoadedModel<T> & { schedule: Schedule; resolution: number }> {
  const [{ loadModel, modelWeights }, { namedTextEncoder }, { makeSchedule }] = await Promise.all([import("../glyffuser/model.ts"), import("../reference/conditioning/embedded.ts"), import("../reference/schedule.ts")]);
  const m = loadModel(path);
  const config = m.manifest.unet;
  const enc = namedTextEncoder(m.manifest.encoder);
  if (enc.dim !== config.crossAttentionDim) throw new ConfigError("learned model encoder", m.manifest.encoder.name, `an encoder of width ${config.crossAttentionDim} (the embedded encoder has ${enc.dim})`);
  const e = enc.encodeSync(Array.from({ length: batch }, (_, b) => LEARNED_PROMPTS[b % LEARNED_PROMPTS.length]));
  const schedule = makeSchedule(m.manifest.schedule);
  const extra = { schedule, resolution: config.sampleSize };
  if (backend.name.startsWith("onnxruntime-")) return { ...(await onnxUNet(backend, m.onnx, config, e.embeddings.data, e.mask.data, batch, m.manifest.parameters)), ...extra };
  if (backend.name.startsWith("tfjs-")) return { ...(await tfjsUNet(backend, config, modelWeights(m), e.embeddings.data, e.mask.data, batch, m.manifest.parameters)), ...extra };
  throw noImplementation(backend);
}

async function onnxUNet<T extends BTensor>(backend: Backend<T>, bytes: Uint8Array, config: UNetConfig, embeddings: ArrayLike<number>, mask: ArrayLike<number> | undefined, batch: number, parameters: number): Promise<LoadedModel<T>> {
  const { loadOnnxDenoiser } = await import("../adapters/onnxruntime/index.ts");
  const d = await loadOnnxDenoiser(backend, bytes, { predictionType: "epsilon" });
  const model = d as unknown as Denoiser<T>;
  const cond: Conditioning<T> = {
    embeddings: await backend.fromHost(embeddings, [batch, config.tokens, config.crossAttentionDim]),
    ...(mask ? { mask: await backend.fromHost(mask, [batch, config.tokens]) } : {}),
  };
  return { model, cond, parameters, release: () => (d.backend as { releaseSession?: (s: unknown) => Promise<void> }).releaseSession?.((d as unknown as { session: unknown }).session) };
}

type TF = typeof import("@tensorflow/tfjs");
interface TfHandle extends BTensor { readonly tensor: import("@tensorflow/tfjs").Tensor }

/** Frees the outputs of the tfjs U-Net that the sampler dropped without disposing. */
const tfFinalizer = new FinalizationRegistry<import("@tensorflow/tfjs").Tensor>((t) => {
  try {
    if (!t.isDisposed) t.dispose();
  } catch {
    // The tfjs backend may be gone at exit.
  }
});

/**
 * The U-Net as tfjs ops on a tfjs backend (tf.conv2d, not im2col: inference needs no filter gradient).
 * tfjs is a process-wide singleton; the backend's own tfjs backend is made active before every pass.
 */
async function tfjsUNet<T extends BTensor>(backend: Backend<T>, config: UNetConfig, weights: UNetWeights, embeddings: ArrayLike<number>, mask: ArrayLike<number> | undefined, batch: number, parameters: number, attention?: AttentionPlan): Promise<LoadedModel<T>> {
  const tfBackend = (backend as unknown as { tfBackend?: string }).tfBackend;
  if (!tfBackend) throw new ConfigError(`U-Net on ${backend.name}`, backend.name, "a backend made by adapters/tfjs (it exposes tfBackend)");
  const tf = (await withOptional(`the U-Net on ${backend.name}`, () => import("@tensorflow/tfjs"))) as TF;
  const { tfjsParams, tfjsUNetForward } = await import("../glyffuser/unet-tfjs.ts");
  const use = async (): Promise<void> => {
    if (tf.getBackend() !== tfBackend && !(await tf.setBackend(tfBackend))) throw new ConfigError("tfjs backend", tfBackend, "a tfjs backend that initialises");
  };
  await use();
  const params = tfjsParams(tf, weights);
  const context = tf.tensor(Float32Array.from(embeddings), [batch, config.tokens, config.crossAttentionDim], "float32");
  const maskT = mask ? tf.tensor(Float32Array.from(mask), [batch, config.tokens], "float32") : undefined;
  const model: Denoiser<T> = {
    predictionType: "epsilon",
    async evaluate(sample, timestep) {
      await use();
      const x = (sample as unknown as TfHandle).tensor;
      const out = tf.tidy(() => tfjsUNetForward(tf, config, params, { sample: x, timestep: tf.tensor1d([timestep], "float32"), context, mask: maskT }, { im2col: false, attention }));
      const h: TfHandle = { shape: [...sample.shape], tensor: out };
      tfFinalizer.register(h, out);
      return h as unknown as T;
    },
  };
  return {
    model,
    parameters,
    release() {
      for (const p of params.values()) p.dispose();
      context.dispose();
      maskT?.dispose();
    },
  };
}

// ─── model time ─────────────────────────────────────────────────────────────────────────────────

/** Thrown inside a model evaluation when a configuration has run past its time cap. */
export class TimeCapExceeded extends Error {
  constructor(readonly capMs: number) {
    super(`exceeded the time cap of ${(capMs / 1000).toFixed(0)} s`);
    this.name = "TimeCapExceeded";
  }
}

/**
 * A denoiser wrapper that accumulates the time spent inside `evaluate` (model time). With `sync`, each
 * evaluation ends by reading its output back (toHost), so that an asynchronous device backend is
 * charged for the work it queued; only used where the backend is asynchronous, and only when measuring
 * the model/sampler split. With `profile`, it samples the process RSS around every evaluation.
 * It also binds the conditioning, and enforces the configuration's time cap between evaluations.
 */
export class TimedModel<T extends BTensor> implements Denoiser<T> {
  ms = 0;
  calls = 0;
  sync = false;
  profile = false;
  peakRss = 0;
  deadline = Infinity;
  capMs = Infinity;

  constructor(
    private readonly inner: Denoiser<T>,
    private readonly backend: Backend<T>,
    private readonly cond?: Conditioning<T>,
  ) {}

  get predictionType() {
    return this.inner.predictionType;
  }

  reset(): void {
    this.ms = 0;
    this.calls = 0;
  }

  async evaluate(x: T, t: number): Promise<T> {
    if (performance.now() > this.deadline) throw new TimeCapExceeded(this.capMs);
    if (this.profile) this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
    const t0 = performance.now();
    const y = await this.inner.evaluate(x, t, this.cond);
    if (this.sync) await this.backend.toHost(y);
    this.ms += performance.now() - t0;
    this.calls++;
    if (this.profile) this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
    return y;
  }
}
