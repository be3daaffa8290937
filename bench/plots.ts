/**
 * The benchmark's plots, as vega-lite specs rendered to SVG (plot/vega.ts), one SVG per kind:
 *   time-vs-steps.svg     ms per batch against steps, log–log, one line per sampler; a panel per backend
 *                         (columns) and workload (rows).
 *   quality-vs-steps.svg  RMS error vs the exact ODE solution, and energy distance to the data, against
 *                         steps, log–log; a panel per metric (rows) and backend (columns). Oracle workload.
 *   pareto.svg            quality against ms per batch, log–log: every configuration (a dot coloured by
 *                         sampler) and, per backend, the Pareto front (non-dominated points, bench/pareto.ts)
 *                         joined by a line; a panel per metric (rows) and backend (columns).
 *   step-split.svg        model time and sampler overhead per step for every backend and workload at 20
 *                         steps (stacked bars), the speed-versus-overhead picture per backend.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../conformance/report.ts";
import { baseConfig, renderSvg, type VegaLiteSpec } from "../plot/vega.ts";
import { paretoFront } from "./pareto.ts";
import type { BenchReport, BenchRow } from "./types.ts";
import { BENCH_SAMPLER_NAMES } from "./samplers.ts";

type Spec = Record<string, unknown>;

const ok = (r: BenchRow): boolean => !r.error && typeof r.msPerBatch === "number" && r.msPerBatch > 0;
const workload = (r: BenchRow): string => `${r.model} ${r.resolution}²×${r.batch}`;

export const QUALITY_METRICS = [
  { key: "rmsError", title: "RMS error vs exact ODE solution (Gaussian)" },
  { key: "energyDistance2d", title: "energy distance to data (2-D mixture)" },
  { key: "energyDistance64d", title: "energy distance to data (64-D mixture)" },
] as const;

/** One fixed, distinct colour per sampler (the same in every plot and run). */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#3182bd", "#31a354"];
const samplerColor = { field: "sampler", type: "nominal", title: "sampler", scale: { domain: BENCH_SAMPLER_NAMES, range: PALETTE.slice(0, BENCH_SAMPLER_NAMES.length) } };
/** Log axes: thin out overlapping labels. */
const logAxis = { labelOverlap: "greedy", format: "~g" };

export function timeVsStepsSpec(report: Pick<BenchReport, "results">): Spec {
  const values = report.results.filter(ok).map((r) => ({ backend: r.backend, workload: workload(r), sampler: r.sampler, steps: r.steps, ms: r.msPerBatch }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Wall time per batch against step count",
    data: { values },
    facet: { row: { field: "workload", type: "nominal", title: null }, column: { field: "backend", type: "nominal", title: null } },
    spec: {
      width: 200,
      height: 150,
      mark: { type: "line", point: { size: 18 }, strokeWidth: 1.2 },
      encoding: {
        x: { field: "steps", type: "quantitative", scale: { type: "log" }, axis: logAxis, title: "steps" },
        y: { field: "ms", type: "quantitative", scale: { type: "log" }, axis: logAxis, title: "ms per batch" },
        color: samplerColor,
      },
    },
    resolve: { scale: { y: "independent" } },
    config: baseConfig,
  };
}

function qualityValues(report: Pick<BenchReport, "results">) {
  const out: { backend: string; sampler: string; steps: number; ms: number; metric: string; value: number }[] = [];
  for (const r of report.results) {
    if (!ok(r) || r.model !== "oracle") continue;
    for (const m of QUALITY_METRICS) {
      const v = r.quality?.[m.key];
      if (typeof v === "number" && Number.isFinite(v) && v > 0) out.push({ backend: r.backend, sampler: r.sampler, steps: r.steps, ms: r.msPerBatch!, metric: m.title, value: v });
    }
  }
  return out;
}

export function qualityVsStepsSpec(report: Pick<BenchReport, "results">): Spec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Quality against step count (exact oracle)",
    data: { values: qualityValues(report) },
    facet: { row: { field: "metric", type: "nominal", title: null }, column: { field: "backend", type: "nominal", title: null } },
    spec: {
      width: 200,
      height: 150,
      mark: { type: "line", point: { size: 18 }, strokeWidth: 1.2 },
      encoding: {
        x: { field: "steps", type: "quantitative", scale: { type: "log" }, axis: logAxis, title: "steps" },
        y: { field: "value", type: "quantitative", scale: { type: "log" }, axis: logAxis, title: "error / distance" },
        color: samplerColor,
      },
    },
    resolve: { scale: { y: "independent" } },
    config: baseConfig,
  };
}

/** Points of the Pareto plot, each marked with whether it is on its (backend, metric) front and its rank along it. */
export function paretoValues(report: Pick<BenchReport, "results">) {
  const values = qualityValues(report).map((v) => ({ ...v, front: false, rank: -1, label: `${v.sampler} ${v.steps}` }));
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
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Quality against time: every configuration, and the Pareto front per backend",
    data: { values: paretoValues(report) },
    facet: { row: { field: "metric", type: "nominal", title: null }, column: { field: "backend", type: "nominal", title: null } },
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
            color: samplerColor,
            size: { field: "front", type: "nominal", title: "Pareto front", scale: { domain: [true, false], range: [60, 14] } },
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
  const values: { backend: string; workload: string; sampler: string; part: string; ms: number }[] = [];
  for (const r of report.results) {
    if (!ok(r) || r.steps !== steps || r.msPerStepModel === null || r.msPerStepSampler === null) continue;
    values.push({ backend: r.backend, workload: workload(r), sampler: r.sampler, part: "model", ms: Math.max(0, r.msPerStepModel) });
    values.push({ backend: r.backend, workload: workload(r), sampler: r.sampler, part: "sampler overhead", ms: Math.max(0, r.msPerStepSampler) });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Time per step at ${steps} steps: model vs sampler overhead`,
    data: { values },
    facet: { row: { field: "workload", type: "nominal", title: null }, column: { field: "backend", type: "nominal", title: null } },
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
