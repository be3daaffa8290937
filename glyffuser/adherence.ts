/**
 * Prompt adherence of the glyffuser (spec/13-glyffuser.md; article: the 金 radical appears for metal words).
 *
 * For prompts whose meaning has a known semantic radical, a generated glyph "carries the radical" when the
 * radical judge (glyffuser/judge.ts, a classifier trained on the real glyphs, its held-out accuracy reported
 * with it) assigns it that radical's class. The share of such glyphs, with a 95 % Wilson score interval, is
 * compared with two chance rates: the radical's share of the training set (what a model that ignores the
 * prompt but reproduces the data distribution would score under a perfect judge), and the judge's chance,
 * Σ_c π_c · P(judged r | true class c) from the judge's held-out confusion matrix and the training shares π_c
 * (what such a model scores under this judge). Reported per prompt group, guidance weight w and step count.
 * The unguided row (w = 0) is the model's own chance under the same seeds.
 *
 * Memorisation: a generated glyph is a near-copy when its distance to the nearest training glyph is below
 * half the median nearest-neighbour distance among training glyphs themselves (leave-one-out), i.e. it is
 * much closer to one training glyph than training glyphs are to each other.
 */
import type { GlyphDataset } from "./dataset.ts";
import { sampleGlyphs, type SampleOptions } from "./sample.ts";
import type { LoadedModel } from "./model.ts";
import { judgeClass, judgeGlyph, OTHER_CLASS, wilsonInterval, type JudgeEvaluation, type JudgeWeights, type LoadedJudge } from "./judge.ts";

/** Prompt groups with the Kangxi radical their meaning calls for. */
export interface RadicalGroup {
  readonly name: string;
  readonly radical: number;
  readonly glyph: string;
  readonly prompts: readonly string[];
}

export const RADICAL_GROUPS: readonly RadicalGroup[] = [
  { name: "metal", radical: 167, glyph: "金", prompts: ["metal", "gold"] },
  { name: "water", radical: 85, glyph: "水/氵", prompts: ["water", "river"] },
  { name: "grass", radical: 140, glyph: "艸/艹", prompts: ["grass", "plant"] },
  { name: "hand", radical: 64, glyph: "手/扌", prompts: ["hand", "strike"] },
  { name: "person", radical: 9, glyph: "人/亻", prompts: ["person", "people"] },
  { name: "tree", radical: 75, glyph: "木", prompts: ["tree", "wood"] },
];

/** Training images as ink in [0, 1] for distance computations. */
export interface NeighbourIndex {
  readonly count: number;
  readonly size: number;
  readonly ink: Float32Array;
  readonly norms: Float64Array;
  readonly radicals: Int32Array;
  /** Median leave-one-out nearest-neighbour distance among training glyphs (L2 over [0, 1] ink). */
  readonly medianTrainNN: number;
}

export function buildNeighbourIndex(ds: GlyphDataset, sampleForMedian = 400): NeighbourIndex {
  const N = ds.records.length;
  const D = ds.size * ds.size;
  const ink = Float32Array.from(ds.pixels.subarray(0, N * D), (v) => v / 255);
  const norms = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let k = 0; k < D; k++) s += ink[i * D + k] ** 2;
    norms[i] = s;
  }
  const radicals = Int32Array.from(ds.records, (r) => r.radical);
  const idx: NeighbourIndex = { count: N, size: ds.size, ink, norms, radicals, medianTrainNN: 0 };
  const step = Math.max(1, Math.floor(N / sampleForMedian));
  const ds2: number[] = [];
  for (let i = 0; i < N; i += step) ds2.push(nearest(idx, ink.subarray(i * D, (i + 1) * D), i).distance);
  ds2.sort((a, b) => a - b);
  return { ...idx, medianTrainNN: ds2[Math.floor(ds2.length / 2)] };
}

/** The nearest training glyph (L2 over [0, 1] ink) of an image in [0, 1] ink; `exclude` skips one index. */
export function nearest(idx: NeighbourIndex, img: ArrayLike<number>, exclude = -1): { index: number; distance: number } {
  const D = idx.size * idx.size;
  let q = 0;
  for (let k = 0; k < D; k++) q += img[k] * img[k];
  let best = -1;
  let bestD = Infinity;
  for (let i = 0; i < idx.count; i++) {
    if (i === exclude) continue;
    let dot = 0;
    const o = i * D;
    for (let k = 0; k < D; k++) dot += img[k] * idx.ink[o + k];
    const d2 = q + idx.norms[i] - 2 * dot;
    if (d2 < bestD) { bestD = d2; best = i; }
  }
  return { index: best, distance: Math.sqrt(Math.max(0, bestD)) };
}

