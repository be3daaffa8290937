/**
 * The benchmark's plots, as vega-lite specs rendered to SVG (plot/vega.ts), one SVG per kind:
 *   time-vs-steps.svg     ms per batch against model evaluations (NFE: Heun-type samplers make two per
 *                         step), log–log, one line per sampler, a vertical bar per point from the 10th to
 *                         the 90th percentile of its timed runs (the spread); a panel per (workload, backend).
 *   quality-vs-steps.svg  RMS error vs the exact ODE solution, energy distance to the data, and the learned
 *                         model's error, against NFE, log–log; a panel per (metric, backend) with data.
 *   (The file names keep "steps" so links stay valid; the x-axis is NFE, what a step count costs.)
 *   pareto.svg            quality against ms per batch, log–log: every configuration (a dot coloured by
 *                         sampler) and, per backend, the Pareto front (non-dominated points, bench/pareto.ts)
 *                         joined by a line; a panel per (metric, backend) with data.
 *   step-split.svg        model time and sampler overhead per step at 20 steps (stacked bars), a panel
 *                         per (workload, backend).
 */
import { join } from "node:path";
import { writeFileAtomic } from "../conformance/report.ts";
import { baseConfig, renderSvg, type VegaLiteSpec } from "../plot/vega.ts";
import { paretoFront } from "./pareto.ts";
import type { BenchReport, BenchRow } from "./types.ts";
import { BENCH_SAMPLER_NAMES } from "./samplers.ts";

type Spec = Record<string, unknown>;

/** Panels in run order: by workload (oracle first), then backend. */
const panelOrder = (values: readonly { workload: string; backend: string; panel: string }[]): string[] => {
  const seen = new Map<string, [string, string]>();
  for (const v of values) if (!seen.has(v.panel)) seen.set(v.panel, [v.workload, v.backend]);
  const wl = (w: string) => (w.startsWith("oracle") ? 0 : w.startsWith("learned") ? 1 : 2);
  return [...seen.entries()].sort((a, b) => wl(a[1][0]) - wl(b[1][0]) || a[1][0].localeCompare(b[1][0])).map(([p]) => p);
};

const ok = (r: BenchRow): boolean => !r.error && typeof r.msPerBatch === "number" && r.msPerBatch > 0;
const workload = (r: BenchRow): string => `${r.model} ${r.resolution}²×${r.batch}`;

export const QUALITY_METRICS = [
  { key: "rmsError", title: "RMS error vs exact ODE solution (Gaussian)" },
  { key: "energyDistance2d", title: "energy distance to data (2-D mixture)" },
  { key: "energyDistance64d", title: "energy distance to data (64-D mixture)" },
  { key: "learnedRmsError", title: "learned glyffuser: RMS vs its 500-step solution" },
] as const;

/** One fixed, distinct colour per sampler (the same in every plot and run). */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#3182bd", "#31a354"];
/** Colour by sampler: the samplers present, each with its fixed catalogue colour. */
const samplerColor = (rows: readonly { sampler: string }[]) => {
  const present = BENCH_SAMPLER_NAMES.filter((n) => rows.some((r) => r.sampler === n));
  const other = [...new Set(rows.map((r) => r.sampler))].filter((n) => !present.includes(n));
  const domain = [...present, ...other];
  return { field: "sampler", type: "nominal", title: "sampler", scale: { domain, range: domain.map((n, i) => PALETTE[(BENCH_SAMPLER_NAMES.indexOf(n) + PALETTE.length) % PALETTE.length] ?? PALETTE[i % PALETTE.length]) } };
};
/** Log axes: ticks and labels at the decades only (1, 3 and 10 per decade are unreadable in small panels). */
const DECADES = Array.from({ length: 15 }, (_, i) => 10 ** (i - 7));
const logAxis = { values: DECADES, labelOverlap: "greedy", format: "~g" };

/** Model evaluations of a row (NFE); the step count where a report predates the field. */
const nfe = (r: BenchRow): number => r.evaluations ?? r.steps;

