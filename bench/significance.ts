/**
 * The statistics that make bench numbers hold on a noisy machine:
 * - `relativeCi`: the 95 % confidence half-width of a configuration's typical time, relative — from the
 *   log run times, t-interval of their mean: exp(t₀.₉₇₅,ₙ₋₁·s/√n) − 1. The runner repeats a configuration
 *   until this is ≤ the plan's `targetRme` (or its run cap), so each time comes with its stated precision.
 * - `permutationTest`: whether two sets of run times differ, the two-sided permutation test of the
 *   difference of mean log times (exact enumeration of all splits when there are ≤ 20 000, else 20 000
 *   seeded random splits, p = (1 + #≥)/(1 + R)). No normality assumption; with few runs it cannot reject
 *   (2 runs against 2: p ≥ 1/3), which is the honest answer.
 * - `holm`: Holm's step-down correction over all compared configurations (family-wise α).
 */
import { normalQuantile } from "../reference/stats.ts";
import { GaussianStream } from "../reference/rng.ts";

const logs = (xs: readonly number[]): number[] => xs.filter((x) => x > 0 && Number.isFinite(x)).map(Math.log);

/** Student's t quantile t_{p, ν}: Cornish–Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5; within 3 % for ν = 2, 0.2 % for ν ≥ 5). */
export function tQuantile(p: number, nu: number): number {
  const z = normalQuantile(p);
  const z3 = z ** 3;
  const z5 = z ** 5;
  const z7 = z ** 7;
  return z + (z3 + z) / (4 * nu) + (5 * z5 + 16 * z3 + 3 * z) / (96 * nu ** 2) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * nu ** 3);
}

/** The relative 95 % half-width of the typical (geometric-mean) time of `samples`; Infinity with fewer than 2. */
export function relativeCi(samples: readonly number[]): number {
  const y = logs(samples);
  const n = y.length;
  if (n < 2) return Infinity;
  const m = y.reduce((a, b) => a + b, 0) / n;
  const s = Math.sqrt(y.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
  return Math.expm1((n === 2 ? 12.706 : tQuantile(0.975, n - 1)) * s / Math.sqrt(n));
}

const PERMUTATIONS = 20_000;

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/** Two-sided permutation p-value of |mean log a − mean log b| (1 when either side has no usable sample). */
export function permutationTest(a: readonly number[], b: readonly number[], seed = "bench-compare"): number {
  const x = logs(a);
  const y = logs(b);
  if (!x.length || !y.length) return 1;
  const all = [...x, ...y];
  const n = all.length;
  const total = all.reduce((s, v) => s + v, 0);
  const diff = (sumA: number): number => Math.abs(sumA / x.length - (total - sumA) / y.length);
  const observed = diff(x.reduce((s, v) => s + v, 0)) * (1 - 1e-12);
  if (binomial(n, x.length) <= PERMUTATIONS) {
    let hits = 0;
    let count = 0;
    const walk = (start: number, left: number, sum: number): void => {
      if (left === 0) { count++; if (diff(sum) >= observed) hits++; return; }
      for (let i = start; i <= n - left; i++) walk(i + 1, left - 1, sum + all[i]);
    };
    walk(0, x.length, 0);
    return hits / count;
  }
  const g = new GaussianStream(seed);
  const idx = all.map((_, i) => i);
  let hits = 0;
  for (let r = 0; r < PERMUTATIONS; r++) {
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      const j = i + g.int(n - i);
      [idx[i], idx[j]] = [idx[j], idx[i]];
      sum += all[idx[i]];
    }
    if (diff(sum) >= observed) hits++;
  }
  return (1 + hits) / (1 + PERMUTATIONS);
}

/** Holm's step-down procedure: which of `pValues` are rejected at family-wise level α. */
export function holm(pValues: readonly number[], alpha: number): boolean[] {
  const order = pValues.map((p, i) => [p, i] as const).sort((u, v) => u[0] - v[0]);
  const out = pValues.map(() => false);
  for (let k = 0; k < order.length; k++) {
    if (order[k][0] > alpha / (order.length - k)) break;
    out[order[k][1]] = true;
  }
  return out;
}
