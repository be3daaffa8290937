/**
 * The recommendation table: for each model-evaluation budget, the sampler to use. Per backend and workload
 * (deterministic samplers on the oracle workload, whose RMS error against the exact ODE solution is known):
 * for a budget B (each NFE value the run measured), among the configurations with NFE ≤ B the one with the
 * lowest RMS error; configurations within TIE of that error count as equally good, and of those the
 * fastest (msPerBatch) is recommended.
 */
import { table } from "./compare.ts";
import type { BenchRow } from "./types.ts";

/** Errors within 10 % of the best are a tie (below what one more step or another sampler changes). */
export const TIE = 0.1;

export interface Recommendation {
  backend: string;
  workload: string;
  budget: number;
  sampler: string;
  steps: number;
  evaluations: number;
  rmsError: number;
  msPerBatch: number;
}

const usable = (r: BenchRow): boolean => !r.error && typeof r.msPerBatch === "number" && r.msPerBatch > 0 && typeof r.quality?.rmsError === "number" && Number.isFinite(r.quality.rmsError);

export function recommend(rows: readonly BenchRow[]): Recommendation[] {
  const out: Recommendation[] = [];
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows.filter(usable)) {
    const key = `${r.backend}\u0000${r.model} ${r.resolution}²×${r.batch}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const [key, rs] of groups) {
    const [backend, workload] = key.split("\u0000");
    const nfe = (r: BenchRow) => r.evaluations ?? r.steps;
    for (const budget of [...new Set(rs.map(nfe))].sort((a, b) => a - b)) {
      const within = rs.filter((r) => nfe(r) <= budget);
      const best = Math.min(...within.map((r) => r.quality.rmsError!));
      const pick = within.filter((r) => r.quality.rmsError! <= best * (1 + TIE)).sort((a, b) => a.msPerBatch! - b.msPerBatch!)[0];
      const last = out[out.length - 1];
      if (last && last.backend === backend && last.workload === workload && last.sampler === pick.sampler && last.steps === pick.steps) continue; // the budget buys nothing better
      out.push({ backend, workload, budget, sampler: pick.sampler, steps: pick.steps, evaluations: nfe(pick), rmsError: pick.quality.rmsError!, msPerBatch: pick.msPerBatch! });
    }
  }
  return out;
}

export function recommendationTable(rows: readonly BenchRow[]): string {
  const recs = recommend(rows);
  if (!recs.length) return "";
  const head = ["backend", "workload", "NFE budget", "sampler", "steps", "NFE", "RMS err", "ms/batch"];
  const body = recs.map((r) => [r.backend, r.workload, `≤ ${r.budget}`, r.sampler, String(r.steps), String(r.evaluations), r.rmsError.toExponential(2), r.msPerBatch.toPrecision(3)]);
  return [
    `Recommendation: per NFE budget, the lowest RMS error vs the exact ODE solution (deterministic samplers); errors within ${TIE * 100} % of it tie, and the fastest of those is named. A budget that buys nothing better is not repeated.`,
    ...table(head, body, [false, false, true, false, true, true, true, true]),
  ].join("\n") + "\n";
}
