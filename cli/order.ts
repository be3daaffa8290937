/**
 * `diffspec order`: each deterministic sampler's convergence order on the exact oracle
 * (SAMP-ORDER, spec/08-order.md; reference/samplers/order.ts).
 */
import { parse } from "./args.ts";
import { checkOutputFile, writeOutputs } from "./output.ts";
import { ConfigError } from "../reference/errors.ts";
import { EXIT_NOTHING_CHECKED } from "../conformance/runner.ts";
import { measureOrder, orderHolds, stepsToReach, ORDER_SAMPLERS, ORDER_SAMPLER_NAMES, ORDER_TOLERANCE, type OrderMeasurement } from "../reference/samplers/order.ts";

/** The default error `order` reports the cost of reaching. */
export const DEFAULT_TARGET = 1e-3;

/** Parses --target: a number in (0, ∞). */
function parseTarget(v: string | undefined): number {
  if (v === undefined) return DEFAULT_TARGET;
  const t = Number(v);
  if (!(Number.isFinite(t) && t > 0)) throw new ConfigError("--target", v, "a positive error, e.g. 1e-3");
  return t;
}

/** Steps and NFE to reach `target`, per sampler, fewest evaluations first. */
export function targetTable(results: readonly OrderMeasurement[], target: number): string {
  const rows = results.map((m) => ({ m, ...stepsToReach(m, target) })).sort((a, b) => a.evaluations - b.evaluations || a.steps - b.steps);
  const num = (v: number): string => (Number.isFinite(v) ? String(v) : "—");
  return [
    `to reach RMS error ${target.toExponential(0)} (from each sampler's own points, log–log):`,
    `${"sampler".padEnd(12)} ${"steps".padStart(7)} ${"NFE".padStart(7)}`,
    ...rows.map((r) => `${r.m.sampler.padEnd(12)} ${num(r.steps).padStart(7)} ${num(r.evaluations).padStart(7)}`),
  ].join("\n") + "\n";
}

const MAX_ORDER_STEPS = 100_000;

export const ORDER_HELP = `Usage: diffspec order [--sampler NAME]... [--steps N,N,...] [--target ERR] [--json FILE]

Runs each deterministic sampler on Gaussian data whose probability-flow ODE has a closed-form
solution (the exact oracle), from the same x_T with a doubling sequence of step counts n, and fits
the order p of error ∝ n^(−p) by least squares on log error vs log n. A sampler passes when
|fitted − expected| ≤ ${ORDER_TOLERANCE} and its error decreases with n (spec/08-order.md, SAMP-ORDER).

Options:
  --sampler NAME   measure only NAME (repeatable; default: all)
  --steps LIST     comma-separated increasing step counts (default: each sampler's own)
  --steps LIST     (each an integer in [1, ${MAX_ORDER_STEPS}])
  --target ERR     the RMS error to reach (default 1e-3): a second table gives, per sampler, the steps
                   and model evaluations (NFE) needed, read from its own (n, error) points on the
                   log–log line (interpolated, or extrapolated from the nearest two), best first
  --json FILE      write [{ sampler, expectedOrder, fittedOrder, steps, errors, evaluations,
                   target, stepsToTarget, evaluationsToTarget }, …] to FILE ("-": stdout)
  -h, --help       this text

Samplers:
${ORDER_SAMPLERS.map((s) => `  ${s.name.padEnd(12)} expected ${s.expectedOrder}  ${s.description}`).join("\n")}

Exit code 0 when every sampler is within tolerance, 1 when one is not (or could not run), 2 on bad
arguments or an output that cannot be written.
`;


/** Parses "8,16,32" into increasing positive integers, or a ConfigError naming --steps. */
function parseSteps(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const steps = v.split(",").map((s) => Number(s.trim()));
  if (steps.length < 2 || !steps.every((n, i) => /^\d+$/.test(v.split(",")[i].trim()) && Number.isInteger(n) && n > 0 && n <= MAX_ORDER_STEPS && (i === 0 || n > steps[i - 1]))) {
    throw new ConfigError("--steps", v, `at least two increasing integers in [1, ${MAX_ORDER_STEPS}] separated by commas, e.g. 8,16,32,64`);
  }
  return steps;
}

const fmt = (m: OrderMeasurement, ok: boolean): string =>
  `${m.sampler.padEnd(12)} ${String(m.expectedOrder).padStart(8)} ${m.fittedOrder.toFixed(2).padStart(7)}  ${(ok ? "ok" : "FAIL").padEnd(5)} ${m.steps.map((n, i) => `${n}:${m.errors[i].toExponential(2)}`).join("  ")}\n`;

export async function orderCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { sampler: { type: "string", multiple: true }, steps: { type: "string" }, target: { type: "string" }, json: { type: "string" } }, "order");
  if (values.help) { process.stdout.write(ORDER_HELP); return 0; }
  const names = (values.sampler as string[] | undefined) ?? ORDER_SAMPLER_NAMES;
  for (const n of names) if (!ORDER_SAMPLER_NAMES.includes(n)) throw new ConfigError("--sampler", n, `one of ${ORDER_SAMPLER_NAMES.join(", ")}`);
  const steps = parseSteps(values.steps as string | undefined);
  const target = parseTarget(values.target as string | undefined);
  checkOutputFile("--json", values.json as string | undefined);
  const out = values.json === "-" ? process.stderr : process.stdout; // stdout stays one JSON document
  out.write(`${"sampler".padEnd(12)} expected  fitted  check errors (n: RMS error)\n`);
  const results: OrderMeasurement[] = [];
  let failed = 0;
  for (const name of names) {
    let m: OrderMeasurement;
    try {
      m = await measureOrder(name, { steps });
    } catch (e) {
      // One sampler that cannot run (e.g. not implemented on this checkout) fails; the table goes on.
      failed++;
      out.write(`${name.padEnd(12)} ${"".padStart(8)} ${"—".padStart(7)}  FAIL  ${(e as Error).message}\n`);
      continue;
    }
    const ok = orderHolds(m);
    if (!ok) failed++;
    results.push(m);
    out.write(fmt(m, ok));
  }
  out.write(`${names.length - failed} within ±${ORDER_TOLERANCE} of theory, ${failed} not\n`);
  if (results.length) out.write(`\n${targetTable(results, target)}`);
  const withTarget = results.map((m) => { const r = stepsToReach(m, target); return { ...m, target, stepsToTarget: Number.isFinite(r.steps) ? r.steps : null, evaluationsToTarget: Number.isFinite(r.evaluations) ? r.evaluations : null }; });
  const notWritten = writeOutputs([{ path: values.json as string | undefined, content: () => JSON.stringify(withTarget, null, 2) + "\n" }]);
  for (const f of notWritten) process.stderr.write(`diffspec order: not written: ${f}\n`);
  if (notWritten.length) return 2;
  return failed > 0 ? 1 : names.length ? 0 : EXIT_NOTHING_CHECKED;
}
