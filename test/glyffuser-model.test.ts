/**
 * The glyffuser's U-Net and training loop (glyffuser/unet*.ts, glyffuser/train.ts, glyffuser/checkpoint.ts):
 * one architecture, two implementations that agree; training steps that learn; checkpoints that round-trip,
 * resume exactly, refuse corrupt files and never leave a partial file behind.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { startGradientWorkers } from "../glyffuser/train-parallel.ts";
import { createTfjsBackend } from "../adapters/tfjs/index.ts";
import { createOnnxruntimeBackend, loadOnnxDenoiser } from "../adapters/onnxruntime/index.ts";
import { ConfigError, InputFileError } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";
import { makeSchedule } from "../reference/schedule.ts";
import {
  countParameters,
  GLYFFUSER_FULL_CONFIG,
  GLYFFUSER_SMALL_CONFIG,
  initUNetWeights,
  unetParamSpecs,
  validateUNetConfig,
  type UNetConfig,
} from "../glyffuser/unet.ts";
import { tfjsParams, tfjsUNetForward, tfjsUNetOps } from "../glyffuser/unet-tfjs.ts";
import { emitUNetOnnx, weightsFromOnnx } from "../glyffuser/unet-onnx.ts";
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint, writeFileAtomic, type CheckpointContents } from "../glyffuser/checkpoint.ts";
import {
  checkpointContents,
  DEFAULT_TRAIN_CONFIG,
  drawBatch,
  emaDecayAt,
  initTrainState,
  learningRate,
  readWeights,
  restoreTrainState,
  trainStep,
  shardBounds,
  lossWeight,
  validateTrainConfig,
  type TrainConfig,
  type TrainingData,
} from "../glyffuser/train.ts";

await createTfjsBackend("cpu"); // has Conv2DBackpropFilter: the reference for the hand-written conv gradient
await createTfjsBackend("wasm");
const tf = await import("@tensorflow/tfjs");

/** A tiny config that exercises every part (two levels, self- and cross-attention, GEGLU, a channel change). */
const TINY: UNetConfig = { ...GLYFFUSER_SMALL_CONFIG, sampleSize: 8, blockChannels: [8, 16], attentionLevels: [false, true], selfAttention: true, heads: 2, groups: 4, ffMult: 2, textTimeEmbedding: true };
const n = 16;
const d = 64;

function inputs(B: number, S: number, seed: number) {
  const st = new GaussianStream(seed);
  const x = Float32Array.from(st.normals(B * S * S));
  const ctx = Float32Array.from(st.normals(B * n * d));
  const mask = new Float32Array(B * n);
  for (let b = 0; b < B; b++) for (let i = 0; i < 1 + ((b * 5) % n); i++) mask[b * n + i] = 1;
  return { x, ctx, mask };
}