/** The share of the training set with each radical (the chance rate). */
export function radicalShare(ds: GlyphDataset, radical: number): number {
  return ds.records.filter((r) => r.radical === radical).length / ds.records.length;
}

export interface AdherenceRow {
  readonly steps: number;
  readonly guidance: number;
  /** Per group: glyphs judged to carry the group's radical (k) out of those drawn for its prompts (n). */
  readonly hits: Record<string, { readonly k: number; readonly n: number }>;
  /** Pooled over all groups. */
  readonly pooled: { readonly k: number; readonly n: number };
  /** Pooled chance rate (the groups' training shares, weighted by glyph counts). */
  readonly chance: number;
  /** Share of generated glyphs the judge puts in none of the six radicals ("other"). */
  readonly judgedOther: number;
  /** Share of generated glyphs that are near-copies of a training glyph. */
  readonly memorised: number;
  /** Mean distance to the nearest training glyph. */
  readonly meanNNDistance: number;
  readonly glyphs: number;
  readonly seconds: number;
}

export interface AdherenceOptions {
  readonly model: LoadedModel;
  readonly dataset: GlyphDataset;
  readonly judge: LoadedJudge;
  readonly guidances: readonly number[];
  readonly stepCounts: readonly number[];
  /** Glyphs per prompt. */
  readonly perPrompt: number;
  readonly sampler: string;
  readonly seed: number;
  readonly backend?: string;
  readonly groups?: readonly RadicalGroup[];
  readonly onRow?: (r: AdherenceRow) => void;
}

export interface AdherenceReport {
  readonly groups: readonly (RadicalGroup & { readonly chance: number; readonly judgeChance: number })[];
  readonly rows: readonly AdherenceRow[];
  readonly judge: { readonly path: string; readonly heldOutAccuracy: number; readonly heldOutCount: number; readonly perClass: JudgeEvaluation["perClass"] };
  readonly interval: string;
  readonly medianTrainNN: number;
  readonly nearCopyThreshold: number;
  readonly sampler: string;
  readonly perPrompt: number;
  readonly seed: number;
}

/**
 * The judge's chance for radical r: Σ_c π_c · P(judged r | true class c), with π_c the training share of class c
 * and P from the judge's held-out confusion matrix (rows: true class, columns: judged class).
 */
export function judgeChance(ds: GlyphDataset, confusion: readonly (readonly number[])[], radical: number): number {
  const r = judgeClass(radical);
  const share = new Array<number>(confusion.length).fill(0);
  for (const rec of ds.records) share[judgeClass(rec.radical)] += 1 / ds.records.length;
  return confusion.reduce((s, row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? s : s + (share[c] * row[r]) / n;
  }, 0);
}

/** Scores one batch of generated glyphs ([B, S·S] in model range [−1, 1]) drawn for the groups in `owner`. */
export function scoreGlyphs(images: ArrayLike<number>, owner: readonly RadicalGroup[], judge: JudgeWeights, idx: NeighbourIndex, nearCopyThreshold: number) {
  const D = idx.size * idx.size;
  const hits = new Map<string, { k: number; n: number }>();
  let other = 0, mem = 0, dsum = 0;
  const img = new Float32Array(D);
  owner.forEach((g, b) => {
    for (let k = 0; k < D; k++) img[k] = Math.min(1, Math.max(0, (images[b * D + k] + 1) / 2));
    const judged = judgeGlyph(judge, img);
    const nn = nearest(idx, img);
    const a = hits.get(g.name) ?? { k: 0, n: 0 };
    a.k += judged === judgeClass(g.radical) ? 1 : 0;
    a.n++;
    hits.set(g.name, a);
    other += judged === OTHER_CLASS ? 1 : 0;
    mem += nn.distance < nearCopyThreshold ? 1 : 0;
    dsum += nn.distance;
  });
  const B = owner.length;
  const pooled = [...hits.values()].reduce((s, a) => ({ k: s.k + a.k, n: s.n + a.n }), { k: 0, n: 0 });
  return { hits: Object.fromEntries(hits), pooled, judgedOther: other / B, memorised: mem / B, meanNNDistance: dsum / B };
}

