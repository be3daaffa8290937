/**
 * SCHED-BETAS, SCHED-CUMPROD, SCHED-LINEAR, SCHED-SCALED-LINEAR, SCHED-COSINE, SCHED-SIGMOID,
 * SCHED-ZERO-SNR, SCHED-SIGMA, SCHED-LOGSNR, SCHED-KARRAS, SCHED-EXPONENTIAL, SCHED-VALIDATE
 * (spec/03-schedules.md).
 *
 * Independent computations: formulas re-derived here in Float64, and 50-digit decimal.js
 * arithmetic for the cumulative product and the linear / scaled-linear betas.
 */
import fc from "fast-check";
import Decimal from "decimal.js";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose } from "../check.ts";
import { ConfigError } from "../../reference/errors.ts";
import {
  alphaBarFromSigma,
  BETA_SCHEDULES,
  cosineAlphaBar,
  exponentialSigmas,
  karrasSigmas,
  makeBetas,
  makeSchedule,
  sigmaFromAlphaBar,
  type ScheduleConfig,
} from "../../reference/schedule.ts";
import { expectTypedError, num } from "./distributions.ts";

const U = 2 ** -53;

/**
 * Schedule configs: N ∈ [1, 1000] (often exactly 1000), every beta schedule, β_start ∈ [1e-5, 0.02],
 * β_end = β_start + [0, 0.1], with and without zero-SNR rescaling (which needs N ≥ 2). These ranges
 * keep ᾱ_T above Float64's underflow, the clause's precondition.
 */
export const scheduleConfigArb: fc.Arbitrary<ScheduleConfig> = fc
  .record({
    numTrainTimesteps: fc.oneof(fc.constant(1000), fc.integer({ min: 1, max: 1000 })),
    betaSchedule: fc.constantFrom(...BETA_SCHEDULES),
    betaStart: num(1e-5, 0.02),
    spread: num(0, 0.1),
    rescaleBetasZeroSnr: fc.boolean(),
  })
  .map(({ spread, ...c }) => ({
    ...c,
    numTrainTimesteps: c.rescaleBetasZeroSnr ? Math.max(2, c.numTrainTimesteps) : c.numTrainTimesteps,
    betaEnd: c.betaStart + spread,
  }));

/** Decimal numbers with 50 significant digits. */
const Big = Decimal.clone({ precision: 50 });
type Big = Decimal;

/**
 * The exact value of a Float64 as a BigNumber (x = m·2ᵉ with m an integer), rounded to 50 digits.
 * (`new Decimal(x)` reads the shortest decimal that round-trips, which is not x's exact value:
 * an error of up to 2⁻⁵³ relative per conversion.)
 */
export function bigExact(x: number): Big {
  if (x === 0) return new Big(0);
  let m = Math.abs(x);
  let e = 0;
  while (!Number.isInteger(m)) { m *= 2; e--; }
  return new Big(`${x < 0 ? "-" : ""}${BigInt(m)}`).times(new Big(2).pow(e));
}

/** ᾱₜ = Π_{s ≤ t} (1 − βₛ) in 50-digit arithmetic, from the exact values of the Float64 betas. */
function bigCumprod(betas: ArrayLike<number>): number[] {
  let p = new Big(1);
  const out: number[] = [];
  for (let i = 0; i < betas.length; i++) {
    p = p.times(new Big(1).minus(bigExact(betas[i])));
    out.push(p.toNumber());
  }
  return out;
}

/** σ_max/σ_min: exactly 1 (a constant schedule) or in [1.001, 200]. */
const ratioArb = fc.oneof(fc.constant(1), num(1.001, 200));

const strictlyDecreasing = (a: ArrayLike<number>): number => {
  for (let i = 1; i < a.length; i++) if (!(a[i] < a[i - 1])) return i;
  return -1;
};

