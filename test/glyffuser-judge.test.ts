/**
 * The radical judge (glyffuser/judge.ts) and the adherence scoring built on it (glyffuser/adherence.ts):
 * the committed weights reproduce the held-out accuracy recorded beside them, re-training is deterministic,
 * the split rule is fixed by code point, and a corrupt judge file is an InputFileError.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { buildNeighbourIndex, judgeChance, RADICAL_GROUPS, scoreGlyphs } from "../glyffuser/adherence.ts";
import { loadGlyphDataset } from "../glyffuser/dataset.ts";
import {
  DEFAULT_JUDGE_PATH, evaluateJudge, firstExamples, isHeldOut, JUDGE_CLASSES, JUDGE_HYPER, judgeClass, judgeData, judgeProbabilities, loadJudge, shiftedData, shiftGlyph, trainJudge, wilsonInterval,
} from "../glyffuser/judge.ts";
import { InputFileError } from "../reference/errors.ts";
import { ADHERENCE_HELP, adherenceCommand } from "../cli/adherence.ts";
import { createHash } from "node:crypto";

const ds = loadGlyphDataset();

describe("radical judge: the committed weights", () => {
  test("reproduce the recorded held-out accuracy, per class and confusion matrix, on the same glyphs (≥ 90 %)", () => {
    const judge = loadJudge();
    const m = judge.manifest;
    expect(m.dataset.pixelsSha256).toBe(createHash("sha256").update(ds.pixels).digest("hex"));
    const held = judgeData(ds, "heldout");
    expect(held.labels.length).toBe(m.dataset.heldOut);
    const ev = evaluateJudge(judge.weights, held);
    expect(ev.correct).toBe(m.heldOut.correct);
    expect(ev.confusion).toEqual(m.heldOut.confusion);
    expect(ev.perClass).toEqual(m.heldOut.perClass);
    expect(ev.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(m.hyper).toEqual(JUDGE_HYPER);
    expect(evaluateJudge(judge.weights, shiftedData(held, 1, 0)).accuracy).toBe(m.heldOutShifted.right);
    for (const v of Object.values(m.heldOutShifted)) expect(v).toBeGreaterThanOrEqual(0.85);
  });

  test("a corrupt or missing weights file is an InputFileError naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "judge-"));
    const json = join(dir, "judge.json");
    copyFileSync(DEFAULT_JUDGE_PATH, json);
    expect(() => loadJudge(json)).toThrow(/judge-f32\.bin: missing/);
    const bytes = readFileSync(DEFAULT_JUDGE_PATH.replace(/\.json$/, "-f32.bin"));
    bytes[100] ^= 1;
    writeFileSync(join(dir, "judge-f32.bin"), bytes);
    expect(() => loadJudge(json)).toThrow(InputFileError);
    expect(() => loadJudge(json)).toThrow(/SHA-256/);
    expect(() => loadJudge(join(dir, "none.json"))).toThrow(/train-judge/);
  });
});

describe("radical judge: split and training", () => {
  test("JUDGE-SPLIT: held out by code point alone, about a fifth, disjoint from training", () => {
    const held = ds.records.filter((r) => isHeldOut(r.codepoint)).length;
    expect(held / ds.records.length).toBeGreaterThan(0.17);
    expect(held / ds.records.length).toBeLessThan(0.23);
    expect(judgeData(ds, "train").labels.length + judgeData(ds, "heldout").labels.length).toBe(ds.records.length);
    expect(JUDGE_CLASSES.map((_, c) => c)).toEqual([167, 85, 140, 64, 9, 75, 1].map(judgeClass));
  });

  test("re-training on a small subset is deterministic (bit for bit), and another seed gives other weights", () => {
    const small = firstExamples(judgeData(ds, "train"), 200);
    const hyper = { ...JUDGE_HYPER, hidden: 8, epochs: 2 }; // with the shift augmentation of the committed judge
    const a = trainJudge(small, hyper);
    const b = trainJudge(small, hyper);
    const c = trainJudge(small, { ...hyper, seed: 1 });
    for (const k of ["w1", "b1", "w2", "b2"] as const) expect(Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer))).toBe(true);
    expect(Buffer.from(a.w1.buffer).equals(Buffer.from(c.w1.buffer))).toBe(false);
  });

  test("JUDGE-INPUT: background speckle below the ink floor leaves the judge's probabilities unchanged", () => {
    const judge = loadJudge();
    const held = judgeData(ds, "heldout");
    for (let n = 0; n < 5; n++) {
      const x = held.images.slice(n * 1024, (n + 1) * 1024);
      const speckled = x.map((v, k) => (v === 0 && k % 3 !== 0 ? (0.2 * ((k * 7919) % 101)) / 101 : v));
      expect(speckled).not.toEqual(x);
      expect(judgeProbabilities(judge.weights, speckled)).toEqual(judgeProbabilities(judge.weights, x));
    }
  });

  test("shiftGlyph moves ink by (dx, dy) and fills with background", () => {
    const x = new Float32Array(16);
    x[1 * 4 + 1] = 1;
    const out = shiftGlyph(x, 2, -1, new Float32Array(16));
    expect([...out].map((v, i) => (v ? i : -1)).filter((i) => i >= 0)).toEqual([0 * 4 + 3]);
    expect([...shiftGlyph(x, 3, 0, new Float32Array(16))].every((v) => v === 0)).toBe(true);
  });

  test("Wilson score interval: known values, bounds within [0, 1]", () => {
    const a = wilsonInterval(5, 10);
    expect(a.low).toBeCloseTo(0.2366, 4);
    expect(a.high).toBeCloseTo(0.7634, 4);
    const z = wilsonInterval(0, 10);
    expect(z.low).toBe(0);
    expect(z.high).toBeCloseTo(0.2775, 4);
    expect(wilsonInterval(10, 10).high).toBe(1);
  });
});

describe("adherence scoring with the judge", () => {
  test("real held-out glyphs of each group, scored as if generated for it, hit at the judge's per-class accuracy", () => {
    const judge = loadJudge();
    const idx = buildNeighbourIndex({ ...ds, records: ds.records.slice(0, 200), pixels: ds.pixels.subarray(0, 200 * 1024) }, 50);
    const D = ds.size * ds.size;
    for (const g of RADICAL_GROUPS) {
      const rows = ds.records.map((r, i) => [r, i] as const).filter(([r]) => isHeldOut(r.codepoint) && r.radical === g.radical);
      const images = new Float64Array(rows.length * D);
      rows.forEach(([, i], j) => { for (let k = 0; k < D; k++) images[j * D + k] = (2 * ds.pixels[i * D + k]) / 255 - 1; });
      const s = scoreGlyphs(images, rows.map(() => g), judge.weights, idx, 0);
      const pc = judge.manifest.heldOut.perClass[judgeClass(g.radical)];
      expect(s.hits[g.name]).toEqual({ k: pc.correct, n: pc.count });
    }
  });

  test("the judge's chance is near the training share (10 %) for every focus radical", () => {
    const { confusion } = loadJudge().manifest.heldOut;
    for (const g of RADICAL_GROUPS) {
      const c = judgeChance(ds, confusion, g.radical);
      expect(c).toBeGreaterThan(0.07);
      expect(c).toBeLessThan(0.13);
    }
  });
});

describe("diffspec adherence: the judge option", () => {
  test("a missing judge is an InputFileError naming it, raised before any sampling; --help names the option", async () => {
    await expect(adherenceCommand(["--judge", "/nonexistent/judge.json"])).rejects.toThrow(/\/nonexistent\/judge\.json: missing/);
    expect(ADHERENCE_HELP).toMatch(/--judge PATH/);
  });
});
