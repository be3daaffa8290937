/**
 * POST-MEAN, POST-VARIANCE, POST-BAYES (spec/04-forward.md): q(xₜ₋₁ | xₜ, x₀) is the Bayes posterior
 * of the forward process. Checked three ways: the coefficients equal Gaussian conditioning of the
 * forward joint law (exact, Float64); the implied joint moments agree with the forward ones (exact);
 * and sampling (statistical): forward-then-posterior and posterior-then-forward reproduce the laws.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectClose, statisticalTest } from "../check.ts";
import { ConfigError } from "../../reference/errors.ts";
import { addNoise, forwardStep } from "../../reference/forward.ts";
import { posteriorMean, posteriorMeanCoefficients, posteriorVariance, type VarianceType } from "../../reference/posterior.ts";
import { makeSchedule, type Schedule } from "../../reference/schedule.ts";
import { linearCombination, tensor, type Tensor } from "../../reference/tensor.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { bonferroni, energyPermutationTest, ksTestNormal } from "../../reference/stats.ts";
import { expectTypedError, num, sampleSize } from "./distributions.ts";
import { scheduleConfigArb } from "./schedule.ts";

/** A schedule (N ≥ 2) and t ∈ [1, N − 1]. */
const scheduleAndT1Arb: fc.Arbitrary<{ s: Schedule; t: number }> = scheduleConfigArb
  .filter((c) => c.numTrainTimesteps >= 2)
  .chain((c) => fc.integer({ min: 1, max: c.numTrainTimesteps - 1 }).map((t) => ({ s: makeSchedule(c), t })));

/**
 * The forward joint law of (xₜ₋₁, xₜ) given x₀, written from FWD-MARGINAL and FWD-STEP only:
 * xₜ₋₁ = √ᾱₜ₋₁ x₀ + √(1 − ᾱₜ₋₁) ε₁, xₜ = √αₜ xₜ₋₁ + √βₜ ε₂.
 */
function forwardJoint(s: Schedule, t: number) {
  const abarPrev = s.alphasCumprod[t - 1];
  const varPrev = 1 - abarPrev;
  const cov = Math.sqrt(s.alphas[t]) * varPrev;
  const varT = s.alphas[t] * varPrev + s.betas[t];
  return { abarPrev, varPrev, cov, varT };
}

/**
 * Tolerance of the exact comparisons: both sides form 1 − ᾱ by cancellation, which at t = 1 costs
 * log₁₀(1/β₀) digits (β₀ ≥ 1e-5 here): 1e-10 relative is 2⁻⁵³/β₀ with a factor 20 to spare.
 */
const RTOL = 1e-10;

