/**
 * The article's own figures that the first set (plot/figures.ts) did not draw (spec/article-figures.txt):
 * training vs generated glyphs, a glyph's pixel values, one noising step on 2-D data, the glyph dataset
 * noised to several t, the model predicting the added noise, 5 vs 120 sampling steps, one step with the
 * prompt "gold", and the DPMSolverSDEScheduler's trajectory. The glyph figures use the committed dataset
 * and checkpoint (onnxruntime-cpu) and are added only when those files are present, as figures 10a/10b.
 * Deterministic from fixed seeds: `npm run figures` rewrites them byte for byte.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { VegaLiteSpec } from "./vega.ts";
import { baseConfig } from "./vega.ts";
import type { Figure } from "./figures.ts";
import { ringData } from "./datasets.ts";
import { GaussianStream } from "../reference/rng.ts";
import { makeSchedule } from "../reference/schedule.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;
const r2 = (v: number): number => Math.round(v * 100) / 100;

/** A glyph for a grid cell: model-range values (−1 background … +1 ink), S×S. */
interface Cell { readonly row: string; readonly col: string; readonly values: ArrayLike<number> }

/** Faceted heatmap of S×S glyphs (ink dark), rows and columns in the order given; `signed` draws values in [−2, 2] diverging (noise). */
function glyphGrid(title: string, cells: readonly Cell[], S: number, px: number, opts: { signed?: (c: Cell) => boolean } = {}): VegaLiteSpec {
  const rows = [...new Set(cells.map((c) => c.row))], cols = [...new Set(cells.map((c) => c.col))];
  const values: object[] = [];
  for (const c of cells) {
    const signed = opts.signed?.(c) ?? false;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const v = c.values[y * S + x];
      values.push({ row: c.row, col: c.col, x, y, ink: r2(signed ? 0.5 + Math.max(-2, Math.min(2, v)) / 4 : Math.min(1, Math.max(0, (v + 1) / 2))), kind: signed ? "signed" : "ink" });
    }
  }
  return {
    $schema: SCHEMA, config: { ...baseConfig, view: { stroke: "#999" } }, title, data: { values },
    facet: { row: { field: "row", type: "nominal", title: null, sort: rows, header: { labelAngle: 0, labelAlign: "left", labelLimit: 0 } }, column: { field: "col", type: "nominal", title: null, sort: cols, header: { labelLimit: 0 } } },
    spacing: 4,
    spec: {
      width: px, height: px,
      layer: [
        { transform: [{ filter: "datum.kind === 'ink'" }], mark: { type: "rect" }, encoding: { x: { field: "x", type: "ordinal", axis: null }, y: { field: "y", type: "ordinal", axis: null }, color: { field: "ink", type: "quantitative", scale: { scheme: "greys", domain: [0, 1] }, legend: null } } },
        { transform: [{ filter: "datum.kind === 'signed'" }], mark: { type: "rect" }, encoding: { x: { field: "x", type: "ordinal", axis: null }, y: { field: "y", type: "ordinal", axis: null }, fill: { field: "ink", type: "quantitative", scale: { scheme: "blueorange", domain: [0, 1] }, legend: null } } },
      ],
    },
  } as VegaLiteSpec;
}

// ─── 2-D data: one noising step (no glyph files needed) ──────────────────────────────────────────

