/**
 * SCORE-EQUIVALENCE, SCORE-POSTERIOR-MEAN (spec/05-parameterisation.md; article: "Alternative intuition from score function").
 * The ideal noise prediction is the score in disguise, ε* = −σₜ ∇ log q(xₜ), and it is the posterior
 * mean of the noise, ε* = E[ε | xₜ]. The first is checked against a finite-difference gradient of the
 * noised mixture's log-density; the second by Monte Carlo, in two independent ways.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, statisticalTest } from "../check.ts";
import { GaussianMixture, gaussianLogPdf } from "../../reference/distributions.ts";
import { epsilonStarPoint, noisedLogPdf, noisedMixture } from "../../reference/oracle.ts";
import type { GaussianStream } from "../../reference/rng.ts";
import { bonferroni, twoSidedNormalP, zTestMean } from "../../reference/stats.ts";
import { expectNormClose, fdGradient, mixtureAndPointArb, num, sampleSize } from "./distributions.ts";

/** The test data of the statistical properties: a 2-D mixture with a near-point component. */
export const TEST_DATA = new GaussianMixture([
  { mean: Float64Array.of(-1, 0.5), std: 0.05, weight: 1, label: 0 },
  { mean: Float64Array.of(1, -0.5), std: 0.3, weight: 2, label: 1 },
  { mean: Float64Array.of(0.2, 1.5), std: 0.15, weight: 1.5, label: 1 },
]);

/** (α, σ) of a VP process at ᾱ. */
export const vp = (abar: number): [number, number] => [Math.sqrt(abar), Math.sqrt(1 - abar)];

/** n joint draws (x₀, ε, xₜ = αx₀ + σε). */
export function drawJoint(data: GaussianMixture, n: number, alpha: number, sigma: number, stream: GaussianStream) {
  return Array.from({ length: n }, () => {
    const x0 = data.sample(stream).x;
    const eps = stream.normals(data.dim);
    return { x0, eps, xt: x0.map((v, i) => alpha * v + sigma * eps[i]) };
  });
}

/**
 * Orthogonality test of a conditional mean: r = target − prediction(xₜ) must satisfy E[r·g(xₜ)] = 0
 * for every g (the defining property of E[target | xₜ]). z-tests (sample variance) of the means of
 * rᵢ·g(xₜ) for g ∈ {1, xₜ,₀, xₜ,₁, tanh(xₜ,₀ xₜ,₁), cos(2xₜ,₀)} and every coordinate i; returns the p-values.
 */
export function orthogonalityPValues(rows: { xt: Float64Array; r: Float64Array }[]): number[] {
  const gs: ((x: Float64Array) => number)[] = [() => 1, (x) => x[0], (x) => x[1], (x) => Math.tanh(x[0] * x[1]), (x) => Math.cos(2 * x[0])];
  const ps: number[] = [];
  for (const g of gs) for (let i = 0; i < rows[0].r.length; i++) ps.push(zTestMean(rows.map(({ xt, r }) => r[i] * g(xt)), 0).pValue);
  return ps;
}

/**
 * Self-normalised importance sampling of E[f(x₀) | xₜ] with the data as proposal: weights
 * wⱼ ∝ 𝒩(xₜ; αx₀ⱼ, σ²I); estimate Σ w̃ⱼ fⱼ, delta-method variance Σ w̃ⱼ² (fⱼ − estimate)²
 * (Owen, "Monte Carlo theory, methods and examples", §9.2). Returns per-coordinate z-scores against `expected`.
 */
export function importanceZScores(data: GaussianMixture, xt: Float64Array, alpha: number, sigma: number, m: number, stream: GaussianStream, f: (x0: Float64Array) => Float64Array, expected: Float64Array): number[] {
  const x0s = data.sampleMany(m, stream);
  const logw = x0s.map((x0) => gaussianLogPdf(xt, x0.map((v) => alpha * v), sigma * sigma));
  const top = logw.reduce((a, b) => Math.max(a, b), -Infinity);
  const w = logw.map((l) => Math.exp(l - top));
  const total = w.reduce((a, b) => a + b, 0);
  const fs = x0s.map(f);
  return Array.from(expected, (e, i) => {
    let est = 0;
    for (let j = 0; j < m; j++) est += (w[j] / total) * fs[j][i];
    let v = 0;
    for (let j = 0; j < m; j++) v += (w[j] / total) ** 2 * (fs[j][i] - est) ** 2;
    return (est - e) / Math.sqrt(v);
  });
}

