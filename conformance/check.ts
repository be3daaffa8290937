/**
 * Helpers that properties use: fast-check with replayable failures, statistical tests with a
 * stated α and one retry on a fresh sample, and tolerance comparisons.
 */
import fc from "fast-check";
import type { PropertyContext } from "./registry.ts";
import { GaussianStream } from "../reference/rng.ts";

/** A failed property: carries what is needed to replay exactly this counterexample. */
export class PropertyFailure extends Error {
  constructor(
    message: string,
    readonly seed?: number,
    readonly path?: string,
    readonly counterexample?: string,
  ) {
    super(message);
    this.name = "PropertyFailure";
  }
}

/** Runs a fast-check property with the run's seed (and replay path); throws PropertyFailure on a counterexample. */
export async function checkProperty<Ts>(ctx: PropertyContext, prop: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>, numRuns = ctx.numRuns): Promise<void> {
  const details = await fc.check(prop as fc.IAsyncProperty<Ts>, { seed: ctx.seed, path: ctx.path, numRuns, endOnFailure: false });
  if (!details.failed) return;
  const cex = fc.stringify(details.counterexample);
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance ?? "predicate returned false");
  throw new PropertyFailure(`counterexample ${cex}: ${cause}`, details.seed, details.counterexamplePath ?? undefined, cex);
}

/** Throws unless |a − b| ≤ atol + rtol·|b| (numpy's isclose). */
export function expectClose(what: string, a: number, b: number, rtol: number, atol = 0): void {
  if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b))) {
    throw new Error(`${what}: ${a} vs ${b} (|diff| ${Math.abs(a - b).toExponential(3)} > atol ${atol} + rtol ${rtol}·|expected|)`);
  }
}

/** Elementwise expectClose, reporting the worst index. */
export function expectAllClose(what: string, a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol = 0): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} vs ${b.length}`);
  let worst = -1;
  let excess = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(d <= 0) && (worst < 0 || !(d <= excess))) { worst = i; excess = d; }
  }
  if (worst >= 0) {
    throw new Error(`${what}: index ${worst}: ${a[worst]} vs ${b[worst]} (|diff| ${Math.abs(a[worst] - b[worst]).toExponential(3)} > atol ${atol} + rtol ${rtol}·|expected|)`);
  }
}

export function expect(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

/**
 * A statistical property: `test(stream)` draws a fresh sample from `stream` and returns a p-value.
 * The null hypothesis (the clause holds) is rejected only when two independent samples both give
 * p < α, so the false-failure rate is α² (DESIGN.md: never pick a seed because it passes).
 */
export async function statisticalTest(
  ctx: PropertyContext,
  what: string,
  alpha: number,
  test: (stream: GaussianStream) => number | Promise<number>,
): Promise<void> {
  const p1 = await test(new GaussianStream(`${ctx.seed}/${what}/1`));
  if (p1 >= alpha) return;
  const p2 = await test(new GaussianStream(`${ctx.seed}/${what}/2`));
  if (p2 >= alpha) return;
  throw new PropertyFailure(`${what}: rejected at α = ${alpha} on two independent samples (p = ${p1.toExponential(3)}, then ${p2.toExponential(3)})`, ctx.seed);
}