const fig3b: Figure = {
  name: "03b-one-noising-step-2d",
  article: "Forward diffusion intuition",
  chapter: "04-forward.md",
  caption: "The article's picture of one noising step on structured 2-D data: 400 samples x₀ of the ring dataset (blue) and, around five chosen points x₀⁽ⁱ⁾ (black crosses), the Gaussian q(x₁ | x₀ = x₀⁽ⁱ⁾) = 𝒩(√(1 − β) x₀⁽ⁱ⁾, βI) drawn as its 1σ and 2σ circles (orange) around its mean (orange dot), with an exaggerated β = 0.02. Each point becomes a small round Gaussian, centred slightly closer to the origin.",
  build() {
    const beta = 0.02;
    const s = new GaussianStream("fig03b");
    const data = ringData();
    const pts = Array.from({ length: 400 }, () => data.sample(s).x).map((p) => ({ x: r4(p[0]), y: r4(p[1]) }));
    const chosen = [0, 1, 3, 5, 6].map((k) => [Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)]);
    const circles: object[] = [];
    chosen.forEach(([cx, cy], i) => {
      const [mx, my] = [Math.sqrt(1 - beta) * cx, Math.sqrt(1 - beta) * cy];
      for (const k of [1, 2]) for (let a = 0; a <= 72; a++) {
        const th = (2 * Math.PI * a) / 72;
        circles.push({ ring: `${i}/${k}`, order: a, x: r4(mx + k * Math.sqrt(beta) * Math.cos(th)), y: r4(my + k * Math.sqrt(beta) * Math.sin(th)) });
      }
    });
    const scale = { domain: [-1.6, 1.6], nice: false };
    const x = { field: "x", type: "quantitative", scale, title: "x⁽¹⁾" }, y = { field: "y", type: "quantitative", scale, title: "x⁽²⁾" };
    return {
      $schema: SCHEMA, config: baseConfig, width: 360, height: 360, title: "One noising step q(x₁ | x₀) on 2-D data",
      layer: [
        { data: { values: pts }, mark: { type: "circle", size: 10, color: "#3182bd", opacity: 0.5 }, encoding: { x, y } },
        { data: { values: circles }, mark: { type: "line", color: "#e6550d", strokeWidth: 1.5 }, encoding: { x, y, detail: { field: "ring" }, order: { field: "order" } } },
        { data: { values: chosen.map(([cx, cy]) => ({ x: r4(Math.sqrt(1 - beta) * cx), y: r4(Math.sqrt(1 - beta) * cy) })) }, mark: { type: "circle", size: 30, color: "#e6550d", opacity: 1 }, encoding: { x, y } },
        { data: { values: chosen.map(([cx, cy]) => ({ x: r4(cx), y: r4(cy) })) }, mark: { type: "point", shape: "cross", size: 60, color: "#000000", filled: true }, encoding: { x, y } },
      ],
    } as VegaLiteSpec;
  },
};

// ─── the glyph dataset and the committed glyffuser ───────────────────────────────────────────────

async function dataset() {
  const { loadGlyphDataset, glyphPixels, toModelRange } = await import("../glyffuser/dataset.ts");
  const ds = loadGlyphDataset();
  return { ds, S: ds.size, glyph: (i: number) => toModelRange(glyphPixels(ds, i)), find: (ch: string) => Math.max(0, ds.records.findIndex((r) => r.char === ch)) };
}

const fig11a: Figure = {
  name: "11a-training-vs-generated",
  article: "Intro",
  chapter: "13-glyffuser.md",
  caption: "Random examples of the training data (top: 8 glyphs of the committed 32×32 dataset, every 500th) and of generated data (bottom: the committed glyffuser, 8 glyphs from the prompts of their column above, DPM-Solver++(2M) 20 steps, guidance w = 3, seed 0, onnxruntime-cpu). The generated glyphs have the strokes, boxes and left/right or top/bottom layouts of real ones; they are not copies of the glyph above them; where a caption's meaning has a semantic radical the model tends to draw it (fixtures/glyffuser/adherence.md measures how often).",
  async build() {
    const { ds, S, glyph } = await dataset();
    const { sampleGlyphs } = await import("../glyffuser/sample.ts");
    const picks = Array.from({ length: 8 }, (_, k) => k * 500).filter((i) => i < ds.records.length);
    const prompts = picks.map((i) => ds.records[i].definition.split(/[;,]/)[0].trim() || "gold");
    const out = await sampleGlyphs({ prompts, steps: 20, sampler: "dpmpp-2m", guidance: 3, seed: 0, backend: "onnxruntime-cpu" });
    const cells: Cell[] = [];
    picks.forEach((i, k) => cells.push({ row: "training", col: `${k + 1}`, values: glyph(i) }));
    picks.forEach((_, k) => cells.push({ row: "generated", col: `${k + 1}`, values: out.images.subarray(k * S * S, (k + 1) * S * S) }));
    return glyphGrid("Training data (top) and generated data (bottom)", cells, S, 64);
  },
};