export const properties = defineProperties([
  {
    clause: "SCORE-EQUIVALENCE",
    name: "eps-star-is-minus-sigma-times-finite-difference-gradient",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 4, 0), num(0.02, 0.98), ({ mixture, x }, abar) => {
          const [alpha, sigma] = vp(abar);
          const fd = fdGradient((p) => noisedLogPdf(mixture, p, alpha, sigma), x, 1e-5 * sigma);
          expectNormClose("ε* vs −σ·∇ log q (finite differences)", epsilonStarPoint(mixture, x, alpha, sigma), fd.map((g) => -sigma * g), 1e-6);
        }),
      ),
  },
  {
    clause: "SCORE-EQUIVALENCE",
    name: "variance-exploding-view-alpha-one",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(2, 3, 0), num(0.05, 20), ({ mixture, x }, sigma) => {
          // x = x₀ + σε (k-diffusion's view): ε* = −σ ∇ log p_σ(x), p_σ = data ∗ 𝒩(0, σ²I).
          const smoothed = noisedMixture(mixture, 1, sigma);
          expectNormClose("ε* vs −σ·score of p_σ", epsilonStarPoint(mixture, x, 1, sigma), smoothed.score(x).map((g) => -sigma * g), 1e-10);
          const fd = fdGradient((p) => smoothed.logPdf(p), x, 1e-5 * sigma);
          expectNormClose("ε* vs −σ·∇ log p_σ (finite differences)", epsilonStarPoint(mixture, x, 1, sigma), fd.map((g) => -sigma * g), 1e-6);
        }),
      ),
  },
  {
    clause: "SCORE-POSTERIOR-MEAN",
    name: "eps-star-residual-is-orthogonal-to-functions-of-xt",
    scope: "spec",
    kind: "statistical",
    // At ᾱ ∈ {0.95, 0.5, 0.05}: z-tests of E[(ε − ε*(xₜ))ᵢ g(xₜ)] = 0 for 5 test functions g and both
    // coordinates (30 tests, Bonferroni), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "SCORE-POSTERIOR-MEAN eps-star-residual-is-orthogonal-to-functions-of-xt", 0.01, (stream) => {
        const n = sampleSize(ctx, 3000);
        const ps: number[] = [];
        for (const abar of [0.95, 0.5, 0.05]) {
          const [alpha, sigma] = vp(abar);
          const rows = drawJoint(TEST_DATA, n, alpha, sigma, stream).map(({ eps, xt }) => {
            const e = epsilonStarPoint(TEST_DATA, xt, alpha, sigma);
            return { xt, r: eps.map((v, i) => v - e[i]) };
          });
          ps.push(...orthogonalityPValues(rows));
        }
        return bonferroni(ps);
      }),
  },
  {
    clause: "SCORE-POSTERIOR-MEAN",
    name: "eps-star-is-the-monte-carlo-posterior-mean-at-a-point",
    scope: "spec",
    kind: "statistical",
    // At 3 points xₜ ~ q(xₜ) (ᾱ = 0.5): self-normalised importance sampling of E[ε | xₜ] = E[(xₜ − αx₀)/σ | xₜ]
    // with m data draws; two-sided z-tests per coordinate (6 tests, Bonferroni), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "SCORE-POSTERIOR-MEAN eps-star-is-the-monte-carlo-posterior-mean-at-a-point", 0.01, (stream) => {
        const m = sampleSize(ctx, 20000);
        const [alpha, sigma] = vp(0.5);
        const ps: number[] = [];
        for (const { xt } of drawJoint(TEST_DATA, 3, alpha, sigma, stream)) {
          const zs = importanceZScores(TEST_DATA, xt, alpha, sigma, m, stream, (x0) => xt.map((v, i) => (v - alpha * x0[i]) / sigma), epsilonStarPoint(TEST_DATA, xt, alpha, sigma));
          ps.push(...zs.map(twoSidedNormalP));
        }
        return bonferroni(ps);
      }),
  },
]);