describe("the U-Net: one definition, two implementations", () => {
  test("configs validate; the small config is the committed size; the full one is glyffuser-sized", () => {
    expect(validateUNetConfig(GLYFFUSER_SMALL_CONFIG)).toBe(GLYFFUSER_SMALL_CONFIG);
    expect(countParameters(GLYFFUSER_SMALL_CONFIG)).toBeLessThan(2_000_000);
    const full = countParameters(GLYFFUSER_FULL_CONFIG);
    expect(full).toBeGreaterThan(80_000_000);
    expect(full).toBeLessThan(200_000_000);
    expect(() => validateUNetConfig({ ...TINY, blockChannels: [8, 10] })).toThrow(ConfigError);
    expect(() => validateUNetConfig({ ...TINY, sampleSize: 7 })).toThrow(/multiple of 2/);
  });

  test("parameter names are unique and in PyTorch layouts", () => {
    const specs = unetParamSpecs(TINY);
    expect(specs.get("conv_in.weight")!.shape).toEqual([8, 1, 3, 3]);
    expect(specs.get("time_embedding.linear_1.weight")!.shape).toEqual([32, 8]);
    expect(specs.get("down.1.attentions.0.attn2.to_k.weight")!.shape).toEqual([16, 64]);
    expect(specs.has("down.1.attentions.0.attn2.to_k.bias")).toBe(false);
  });

  test("GLYPH-EQUIV: tfjs and ONNX give the same ε for the same random weights (Float32 tolerance), with a mask", async () => {
    const w = initUNetWeights(TINY, 3);
    const B = 3;
    const S = TINY.sampleSize;
    const { x, ctx, mask } = inputs(B, S, 11);
    const ort = await createOnnxruntimeBackend("cpu");
    const den = await loadOnnxDenoiser(ort, emitUNetOnnx(TINY, w), { predictionType: "epsilon" });
    for (const t of [0, 421, 999]) {
      const y1 = tf.tidy(() => tfjsUNetForward(tf, TINY, tfjsParams(tf, w), { sample: tf.tensor4d(x, [B, 1, S, S]), timestep: tf.fill([B], t), context: tf.tensor3d(ctx, [B, n, d]), mask: tf.tensor2d(mask, [B, n]) }).dataSync());
      const out = await den.evaluate(await ort.fromHost(x, [B, 1, S, S]), t, { embeddings: await ort.fromHost(ctx, [B, n, d]), mask: await ort.fromHost(mask, [B, n]) });
      const y2 = await ort.toHost(out);
      let maxDiff = 0;
      let maxAbs = 0;
      for (let i = 0; i < y1.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(y1[i] - y2[i])); maxAbs = Math.max(maxAbs, Math.abs(y2[i])); }
      expect(maxAbs).toBeGreaterThan(0.05); // a non-trivial output
      expect(maxDiff).toBeLessThan(1e-4 * Math.max(1, maxAbs));
    }
    await ort.close();
  });

  test("the pooled text embedding (textTimeEmbedding) averages only unmasked tokens, and carries the prompt", () => {
    const w = initUNetWeights(TINY, 4);
    const B = 2, S = TINY.sampleSize;
    const { x, ctx, mask } = inputs(B, S, 12);
    mask.fill(1);
    for (let i = 5; i < n; i++) mask[i] = 0; // item 0 keeps 5 tokens
    const run = (c: Float32Array, cfg = TINY) => tf.tidy(() => tfjsUNetForward(tf, cfg, tfjsParams(tf, w), { sample: tf.tensor4d(x, [B, 1, S, S]), timestep: tf.fill([B], 500), context: tf.tensor3d(c, [B, n, d]), mask: tf.tensor2d(mask, [B, n]) }).dataSync());
    const base = run(ctx);
    const padded = Float32Array.from(ctx);
    for (let k = 0; k < d; k++) padded[7 * d + k] += 3; // item 0, token 7: masked
    expect(Array.from(run(padded))).toEqual(Array.from(base));
    const unmasked = Float32Array.from(ctx);
    for (let k = 0; k < d; k++) unmasked[2 * d + k] += 3; // item 0, token 2: kept
    const moved = run(unmasked);
    // Without the cross-attention, the prompt still reaches the output through the pooled embedding alone.
    const noAttn: UNetConfig = { ...TINY, attentionLevels: [false, false], midAttention: false };
    const wNo = initUNetWeights(noAttn, 4);
    const run2 = (c: Float32Array) => tf.tidy(() => tfjsUNetForward(tf, noAttn, tfjsParams(tf, wNo), { sample: tf.tensor4d(x, [B, 1, S, S]), timestep: tf.fill([B], 500), context: tf.tensor3d(c, [B, n, d]), mask: tf.tensor2d(mask, [B, n]) }).dataSync());
    const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
    expect(diff(moved, base)).toBeGreaterThan(1e-4);
    expect(diff(run2(unmasked), run2(ctx))).toBeGreaterThan(1e-4);
    expect(initUNetWeights({ ...TINY, textTimeEmbedding: false }, 4).has("add_embedding.linear_1.weight")).toBe(false);
    expect(() => validateUNetConfig({ ...TINY, textTimeEmbedding: "yes" as unknown as boolean })).toThrow(/textTimeEmbedding/);
  });

  test("weights read back from the ONNX graph are the weights written", () => {
    const w = initUNetWeights(TINY, 5);
    const back = weightsFromOnnx(emitUNetOnnx(TINY, w), TINY);
    expect([...back.keys()].sort()).toEqual([...w.keys()].sort());
    for (const [k, p] of w) expect(back.get(k)!.data).toEqual(p.data);
    expect(() => weightsFromOnnx(emitUNetOnnx(TINY, w), { ...TINY, blockChannels: [8, 8] })).toThrow(InputFileError);
  });

  test("the im2col convolution and its hand-written gradient equal tf.conv2d's (stride 1 and 2)", async () => {
    await tf.setBackend("cpu");
    try {
    for (const [s, H] of [[1, 6], [2, 8]] as const) {
      const x = tf.randomNormal([2, H, H, 3], 0, 1, "float32", 1);
      const w = tf.randomNormal([5, 3, 3, 3], 0, 1, "float32", 2);
      const b = tf.randomNormal([5], 0, 1, "float32", 3);
      const conv = (im2col: boolean, fwd: boolean) => (xx: any, ww: any, bb: any) =>
        tfjsUNetOps(tf, (nm) => (nm.endsWith("weight") ? ww : bb), { im2col, im2colForward: fwd }).conv2d(xx, "c", { inChannels: 3, outChannels: 5, kernel: 3, stride: s, padding: 1 });
      const dy = tf.randomNormal(conv(true, true)(x, w, b).shape, 0, 1, "float32", 4);
      const g = (f: any) => tf.grads((a: any, c: any, e: any) => tf.sum(tf.mul(f(a, c, e), dy)))([x, w, b]);
      const [a1, a2, a3] = [g(conv(true, true)), g(conv(true, false)), g(conv(false, false))];
      for (let i = 0; i < 3; i++) {
        expect(tf.max(tf.abs(tf.sub(a1[i], a2[i]))).dataSync()[0]).toBeLessThan(1e-4);
        expect(tf.max(tf.abs(tf.sub(a1[i], a3[i]))).dataSync()[0]).toBeLessThan(1e-4);
      }
    }
    } finally {
      await tf.setBackend("wasm");
    }
  });
});