const fig11b: Figure = {
  name: "11b-glyph-pixel-values",
  article: "Data representations",
  chapter: "02-data.md",
  caption: "An example glyph, 金 (gold), as the model sees it: 32 × 32 = 1024 greyscale pixels, each one number — here the ink byte 0 (background) … 255 (full ink) written in its cell; the model works on 2·v/255 − 1 ∈ [−1, 1] (DATA-RANGE), flattened row by row into a vector of length 1024 (DATA-LAYOUT).",
  async build() {
    const { ds, S, find } = await dataset();
    const { glyphPixels } = await import("../glyffuser/dataset.ts");
    const px = glyphPixels(ds, find("金"));
    const values: object[] = [];
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) values.push({ x, y, v: px[y * S + x] });
    const enc = { x: { field: "x", type: "ordinal", axis: null }, y: { field: "y", type: "ordinal", axis: null } };
    return {
      $schema: SCHEMA, config: { ...baseConfig, view: { stroke: "#999" } }, width: 640, height: 640, data: { values },
      title: `A glyph as ${S} × ${S} pixel values`,
      layer: [
        { mark: { type: "rect" }, encoding: { ...enc, color: { field: "v", type: "quantitative", scale: { scheme: "greys", domain: [0, 255] }, title: "ink" } } },
        { mark: { type: "text", fontSize: 6.5 }, encoding: { ...enc, text: { field: "v", type: "quantitative" }, color: { condition: { test: "datum.v > 127", value: "#ffffff" }, value: "#000000" } } },
      ],
    } as VegaLiteSpec;
  },
};

const NOISED_T = [0, 100, 250, 500, 999];

