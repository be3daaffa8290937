/** Text encoders, cross-attention shapes and guidance inputs: examples and typed errors (spec/11, spec/12). */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { referenceBackend } from "../adapters/reference/index.ts";
import { GaussianMixture } from "../reference/distributions.ts";
import { ConfigError, InputFileError, NonFiniteError, ShapeError } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";
import { makeSchedule } from "../reference/schedule.ts";
import type { Tensor } from "../reference/tensor.ts";
import {
  classConditionalOracle,
  classConditioning,
  crossAttention,
  EMBEDDED_ENCODER_DIR,
  embeddedTextEncoder,
  EOS_ID,
  imageToTokens,
  loadEmbeddedTable,
  scheduleNoiseLevel,
  tokenize,
  tokensToImage,
  transformersTextEncoder,
  type AttentionParams,
} from "../reference/conditioning/index.ts";
import { classifierFreeGuidance, dropCondition, guidedDenoiser, rescaleGuidance } from "../reference/guidance.ts";

const TINY_T5 = fileURLToPath(new URL("../fixtures/text-encoder/tiny-t5/", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "diffspec-cond-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const randn = (s: GaussianStream, shape: number[], sd = 1): Tensor => {
  const t = s.randn(shape);
  t.data.forEach((v, i) => (t.data[i] = v * sd));
  return t;
};
const weights = (s: GaussianStream, dq: number, dc: number, dm: number): AttentionParams => ({
  wq: randn(s, [dq, dm], 1 / Math.sqrt(dq)),
  wk: randn(s, [dc, dm], 1 / Math.sqrt(dc)),
  wv: randn(s, [dc, dm], 1 / Math.sqrt(dc)),
  wo: randn(s, [dm, dq], 1 / Math.sqrt(dm)),
  bo: randn(s, [dq]),
});

describe("embedded text encoder (COND-ENCODER)", () => {
  const enc = embeddedTextEncoder();

  test("d = 64, n = 16, and the table is the committed one", () => {
    expect([enc.dim, enc.maxLength]).toEqual([64, 16]);
    const t = loadEmbeddedTable();
    expect(t.manifest.rows).toBe(2 + 2048 + 254);
    expect(t.words.slice(0, 4)).toEqual(["to", "a", "of", "the"]);
  });

  test("tokenizer: lowercase words, digit runs, single punctuation; vocabulary words keep their ids", () => {
    expect(tokenize("Gold; metals in general (money) 24K")).toEqual(["gold", ";", "metals", "in", "general", "(", "money", ")", "24", "k"]);
    const t = loadEmbeddedTable();
    const ids = enc.ids("gold water");
    expect(ids).toEqual([t.index.get("gold"), t.index.get("water"), EOS_ID]);
    const unknown = enc.ids("glyffuserish")[0];
    expect(unknown).toBeGreaterThanOrEqual(2 + 2048);
    expect(unknown).toBeLessThan(2 + 2048 + 254);
  });

  test("deterministic, async = sync, and truncation keeps </s>", async () => {
    const long = Array(40).fill("horse").join(" ");
    const a = enc.encodeSync(["gold", long]);
    const b = await enc.encode(["gold", long]);
    expect(Array.from(b.embeddings.data)).toEqual(Array.from(a.embeddings.data));
    expect(Array.from(a.mask.data.subarray(0, 16))).toEqual([1, 1, ...Array(14).fill(0)]);
    expect(Array.from(a.mask.data.subarray(16))).toEqual(Array(16).fill(1));
    expect(enc.ids(long)).toHaveLength(16);
    expect(enc.ids(long).at(-1)).toBe(EOS_ID);
  });

  test("the null condition is </s> alone; blank prompts are refused", async () => {
    const nul = await enc.encodeNull(2);
    expect(Array.from(nul.mask.data)).toEqual([1, ...Array(15).fill(0), 1, ...Array(15).fill(0)]);
    await expect(enc.encode([""])).rejects.toThrow(ConfigError);
    await expect(enc.encode(["gold", "  \n"])).rejects.toThrow(/prompts\[1\]/);
    expect(() => embeddedTextEncoder({ maxLength: 1 })).toThrow(ConfigError);
  });

  test("a missing or corrupt table is an InputFileError naming the file", () => {
    expect(() => embeddedTextEncoder({ folder: join(tmp, "nowhere") })).toThrow(InputFileError);
    const dir = join(tmp, "corrupt");
    mkdirSync(dir);
    for (const f of ["embedded.json", "vocab.txt", "embeddings-f32.bin"]) copyFileSync(join(EMBEDDED_ENCODER_DIR, f), join(dir, f));
    const bin = readFileSync(join(dir, "embeddings-f32.bin"));
    bin[100] ^= 0xff;
    writeFileSync(join(dir, "embeddings-f32.bin"), bin);
    expect(() => embeddedTextEncoder({ folder: dir })).toThrow(/embeddings-f32\.bin: SHA-256/);
  });
});

describe("transformers.js text encoder (COND-ENCODER)", () => {
  test("a missing folder is an InputFileError naming the folder and the files expected", async () => {
    const missing = join(tmp, "no-such-t5-small");
    const err = await transformersTextEncoder(missing).catch((e) => e);
    expect(err).toBeInstanceOf(InputFileError);
    expect(err.message).toContain(missing);
    expect(err.message).toContain("onnx/encoder_model.onnx");
  });

  test("a folder without an ONNX encoder is an InputFileError", async () => {
    const dir = join(tmp, "no-onnx");
    mkdirSync(dir);
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(TINY_T5, f), join(dir, f));
    await expect(transformersTextEncoder(dir)).rejects.toThrow(/has no ONNX encoder graph/);
  });

  test("loads the tiny T5-layout fixture offline: shapes, mask, null condition, truncation keeps </s>", async () => {
    const enc = await transformersTextEncoder(TINY_T5, { maxLength: 6 });
    expect([enc.dim, enc.maxLength]).toEqual([8, 6]);
    const e = await enc.encode(["water horse", "kind of ancient bamboo horse fish rice"]);
    expect(e.embeddings.shape).toEqual([2, 6, 8]);
    expect(Array.from(e.mask.data)).toEqual([1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    expect(e.embeddings.data.every(Number.isFinite)).toBe(true);
    const again = await enc.encode(["water horse"]);
    expect(Array.from(again.embeddings.data)).toEqual(Array.from(e.embeddings.data.subarray(0, 48)));
    const nul = await enc.encodeNull(1);
    expect(Array.from(nul.mask.data)).toEqual([1, 0, 0, 0, 0, 0]);
    // This fixture has no positions, so </s> has one vector everywhere: the truncated row ends in it.
    expect(Array.from(e.embeddings.data.subarray(48 + 5 * 8, 48 + 6 * 8))).toEqual(Array.from(nul.embeddings.data.subarray(0, 8)));
    await expect(enc.encode([" "])).rejects.toThrow(ConfigError);
  });
});

describe("class-conditional oracle (COND-ORACLE)", () => {
  test("scheduleNoiseLevel is exact at integer timesteps and interpolates log σ between them", () => {
    const schedule = makeSchedule();
    const level = scheduleNoiseLevel(schedule);
    for (const t of [0, 1, 500, 999]) {
      const { alpha, sigma } = level(t);
      expect(alpha * alpha).toBeCloseTo(schedule.alphasCumprod[t], 14);
      expect(alpha * alpha + sigma * sigma).toBeCloseTo(1, 15);
    }
    const mid = level(500.5);
    const s = mid.sigma / mid.alpha;
    expect(Math.log(s)).toBeCloseTo((Math.log(schedule.sigmas[500]) + Math.log(schedule.sigmas[501])) / 2, 13);
    expect(() => level(-1)).toThrow(ConfigError);
    expect(() => level(NaN)).toThrow(ConfigError);
  });
});

describe("cross-attention (COND-ATTN)", () => {
  test("a feature map attends over the embedded encoder's tokens; tokens round-trip", () => {
    const s = new GaussianStream("cond-test/attn");
    const enc = embeddedTextEncoder();
    const text = enc.encodeSync(["gold; metals in general; money"]);
    const fmap = randn(s, [1, 4, 3, 3]);
    const q = imageToTokens(fmap);
    expect(q.shape).toEqual([1, 9, 4]);
    expect(Array.from(tokensToImage(q, 3, 3).data)).toEqual(Array.from(fmap.data));
    const out = crossAttention(q, text.embeddings, weights(s, 4, 64, 8), 2, text.mask);
    expect(out.shape).toEqual([1, 9, 4]);
  });

  test("one token: every query gets (c Wv) Wo + bo", () => {
    const s = new GaussianStream("cond-test/one-token");
    const p = weights(s, 3, 2, 4);
    const c: Tensor = { shape: [1, 1, 2], data: Float64Array.of(0.5, -2) };
    const out = crossAttention(randn(s, [1, 5, 3]), c, p, 2);
    const v = [0, 1, 2, 3].map((k) => 0.5 * p.wv.data[k] - 2 * p.wv.data[4 + k]);
    const want = [0, 1, 2].map((o) => p.bo!.data[o] + v.reduce((acc, vk, k) => acc + vk * p.wo.data[k * 3 + o], 0));
    for (let i = 0; i < 5; i++) want.forEach((w, o) => expect(out.data[i * 3 + o]).toBeCloseTo(w, 13));
  });

  test("an embedding width that does not match the attention is a ShapeError naming cross_attention_dim", async () => {
    const s = new GaussianStream("cond-test/width");
    const t5 = await transformersTextEncoder(TINY_T5);
    const text = await t5.encode(["gold"]);
    expect(() => crossAttention(randn(s, [1, 4, 4]), text.embeddings, weights(s, 4, 64, 8), 2, text.mask)).toThrow(/cross_attention_dim/);
    expect(() => crossAttention(randn(s, [1, 4, 4]), text.embeddings, weights(s, 4, 8, 8), 2, { shape: [1, 15], data: new Float64Array(15).fill(1) })).toThrow(ShapeError);
    const x = randn(s, [1, 4, 4]);
    x.data[3] = Infinity;
    expect(() => crossAttention(x, text.embeddings, weights(s, 4, 8, 8), 2, text.mask)).toThrow(NonFiniteError);
  });
});

describe("guidance (CFG)", () => {
  const u: Tensor = { shape: [1, 4], data: Float64Array.of(0, 1, 2, 3) };
  const c: Tensor = { shape: [1, 4], data: Float64Array.of(1, 1, 1, 5) };

  test("ε_u + w(ε_c − ε_u) by hand", () => {
    expect(Array.from(classifierFreeGuidance(u, c, 7.5).data)).toEqual([7.5, 1, -5.5, 18]);
    expect(() => classifierFreeGuidance(u, c, NaN)).toThrow(/guidanceScale/);
  });

  test("rescale at φ = 1 by hand: std(c) = std([1,1,1,5]) = √3", () => {
    const g = classifierFreeGuidance(u, c, 2);
    const r = rescaleGuidance(g, c, 1);
    const sd = (a: Float64Array) => { const m = a.reduce((x, y) => x + y) / a.length; return Math.sqrt(a.reduce((x, y) => x + (y - m) ** 2, 0) / a.length); };
    expect(sd(r.data)).toBeCloseTo(Math.sqrt(3), 14);
  });

  test("a guided oracle is a Denoiser; dropout with a per-item null condition", async () => {
    const data = new GaussianMixture([{ mean: Float64Array.of(-2), std: 0.5, weight: 1, label: 0 }, { mean: Float64Array.of(2), std: 0.5, weight: 1, label: 1 }]);
    const oracle = classConditionalOracle(data, scheduleNoiseLevel(makeSchedule()));
    const den = guidedDenoiser(oracle, referenceBackend, classConditioning(oracle.classes, [1]), classConditioning(oracle.classes, [null]), 4);
    expect(den.predictionType).toBe("epsilon");
    const eps = (await den.evaluate({ shape: [1, 1], data: Float64Array.of(0) }, 500)) as Tensor;
    expect(eps.data[0]).toBeLessThan(0); // ε points away from the class-1 mean at +2: x̂₀ = (x − σε)/α moves toward it
    const conds = classConditioning(oracle.classes, [0, 1, 0, 1]);
    const { cond, dropped } = dropCondition(conds, classConditioning(oracle.classes, [null, null, null, null]), 0.5, new GaussianStream("cond-test/drop"));
    dropped.forEach((d, b) => expect(Array.from(cond.embeddings.data.subarray(2 * b, 2 * b + 2))).toEqual(d ? [0, 0] : Array.from(conds.embeddings.data.subarray(2 * b, 2 * b + 2))));
  });
});
