/**
 * `diffspec order`: each deterministic sampler's convergence order on the exact oracle
 * (SAMP-ORDER, spec/08-order.md; reference/samplers/order.ts).
 */
import { parse } from "./args.ts";
import { writeFileAtomic } from "../conformance/report.ts";
import { ConfigError } from "../reference/errors.ts";
import { measureOrder, orderHolds, ORDER_SAMPLERS, ORDER_SAMPLER_NAMES, ORDER_TOLERANCE, type OrderMeasurement } from "../reference/samplers/order.ts";

export const ORDER_HELP = `Usage: diffspec order [--sampler NAME]... [--steps N,N,...] [--json FILE]

Runs each deterministic sampler on Gaussian data whose probability-flow ODE has a closed-form
solution (the exact oracle), from the same x_T with a doubling sequence of step counts n, and fits
the order p of error ∝ n^(−p) by least squares on log error vs log n. A sampler passes when
|fitted − expected| ≤ ${ORDER_TOLERANCE} and its error decreases with n (spec/08-order.md, SAMP-ORDER).

Options:
  --sampler NAME   measure only NAME (repeatable; default: all)
  --steps LIST     comma-separated increasing step counts (default: each sampler's own)
  --json FILE      write [{ sampler, expectedOrder, fittedOrder, steps, errors }, …] to FILE
  -h, --help       this text

Samplers:
${ORDER_SAMPLERS.map((s) => `  ${s.name.padEnd(12)} expected ${s.expectedOrder}  ${s.description}`).join("\n")}

Exit code 0 when every sampler is within tolerance, 1 when one is not, 2 on bad arguments.
`;

/** Parses "8,16,32" into increasing positive integers, or a ConfigError naming --steps. */
function parseSteps(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const steps = v.split(",").map((s) => Number(s.trim()));
  if (steps.length < 2 || !steps.every((n, i) => Number.isInteger(n) && n > 0 && (i === 0 || n > steps[i - 1]))) {
    throw new ConfigError("--steps", v, "at least two increasing positive integers separated by commas, e.g. 8,16,32,64");
  }
  return steps;
}

const fmt = (m: OrderMeasurement, ok: boolean): string =>
  `${m.sampler.padEnd(12)} ${String(m.expectedOrder).padStart(8)} ${m.fittedOrder.toFixed(2).padStart(7)}  ${(ok ? "ok" : "FAIL").padEnd(5)} ${m.steps.map((n, i) => `${n}:${m.errors[i].toExponential(2)}`).join("  ")}\n`;

export async function orderCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { sampler: { type: "string", multiple: true }, steps: { type: "string" }, json: { type: "string" } }, "order");
  if (values.help) { process.stdout.write(ORDER_HELP); return 0; }
  const names = (values.sampler as string[] | undefined) ?? ORDER_SAMPLER_NAMES;
  for (const n of names) if (!ORDER_SAMPLER_NAMES.includes(n)) throw new ConfigError("--sampler", n, `one of ${ORDER_SAMPLER_NAMES.join(", ")}`);
  const steps = parseSteps(values.steps as string | undefined);
  process.stdout.write(`${"sampler".padEnd(12)} expected  fitted  check errors (n: RMS error)\n`);
  const results: OrderMeasurement[] = [];
  let failed = 0;
  for (const name of names) {
    let m: OrderMeasurement;
    try {
      m = await measureOrder(name, { steps });
    } catch (e) {
      // One sampler that cannot run (e.g. not implemented on this checkout) fails; the table goes on.
      failed++;
      process.stdout.write(`${name.padEnd(12)} ${"".padStart(8)} ${"—".padStart(7)}  FAIL  ${(e as Error).message}\n`);
      continue;
    }
    const ok = orderHolds(m);
    if (!ok) failed++;
    results.push(m);
    process.stdout.write(fmt(m, ok));
  }
  if (values.json) writeFileAtomic(values.json as string, JSON.stringify(results, null, 2) + "\n");
  process.stdout.write(`${names.length - failed} within ±${ORDER_TOLERANCE} of theory, ${failed} not\n`);
  return failed > 0 ? 1 : 0;
}