// ─── training ───────────────────────────────────────────────────────────────────────────────────

function tinyData(count: number): TrainingData {
  const st = new GaussianStream("data");
  const S = TINY.sampleSize;
  const images = Float32Array.from({ length: count * S * S }, () => (st.uniform() < 0.3 ? 1 : -1));
  const embeddings = Float32Array.from(st.normals(count * n * d), (v) => v / 8);
  const masks = new Float32Array(count * n).fill(1);
  const nullEmbedding = new Float32Array(n * d);
  const nullMask = new Float32Array(n);
  nullMask[0] = 1;
  return { count, size: S, images, embeddings, masks, nullEmbedding, nullMask, tokens: n, dim: d };
}
const TINY_TRAIN: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, unet: TINY, batchSize: 4, steps: 30, lr: 5e-3, warmupSteps: 2, minSnrGamma: Infinity, seed: 7 };

describe("training", () => {
  test("the LR schedule warms up linearly and decays by a cosine to lr·minLrRatio; the EMA decay warms up", () => {
    const c = { lr: 1e-3, warmupSteps: 10, steps: 110, minLrRatio: 0.1 };
    expect(learningRate(c, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(c, 9)).toBeCloseTo(1e-3, 12);
    expect(learningRate(c, 60)).toBeCloseTo(1e-3 * (0.1 + 0.9 * 0.5), 12);
    expect(learningRate(c, 110)).toBeCloseTo(1e-4, 12);
    expect(emaDecayAt(0.999, 0)).toBeCloseTo(0.1, 12);
    expect(emaDecayAt(0.999, 1e6)).toBe(0.999);
  });

  test("loss weights: min-SNR-γ, and the v-loss ‖v − v̂‖² = ‖ε − ε̂‖²/ᾱ with 1/ᾱ capped", () => {
    const st = new GaussianStream("v-loss");
    for (const abar of [0.999, 0.5, 0.05]) {
      // v = √ᾱ ε − √(1−ᾱ) x₀, and v̂ from ε̂ through x̂₀ = (xₜ − √(1−ᾱ) ε̂)/√ᾱ.
      const [x0, eps, epsHat] = [st.normal(), st.normal(), st.normal()];
      const xt = Math.sqrt(abar) * x0 + Math.sqrt(1 - abar) * eps;
      const x0Hat = (xt - Math.sqrt(1 - abar) * epsHat) / Math.sqrt(abar);
      const v = Math.sqrt(abar) * eps - Math.sqrt(1 - abar) * x0;
      const vHat = Math.sqrt(abar) * epsHat - Math.sqrt(1 - abar) * x0Hat;
      expect((v - vHat) ** 2).toBeCloseTo(lossWeight({ lossWeighting: "v", minSnrGamma: 5, lossWeightCap: 1e9 }, abar) * (eps - epsHat) ** 2, 10);
    }
    expect(lossWeight({ lossWeighting: "v", minSnrGamma: 5, lossWeightCap: 20 }, 1e-4)).toBe(20);
    const snr = 0.9 / 0.1;
    expect(lossWeight({ lossWeighting: "min-snr", minSnrGamma: 5, lossWeightCap: 20 }, 0.9)).toBeCloseTo(5 / snr, 12);
    expect(lossWeight({ lossWeighting: "min-snr", minSnrGamma: Infinity, lossWeightCap: 20 }, 0.9)).toBe(1);
    expect(() => validateTrainConfig({ ...TINY_TRAIN, lossWeighting: "x0" as "v" })).toThrow(/lossWeighting/);
    expect(() => validateTrainConfig({ ...TINY_TRAIN, lossWeightCap: 0.5 })).toThrow(/lossWeightCap/);
  });

  test("the batch follows the closed form xₜ = √ᾱₜ x₀ + √(1 − ᾱₜ) ε, and dropped items get the null condition", () => {
    const data = tinyData(6);
    const abar = makeSchedule().alphasCumprod;
    const b = drawBatch(data, { ...TINY_TRAIN, pDrop: 0.5, batchSize: 16 }, abar, 3);
    const D = 64;
    for (let i = 0; i < 16; i++) {
      const a = abar[b.timesteps[i]];
      for (const k of [0, 17, 63]) expect(b.xt[i * D + k]).toBeCloseTo(Math.sqrt(a) * data.images[b.indices[i] * D + k] + Math.sqrt(1 - a) * b.eps[i * D + k], 5);
      if (b.dropped[i]) expect(Array.from(b.masks.subarray(i * n, (i + 1) * n))).toEqual(Array.from(data.nullMask));
    }
    expect(b.dropped.some(Boolean)).toBe(true);
    expect(drawBatch(data, TINY_TRAIN, abar, 3).xt).toEqual(drawBatch(data, TINY_TRAIN, abar, 3).xt); // a step's batch depends on (seed, step) only
  });

  test("a few AdamW steps on one fixed batch reduce its loss", async () => {
    const data = tinyData(4);
    const s = initTrainState(tf, { ...TINY_TRAIN, pDrop: 0 });
    const batch = drawBatch(data, s.config, makeSchedule().alphasCumprod, 0);
    const losses: number[] = [];
    for (let i = 0; i < 10; i++) losses.push((await trainStep(tf, s, { ...batch })).loss);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(0.8 * losses[0]);
  });

  test("CKPT-RESUME: stopping, saving, restoring and continuing gives exactly the uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "glyffuser-ckpt-"));
    const data = tinyData(8);
    const abar = makeSchedule().alphasCumprod;
    const run = async (s: ReturnType<typeof initTrainState>, to: number) => { while (s.step < to) await trainStep(tf, s, drawBatch(data, s.config, abar, s.step)); };
    const a = initTrainState(tf, TINY_TRAIN);
    await run(a, 4);
    const b = initTrainState(tf, TINY_TRAIN);
    await run(b, 2);
    const path = join(dir, "checkpoint.bin");
    saveCheckpoint(path, (await checkpointContents(b)) as unknown as CheckpointContents);
    const c = restoreTrainState(tf, path);
    expect(c.step).toBe(2);
    expect(c.config).toEqual(TINY_TRAIN);
    await run(c, 4);
    const [wa, wc] = [await readWeights(a.params), await readWeights(c.params)];
    for (const [k, p] of wa) expect(wc.get(k)!.data).toEqual(p.data);
    const [ea, ec] = [await readWeights(a.ema), await readWeights(c.ema)];
    for (const [k, p] of ea) expect(ec.get(k)!.data).toEqual(p.data);
  });
  test("data-parallel workers (--workers 2) take the same steps as one process: the shards' size-weighted gradients are the batch's", async () => {
    const data = tinyData(8);
    const abar = makeSchedule().alphasCumprod;
    const config = { ...TINY_TRAIN, batchSize: 5 }; // uneven shards (3 + 2)
    const one = initTrainState(tf, config);
    const two = initTrainState(tf, config);
    const helpers = await startGradientWorkers(1, "wasm", two);
    try {
      for (let k = 0; k < 3; k++) {
        const a = await trainStep(tf, one, drawBatch(data, config, abar, k));
        const b = await trainStep(tf, two, drawBatch(data, config, abar, k), helpers);
        expect(b.loss).toBeCloseTo(a.loss, 5);
        expect(b.gradNorm).toBeCloseTo(a.gradNorm, 4);
      }
    } finally {
      helpers.close();
    }
    const [wa, wb] = [await readWeights(one.params), await readWeights(two.params)];
    for (const [k, p] of wa) {
      const q = wb.get(k)!.data;
      let worst = 0;
      p.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - q[i]))));
      // Adam divides by √v̂, which magnifies float rounding where a gradient is near 0; each step moves a
      // parameter by at most ≈ lr = 5·10⁻³, so 10⁻⁴ after 3 steps is under 1 % of the movement.
      expect(worst, k).toBeLessThan(1e-4);
    }
    expect(shardBounds(5, 2)).toEqual([[0, 2], [2, 5]]);
    expect(shardBounds(1, 4)).toEqual([[0, 1]]);
  }, 60_000);

  test("a gradient worker that fails fails the step with its message (and the trainer's state is untouched)", async () => {
    const s = initTrainState(tf, TINY_TRAIN);
    const helpers = await startGradientWorkers(1, "wasm", s);
    try {
      const bad = { ...drawBatch(tinyData(4), TINY_TRAIN, makeSchedule().alphasCumprod, 0) };
      const broken = { count: 1, dispatch: (st: typeof s, shards: readonly (typeof bad)[]) => helpers.dispatch(st, shards.map((x) => ({ ...x, xt: x.xt.subarray(0, 3) }))) };
      await expect(trainStep(tf, s, bad, broken)).rejects.toThrow(/gradient worker \d+ failed/);
      expect(s.step).toBe(0);
    } finally {
      helpers.close();
    }
  }, 60_000);
});