/** The 10th–90th percentile of a row's timed runs (from `timing`, else its samples), or the median twice. */
function spread(r: BenchRow): [number, number] {
  if (r.timing?.p10Ms !== undefined && r.timing.p90Ms !== undefined) return [r.timing.p10Ms, r.timing.p90Ms];
  const w = [...(r.samples?.wallMs ?? [])].sort((a, b) => a - b);
  if (w.length < 2) return [r.msPerBatch!, r.msPerBatch!];
  const q = (p: number) => { const x = (w.length - 1) * p; const i = Math.floor(x); const j = Math.min(i + 1, w.length - 1); return w[i] + (x - i) * (w[j] - w[i]); };
  return [q(0.1), q(0.9)];
}

export function timeVsStepsSpec(report: Pick<BenchReport, "results">): Spec {
  const values = report.results.filter(ok).map((r) => { const [lo, hi] = spread(r); return { backend: r.backend, workload: workload(r), panel: `${workload(r)} · ${r.backend}`, sampler: r.sampler, steps: r.steps, nfe: nfe(r), ms: r.msPerBatch, lo, hi }; });
  // One panel per (workload, backend) that has data, wrapped: no empty panels.
  return againstStepsSpec({ title: "Wall time per batch against model evaluations (bars: 10th–90th percentile of the runs)", values, panels: panelOrder(values), columns: Math.min(6, new Set(values.map((v) => v.backend)).size || 1), y: { field: "ms", title: "ms per batch" }, band: { lo: "lo", hi: "hi" } });
}

/** Log–log lines of a quantity against NFE, one colour per sampler, in wrapped panels with their own y scale; optional vertical spread bars. */
function againstStepsSpec(o: { title: string; values: readonly { sampler: string }[]; panels: string[]; columns: number; y: { field: string; title: string }; band?: { lo: string; hi: string } }): Spec {
  const x = { field: "nfe", type: "quantitative", scale: { type: "log" }, axis: logAxis, title: "model evaluations (NFE)" };
  const y = { field: o.y.field, type: "quantitative", scale: { type: "log" }, axis: logAxis, title: o.y.title };
  const line = { mark: { type: "line", point: { size: 18 }, strokeWidth: 1.2 }, encoding: { x, y, color: samplerColor(o.values) } };
  const bars = o.band && { mark: { type: "rule", strokeWidth: 1, opacity: 0.7 }, encoding: { x, y: { ...y, field: o.band.lo }, y2: { field: o.band.hi }, color: samplerColor(o.values) } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: o.title,
    data: { values: o.values },
    facet: { field: "panel", type: "nominal", title: null, sort: o.panels },
    columns: o.columns,
    spec: bars ? { width: 200, height: 150, layer: [line, bars] } : { width: 200, height: 150, ...line },
    resolve: { scale: { y: "independent" } },
    config: baseConfig,
  };
}

function qualityValues(report: Pick<BenchReport, "results">) {
  const out: { backend: string; sampler: string; steps: number; nfe: number; ms: number; metric: string; value: number }[] = [];
  for (const r of report.results) {
    if (!ok(r)) continue;
    for (const m of QUALITY_METRICS) {
      const v = r.quality?.[m.key];
      if (typeof v === "number" && Number.isFinite(v) && v > 0) out.push({ backend: r.backend, sampler: r.sampler, steps: r.steps, nfe: nfe(r), ms: r.msPerBatch!, metric: m.title, value: v });
    }
  }
  return out;
}

/** Wrapped panels per (metric, backend) that have data, metrics in QUALITY_METRICS order. */
function metricPanels(values: readonly { metric: string; backend: string }[]): { panels: string[]; columns: number } {
  const metrics = QUALITY_METRICS.map((m) => m.title as string);
  const keys = [...new Map(values.map((v) => [`${v.metric} · ${v.backend}`, v] as const)).entries()];
  keys.sort(([, a], [, b]) => metrics.indexOf(a.metric) - metrics.indexOf(b.metric) || a.backend.localeCompare(b.backend));
  return { panels: keys.map(([k]) => k), columns: Math.min(6, new Set(values.map((v) => v.backend)).size || 1) };
}

export function qualityVsStepsSpec(report: Pick<BenchReport, "results">): Spec {
  const values = qualityValues(report).map((v) => ({ ...v, panel: `${v.metric} · ${v.backend}` }));
  const { panels, columns } = metricPanels(values);
  return againstStepsSpec({ title: "Quality against model evaluations", values, panels, columns, y: { field: "value", title: "error / distance" } });
}

