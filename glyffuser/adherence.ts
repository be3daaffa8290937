/**
 * Prompt adherence of the glyffuser (spec/13-glyffuser.md; article: the 金 radical appears for metal words).
 *
 * For prompts whose meaning has a known semantic radical, a generated glyph "carries the radical" when its
 * nearest training glyph (pixel L2 over the 32×32 ink images) has that Kangxi radical. The share of such
 * glyphs is compared with the chance rate: the radical's share of the training set (what a model that
 * ignores the prompt but reproduces the data distribution would score). Reported per guidance weight w and
 * step count. The nearest-neighbour classifier is crude (it judges the whole glyph, not the radical's
 * component) but needs no trained classifier and is the same for every row, so rows compare.
 *
 * Memorisation: a generated glyph is a near-copy when its distance to the nearest training glyph is below
 * half the median nearest-neighbour distance among training glyphs themselves (leave-one-out), i.e. it is
 * much closer to one training glyph than training glyphs are to each other.
 */
import type { GlyphDataset } from "./dataset.ts";
import { sampleGlyphs, type SampleOptions } from "./sample.ts";
import type { LoadedModel } from "./model.ts";

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
  /** Per group: share of generated glyphs whose nearest training glyph has the group's radical. */
  readonly hits: Record<string, number>;
  /** Pooled over all groups. */
  readonly hitRate: number;
  /** Pooled chance rate (mean of the groups' training shares, weighted by glyph counts). */
  readonly chance: number;
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
  readonly groups: readonly (RadicalGroup & { readonly chance: number })[];
  readonly rows: readonly AdherenceRow[];
  readonly medianTrainNN: number;
  readonly nearCopyThreshold: number;
  readonly sampler: string;
  readonly perPrompt: number;
  readonly seed: number;
}

/** Runs the measurement: one batched sampling run per (steps, w) over every prompt of every group, the same seeds in every row. */
export async function measureAdherence(o: AdherenceOptions): Promise<AdherenceReport> {
  const groups = o.groups ?? RADICAL_GROUPS;
  const idx = buildNeighbourIndex(o.dataset);
  const threshold = 0.5 * idx.medianTrainNN;
  const prompts: string[] = [];
  const owner: RadicalGroup[] = [];
  for (const g of groups) for (const p of g.prompts) for (let k = 0; k < o.perPrompt; k++) { prompts.push(p); owner.push(g); }
  const D = idx.size * idx.size;
  const chanceOf = new Map(groups.map((g) => [g.name, radicalShare(o.dataset, g.radical)]));
  const rows: AdherenceRow[] = [];
  for (const steps of o.stepCounts) {
    for (const w of o.guidances) {
      const opts: SampleOptions = { prompts, count: prompts.length, steps, sampler: o.sampler, guidance: w, seed: o.seed, backend: o.backend, model: o.model };
      const r = await sampleGlyphs(opts);
      const hitsBy = new Map<string, [number, number]>();
      let hits = 0;
      let mem = 0;
      let dsum = 0;
      let chance = 0;
      const img = new Float64Array(D);
      for (let b = 0; b < r.batch; b++) {
        for (let k = 0; k < D; k++) img[k] = Math.min(1, Math.max(0, (r.images[b * D + k] + 1) / 2));
        const nn = nearest(idx, img);
        const g = owner[b];
        const hit = idx.radicals[nn.index] === g.radical;
        const a = hitsBy.get(g.name) ?? [0, 0];
        a[0] += hit ? 1 : 0;
        a[1]++;
        hitsBy.set(g.name, a);
        hits += hit ? 1 : 0;
        mem += nn.distance < threshold ? 1 : 0;
        dsum += nn.distance;
        chance += chanceOf.get(g.name)!;
      }
      const row: AdherenceRow = {
        steps,
        guidance: w,
        hits: Object.fromEntries([...hitsBy].map(([k, [h, n]]) => [k, h / n])),
        hitRate: hits / r.batch,
        chance: chance / r.batch,
        memorised: mem / r.batch,
        meanNNDistance: dsum / r.batch,
        glyphs: r.batch,
        seconds: r.seconds,
      };
      rows.push(row);
      o.onRow?.(row);
    }
  }
  return {
    groups: groups.map((g) => ({ ...g, chance: chanceOf.get(g.name)! })),
    rows,
    medianTrainNN: idx.medianTrainNN,
    nearCopyThreshold: threshold,
    sampler: o.sampler,
    perPrompt: o.perPrompt,
    seed: o.seed,
  };
}

/** The report as a Markdown table. */
export function adherenceTable(r: AdherenceReport): string {
  const head = ["steps", "w", ...r.groups.map((g) => `${g.name} ${g.glyph} (${g.radical})`), "all", "chance", "near-copies", "mean NN dist"];
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    `| chance | | ${r.groups.map((g) => pct(g.chance)).join(" | ")} | | ${pct(r.rows[0]?.chance ?? 0)} | | |`,
    ...r.rows.map((row) => `| ${row.steps} | ${row.guidance} | ${r.groups.map((g) => pct(row.hits[g.name] ?? 0)).join(" | ")} | **${pct(row.hitRate)}** | ${pct(row.chance)} | ${pct(row.memorised)} | ${row.meanNNDistance.toFixed(2)} |`),
  ];
  return lines.join("\n");
}
