/**
 * Training the glyffuser (spec/13-glyffuser.md; article: "Training: predict the noise"). The article's loop:
 *
 *   repeat: x₀, y ~ dataset (a glyph and its definition);  y ← ∅ with probability p_drop (CFG-DROPOUT)
 *           t ~ U{0, …, N−1};  ε ~ 𝒩(0, I);  xₜ = √ᾱₜ x₀ + √(1 − ᾱₜ) ε            (FWD-MARGINAL)
 *           L = mean_b w(t_b) ‖ε_b − ε_θ(xₜ,b, t_b, y_b)‖²/D                  (LOSS-EPS, LOSS-MIN-SNR)
 *           θ ← AdamW(θ, ∇L) with linear warm-up then cosine decay;  θ_EMA ← d θ_EMA + (1 − d) θ
 *
 * The host (Float64 schedule, seeded streams) draws x₀, y, t and ε and forms xₜ; the U-Net and its gradient run
 * in tfjs (glyffuser/unet-tfjs.ts). Every step's randomness comes from the stream `<seed>/step-<k>`, so a
 * resumed run draws exactly what an uninterrupted run would have drawn (CKPT-RESUME).
 */
import { existsSync, appendFileSync, closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { InputFileError, require as requireThat, requireFinite, requirePositiveInt } from "../reference/errors.ts";
import { DEFAULT_SCHEDULE, type ScheduleConfig } from "../reference/schedule.ts";
import { GaussianStream } from "../reference/rng.ts";
import { embeddedTextEncoder, encoderFolder, type EmbeddedTextEncoder } from "../reference/conditioning/embedded.ts";
import { loadGlyphDataset, toModelRange, type GlyphDataset } from "./dataset.ts";
import { GLYFFUSER_SMALL_CONFIG, initUNetWeights, validateUNetConfig, weightProblems, type UNetConfig, type UNetWeights } from "./unet.ts";
import { tfjsUNetForward, type TfjsParams } from "./unet-tfjs.ts";
import { loadCheckpoint, saveCheckpoint, type CheckpointTensor } from "./checkpoint.ts";

type TF = typeof tfjs;

/** Everything that determines a training run. */
export interface TrainConfig {
  readonly unet: UNetConfig;
  readonly schedule: ScheduleConfig;
  readonly batchSize: number;
  /** Total optimizer steps. */
  readonly steps: number;
  readonly lr: number;
  readonly warmupSteps: number;
  /** Cosine decay ends at lr·minLrRatio. */
  readonly minLrRatio: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly adamEps: number;
  /** EMA decay d (the effective decay is min(d, (1 + k)/(10 + k)) at step k). */
  readonly emaDecay: number;
  /** CFG-DROPOUT probability. */
  readonly pDrop: number;
  /** LOSS-MIN-SNR γ (Infinity = plain ε-MSE); used when lossWeighting is "min-snr". */
  readonly minSnrGamma: number;
  /**
   * Per-item weight of the ε-MSE: "min-snr" (min(SNR, γ)/SNR: the x₀ error weighted by min(SNR, γ)) or "v" (the
   * v-prediction loss ‖v − v̂‖² = ‖ε − ε̂‖²/ᾱₜ, Salimans & Ho 2022, with 1/ᾱₜ capped at lossWeightCap: the x₀ error
   * weighted by min(1 + SNR, cap·SNR), so the high-noise steps where a glyph's layout — its radical — is decided
   * count as much as the low-noise ones instead of SNR ≪ 1 times less). Absent in older checkpoints: "min-snr".
   */
  readonly lossWeighting: "min-snr" | "v";
  /** With lossWeighting "v": the largest weight 1/ᾱₜ (a guard against the t → N factor 1/ᾱ ≈ 2.5·10⁴). */
  readonly lossWeightCap: number;
  readonly seed: number;
  /** Text tokens per prompt (the embedded encoder's maxLength). */
  readonly maxLength: number;
  /** Global-norm gradient clipping (Infinity = none). */
  readonly gradClip: number;
  /** The committed text encoder the captions are embedded with (reference/conditioning/embedded.ts encoderFolder). */
  readonly encoder: string;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  unet: GLYFFUSER_SMALL_CONFIG,
  schedule: DEFAULT_SCHEDULE,
  batchSize: 16,
  steps: 2000,
  lr: 1.5e-3,
  warmupSteps: 100,
  minLrRatio: 0.05,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  adamEps: 1e-8,
  emaDecay: 0.995,
  pDrop: 0.1,
  minSnrGamma: 5,
  lossWeighting: "v",
  lossWeightCap: 20,
  seed: 0,
  maxLength: 16,
  gradClip: 1,
  encoder: "lexical-v1",
};

export function validateTrainConfig(c: TrainConfig): TrainConfig {
  validateUNetConfig(c.unet);
  for (const f of ["batchSize", "steps", "maxLength"] as const) requirePositiveInt(f, c[f]);
  requireThat(Number.isInteger(c.warmupSteps) && c.warmupSteps >= 0, "warmupSteps", c.warmupSteps, "an integer ≥ 0");
  for (const f of ["lr", "adamEps"] as const) requireThat(Number.isFinite(c[f]) && c[f] > 0, f, c[f], "a finite number > 0");
  for (const f of ["beta1", "beta2", "emaDecay", "minLrRatio", "pDrop"] as const) requireThat(Number.isFinite(c[f]) && c[f] >= 0 && c[f] <= 1, f, c[f], "a number in [0, 1]");
  requireThat(Number.isFinite(c.weightDecay) && c.weightDecay >= 0, "weightDecay", c.weightDecay, "a finite number ≥ 0");
  requireThat(c.minSnrGamma > 0, "minSnrGamma", c.minSnrGamma, "a number > 0 (Infinity for the plain loss)");
  requireThat(c.lossWeighting === "min-snr" || c.lossWeighting === "v", "lossWeighting", c.lossWeighting, '"min-snr" or "v"');
  requireThat(Number.isFinite(c.lossWeightCap) && c.lossWeightCap >= 1, "lossWeightCap", c.lossWeightCap, "a finite number ≥ 1");
  requireThat(c.gradClip > 0, "gradClip", c.gradClip, "a number > 0 (Infinity for no clipping)");
  requireFinite("seed", c.seed);
  encoderFolder(c.encoder);
  requireThat(c.unet.crossAttentionDim === 64, "unet.crossAttentionDim", c.unet.crossAttentionDim, "64, the embedded text encoder's width");
  return c;
}

/** TRAIN-LR: linear warm-up over warmupSteps, then cosine decay from lr to lr·minLrRatio at the last step. */
export function learningRate(c: Pick<TrainConfig, "lr" | "warmupSteps" | "steps" | "minLrRatio">, step: number): number {
  if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  const span = Math.max(1, c.steps - c.warmupSteps);
  const progress = Math.min(1, (step - c.warmupSteps) / span);
  return c.lr * (c.minLrRatio + (1 - c.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** TRAIN-EMA: the decay used at step k: min(d, (1 + k)/(10 + k)) (warm-up, as diffusers' EMAModel). */
export const emaDecayAt = (d: number, step: number): number => Math.min(d, (1 + step) / (10 + step));

/** The training data in the model's form: pixels in [-1, 1] and every caption pre-encoded. */
export interface TrainingData {
  readonly count: number;
  readonly size: number;
  /** [N, 1, S, S] in [-1, 1]. */
  readonly images: Float32Array;
  /** [N, n, d] token embeddings of each definition. */
  readonly embeddings: Float32Array;
  /** [N, n]. */
  readonly masks: Float32Array;
  /** The null condition [n, d] and its mask [n]. */
  readonly nullEmbedding: Float32Array;
  readonly nullMask: Float32Array;
  readonly tokens: number;
  readonly dim: number;
}

/** Encodes a dataset's definitions with the embedded encoder (records with an empty definition get the null condition). */
export function prepareTrainingData(ds: GlyphDataset, encoder: EmbeddedTextEncoder, limit?: number): TrainingData {
  const N = Math.min(ds.records.length, limit ?? Infinity);
  const n = encoder.maxLength;
  const d = encoder.dim;
  const S = ds.size;
  const images = toModelRange(ds.pixels.subarray(0, N * S * S));
  const embeddings = new Float32Array(N * n * d);
  const masks = new Float32Array(N * n);
  const nul = encoder.encodeNullSync(1);
  for (let i = 0; i < N; i++) {
    const def = ds.records[i].definition;
    const e = def.trim() ? encoder.encodeSync([def]) : nul;
    embeddings.set(e.embeddings.data, i * n * d);
    masks.set(e.mask.data, i * n);
  }
  return { count: N, size: S, images, embeddings, masks, nullEmbedding: Float32Array.from(nul.embeddings.data), nullMask: Float32Array.from(nul.mask.data), tokens: n, dim: d };
}

/** One batch drawn on the host (LOSS-DATA-PATH, CFG-DROPOUT). */
export interface HostBatch {
  readonly indices: number[];
  readonly timesteps: Float32Array;
  readonly xt: Float32Array;
  readonly eps: Float32Array;
  readonly embeddings: Float32Array;
  readonly masks: Float32Array;
  /** Per-item loss weight (min-SNR), normalised to mean-free use: L = Σ w_b mse_b / B. */
  readonly weights: Float32Array;
  readonly dropped: boolean[];
}

/** Draws step `step`'s batch from the stream `<seed>/step-<step>`. */
export function drawBatch(data: TrainingData, c: TrainConfig, alphasCumprod: Float64Array, step: number): HostBatch {
  const stream = new GaussianStream(`${c.seed}/step-${step}`);
  const B = c.batchSize;
  const D = data.size * data.size;
  const n = data.tokens;
  const d = data.dim;
  const N = alphasCumprod.length;
  const indices: number[] = [];
  const timesteps = new Float32Array(B);
  const xt = new Float32Array(B * D);
  const eps = new Float32Array(B * D);
  const embeddings = new Float32Array(B * n * d);
  const masks = new Float32Array(B * n);
  const weights = new Float32Array(B);
  const dropped: boolean[] = [];
  for (let b = 0; b < B; b++) {
    const i = stream.int(data.count);
    const t = stream.int(N);
    const drop = stream.uniform() < c.pDrop;
    indices.push(i);
    dropped.push(drop);
    timesteps[b] = t;
    const abar = alphasCumprod[t];
    const sa = Math.sqrt(abar);
    const sn = Math.sqrt(1 - abar);
    for (let k = 0; k < D; k++) {
      const e = stream.normal();
      eps[b * D + k] = e;
      xt[b * D + k] = sa * data.images[i * D + k] + sn * e;
    }
    if (drop) {
      embeddings.set(data.nullEmbedding, b * n * d);
      masks.set(data.nullMask, b * n);
    } else {
      embeddings.set(data.embeddings.subarray(i * n * d, (i + 1) * n * d), b * n * d);
      masks.set(data.masks.subarray(i * n, (i + 1) * n), b * n);
    }
    const snr = abar / (1 - abar);
    weights[b] = lossWeight(c, abar);
  }
  return { indices, timesteps, xt, eps, embeddings, masks, weights, dropped };
}

/** LOSS-MIN-SNR or the capped v-loss weight of an item at ᾱₜ (see TrainConfig.lossWeighting). */
export function lossWeight(c: Pick<TrainConfig, "lossWeighting" | "minSnrGamma" | "lossWeightCap">, abar: number): number {
  if (c.lossWeighting === "v") return Math.min(1 / abar, c.lossWeightCap);
  const snr = abar / (1 - abar);
  return Number.isFinite(c.minSnrGamma) ? Math.min(snr, c.minSnrGamma) / snr : 1;
}

/** The state of a run: trainable variables, AdamW moments, EMA weights, the step. */
export interface TrainState {
  readonly config: TrainConfig;
  step: number;
  readonly params: Map<string, tfjs.Variable>;
  readonly m: Map<string, tfjs.Variable>;
  readonly v: Map<string, tfjs.Variable>;
  readonly ema: Map<string, tfjs.Variable>;
  /** Seconds of training so far (over all sessions). */
  wallSeconds: number;
  /** Backend names used so far. */
  backends: string[];
}

/** Metadata stored in a checkpoint. */
export interface CheckpointMeta {
  readonly format: "diffspec-glyffuser-train";
  readonly config: TrainConfig;
  readonly step: number;
  readonly wallSeconds: number;
  readonly backends: string[];
  readonly rng: string;
}

const INF = (v: number): number | string => (Number.isFinite(v) ? v : "Infinity");
const toJsonConfig = (c: TrainConfig): TrainConfig => ({ ...c, minSnrGamma: INF(c.minSnrGamma) as number, gradClip: INF(c.gradClip) as number });
const fromJsonConfig = (c: TrainConfig): TrainConfig => ({ ...c, minSnrGamma: Number(c.minSnrGamma), gradClip: Number(c.gradClip), encoder: c.encoder ?? "embedded-v1", lossWeighting: c.lossWeighting ?? "min-snr", lossWeightCap: c.lossWeightCap ?? 20 });

let stateCounter = 0;
function variablesFrom(tf: TF, w: UNetWeights, prefix: string, zero = false): Map<string, tfjs.Variable> {
  const out = new Map<string, tfjs.Variable>();
  const id = stateCounter++; // tfjs variable names are process-wide
  for (const [name, p] of w) out.set(name, tf.variable(zero ? tf.zeros([...p.shape]) : tf.tensor(p.data, [...p.shape]), prefix === "param", `${prefix}${id}/${name}`));
  return out;
}

/** A fresh run: weights initialised from the seed (zero-init residual outputs), moments zero, EMA = weights. */
export function initTrainState(tf: TF, c: TrainConfig): TrainState {
  validateTrainConfig(c);
  const w = initUNetWeights(c.unet, c.seed, { zeroInit: true });
  return { config: c, step: 0, params: variablesFrom(tf, w, "param"), m: variablesFrom(tf, w, "adam_m", true), v: variablesFrom(tf, w, "adam_v", true), ema: variablesFrom(tf, w, "ema"), wallSeconds: 0, backends: [] };
}

/** Reads a variable group back to the host as weights. */
export async function readWeights(group: Map<string, tfjs.Variable | tfjs.Tensor>): Promise<UNetWeights> {
  const out: UNetWeights = new Map();
  for (const [name, t] of group) out.set(name, { data: Float32Array.from((await t.data()) as Float32Array), shape: [...t.shape] });
  return out;
}

/** CKPT-RESUME: everything a run needs to continue exactly. */
export async function checkpointContents(s: TrainState): Promise<{ meta: CheckpointMeta; tensors: CheckpointTensor[] }> {
  const tensors: CheckpointTensor[] = [];
  for (const [group, map] of [["param", s.params], ["adam_m", s.m], ["adam_v", s.v], ["ema", s.ema]] as const) {
    for (const [name, p] of await readWeights(map)) tensors.push({ name, group, shape: p.shape, data: p.data });
  }
  return { meta: { format: "diffspec-glyffuser-train", config: toJsonConfig(s.config), step: s.step, wallSeconds: s.wallSeconds, backends: s.backends, rng: `per-step streams "${s.config.seed}/step-<k>", next k = ${s.step}` }, tensors };
}

/** Restores a run from a checkpoint file; InputFileError naming the file when it is missing, corrupt or of another model. */
export function restoreTrainState(tf: TF, path: string): TrainState {
  const ck = loadCheckpoint<CheckpointMeta>(path);
  if (ck.meta?.format !== "diffspec-glyffuser-train") throw new InputFileError(path, `not a glyffuser training checkpoint (format ${JSON.stringify(ck.meta?.format)})`);
  const config = fromJsonConfig(ck.meta.config);
  try {
    validateTrainConfig(config);
  } catch (e) {
    throw new InputFileError(path, `its config is invalid: ${(e as Error).message}`);
  }
  const groups = new Map<string, UNetWeights>();
  for (const t of ck.tensors) {
    if (!groups.has(t.group)) groups.set(t.group, new Map());
    groups.get(t.group)!.set(t.name, { data: t.data, shape: t.shape });
  }
  for (const g of ["param", "adam_m", "adam_v", "ema"]) {
    const w = groups.get(g);
    const problems = w ? weightProblems(config.unet, w) : [`no tensors of group ${g}`];
    if (problems.length) throw new InputFileError(path, `its ${g} tensors do not fit its config: ${problems.slice(0, 3).join("; ")}`);
  }
  return {
    config,
    step: ck.meta.step,
    params: variablesFrom(tf, groups.get("param")!, "param"),
    m: variablesFrom(tf, groups.get("adam_m")!, "adam_m"),
    v: variablesFrom(tf, groups.get("adam_v")!, "adam_v"),
    ema: variablesFrom(tf, groups.get("ema")!, "ema"),
    wallSeconds: ck.meta.wallSeconds ?? 0,
    backends: ck.meta.backends ?? [],
  };
}

export function disposeTrainState(s: TrainState): void {
  for (const map of [s.params, s.m, s.v, s.ema]) for (const v of map.values()) v.dispose();
}

/** Weight decay applies to matrices and kernels (rank ≥ 2), not to biases and norm scales. */
const decays = (shape: readonly number[]): boolean => shape.length >= 2;

/** The rows [start, end) of a host batch (a data-parallel shard). */
export function shardBatch(b: HostBatch, start: number, end: number): HostBatch {
  const B = b.timesteps.length;
  const per = (a: Float32Array): Float32Array => a.slice((a.length / B) * start, (a.length / B) * end);
  return {
    indices: b.indices.slice(start, end), timesteps: per(b.timesteps), xt: per(b.xt), eps: per(b.eps),
    embeddings: per(b.embeddings), masks: per(b.masks), weights: per(b.weights), dropped: b.dropped.slice(start, end),
  };
}

/** A host batch's U-Net inputs and ε target as tensors (call inside tf.tidy); B is the batch's own length. */
export function batchTensors(tf: TF, c: TrainConfig, batch: HostBatch) {
  const B = batch.timesteps.length;
  const S = c.unet.sampleSize;
  return {
    sample: tf.tensor4d(batch.xt, [B, c.unet.inChannels, S, S]),
    eps: tf.tensor4d(batch.eps, [B, c.unet.inChannels, S, S]),
    timestep: tf.tensor1d(batch.timesteps),
    context: tf.tensor3d(batch.embeddings, [B, c.maxLength, c.unet.crossAttentionDim]),
    mask: tf.tensor2d(batch.masks, [B, c.maxLength]),
  };
}

/**
 * LOSS-EPS on a (shard of a) batch and its gradient with respect to `params` (in the map's order): the mean
 * over the shard's items of w_b‖ε_b − ε_θ‖²/D. Call inside tf.tidy. The trainer and its data-parallel workers
 * (glyffuser/train-parallel.ts) both use it.
 */
export function batchLossAndGradients(tf: TF, c: TrainConfig, params: Map<string, tfjs.Variable>, batch: HostBatch): { value: tfjs.Scalar; grads: tfjs.Tensor[] } {
  const B = batch.timesteps.length;
  const { sample, eps, timestep, context, mask } = batchTensors(tf, c, batch);
  const w = tf.tensor1d(batch.weights);
  const { value, grads } = tf.variableGrads(() => {
    const pred = tfjsUNetForward(tf, c.unet, params as unknown as TfjsParams, { sample, timestep, context, mask });
    const perItem = tf.mean(tf.reshape(tf.square(tf.sub(pred, eps)), [B, -1]), 1);
    return tf.mean(tf.mul(perItem, w)) as tfjs.Scalar;
  }, [...params.values()]);
  return { value, grads: [...params.values()].map((p) => grads[p.name]) };
}

/** Gradients of other shards of the same step, computed elsewhere (data-parallel workers), flat in parameter order. */
export interface ShardGradients {
  readonly count: number;
  readonly loss: number;
  readonly grads: Float32Array;
}

/** Something that computes the gradients of batch shards on other cores (glyffuser/train-parallel.ts). */
export interface GradientHelpers {
  /** Shards handed to helpers: the step's batch rows [0, local) stay here, the rest are split among the helpers. */
  readonly count: number;
  /** Sends the shards (with the step's parameters); resolves once they are sent, to the promise of their gradients. */
  dispatch(s: TrainState, shards: readonly HostBatch[]): Promise<{ readonly results: Promise<ShardGradients[]> }>;
}

/** Splits B rows into k near-equal consecutive shards (the first ones one larger). */
export function shardBounds(B: number, k: number): [number, number][] {
  const parts = Math.min(k, B);
  return Array.from({ length: parts }, (_, i) => [Math.floor((i * B) / parts), Math.floor(((i + 1) * B) / parts)]);
}

/**
 * One optimizer step on a host batch: loss, gradients, global-norm clipping, AdamW (decoupled weight decay,
 * bias-corrected moments), EMA. Returns the loss (before the update) and the gradient norm. With `helpers`,
 * the batch is split into 1 + helpers.count shards; this thread computes the first while the helpers compute
 * the rest, and the step uses the size-weighted mean of the shards' gradients — the gradient of the whole
 * batch's loss, the same step as without helpers up to float rounding.
 */
export async function trainStep(tf: TF, s: TrainState, batch: HostBatch, helpers?: GradientHelpers): Promise<{ loss: number; gradNorm: number }> {
  const c = s.config;
  const B = batch.timesteps.length;
  const lr = learningRate(c, s.step);
  const k = s.step + 1;
  const names = [...s.params.keys()];
  const bounds = shardBounds(B, 1 + (helpers?.count ?? 0));
  // Dispatched before the local shard is computed (synchronously, on this thread), so both run at once.
  const remote = helpers && bounds.length > 1 ? (await helpers.dispatch(s, bounds.slice(1).map(([a, b]) => shardBatch(batch, a, b)))).results : Promise.resolve([]);
  const local = tf.tidy(() => {
    const r = batchLossAndGradients(tf, c, s.params, bounds.length > 1 ? shardBatch(batch, ...bounds[0]) : batch);
    return [r.value, ...r.grads];
  });
  let others: ShardGradients[];
  try {
    others = await remote;

  } catch (e) {
    tf.dispose(local);
    throw e;
  }
  const n0 = bounds[0][1] - bounds[0][0];
  const out = tf.tidy(() => {
    // One shard (no helpers): its loss and gradients are the batch's as they are.
    let value: tfjs.Tensor = n0 === B ? local[0] : tf.mul(local[0], n0 / B);
    let gs = n0 === B ? local.slice(1) : local.slice(1).map((g) => tf.mul(g, n0 / B));
    for (const o of others) {
      value = tf.add(value, o.loss * (o.count / B));
      let offset = 0;
      gs = gs.map((g) => {
        const size = g.size;
        const r = tf.add(g, tf.mul(tf.tensor(o.grads.subarray(offset, offset + size), g.shape), o.count / B));
        offset += size;
        return r;
      });
    }
    // Pairwise sums: tfjs-webgpu's AddN binds one storage buffer per input (at most 8 per stage).
    let parts = gs.map((g) => tf.sum(tf.square(g)));
    while (parts.length > 1) parts = Array.from({ length: Math.ceil(parts.length / 2) }, (_, i) => (2 * i + 1 < parts.length ? tf.add(parts[2 * i], parts[2 * i + 1]) : parts[2 * i]));
    const sq = parts[0];
    const norm = tf.sqrt(sq);
    const scale = Number.isFinite(c.gradClip) ? tf.minimum(1, tf.div(c.gradClip, tf.add(norm, 1e-12))) : tf.scalar(1);
    const bc1 = 1 - c.beta1 ** k;
    const bc2 = 1 - c.beta2 ** k;
    const d = emaDecayAt(c.emaDecay, s.step);
    names.forEach((nm, i) => {
      const p = s.params.get(nm)!;
      const g = tf.mul(gs[i], scale);
      const m = s.m.get(nm)!;
      const v = s.v.get(nm)!;
      const m2 = tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1));
      const v2 = tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), 1 - c.beta2));
      m.assign(m2);
      v.assign(v2);
      let update = tf.div(tf.div(m2, bc1), tf.add(tf.sqrt(tf.div(v2, bc2)), c.adamEps));
      if (c.weightDecay > 0 && decays(p.shape)) update = tf.add(update, tf.mul(p, c.weightDecay));
      const p2 = tf.sub(p, tf.mul(update, lr));
      p.assign(p2);
      const e = s.ema.get(nm)!;
      e.assign(tf.add(tf.mul(e, d), tf.mul(p2, 1 - d)));
    });
    return tf.stack([tf.reshape(value, []), norm]);
  });
  tf.dispose(local);
  // data(), not dataSync(): tfjs-webgpu cannot read synchronously in Node (no OffscreenCanvas).
  const [loss, gradNorm] = await out.data();
  out.dispose();
  s.step++;
  return { loss, gradNorm };
}