const fig11c: Figure = {
  name: "11c-glyphs-noised-umap",
  article: "Forward diffusion visualization",
  chapter: "13-glyffuser.md",
  caption: `The glyph dataset noised to t = ${NOISED_T.join(", ")} (the committed model's linear schedule): top, 80 glyphs (13 of each focus radical and 2 others, coloured by radical: Kangxi number and meaning) noised in one jump xₜ = √ᾱₜ x₀ + √(1 − ᾱₜ) ε, all ${5 * 80} points projected together by one UMAP (15 neighbours, min-dist 0.1, seeded); bottom, a Gaussian KDE of each panel's points on the same axes (darker = denser). At t = 0 the radicals form clusters; they survive moderate noise (up to t = 500 a glyph's nearest neighbours in pixel space are still glyphs of its radical) and are gone at t = 999, where the points form one structureless cloud: q(xₜ) has turned into 𝒩(0, I).`,
  async build() {
    const { UMAP } = await import("umap-js");
    const { ds, S, glyph } = await dataset();
    const { spreadPick, FOCUS_RADICALS } = await import("../glyffuser/dataset.ts");
    const idx = ds.records.map((r, i) => ({ r, i }));
    const chosen: { i: number; label: string }[] = [];
    const names: Record<number, string> = { 167: "167 gold", 85: "85 water", 140: "140 grass", 64: "64 hand", 9: "9 person", 75: "75 tree" };
    for (const rad of FOCUS_RADICALS) for (const { i } of spreadPick(idx.filter((e) => e.r.radical === rad), 13)) chosen.push({ i, label: names[rad] ?? String(rad) });
    for (const { i } of spreadPick(idx.filter((e) => !FOCUS_RADICALS.includes(e.r.radical)), 80 - chosen.length)) chosen.push({ i, label: "other" });
    const abar = makeSchedule({ betaSchedule: "linear", betaStart: 0.0001, betaEnd: 0.02 }).alphasCumprod;
    const s = new GaussianStream("fig11c");
    const X: number[][] = [];
    const meta: { t: number; label: string }[] = [];
    for (const t of NOISED_T) for (const c of chosen) {
      const x0 = glyph(c.i), e = s.normals(S * S), a = Math.sqrt(abar[t]), sg = Math.sqrt(1 - abar[t]);
      X.push(Array.from(x0, (v, k) => (t === 0 ? v : a * v + sg * e[k])));
      meta.push({ t, label: c.label });
    }
    const u = new GaussianStream("fig11c/umap");
    const Y = new UMAP({ nComponents: 2, nNeighbors: 15, minDist: 0.1, random: () => u.uniform() }).fit(X).map(([p, q]) => [r4(p), r4(q)]);
    const lo = [0, 1].map((d) => Math.min(...Y.map((p) => p[d]))), hi = [0, 1].map((d) => Math.max(...Y.map((p) => p[d])));
    const pad = [0, 1].map((d) => 0.05 * (hi[d] - lo[d]));
    const G = 24;
    const kde: object[] = [];
    for (const t of NOISED_T) {
      const P = Y.filter((_, k) => meta[k].t === t);
      const h = [0, 1].map((d) => { const v = P.map((p) => p[d]); const m = v.reduce((a, b) => a + b, 0) / v.length; return Math.max(1e-3, Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1))) * v.length ** (-1 / 6); });
      const cells: { x0: number; x1: number; y0: number; y1: number; d: number }[] = [];
      for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) {
        const [x0, y0] = [lo[0] - pad[0] + ((hi[0] - lo[0] + 2 * pad[0]) * gx) / G, lo[1] - pad[1] + ((hi[1] - lo[1] + 2 * pad[1]) * gy) / G];
        const [x1, y1] = [lo[0] - pad[0] + ((hi[0] - lo[0] + 2 * pad[0]) * (gx + 1)) / G, lo[1] - pad[1] + ((hi[1] - lo[1] + 2 * pad[1]) * (gy + 1)) / G];
        const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
        let d = 0;
        for (const [px, py] of P) d += Math.exp(-0.5 * (((cx - px) / h[0]) ** 2 + ((cy - py) / h[1]) ** 2));
        cells.push({ x0: r4(x0), x1: r4(x1), y0: r4(y0), y1: r4(y1), d: d / (P.length * 2 * Math.PI * h[0] * h[1]) });
      }
      const m = Math.max(...cells.map((c) => c.d));
      for (const c of cells) kde.push({ ...c, d: r4(c.d / m), t: `t = ${t}` });
    }
    const points = Y.map(([x, y], k) => ({ x, y, t: `t = ${meta[k].t}`, radical: meta[k].label }));
    const xs = { domain: [r4(lo[0] - pad[0]), r4(hi[0] + pad[0])], nice: false, zero: false }, ys = { domain: [r4(lo[1] - pad[1]), r4(hi[1] + pad[1])], nice: false, zero: false };
    const cols = NOISED_T.map((t) => `t = ${t}`);
    const domain = [...Object.values(names), "other"];
    return {
      $schema: SCHEMA, config: baseConfig, title: "The glyph dataset xₜ (top) and its density q(xₜ) (bottom) at different noising timesteps",
      vconcat: [
        { data: { values: points }, facet: { column: { field: "t", type: "nominal", title: null, sort: cols } }, spec: { width: 150, height: 150, mark: { type: "circle", size: 12, opacity: 0.85 }, encoding: { x: { field: "x", type: "quantitative", scale: xs, axis: null }, y: { field: "y", type: "quantitative", scale: ys, axis: null }, color: { field: "radical", type: "nominal", scale: { domain, range: ["#e6550d", "#3182bd", "#31a354", "#d62728", "#9467bd", "#8c564b", "#bdbdbd"] }, legend: { labelLimit: 0 } } } } },
        { data: { values: kde }, facet: { column: { field: "t", type: "nominal", title: null, sort: cols, header: null } }, spec: { width: 150, height: 150, mark: { type: "rect", stroke: null }, encoding: { x: { field: "x0", type: "quantitative", scale: xs, axis: null }, x2: { field: "x1" }, y: { field: "y0", type: "quantitative", scale: ys, axis: null }, y2: { field: "y1" }, fill: { field: "d", type: "quantitative", scale: { scheme: "greys", domain: [0, 1] }, legend: null } } } },
      ],
      resolve: { scale: { color: "independent" } },
    } as VegaLiteSpec;
  },
};

