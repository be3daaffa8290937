/**
 * ORACLE-MARGINAL, ORACLE-EPS, ORACLE-X0 (spec/09-oracle.md): for Gaussian-mixture data the noised
 * marginal, the ideal noise prediction ε* and the ideal denoiser x̂₀ = E[x₀ | xₜ] are closed-form.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose, statisticalTest } from "../check.ts";
import { ConfigError, ShapeError } from "../../reference/errors.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { epsilonStar, epsilonStarPoint, noisedLogPdf, noisedMixture, vpCoefficients, x0Star, x0StarPoint } from "../../reference/oracle.ts";
import { marginalCoefficients } from "../../reference/forward.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { tensor } from "../../reference/tensor.ts";
import { bonferroni, energyPermutationTest, ksTest, twoSidedNormalP } from "../../reference/stats.ts";
import { componentsArb, expectNormClose, expectTypedError, mixtureAndPointArb, mixtureCdf1d, num, sampleSize, vecArb } from "./distributions.ts";
import { drawJoint, importanceZScores, orthogonalityPValues, TEST_DATA, vp } from "./score.ts";
import { scheduleAndTArb } from "./forward.ts";

const alphaSigmaArb = num(0.02, 0.98).map(vp);

export const properties = defineProperties([
  {
    clause: "ORACLE-MARGINAL",
    name: "noised-mixture-formula",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 1, max: 3 }).chain((d) => componentsArb(d, 4, 0)), alphaSigmaArb, (comps, [alpha, sigma]) => {
          // q(xₜ) = Σ πₖ 𝒩(αμₖ, (α²sₖ² + σ²)I): the sum of independent αx₀ and σε component by component.
          const data = new GaussianMixture(comps);
          const q = noisedMixture(data, alpha, sigma);
          q.components.forEach((c, k) => {
            const d = data.components[k];
            expectAllClose(`mean ${k}`, c.mean, d.mean.map((m) => alpha * m), 1e-15, 0);
            expectClose(`std ${k}`, c.std, Math.sqrt(alpha * alpha * d.std * d.std + sigma * sigma), 1e-15);
            expectClose(`weight ${k}`, c.weight, d.weight, 4e-16);
            expect(c.label === d.label, `label of component ${k} changed`);
          });
        }),
      ),
  },
  {
    clause: "ORACLE-MARGINAL",
    name: "noised-log-pdf-is-the-noised-mixture-log-pdf",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 4, 0), alphaSigmaArb, ({ mixture, x }, [alpha, sigma]) => {
          expectClose("log q(xₜ)", noisedLogPdf(mixture, x, alpha, sigma), noisedMixture(mixture, alpha, sigma).logPdf(x), 1e-13, 1e-13);
        }),
      ),
  },
  {
    clause: "ORACLE-MARGINAL",
    name: "vp-coefficients-are-the-forward-marginal",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndTArb, ({ s, t }) => {
          const { alpha, sigma } = vpCoefficients(s.alphasCumprod[t]);
          const m = marginalCoefficients(s, t);
          expect(alpha === m.mean && sigma === Math.sqrt(m.variance), `vpCoefficients (${alpha}, ${sigma}) vs forward marginal (${m.mean}, √${m.variance})`);
          expectClose("α² + σ²", alpha * alpha + sigma * sigma, 1, 4e-16);
        }),
      ),
  },
  {
    clause: "ORACLE-MARGINAL",
    name: "noised-samples-follow-the-noised-mixture-1d",
    scope: "spec",
    kind: "statistical",
    // αx₀ + σε with x₀ from a 1-D mixture (incl. a point mass) at ᾱ ∈ {0.9, 0.3}: one-sample KS against
    // the CDF of noisedMixture, Bonferroni over 2, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "ORACLE-MARGINAL noised-samples-follow-the-noised-mixture-1d", 0.01, (stream) => {
        const data = new GaussianMixture([
          { mean: Float64Array.of(-1.5), std: 0, weight: 1 },
          { mean: Float64Array.of(0.5), std: 0.2, weight: 2 },
          { mean: Float64Array.of(2), std: 0.6, weight: 1 },
        ]);
        return bonferroni(
          [0.9, 0.3].map((abar) => {
            const [alpha, sigma] = vp(abar);
            const xs = drawJoint(data, sampleSize(ctx, 2000), alpha, sigma, stream).map((r) => r.xt[0]);
            return ksTest(xs, mixtureCdf1d(noisedMixture(data, alpha, sigma))).pValue;
          }),
        );
      }),
  },
  {
    clause: "ORACLE-MARGINAL",
    name: "noised-samples-follow-the-noised-mixture-2d",
    scope: "spec",
    kind: "statistical",
    // 2-D: αx₀ + σε (ᾱ = 0.7) versus direct draws from noisedMixture; energy-distance permutation test
    // (199 permutations), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "ORACLE-MARGINAL noised-samples-follow-the-noised-mixture-2d", 0.01, (stream) => {
        const n = sampleSize(ctx, 150);
        const [alpha, sigma] = vp(0.7);
        const noised = drawJoint(TEST_DATA, n, alpha, sigma, stream).map((r) => r.xt);
        const direct = noisedMixture(TEST_DATA, alpha, sigma).sampleMany(n, stream);
        return energyPermutationTest(noised, direct, new GaussianStream(`${stream.seed}/perm`), 199).pValue;
      }),
  },
  {
    clause: "ORACLE-EPS",
    name: "eps-star-is-minus-sigma-times-the-analytic-score",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 4, 0), alphaSigmaArb, ({ mixture, x }, [alpha, sigma]) => {
          const score = noisedMixture(mixture, alpha, sigma).score(x);
          expectNormClose("ε* vs −σ·score of q", epsilonStarPoint(mixture, x, alpha, sigma), score.map((g) => -sigma * g), 1e-12);
        }),
      ),
  },
  {
    clause: "ORACLE-EPS",
    name: "point-mass-recovers-the-true-noise",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(vecArb(3), vecArb(3, -4, 4), num(1e-4, 1 - 1e-4), (x0, eps, abar) => {
          // One data point x₀: xₜ determines ε exactly, and ε*(xₜ) = ε.
          const [alpha, sigma] = vp(abar);
          const data = new GaussianMixture([{ mean: x0, std: 0, weight: 1 }]);
          const xt = x0.map((v, i) => alpha * v + sigma * eps[i]);
          expectAllClose("ε*(αx₀ + σε)", epsilonStarPoint(data, xt, alpha, sigma), eps, 1e-12, 1e-12);
        }),
      ),
  },
  {
    clause: "ORACLE-EPS",
    name: "batch-matches-pointwise-and-bad-input-is-typed",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(num(-3, 3), { minLength: 6, maxLength: 6 }), alphaSigmaArb, (v, [alpha, sigma]) => {
          const x = tensor(v, [3, 1, 2]);
          const batch = epsilonStar(TEST_DATA, x, alpha, sigma);
          const bx0 = x0Star(TEST_DATA, x, alpha, sigma);
          expect(batch.shape.join() === "3,1,2" && bx0.shape.join() === "3,1,2", "oracle output shape");
          for (let b = 0; b < 3; b++) {
            const p = x.data.subarray(2 * b, 2 * b + 2);
            expectAllClose(`ε* item ${b}`, batch.data.subarray(2 * b, 2 * b + 2), epsilonStarPoint(TEST_DATA, p, alpha, sigma), 0, 0);
            expectAllClose(`x̂₀ item ${b}`, bx0.data.subarray(2 * b, 2 * b + 2), x0StarPoint(TEST_DATA, p, alpha, sigma), 0, 0);
          }
          expectTypedError("item size 3 for a 2-D mixture", () => epsilonStar(TEST_DATA, tensor([1, 2, 3], [1, 3]), alpha, sigma), ShapeError, "oracle input item size");
          expectTypedError("σ = 0", () => epsilonStarPoint(TEST_DATA, [0, 0], 1, 0), ConfigError, "sigma");
        }),
      ),
  },
  {
    clause: "ORACLE-X0",
    name: "x0-star-is-tweedie",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 4, 0), alphaSigmaArb, ({ mixture, x }, [alpha, sigma]) => {
          // Tweedie: E[x₀ | xₜ] = (xₜ + σ²∇ log q(xₜ))/α.
          const score = noisedMixture(mixture, alpha, sigma).score(x);
          expectNormClose("x̂₀ vs (xₜ + σ²∇ log q)/α", x0StarPoint(mixture, x, alpha, sigma), x.map((v, i) => (v + sigma * sigma * score[i]) / alpha), 1e-10);
        }),
      ),
  },
  {
    clause: "ORACLE-X0",
    name: "point-mass-x0-star-is-the-point",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(vecArb(3), vecArb(3, -4, 4), num(1e-4, 1 - 1e-4), (x0, eps, abar) => {
          const [alpha, sigma] = vp(abar);
          const data = new GaussianMixture([{ mean: x0, std: 0, weight: 1 }]);
          const xt = x0.map((v, i) => alpha * v + sigma * eps[i]);
          expectAllClose("x̂₀(xₜ)", x0StarPoint(data, xt, alpha, sigma), x0, 1e-10, 1e-10);
        }),
      ),
  },
  {
    clause: "ORACLE-X0",
    name: "x0-star-residual-is-orthogonal-to-functions-of-xt",
    scope: "spec",
    kind: "statistical",
    // At ᾱ ∈ {0.9, 0.4, 0.05}: z-tests of E[(x₀ − x̂₀(xₜ))ᵢ g(xₜ)] = 0 for 5 test functions g and both
    // coordinates (30 tests, Bonferroni), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "ORACLE-X0 x0-star-residual-is-orthogonal-to-functions-of-xt", 0.01, (stream) => {
        const n = sampleSize(ctx, 3000);
        const ps: number[] = [];
        for (const abar of [0.9, 0.4, 0.05]) {
          const [alpha, sigma] = vp(abar);
          const rows = drawJoint(TEST_DATA, n, alpha, sigma, stream).map(({ x0, xt }) => {
            const e = x0StarPoint(TEST_DATA, xt, alpha, sigma);
            return { xt, r: x0.map((v, i) => v - e[i]) };
          });
          ps.push(...orthogonalityPValues(rows));
        }
        return bonferroni(ps);
      }),
  },
  {
    clause: "ORACLE-X0",
    name: "x0-star-is-the-importance-sampled-posterior-mean",
    scope: "spec",
    kind: "statistical",
    // At 3 points xₜ ~ q(xₜ) for ᾱ ∈ {0.8, 0.3}: self-normalised importance sampling of E[x₀ | xₜ] with
    // m data draws; two-sided z-tests per coordinate (12 tests, Bonferroni), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "ORACLE-X0 x0-star-is-the-importance-sampled-posterior-mean", 0.01, (stream) => {
        const m = sampleSize(ctx, 20000);
        const ps: number[] = [];
        for (const abar of [0.8, 0.3]) {
          const [alpha, sigma] = vp(abar);
          for (const { xt } of drawJoint(TEST_DATA, 3, alpha, sigma, stream)) {
            ps.push(...importanceZScores(TEST_DATA, xt, alpha, sigma, m, stream, (x0) => x0, x0StarPoint(TEST_DATA, xt, alpha, sigma)).map(twoSidedNormalP));
          }
        }
        return bonferroni(ps);
      }),
  },
]);