/** Where a run keeps its files. */
export function runPaths(dir: string): { checkpoint: string; log: string; curve: string; onnx: string; json: string } {
  return { checkpoint: join(dir, "checkpoint.bin"), log: join(dir, "train-log.jsonl"), curve: join(dir, "loss.svg"), onnx: join(dir, "glyffuser.onnx"), json: join(dir, "glyffuser.json") };
}

/** One line of the training log (JSONL). */
export interface LogEntry {
  step: number;
  epoch: number;
  loss: number;
  /** Exponential moving average of the loss (α = 0.02). */
  lossSmooth: number;
  lr: number;
  gradNorm: number;
  samplesPerSecond: number;
  wallSeconds: number;
  backend: string;
}

/** Reads a training log (missing → []); lines after a resumed step are superseded by later lines. */
export function readLog(path: string): LogEntry[] {
  if (!existsSync(path)) return [];
  const byStep = new Map<number, LogEntry>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as LogEntry;
      byStep.set(e.step, e);
    } catch {
      // A torn last line (a crash mid-append) is skipped.
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/**
 * Appends one entry as one line. A file whose last line was torn (a crash mid-append leaves no final
 * newline) gets the newline first, so the torn line stays alone (readLog skips it) and this entry is kept.
 */
export function appendLog(path: string, e: LogEntry): void {
  appendFileSync(path, (endsTorn(path) ? "\n" : "") + JSON.stringify(e) + "\n");
}

function endsTorn(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } catch {
    return false; // no file yet
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Loads the dataset and encoder named by paths (defaults: the committed subset and encoder). */
export function loadTrainingData(opts: { dataset?: string; encoder?: string; encoderDir?: string; maxLength: number; limit?: number }): TrainingData {
  const ds = loadGlyphDataset(opts.dataset);
  const enc = embeddedTextEncoder({ maxLength: opts.maxLength, folder: opts.encoderDir ?? encoderFolder(opts.encoder ?? DEFAULT_TRAIN_CONFIG.encoder) });
  return prepareTrainingData(ds, enc, opts.limit);
}