export const properties = defineProperties([
  {
    clause: "SCHED-BETAS",
    name: "betas-in-range-for-every-schedule",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, (c) => {
          const s = makeSchedule(c);
          const N = c.numTrainTimesteps;
          expect(s.betas.length === N, `${s.betas.length} betas for N = ${N}`);
          // The upper bound of the unrescaled schedule: β_end (scaled_linear: squared square roots, a few roundings), 0.999 for cosine.
          const max = c.betaSchedule === "squaredcos_cap_v2" ? 0.999 : c.betaEnd * (1 + 8 * U);
          const min = c.betaSchedule === "squaredcos_cap_v2" ? 0 : c.betaStart * (1 - 8 * U);
          s.betas.forEach((b, i) => {
            const last = c.rescaleBetasZeroSnr && i === N - 1;
            if (last) expect(b === 1, `zero-SNR β_T = ${b}, expected 1`);
            else if (c.rescaleBetasZeroSnr) expect(b > 0 && b < 1, `β${i} = ${b} outside (0, 1)`);
            else expect(b > 0 && b >= min && b <= max, `β${i} = ${b} outside (0, ${max}] (β_start ${c.betaStart})`);
            expect(s.alphas[i] === 1 - b, `α${i} ≠ 1 − β${i}`);
          });
        }),
      ),
  },
  {
    clause: "SCHED-BETAS",
    name: "trained-betas-override-the-schedule",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(num(1e-6, 0.5), { minLength: 1, maxLength: 50 }), fc.constantFrom(...BETA_SCHEDULES), (tb, schedule) => {
          const b = makeBetas({ numTrainTimesteps: tb.length, betaSchedule: schedule, trainedBetas: tb });
          expect(b.every((v, i) => v === tb[i]), "trainedBetas were not used as given");
        }),
      ),
  },
  {
    clause: "SCHED-CUMPROD",
    name: "alphas-cumprod-strictly-decrease-in-unit-interval",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, (c) => {
          const a = makeSchedule(c).alphasCumprod;
          const N = a.length;
          const bad = strictlyDecreasing(a);
          expect(bad < 0, `ᾱ not strictly decreasing at ${bad}: ${a[bad - 1]}, ${a[bad]}`);
          expect(a[0] <= 1, `ᾱ₀ = ${a[0]} > 1`);
          const lastPositive = c.rescaleBetasZeroSnr ? N - 2 : N - 1;
          expect(a[lastPositive] > 0, `ᾱ${lastPositive} = ${a[lastPositive]} is not > 0`);
          if (c.rescaleBetasZeroSnr) expect(a[N - 1] === 0, `zero-SNR ᾱ_T = ${a[N - 1]}`);
        }),
      ),
  },
  {
    clause: "SCHED-CUMPROD",
    name: "cumprod-matches-50-digit-bignumber",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, (c) => {
          // The reference carries the product in double-double, so one final rounding (2⁻⁵³) plus O(N·2⁻¹⁰⁶);
          // a plain Float64 running product would drift by up to 2N·2⁻⁵³ (≈ 5e-14 measured at N = 1000).
          const s = makeSchedule(c);
          expectAllClose("ᾱ vs 50-digit product", s.alphasCumprod, bigCumprod(s.betas), 1e-14, 0);
        }),
      ),
  },
  {
    clause: "SCHED-LINEAR",
    name: "betas-are-evenly-spaced",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 2, max: 1000 }), num(1e-5, 0.02), num(0, 0.1), (N, start, spread) => {
          const end = start + spread;
          const b = makeBetas({ numTrainTimesteps: N, betaStart: start, betaEnd: end, betaSchedule: "linear" });
          expect(b[0] === start && b[N - 1] === end, `endpoints ${b[0]}, ${b[N - 1]} are not exactly β_start, β_end`);
          const step = bigExact(end).minus(bigExact(start)).dividedBy(N - 1);
          const exact = Array.from({ length: N }, (_, i) => bigExact(start).plus(step.times(i)).toNumber());
          expectAllClose("βᵢ vs β_start + i(β_end − β_start)/(N − 1)", b, exact, 1e-14, 0);
        }),
      ),
  },
  {
    clause: "SCHED-SCALED-LINEAR",
    name: "square-roots-are-evenly-spaced",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 2, max: 1000 }), num(1e-5, 0.02), num(0, 0.1), (N, start, spread) => {
          const end = start + spread;
          const b = makeBetas({ numTrainTimesteps: N, betaStart: start, betaEnd: end, betaSchedule: "scaled_linear" });
          const r0 = bigExact(start).sqrt();
          const step = bigExact(end).sqrt().minus(r0).dividedBy(N - 1);
          const exact = Array.from({ length: N }, (_, i) => r0.plus(step.times(i)).pow(2).toNumber());
          expectAllClose("βᵢ vs (√β_start + i(√β_end − √β_start)/(N − 1))²", b, exact, 1e-14, 0);
        }),
      ),
  },
  {
    clause: "SCHED-COSINE",
    name: "alphas-cumprod-follow-the-cosine-formula",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 1, max: 1000 }), (N) => {
          // Uncapped steps telescope: ᾱₜ = f((t+1)/N)/f(0), f(u) = cos²((u + s)/(1 + s)·π/2), s = 0.008.
          const s = makeSchedule({ numTrainTimesteps: N, betaSchedule: "squaredcos_cap_v2" });
          const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
          for (let t = 0; t < N && s.betas[t] < 0.999; t++) expectClose(`ᾱ${t}`, s.alphasCumprod[t], f((t + 1) / N) / f(0), 1e-12);
          expectClose("cosineAlphaBar", cosineAlphaBar(0.3), f(0.3), 1e-15);
        }),
      ),
  },
  {
    clause: "SCHED-COSINE",
    name: "betas-increase-and-are-capped-at-0.999",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 2, max: 1000 }), (N) => {
          const b = makeBetas({ numTrainTimesteps: N, betaSchedule: "squaredcos_cap_v2" });
          for (let i = 0; i < N; i++) {
            expect(b[i] > 0 && b[i] <= 0.999, `β${i} = ${b[i]} outside (0, 0.999]`);
            if (i > 0) expect(b[i] >= b[i - 1] * (1 - 1e-9), `β not increasing at ${i}: ${b[i - 1]}, ${b[i]}`);
          }
          expect(b[N - 1] === 0.999, `the last cosine β is ${b[N - 1]}, expected the cap 0.999 (f(1) ≈ 0)`);
        }),
      ),
  },
  {
    clause: "SCHED-SIGMOID",
    name: "betas-follow-the-sigmoid-formula",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 2, max: 1000 }), num(1e-5, 0.02), num(1e-6, 0.1), (N, start, spread) => {
          const end = start + spread;
          const b = makeBetas({ numTrainTimesteps: N, betaStart: start, betaEnd: end, betaSchedule: "sigmoid" });
          for (let i = 0; i < N; i++) {
            const x = -6 + (12 * i) / (N - 1);
            expectClose(`β${i}`, b[i], start + (end - start) / (1 + Math.exp(-x)), 1e-14);
            // σ(x) + σ(−x) = 1, and the grid is symmetric about 0.
            expectClose(`β${i} + β${N - 1 - i}`, b[i] + b[N - 1 - i], start + end, 1e-14);
            if (i > 0) expect(b[i] >= b[i - 1], `β not non-decreasing at ${i}`);
          }
        }),
      ),
  },
  {
    clause: "SCHED-ZERO-SNR",
    name: "terminal-alpha-bar-is-zero-and-first-is-kept",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, (c) => {
          const plain = makeSchedule({ ...c, rescaleBetasZeroSnr: false });
          const z = makeSchedule({ ...c, rescaleBetasZeroSnr: true, numTrainTimesteps: Math.max(2, c.numTrainTimesteps) });
          if (z.betas.length !== plain.betas.length) return; // N = 1 is a ConfigError (SCHED-VALIDATE)
          const N = z.alphasCumprod.length;
          expect(z.alphasCumprod[N - 1] === 0, `ᾱ_T = ${z.alphasCumprod[N - 1]}`);
          expect(z.sigmas[N - 1] === Infinity && z.logSnr[N - 1] === -Infinity, "σ_T must be ∞ and λ_T = −∞ (zero terminal SNR)");
          expectClose("ᾱ₀ kept", z.alphasCumprod[0], plain.alphasCumprod[0], 1e-14);
        }),
      ),
  },
  {
    clause: "SCHED-ZERO-SNR",
    name: "sqrt-alpha-bar-is-an-affine-map",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, (c) => {
          const N = Math.max(2, c.numTrainTimesteps);
          const plain = makeSchedule({ ...c, numTrainTimesteps: N, rescaleBetasZeroSnr: false }).alphasCumprod.map(Math.sqrt);
          const z = makeSchedule({ ...c, numTrainTimesteps: N, rescaleBetasZeroSnr: true }).alphasCumprod.map(Math.sqrt);
          // √ᾱ′ₜ = (√ᾱₜ − √ᾱ_T)·√ᾱ₀/(√ᾱ₀ − √ᾱ_T)  (Lin et al. 2023, Algorithm 1)
          const k = plain[0] / (plain[0] - plain[N - 1]);
          expectAllClose("√ᾱ′", z, plain.map((v) => (v - plain[N - 1]) * k), 1e-12, 1e-13);
          const bad = strictlyDecreasing(z);
          expect(bad < 0, `√ᾱ′ not strictly decreasing at ${bad}`);
        }),
      ),
  },
  {
    clause: "SCHED-SIGMA",
    name: "sigma-and-alpha-bar-round-trip",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, (c) => {
          const s = makeSchedule(c);
          const N = s.betas.length;
          const last = c.rescaleBetasZeroSnr ? N - 1 : N;
          for (let t = 0; t < last; t++) {
            const a = s.alphasCumprod[t];
            expectClose(`σ${t}² = (1 − ᾱ)/ᾱ`, s.sigmas[t] ** 2, (1 - a) / a, 2e-15);
            expectClose(`ᾱ(σ(ᾱ${t}))`, alphaBarFromSigma(sigmaFromAlphaBar(a)), a, 1e-14);
            if (t > 0) expect(s.sigmas[t] > s.sigmas[t - 1], `σ not increasing at ${t}`);
          }
        }),
      ),
  },
  {
    clause: "SCHED-LOGSNR",
    name: "log-snr-is-minus-two-log-sigma-and-decreases",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, (c) => {
          const s = makeSchedule(c);
          s.logSnr.forEach((l, t) => {
            const a = s.alphasCumprod[t];
            if (a === 0) return expect(l === -Infinity, `λ${t} = ${l} at ᾱ = 0`);
            expectClose(`λ${t} = −2 log σ`, l, -2 * Math.log(s.sigmas[t]), 1e-12, 1e-12);
            expectClose(`λ${t} = log(ᾱ/(1 − ᾱ))`, l, Math.log(a / (1 - a)), 1e-12, 1e-12);
            if (t > 0) expect(l < s.logSnr[t - 1], `λ not decreasing at ${t}`);
          });
        }),
      ),
  },
  {
    clause: "SCHED-KARRAS",
    name: "endpoints-final-zero-and-monotone",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 1, max: 200 }), num(1e-3, 1), ratioArb, num(1, 10), (n, sMin, ratio, rho) => {
          const sMax = sMin * ratio;
          const s = karrasSigmas(n, sMin, sMax, rho);
          expect(s.length === n + 1 && s[n] === 0, `length ${s.length}, final ${s[n]}: expected n + 1 values ending in 0`);
          expectClose("σ₀ = σ_max", s[0], sMax, 1e-13);
          if (n > 1) expectClose("σₙ₋₁ = σ_min", s[n - 1], sMin, 1e-13);
          for (let i = 1; i <= n; i++) expect(ratio === 1 ? s[i] <= s[i - 1] : s[i] < s[i - 1], `σ not decreasing at ${i}: ${s[i - 1]}, ${s[i]}`);
        }),
      ),
  },
  {
    clause: "SCHED-KARRAS",
    name: "rho-th-roots-are-evenly-spaced",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 2, max: 200 }), num(1e-3, 1), ratioArb, num(1, 10), (n, sMin, ratio, rho) => {
          // σᵢ^{1/ρ} = σ_max^{1/ρ} + i/(n − 1)·(σ_min^{1/ρ} − σ_max^{1/ρ})  (Karras et al. 2022, eq. 5)
          const sMax = sMin * ratio;
          const s = karrasSigmas(n, sMin, sMax, rho);
          const hi = sMax ** (1 / rho);
          const lo = sMin ** (1 / rho);
          const roots = Array.from(s.subarray(0, n), (v) => v ** (1 / rho));
          expectAllClose("σᵢ^{1/ρ}", roots, roots.map((_, i) => hi + (i / (n - 1)) * (lo - hi)), 1e-13, 1e-15);
        }),
      ),
  },
  {
    clause: "SCHED-EXPONENTIAL",
    name: "endpoints-final-zero-and-evenly-spaced-logs",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 1, max: 200 }), num(1e-3, 1), ratioArb, (n, sMin, ratio) => {
          const sMax = sMin * ratio;
          const s = exponentialSigmas(n, sMin, sMax);
          expect(s.length === n + 1 && s[n] === 0, `length ${s.length}, final ${s[n]}`);
          expectClose("σ₀", s[0], sMax, 1e-14);
          if (n > 1) {
            expectClose("σₙ₋₁", s[n - 1], sMin, 1e-14);
            const logs = Array.from(s.subarray(0, n), Math.log);
            expectAllClose("log σᵢ", logs, logs.map((_, i) => Math.log(sMax) + (i / (n - 1)) * (Math.log(sMin) - Math.log(sMax))), 0, 1e-13);
          }
          for (let i = 1; i <= n; i++) expect(ratio === 1 ? s[i] <= s[i - 1] : s[i] < s[i - 1], `σ not decreasing at ${i}`);
        }),
      ),
  },
  {
    clause: "SCHED-VALIDATE",
    name: "bad-configs-are-config-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      for (const v of [0, 1, 1.5, -0.1, NaN, Infinity]) {
        expectTypedError(`betaStart = ${v}`, () => makeBetas({ betaStart: v }), ConfigError, "betaStart");
        expectTypedError(`betaEnd = ${v}`, () => makeBetas({ betaEnd: v }), ConfigError, "betaEnd");
      }
      expectTypedError("betaStart > betaEnd", () => makeBetas({ betaStart: 0.02, betaEnd: 0.01 }), ConfigError, "betaStart");
      expectTypedError("unknown schedule", () => makeBetas({ betaSchedule: "quadratic" as never }), ConfigError, "betaSchedule");
      for (const n of [0, -3, 2.5, NaN]) expectTypedError(`numTrainTimesteps = ${n}`, () => makeBetas({ numTrainTimesteps: n }), ConfigError, "numTrainTimesteps");
      expectTypedError("zero-SNR with N = 1", () => makeBetas({ numTrainTimesteps: 1, rescaleBetasZeroSnr: true }), ConfigError, "numTrainTimesteps");
      expectTypedError("trainedBetas of the wrong length", () => makeBetas({ numTrainTimesteps: 3, trainedBetas: [0.1, 0.2] }), ConfigError, "trainedBetas");
      expectTypedError("trainedBetas with 1", () => makeBetas({ numTrainTimesteps: 2, trainedBetas: [0.1, 1] }), ConfigError, "trainedBetas[1]");
      expectTypedError("karras n = 0", () => karrasSigmas(0, 0.1, 10), ConfigError, "n");
      expectTypedError("karras σ_min = 0", () => karrasSigmas(5, 0, 10), ConfigError, "sigmaMin");
      expectTypedError("karras σ_max < σ_min", () => karrasSigmas(5, 1, 0.5), ConfigError, "sigmaMax");
      expectTypedError("exponential σ_max = ∞", () => exponentialSigmas(5, 1, Infinity), ConfigError, "sigmaMax");
    },
  },
]);