/** The committed model on onnxruntime-cpu: `eps(x, shape, t, prompts, w)` = the guided ε̂(x, t); `close()` when done. */
async function glyffuserSession() {
  const { loadModel } = await import("../glyffuser/model.ts");
  const { glyffuserDenoiser } = await import("../glyffuser/sample.ts");
  const { createBackend } = await import("../adapters/index.ts");
  const { namedTextEncoder } = await import("../reference/conditioning/embedded.ts");
  const { guidedDenoiser } = await import("../reference/guidance.ts");
  const model = loadModel();
  const backend = await createBackend("onnxruntime-cpu");
  const raw = await glyffuserDenoiser(backend, model);
  const enc = namedTextEncoder(model.manifest.encoder);
  const up = async (v: { data: Float64Array; shape: readonly number[] }) => backend.fromHost(v.data, v.shape);
  return {
    async eps(x: Float64Array, shape: number[], t: number, prompts: string[], w: number): Promise<Float64Array> {
      const c = enc.encodeSync(prompts), n = enc.encodeNullSync(prompts.length);
      const cond = { embeddings: await up(c.embeddings), mask: await up(c.mask) }, nul = { embeddings: await up(n.embeddings), mask: await up(n.mask) };
      const d = guidedDenoiser(raw, backend, cond, nul, w);
      return Float64Array.from(await backend.toHost(await d.evaluate(await backend.fromHost(x, shape), t, cond)));
    },
    close: async () => { await backend.close?.(); },
  };
}

const PREDICT_T = [50, 250, 500, 750, 950];

const fig11d: Figure = {
  name: "11d-noise-prediction",
  article: "Reverse diffusion overview",
  chapter: "13-glyffuser.md",
  caption: `The model predicts the added noise at any timestep: the glyph 金 (gold) noised in one jump to t = ${PREDICT_T.join(", ")} with one draw ε (top row, xₜ), the noise ε that was added (second row, blue–orange: negative–positive), the committed glyffuser's prediction ε̂(xₜ, t) with the glyph's own definition as prompt (third row, onnxruntime-cpu, w = 1) and the clean glyph it implies, x̂₀ = (xₜ − √(1 − ᾱₜ) ε̂)/√ᾱₜ (bottom, clipped to [−1, 1]). At small t the prediction is close to ε and x̂₀ to the glyph; at large t the noisy image says little about the glyph and x̂₀ is a blurred guess.`,
  async build() {
    const { ds, S, glyph, find } = await dataset();
    const i = find("金");
    const x0 = glyph(i);
    const eps = new GaussianStream("fig11d").normals(S * S);
    const abar = makeSchedule({ betaSchedule: "linear", betaStart: 0.0001, betaEnd: 0.02 }).alphasCumprod;
    const cells: Cell[] = [];
    const model = await glyffuserSession();
    for (const t of PREDICT_T) {
      const [a, sg] = [Math.sqrt(abar[t]), Math.sqrt(1 - abar[t])];
      const xt = Float64Array.from(x0, (v, k) => a * v + sg * eps[k]);
      const epsHat = await model.eps(xt, [1, 1, S, S], t, [ds.records[i].definition], 1);
      const col = `t = ${t}`;
      cells.push({ row: "xₜ", col, values: xt }, { row: "ε (added)", col, values: eps }, { row: "ε̂ (predicted)", col, values: epsHat });
      cells.push({ row: "x̂₀", col, values: xt.map((v, k) => Math.max(-1, Math.min(1, (v - sg * epsHat[k]) / a))) });
    }
    await model.close();
    return glyphGrid("The model predicts the added noise at any timestep t", cells, S, 64, { signed: (c) => c.row.startsWith("ε") });
  },
};