/** Points of the Pareto plot, each marked with whether it is on its (backend, metric) front and its rank along it. */
export function paretoValues(report: Pick<BenchReport, "results">) {
  const values = qualityValues(report).map((v) => ({ ...v, panel: `${v.metric} · ${v.backend}`, front: false, rank: -1, label: `${v.sampler} ${v.steps}` }));
  const groups = new Map<string, typeof values>();
  for (const v of values) {
    const k = `${v.backend}\u0000${v.metric}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(v);
  }
  for (const g of groups.values()) paretoFront(g.map((v) => ({ time: v.ms, error: v.value, v }))).forEach((p, i) => { p.v.front = true; p.v.rank = i; });
  return values;
}

export function paretoSpec(report: Pick<BenchReport, "results">): Spec {
  const values = paretoValues(report);
  const color = samplerColor(values);
  const { panels, columns } = metricPanels(values);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Quality against time: every configuration, and the Pareto front per backend",
    data: { values },
    // One panel per (metric, backend) that has data, wrapped.
    facet: { field: "panel", type: "nominal", title: null, sort: panels },
    columns,
    spec: {
      width: 220,
      height: 170,
      layer: [
        {
          transform: [{ filter: "datum.front" }],
          mark: { type: "line", color: "#333", strokeWidth: 1.2, strokeDash: [4, 2] },
          encoding: {
            x: { field: "ms", type: "quantitative", scale: { type: "log" } },
            y: { field: "value", type: "quantitative", scale: { type: "log" } },
            order: { field: "rank", type: "quantitative" },
          },
        },
        {
          mark: { type: "point", filled: true, opacity: 0.8 },
          encoding: {
            x: { field: "ms", type: "quantitative", scale: { type: "log" }, axis: logAxis, title: "ms per batch" },
            y: { field: "value", type: "quantitative", scale: { type: "log" }, axis: logAxis, title: "error / distance" },
            color,
            size: { condition: { test: "datum.front", value: 64 }, value: 14 },
            tooltip: [{ field: "label" }, { field: "ms" }, { field: "value" }],
          },
        },
      ],
    },
    resolve: { scale: { y: "independent", x: "independent" } },
    config: baseConfig,
  };
}

export function stepSplitSpec(report: Pick<BenchReport, "results">, steps = 20): Spec {
  const values: { backend: string; workload: string; panel: string; sampler: string; part: string; ms: number }[] = [];
  for (const r of report.results) {
    if (!ok(r) || r.steps !== steps || r.msPerStepModel === null || r.msPerStepSampler === null) continue;
    const panel = `${workload(r)} · ${r.backend}`;
    values.push({ backend: r.backend, workload: workload(r), panel, sampler: r.sampler, part: "model", ms: Math.max(0, r.msPerStepModel) });
    values.push({ backend: r.backend, workload: workload(r), panel, sampler: r.sampler, part: "sampler overhead", ms: Math.max(0, r.msPerStepSampler) });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Time per step at ${steps} steps: model vs sampler overhead`,
    data: { values },
    facet: { field: "panel", type: "nominal", title: null, sort: panelOrder(values) },
    columns: Math.min(6, new Set(values.map((v) => v.backend)).size || 1),
    spec: {
      width: 200,
      height: { step: 11 },
      mark: { type: "bar" },
      encoding: {
        y: { field: "sampler", type: "nominal", title: null },
        x: { field: "ms", type: "quantitative", stack: "zero", title: "ms per step" },
        color: { field: "part", type: "nominal", title: null, scale: { range: ["#4c78a8", "#f58518"] } },
      },
    },
    resolve: { scale: { x: "independent", y: "independent" } },
    config: baseConfig,
  };
}

export const PLOTS = {
  "time-vs-steps.svg": timeVsStepsSpec,
  "quality-vs-steps.svg": qualityVsStepsSpec,
  "pareto.svg": paretoSpec,
  "step-split.svg": stepSplitSpec,
} as const;

/** Renders every plot into `dir`; returns the written paths. A plot with no data is still written (empty panels). */
export async function writePlots(report: Pick<BenchReport, "results">, dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [file, make] of Object.entries(PLOTS)) {
    const svg = await renderSvg(make(report) as unknown as VegaLiteSpec);
    const path = join(dir, file);
    writeFileAtomic(path, svg);
    written.push(path);
  }
  return written;
}