// ─── checkpoint files ───────────────────────────────────────────────────────────────────────────

describe("checkpoint files", () => {
  const contents: CheckpointContents = {
    meta: { format: "test", step: 4 },
    tensors: [
      { name: "a", group: "param", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) },
      { name: "b", group: "ema", shape: [1], data: Float32Array.from([Math.PI]) },
    ],
  };

  test("round trip", () => {
    const back = decodeCheckpoint(encodeCheckpoint(contents));
    expect(back.meta).toEqual(contents.meta);
    expect(back.tensors.map((t) => [t.name, t.group, t.shape, Array.from(t.data)])).toEqual(contents.tensors.map((t) => [t.name, t.group, t.shape, Array.from(t.data)]));
  });

  test("a missing, truncated, bit-flipped or foreign file is an InputFileError naming the path", () => {
    const dir = mkdtempSync(join(tmpdir(), "glyffuser-bad-"));
    const path = join(dir, "checkpoint.bin");
    expect(() => loadCheckpoint(path)).toThrow(InputFileError);
    expect(() => loadCheckpoint(path)).toThrow(path);
    const bytes = encodeCheckpoint(contents);
    writeFileSync(path, bytes.subarray(0, bytes.length - 7));
    expect(() => loadCheckpoint(path)).toThrow(/SHA-256|too short/);
    const flipped = Uint8Array.from(bytes);
    flipped[40] ^= 1;
    writeFileSync(path, flipped);
    expect(() => loadCheckpoint(path)).toThrow(new RegExp(`${path}.*SHA-256`));
    writeFileSync(path, "not a checkpoint at all, just some text that is long enough to be read");
    expect(() => loadCheckpoint(path)).toThrow(/magic/);
    writeFileSync(path, bytes);
    expect(() => restoreTrainState(tf, path)).toThrow(/not a glyffuser training checkpoint/);
  });

  test("CKPT-ATOMIC: a write that fails midway (a full disk) leaves the previous checkpoint and no temporary file", () => {
    const dir = mkdtempSync(join(tmpdir(), "glyffuser-atomic-"));
    const path = join(dir, "checkpoint.bin");
    saveCheckpoint(path, contents);
    const before = readFileSync(path);
    let calls = 0;
    const fullDisk = {
      write: () => {
        if (++calls > 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        return 0;
      },
    };
    expect(() => saveCheckpoint(path, { ...contents, meta: { format: "test", step: 5 } }, fullDisk)).toThrow(/ENOSPC/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(["checkpoint.bin"]);
    expect(loadCheckpoint(path).meta).toEqual({ format: "test", step: 4 });
    // A short write that reports 0 bytes is a failure too, not an endless loop.
    expect(() => writeFileAtomic(join(dir, "other.bin"), new Uint8Array(10), { write: () => 0 })).toThrow(/short write/);
    expect(readdirSync(dir)).toEqual(["checkpoint.bin"]);
  });
});

describe("diffspec train: bad input", () => {
  test("a backend without gradients is a ConfigError; a corrupt checkpoint in --out is an InputFileError naming it", async () => {
    const { trainCommand } = await import("../cli/train.ts");
    const dir = mkdtempSync(join(tmpdir(), "glyffuser-train-"));
    await expect(trainCommand(["--out", dir, "--backend", "onnxruntime-cpu"])).rejects.toThrow(/training needs gradients/);
    writeFileSync(join(dir, "checkpoint.bin"), "DSGLYCKP but then nothing sensible at all, and long enough to be read as a checkpoint file");
    await expect(trainCommand(["--out", dir, "--backend", "tfjs-wasm"])).rejects.toThrow(InputFileError);
    await expect(trainCommand(["--out", dir, "--backend", "tfjs-wasm"])).rejects.toThrow(join(dir, "checkpoint.bin"));
    await expect(trainCommand(["--out", join(dir, "fresh"), "--backend", "tfjs-wasm", "--lr=-1"])).rejects.toThrow(/--lr = "-1" is not allowed: a number in \(0, 1\]/);
    expect(readdirSync(dir)).toEqual(["checkpoint.bin"]); // nothing created for the refused run
  });

  test("--workers and --encoder are checked before anything starts, with what is allowed", async () => {
    const { trainCommand } = await import("../cli/train.ts");
    const dir = join(mkdtempSync(join(tmpdir(), "glyffuser-train-")), "run");
    await expect(trainCommand(["--out", dir, "--workers", "0"])).rejects.toThrow(/--workers = "0" is not allowed: .*\[1, 64\]/);
    await expect(trainCommand(["--out", dir, "--workers", "two"])).rejects.toThrow(/--workers/);
    await expect(trainCommand(["--out", dir, "--encoder", "t5"])).rejects.toThrow(/text encoder = "t5" is not allowed: one of embedded-v1, lexical-v1/);
    await expect(trainCommand(["--out", dir, "--backend", "tfjs-cpu", "--workers", "2", "--steps", "1", "--quiet", "--encoder", "nope"])).rejects.toThrow(ConfigError);
    expect(existsSync(dir)).toBe(false);
  });
});