const STEPS_PROMPTS = ["gold", "water", "tree", "hand"];

const fig11e: Figure = {
  name: "11e-5-vs-120-steps",
  article: "Reverse diffusion in practice",
  chapter: "13-glyffuser.md",
  caption: `The same four starting noises denoised with 120 DDIM steps (top) and with only 5 (bottom): the committed glyffuser, prompts ${STEPS_PROMPTS.map((p) => `"${p}"`).join(", ")}, guidance w = 3, seed 0, onnxruntime-cpu. With 5 steps each step jumps far along the trajectory on the strength of one noise prediction: at this small size the glyphs stay glyph-like but come out coarser, and they differ from the 120-step glyphs grown from the same noise.`,
  async build() {
    const { sampleGlyphs } = await import("../glyffuser/sample.ts");
    const cells: Cell[] = [];
    for (const steps of [120, 5]) {
      const out = await sampleGlyphs({ prompts: STEPS_PROMPTS, steps, sampler: "ddim", guidance: 3, seed: 0, backend: "onnxruntime-cpu" });
      const S = out.size;
      STEPS_PROMPTS.forEach((p, k) => cells.push({ row: `${steps} steps`, col: `"${p}"`, values: out.images.subarray(k * S * S, (k + 1) * S * S) }));
    }
    return glyphGrid("120 sampling steps (top) and 5 (bottom)", cells, 32, 64);
  },
};

/** Glyphs per row of the "Gold" figure (the article shows a grid of glyphs for one prompt). */
const GOLD_COUNT = 8;

const fig11f: Figure = {
  name: "11f-gold-one-and-120-steps",
  article: "Testing the conditioned diffusion model",
  chapter: "13-glyffuser.md",
  caption: `The article's test of conditioning, with the committed glyffuser (onnxruntime-cpu, DDPM with trailing timestep spacing, seed 0): ${GOLD_COUNT} glyphs for the prompt "gold" denoised from pure noise in one step with guidance w = 15 (top: x̂₀ = (x_T − √(1 − ᾱ_T) ε̂)/√ᾱ_T at T = 999, clipped to [−1, 1]; w = 15 is where the adherence table's one-step row peaks), the same noises denoised in 120 steps with w = 3 (middle), and 120 steps unconditioned (bottom, the empty prompt). Each row title gives how many of its glyphs the radical judge (glyffuser/judge.ts, held-out accuracy in fixtures/glyffuser/judge.json) assigns the 金 radical; the shares over many seeds, with intervals, are in fixtures/glyffuser/adherence.md. The one-step estimate divides the model's ε error by √ᾱ_T ≈ 0.0064, so it is a coarse, noisy blur; the article's point is where it lands: toward the 金 region after one step, and, as in the article's 120-step video, 金 in every glyph after 120.`,
  async build() {
    const { sampleGlyphs } = await import("../glyffuser/sample.ts");
    const { loadJudge, judgeGlyph, judgeClass } = await import("../glyffuser/judge.ts");
    const judge = loadJudge().weights;
    const S = 32, D = S * S;
    // "trailing" spacing: one step starts at t = 999 (diffusers' default "leading" would take its one step at t = 0).
    const run = (steps: number, guidance: number) => sampleGlyphs({ prompts: ["gold"], count: GOLD_COUNT, steps, sampler: "ddpm", guidance, seed: 0, backend: "onnxruntime-cpu", schedulerConfig: { timestepSpacing: "trailing" } });
    const rows: [string, Float64Array][] = [];
    for (const [label, steps, w] of [["1 step, w = 15", 1, 15], ["120 steps, w = 3", 120, 3], ["120 steps, unconditioned", 120, 0]] as const) {
      const out = await run(steps, w);
      rows.push([label, Float64Array.from(out.images, (v) => Math.max(-1, Math.min(1, v)))]);
    }
    const gold = judgeClass(167);
    const cells: Cell[] = [];
    for (const [label, images] of rows) {
      let k = 0;
      for (let b = 0; b < GOLD_COUNT; b++) k += judgeGlyph(judge, Float32Array.from(images.subarray(b * D, (b + 1) * D), (v) => (v + 1) / 2)) === gold ? 1 : 0;
      for (let b = 0; b < GOLD_COUNT; b++) cells.push({ row: `${label}: ${k}/${GOLD_COUNT} 金`, col: `${b + 1}`, values: images.subarray(b * D, (b + 1) * D) });
    }
    return glyphGrid("\"gold\": one denoising step and 120", cells, S, 64);
  },
};