/** Runs the measurement: one batched sampling run per (steps, w) over every prompt of every group, the same seeds in every row. */
export async function measureAdherence(o: AdherenceOptions): Promise<AdherenceReport> {
  const groups = o.groups ?? RADICAL_GROUPS;
  const idx = buildNeighbourIndex(o.dataset);
  const threshold = 0.5 * idx.medianTrainNN;
  const prompts: string[] = [];
  const owner: RadicalGroup[] = [];
  for (const g of groups) for (const p of g.prompts) for (let k = 0; k < o.perPrompt; k++) { prompts.push(p); owner.push(g); }
  const chanceOf = new Map(groups.map((g) => [g.name, radicalShare(o.dataset, g.radical)]));
  const chance = owner.reduce((s, g) => s + chanceOf.get(g.name)!, 0) / owner.length;
  const rows: AdherenceRow[] = [];
  for (const steps of o.stepCounts) {
    for (const w of o.guidances) {
      const opts: SampleOptions = { prompts, count: prompts.length, steps, sampler: o.sampler, guidance: w, seed: o.seed, backend: o.backend, model: o.model };
      const r = await sampleGlyphs(opts);
      const row: AdherenceRow = { steps, guidance: w, ...scoreGlyphs(r.images, owner, o.judge.weights, idx, threshold), chance, glyphs: r.batch, seconds: r.seconds };
      rows.push(row);
      o.onRow?.(row);
    }
  }
  const held = o.judge.manifest.heldOut;
  return {
    groups: groups.map((g) => ({ ...g, chance: chanceOf.get(g.name)!, judgeChance: judgeChance(o.dataset, held.confusion, g.radical) })),
    rows,
    judge: { path: o.judge.path, heldOutAccuracy: held.accuracy, heldOutCount: held.count, perClass: held.perClass },
    interval: "95% Wilson score interval",
    medianTrainNN: idx.medianTrainNN,
    nearCopyThreshold: threshold,
    sampler: o.sampler,
    perPrompt: o.perPrompt,
    seed: o.seed,
  };
}

const pct = (v: number) => `${(100 * v).toFixed(0)}%`;

/** "k/n = p% (lo–hi)" with the 95 % Wilson interval. */
function cell(a: { k: number; n: number } | undefined): string {
  if (!a || a.n === 0) return "–";
  const ci = wilsonInterval(a.k, a.n);
  return `${pct(a.k / a.n)} (${(100 * ci.low).toFixed(0)}–${(100 * ci.high).toFixed(0)})`;
}

/** The judge's held-out accuracy as one line. */
export function judgeLine(r: AdherenceReport): string {
  const ci = wilsonInterval(Math.round(r.judge.heldOutAccuracy * r.judge.heldOutCount), r.judge.heldOutCount);
  const per = r.judge.perClass.map((p) => `${p.label} ${pct(p.accuracy)}`).join(", ");
  return `radical judge: held-out accuracy ${(100 * r.judge.heldOutAccuracy).toFixed(1)}% of ${r.judge.heldOutCount} real glyphs (95% Wilson ${(100 * ci.low).toFixed(1)}–${(100 * ci.high).toFixed(1)}%); per class: ${per}`;
}

/** The report as a Markdown table: share judged to carry the group's radical, with its 95 % Wilson interval. */
export function adherenceTable(r: AdherenceReport): string {
  const head = ["steps", "w", ...r.groups.map((g) => `${g.name} ${g.glyph} (${g.radical})`), "all", "judged other", "near-copies", "mean NN dist"];
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    `| chance (training share) | | ${r.groups.map((g) => pct(g.chance)).join(" | ")} | ${pct(r.rows[0]?.chance ?? 0)} | | | |`,
    `| chance (this judge) | | ${r.groups.map((g) => pct(g.judgeChance)).join(" | ")} | | | | |`,
    ...r.rows.map((row) => `| ${row.steps} | ${row.guidance} | ${r.groups.map((g) => cell(row.hits[g.name])).join(" | ")} | **${cell(row.pooled)}** | ${pct(row.judgedOther)} | ${pct(row.memorised)} | ${row.meanNNDistance.toFixed(2)} |`),
  ];
  return lines.join("\n");
}
