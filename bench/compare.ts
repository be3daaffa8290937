/**
 * `diffspec bench --compare A.json B.json`: the ratio B/A of msPerBatch for every configuration both runs
 * measured (matched on backend, model, resolution, batch, sampler, steps), with the geometric mean
 * overall and per backend. A ratio below 1 means B is faster.
 *
 * A difference is marked significant only when the runs' own samples say so: per configuration, the
 * two-sided permutation test of the mean log run time (bench/significance.ts, on each row's
 * run times on its clock: `samples.cpuMs` or `samples.wallMs`), with Holm's correction over all matched configurations at family-wise α = 0.05. So
 * two runs of the same code on the same machine mark nothing in 95 % of comparisons, whatever the number
 * of configurations; a row without samples is never marked.
 */
import type { BenchReport, BenchRow } from "./types.ts";
import { InputFileError } from "../reference/errors.ts";
import { holm, permutationTest } from "./significance.ts";

/** Family-wise level of --compare's significance marks. */
export const COMPARE_ALPHA = 0.05;

export interface CompareRow {
  key: string;
  backend: string;
  model: string;
  resolution: number;
  batch: number;
  sampler: string;
  steps: number;
  a: number;
  b: number;
  ratio: number;
  /** Timed runs behind A and B. */
  runsA: number;
  runsB: number;
  /** Permutation-test p-value of the difference of mean log times. */
  p: number;
  /** Rejected by Holm's procedure at COMPARE_ALPHA over all matched rows. */
  significant: boolean;
}

export interface Comparison {
  rows: CompareRow[];
  /** Geometric mean of the ratios (null when nothing matched). */
  geomean: number | null;
  perBackend: Record<string, { n: number; geomean: number }>;
  onlyInA: number;
  onlyInB: number;
}

/** The run times behind a row's msPerBatch: CPU or wall time per its `timing.clock`. */
const clockSamples = (r: BenchRow): number[] => (r.timing?.clock === "cpu" ? r.samples?.cpuMs : r.samples?.wallMs) ?? [];

export const rowKey = (r: Pick<BenchRow, "backend" | "model" | "resolution" | "batch" | "sampler" | "steps">): string =>
  `${r.backend} ${r.model ?? "oracle"} ${r.resolution ?? "?"}²×${r.batch ?? "?"} ${r.sampler} ${r.steps}`;

const usable = (r: BenchRow): boolean => typeof r.msPerBatch === "number" && Number.isFinite(r.msPerBatch) && r.msPerBatch > 0 && !r.error;

const geomean = (xs: readonly number[]): number => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

export function compareReports(a: Pick<BenchReport, "results">, b: Pick<BenchReport, "results">): Comparison {
  const index = new Map<string, BenchRow>();
  for (const r of a.results) if (usable(r)) index.set(rowKey(r), r);
  const rows: CompareRow[] = [];
  const seen = new Set<string>();
  let onlyInB = 0;
  for (const r of b.results) {
    if (!usable(r)) continue;
    const key = rowKey(r);
    const ra = index.get(key);
    if (!ra) { onlyInB++; continue; }
    seen.add(key);
    const sa = clockSamples(ra);
    const sb = clockSamples(r);
    rows.push({ key, backend: r.backend, model: r.model, resolution: r.resolution, batch: r.batch, sampler: r.sampler, steps: r.steps, a: ra.msPerBatch!, b: r.msPerBatch!, ratio: r.msPerBatch! / ra.msPerBatch!, runsA: sa.length, runsB: sb.length, p: permutationTest(sa, sb, key), significant: false });
  }
  holm(rows.map((r) => r.p), COMPARE_ALPHA).forEach((rejected, i) => { rows[i].significant = rejected; });
  const perBackend: Comparison["perBackend"] = {};
  for (const backend of [...new Set(rows.map((r) => r.backend))]) {
    const rs = rows.filter((r) => r.backend === backend).map((r) => r.ratio);
    perBackend[backend] = { n: rs.length, geomean: geomean(rs) };
  }
  return { rows, geomean: rows.length ? geomean(rows.map((r) => r.ratio)) : null, perBackend, onlyInA: index.size - seen.size, onlyInB };
}

/** Reads and checks a bench JSON report. */
export function parseReport(text: string, where: string): BenchReport {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new InputFileError(where, `not JSON: ${(e as Error).message}`);
  }
  if (!j || typeof j !== "object" || !Array.isArray((j as BenchReport).results)) throw new InputFileError(where, "not a diffspec bench report: it has no `results` array (write one with `diffspec bench --json FILE`)");
  return j as BenchReport;
}

const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(3));

export function formatComparison(c: Comparison, nameA: string, nameB: string): string {
  const lines: string[] = [];
  lines.push(`msPerBatch ratio B/A   A = ${nameA}   B = ${nameB}   (< 1: B is faster)`);
  const head = ["backend", "model", "shape", "sampler", "steps", "A ms", "B ms", "B/A", "runs", "p", "sig"];
  const body = c.rows.map((r) => [r.backend, r.model, `${r.resolution}²×${r.batch}`, r.sampler, String(r.steps), fmtMs(r.a), fmtMs(r.b), r.ratio.toFixed(3), `${r.runsA}/${r.runsB}`, r.p.toPrecision(2), r.significant ? "*" : ""]);
  lines.push(...table(head, body, [false, false, false, false, true, true, true, true, true, true, false]));
  const marked = c.rows.filter((r) => r.significant).length;
  lines.push("");
  lines.push(`sig *: the difference is significant — two-sided permutation test of the mean log run time (each row's timed runs), Holm-corrected over the ${c.rows.length} rows at family-wise α = ${COMPARE_ALPHA}. ${marked} of ${c.rows.length} marked.`);
  lines.push("");
  for (const [b, s] of Object.entries(c.perBackend)) lines.push(`geometric mean ${b.padEnd(20)} ${s.geomean.toFixed(3)}  (${s.n} configurations)`);
  lines.push(`geometric mean ${"(all)".padEnd(20)} ${c.geomean === null ? "—" : c.geomean.toFixed(3)}  (${c.rows.length} matched; ${c.onlyInA} only in A, ${c.onlyInB} only in B)`);
  return lines.join("\n") + "\n";
}

/** A plain-text table with right-aligned numeric columns. */
export function table(head: readonly string[], body: readonly (readonly string[])[], numeric: readonly boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: readonly string[]) => r.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(head), widths.map((w) => "─".repeat(w)).join("  "), ...body.map(line)];
}