/** Frames: the initial noise (0) and the state after f calls. */
const SDE_PICK = [0, 4, 8, 12, 16, 18, 19];

const fig11g: Figure = {
  name: "11g-dpmsolver-sde",
  article: "Fun extras",
  chapter: "07-samplers-dpmsolver-sde.md",
  caption: "Sampling with the DPMSolverSDEScheduler (the article's closing video): the committed glyffuser, 10 steps = 19 model calls with Brownian-tree noise (noiseSamplerSeed = 0), prompts \"gold\" and \"water\", guidance w = 3, onnxruntime-cpu; the initial noise and the state after 4, 8, 12, 16, 18 and 19 calls (after an even number of calls the state is at the σ of a whole step), each divided by √(σ² + 1) so that every frame is on the model's scale. The noise fades smoothly into the glyph.",
  async build() {
    const { sampleGlyphs } = await import("../glyffuser/sample.ts");
    const { createScheduler } = await import("../reference/samplers/index.ts");
    const { referenceBackend } = await import("../adapters/reference/index.ts");
    const prompts = ["gold", "water"];
    const S = 32;
    const frames: Float64Array[] = [new GaussianStream(0).randn([prompts.length, 1, S, S]).data];
    await sampleGlyphs({ prompts, steps: 10, sampler: "dpmsolver-sde", guidance: 3, seed: 0, backend: "onnxruntime-cpu", onStep: (i, _t, x) => { frames[i + 1] = Float64Array.from(x); } });
    // σ after f calls: sigmas[f] for even f (a whole interval done), 0 after the last.
    const sched = await createScheduler("DPMSolverSDEScheduler", { betaSchedule: "linear", betaStart: 0.0001, betaEnd: 0.02 }, referenceBackend);
    sched.setTimesteps(10);
    const sig = sched.sigmas as Float64Array;
    const cells: Cell[] = [];
    prompts.forEach((p, b) => {
      for (const f of SDE_PICK) {
        const scale = f === 0 ? 1 : Math.sqrt(sig[f] ** 2 + 1);
        cells.push({ row: `"${p}"`, col: f === 0 ? "noise" : `after call ${f}`, values: frames[f].subarray(b * S * S, (b + 1) * S * S).map((v) => v / scale) });
      }
    });
    return glyphGrid("DPMSolverSDEScheduler: from noise to glyph", cells, S, 64);
  },
};

const have = (rel: string): boolean => existsSync(fileURLToPath(new URL(rel, import.meta.url)));

/** The article figures of this module that can be drawn here (the glyph ones need the committed files). */
export const ARTICLE_FIGURES: Figure[] = [
  fig3b,
  ...(have("../fixtures/glyphs/glyphs-32.bin") ? [fig11b, fig11c] : []),
  ...(have("../fixtures/glyphs/glyphs-32.bin") && have("../fixtures/glyffuser/glyffuser.json") ? [fig11a, fig11d, fig11e, fig11f, fig11g] : []),
];