export const properties = defineProperties([
  {
    clause: "POST-MEAN",
    name: "mean-coefficients-are-gaussian-conditioning",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndT1Arb, ({ s, t }) => {
          // E[xₜ₋₁ | xₜ, x₀] = μ₁ + (Cov/Var xₜ)(xₜ − √αₜ μ₁), μ₁ = √ᾱₜ₋₁ x₀.
          const j = forwardJoint(s, t);
          const k = j.cov / j.varT;
          const [c0, ct] = posteriorMeanCoefficients(s, t);
          expectClose("coefficient of xₜ", ct, k, RTOL, 1e-15);
          expectClose("coefficient of x₀", c0, Math.sqrt(j.abarPrev) * (1 - k * Math.sqrt(s.alphas[t])), RTOL, 1e-15);
        }),
      ),
  },
  {
    clause: "POST-MEAN",
    name: "posterior-mean-applies-the-coefficients",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndT1Arb, fc.array(num(-3, 3), { minLength: 4, maxLength: 4 }), fc.array(num(-3, 3), { minLength: 4, maxLength: 4 }), ({ s, t }, a, b) => {
          const x0 = tensor(a, [2, 2]);
          const xt = tensor(b, [2, 2]);
          const [c0, ct] = posteriorMeanCoefficients(s, t);
          const m = posteriorMean(s, xt, x0, t);
          m.data.forEach((v, i) => expectClose(`μ̃[${i}]`, v, c0 * a[i] + ct * b[i], 1e-14, 1e-15));
        }),
      ),
  },
  {
    clause: "POST-VARIANCE",
    name: "variance-is-gaussian-conditioning",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndT1Arb, ({ s, t }) => {
          // Var[xₜ₋₁ | xₜ, x₀] = Var xₜ₋₁ − Cov²/Var xₜ.
          const j = forwardJoint(s, t);
          const small = posteriorVariance(s, t, "fixed_small");
          expectClose("β̃ₜ", small, j.varPrev - (j.cov * j.cov) / j.varT, RTOL, 1e-15);
          const large = posteriorVariance(s, t, "fixed_large");
          expect(large === s.betas[t], `fixed_large = ${large}, expected βₜ = ${s.betas[t]}`);
          expect(small > 0 && small <= large, `β̃ₜ = ${small} not in (0, βₜ = ${large}]`);
        }),
      ),
  },
  {
    clause: "POST-VARIANCE",
    name: "bad-arguments-are-config-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      const s = makeSchedule({ numTrainTimesteps: 10 });
      for (const t of [0, -1, 10, 1.5]) {
        expectTypedError(`posteriorVariance t = ${t}`, () => posteriorVariance(s, t), ConfigError, "timestep");
        expectTypedError(`posteriorMeanCoefficients t = ${t}`, () => posteriorMeanCoefficients(s, t), ConfigError, "timestep");
      }
      expectTypedError("varianceType", () => posteriorVariance(s, 3, "learned" as VarianceType), ConfigError, "varianceType");
    },
  },
  {
    clause: "POST-BAYES",
    name: "joint-moments-of-both-factorisations-agree",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndT1Arb, num(-3, 3), ({ s, t }, x0) => {
          // Route B: xₜ ~ q(xₜ | x₀) = 𝒩(√ᾱₜ x₀, 1 − ᾱₜ), then xₜ₋₁ ~ 𝒩(c₀x₀ + cₜxₜ, β̃ₜ).
          // Its law of (xₜ₋₁, xₜ) must be route A's (forward): same mean, variance and covariance.
          const j = forwardJoint(s, t);
          const [c0, ct] = posteriorMeanCoefficients(s, t);
          const abar = s.alphasCumprod[t];
          const v = posteriorVariance(s, t);
          expectClose("E xₜ₋₁", c0 * x0 + ct * Math.sqrt(abar) * x0, Math.sqrt(j.abarPrev) * x0, RTOL, 1e-15);
          expectClose("Var xₜ₋₁", ct * ct * (1 - abar) + v, j.varPrev, RTOL, 1e-15);
          expectClose("Cov(xₜ₋₁, xₜ)", ct * (1 - abar), j.cov, RTOL, 1e-15);
          expectClose("Var xₜ", 1 - abar, j.varT, RTOL, 1e-15);
        }),
      ),
  },
  {
    clause: "POST-BAYES",
    name: "posterior-then-forward-keeps-the-marginal",
    scope: "spec",
    kind: "statistical",
    // xₜ ~ q(xₜ | x₀), xₜ₋₁ ~ q(xₜ₋₁ | xₜ, x₀), x′ₜ ~ q(xₜ | xₜ₋₁): x′ₜ must again be 𝒩(√ᾱₜ x₀, 1 − ᾱₜ)
    // (and xₜ₋₁ must be 𝒩(√ᾱₜ₋₁ x₀, 1 − ᾱₜ₋₁)). KS tests at t ∈ {1, 10, 500, 999} (linear and
    // zero-SNR cosine, N = 1000), Bonferroni over the 16 tests, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "POST-BAYES posterior-then-forward-keeps-the-marginal", 0.01, (stream) => {
        const n = sampleSize(ctx, 1000);
        const x0v = -0.6;
        const x0 = tensor(new Array(n).fill(x0v), [n]);
        const ps: number[] = [];
        for (const s of [makeSchedule(), makeSchedule({ betaSchedule: "squaredcos_cap_v2", rescaleBetasZeroSnr: true })]) {
          for (const t of [1, 10, 500, 999]) {
            const xt = addNoise(s, x0, stream.randn([n]), t);
            const mean = posteriorMean(s, xt, x0, t);
            const xPrev = linearCombination([mean, stream.randn([n])], [1, Math.sqrt(posteriorVariance(s, t))]);
            const again = forwardStep(s, xPrev, t, stream.randn([n]));
            const a = s.alphasCumprod[t];
            const ap = s.alphasCumprod[t - 1];
            ps.push(ksTestNormal(xPrev.data, Math.sqrt(ap) * x0v, 1 - ap).pValue);
            ps.push(ksTestNormal(again.data, Math.sqrt(a) * x0v, 1 - a).pValue);
          }
        }
        return bonferroni(ps);
      }),
  },
  {
    clause: "POST-BAYES",
    name: "two-factorisations-give-the-same-joint-law",
    scope: "spec",
    kind: "statistical",
    // Pairs (xₜ₋₁, xₜ) drawn forward (q(xₜ₋₁ | x₀) then the step) versus backward (q(xₜ | x₀) then the
    // posterior), t = 300 of the linear schedule, x₀ = 1.2: energy-distance permutation test in 2-D
    // on standardised coordinates (199 permutations), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "POST-BAYES two-factorisations-give-the-same-joint-law", 0.01, (stream) => {
        const n = sampleSize(ctx, 150);
        const s = makeSchedule();
        const t = 300;
        const x0 = tensor(new Array(n).fill(1.2), [n]);
        const prevA = addNoise(s, x0, stream.randn([n]), t - 1);
        const curA = forwardStep(s, prevA, t, stream.randn([n]));
        const curB = addNoise(s, x0, stream.randn([n]), t);
        const prevB = linearCombination([posteriorMean(s, curB, x0, t), stream.randn([n])], [1, Math.sqrt(posteriorVariance(s, t))]);
        // Standardise by the forward moments so both coordinates weigh alike in the distance
        // (xₜ₋₁ and xₜ are correlated ≈ 1; the difference carries the information).
        const ap = s.alphasCumprod[t - 1];
        const a = s.alphasCumprod[t];
        const std = (prev: Tensor, cur: Tensor) =>
          Array.from({ length: n }, (_, i) => {
            const u = (prev.data[i] - Math.sqrt(ap) * 1.2) / Math.sqrt(1 - ap);
            const w = (cur.data[i] - Math.sqrt(a) * 1.2) / Math.sqrt(1 - a);
            return [u + w, (u - w) / Math.sqrt(s.betas[t])];
          });
        return energyPermutationTest(std(prevA, curA), std(prevB, curB), new GaussianStream(`${stream.seed}/perm`), 199).pValue;
      }),
  },
]);

