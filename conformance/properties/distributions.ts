/**
 * DIST-GAUSSIAN-LOGPDF, DIST-GAUSSIAN-SCORE, DIST-MIXTURE, DIST-MIXTURE-SCORE, DIST-CONDITIONAL,
 * DIST-MOMENTS, DIST-ML-FIT, DIST-SAMPLE, DIST-VALIDATE (spec/01-distributions.md).
 *
 * Also exports the small generators and checks the other foundation property modules share
 * (mixtures, vectors, finite-difference gradients, typed-error expectations).
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose, statisticalTest } from "../check.ts";
import { SAMPLE_SCALE } from "../profiles.ts";
import type { PropertyContext } from "../registry.ts";
import { ConfigError, DiffspecError, ShapeError } from "../../reference/errors.ts";
import { fitGaussian, gaussianLogPdf, gaussianPdf, gaussianScore, GaussianMixture, logSumExp, type Component } from "../../reference/distributions.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { bonferroni, chiSquareTest, ksTest, normalCdf, twoSidedNormalP, zTestMean } from "../../reference/stats.ts";

// ─── shared helpers ──────────────────────────────────────────────────────────────────────────────

/** A finite double in [min, max] (no NaN, no ±∞). */
export const num = (min: number, max: number): fc.Arbitrary<number> => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });

/** A vector of length `dim` with entries in [min, max]. */
export const vecArb = (dim: number, min = -3, max = 3): fc.Arbitrary<Float64Array> =>
  fc.array(num(min, max), { minLength: dim, maxLength: dim }).map((a) => Float64Array.from(a));

/** Mixture components in dimension `dim`: 1…maxK components, means in [−3, 3]ᴰ, std in [minStd, 1.5], labels 0…2. */
export const componentsArb = (dim: number, maxK = 4, minStd = 0.05): fc.Arbitrary<Component[]> =>
  fc.array(
    fc.record({ mean: vecArb(dim), std: minStd === 0 ? fc.oneof(fc.constant(0), num(0.05, 1.5)) : num(minStd, 1.5), weight: num(0.05, 1), label: fc.integer({ min: 0, max: 2 }) }),
    { minLength: 1, maxLength: maxK },
  );

/** A mixture of dimension 1…maxDim together with a point of the same dimension (entries in [−4, 4]). */
export const mixtureAndPointArb = (maxDim = 3, maxK = 4, minStd = 0.05): fc.Arbitrary<{ mixture: GaussianMixture; x: Float64Array }> =>
  fc.integer({ min: 1, max: maxDim }).chain((d) => fc.record({ comps: componentsArb(d, maxK, minStd), x: vecArb(d, -4, 4) })).map(({ comps, x }) => ({ mixture: new GaussianMixture(comps), x }));

/** Central finite-difference gradient of f at x with step h (error O(h²) plus rounding O(ulp(f)/h)). */
export function fdGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, h: number): Float64Array {
  const g = new Float64Array(x.length);
  const p = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    p[i] = x[i] + h;
    const up = f(p);
    p[i] = x[i] - h;
    const down = f(p);
    p[i] = x[i];
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** max|a − b| ≤ tol·(1 + max|b|): a scale-aware closeness for gradients. */
export function expectNormClose(what: string, a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  expect(diff <= tol * (1 + scale), `${what}: max |diff| ${diff.toExponential(3)} > ${tol}·(1 + ${scale.toExponential(3)}); got [${Array.from(a).join(", ")}], expected [${Array.from(b).join(", ")}]`);
}

/**
 * Expects `fn` to throw a DiffspecError of class `cls`; when `field` is given, a ConfigError must
 * name exactly that field, and any other typed error must mention it in its message.
 */
export function expectTypedError(what: string, fn: () => unknown, cls: abstract new (...args: any[]) => DiffspecError, field?: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown !== undefined, `${what}: expected ${cls.name}, nothing was thrown`);
  expect(thrown instanceof cls, `${what}: expected ${cls.name}, got ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`);
  if (field === undefined) return;
  const e = thrown as DiffspecError;
  if (e instanceof ConfigError) expect(e.field === field, `${what}: ConfigError names field "${e.field}", expected "${field}" (${e.message})`);
  else expect(e.message.includes(field), `${what}: ${e.name} message does not mention "${field}": ${e.message}`);
}

/** Statistical sample size for this profile. */
export const sampleSize = (ctx: PropertyContext, quick: number): number => quick * SAMPLE_SCALE[ctx.profile];

/** The CDF of a one-dimensional mixture: Σₖ πₖ Φ((x − μₖ)/sₖ). */
export const mixtureCdf1d = (m: GaussianMixture) => (x: number): number =>
  m.components.reduce((s, c) => s + c.weight * (c.std === 0 ? (x >= c.mean[0] ? 1 : 0) : normalCdf(x, c.mean[0], c.std)), 0);

// ─── properties ──────────────────────────────────────────────────────────────────────────────────

const LOG_2PI = Math.log(2 * Math.PI);

export const properties = defineProperties([
  {
    clause: "DIST-GAUSSIAN-LOGPDF",
    name: "logpdf-is-sum-of-one-dimensional-closed-forms",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 1, max: 6 }).chain((d) => fc.tuple(vecArb(d, -10, 10), vecArb(d, -10, 10))), num(1e-3, 100), ([x, mu], v) => {
          // Independent: the density factorises over coordinates, log 𝒩(xᵢ; μᵢ, v) = −½ log(2πv) − (xᵢ − μᵢ)²/(2v).
          let expected = 0;
          for (let i = 0; i < x.length; i++) expected += -0.5 * (LOG_2PI + Math.log(v)) - (x[i] - mu[i]) ** 2 / (2 * v);
          expectClose("log 𝒩", gaussianLogPdf(x, mu, v), expected, 1e-12, 1e-12);
        }),
      ),
  },
  {
    clause: "DIST-GAUSSIAN-LOGPDF",
    name: "pdf-integrates-to-one",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(num(-5, 5), num(0.01, 10), (mu, v) => {
          // Trapezoid rule over μ ± 12s with 2401 nodes (spectrally accurate for a Gaussian).
          const s = Math.sqrt(v);
          const n = 2400;
          const h = (24 * s) / n;
          let sum = 0;
          for (let i = 0; i <= n; i++) sum += (i === 0 || i === n ? 0.5 : 1) * gaussianPdf([mu - 12 * s + i * h], [mu], v);
          expectClose("∫ 𝒩(x; μ, s²) dx", sum * h, 1, 1e-10);
        }),
      ),
  },
  {
    clause: "DIST-GAUSSIAN-SCORE",
    name: "score-is-finite-difference-gradient",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 1, max: 4 }).chain((d) => fc.tuple(vecArb(d, -5, 5), vecArb(d, -5, 5))), num(0.01, 10), ([x, mu], v) => {
          const fd = fdGradient((p) => gaussianLogPdf(p, mu, v), x, 1e-4 * Math.sqrt(v));
          expectNormClose("∇ log 𝒩 vs finite differences", gaussianScore(x, mu, v), fd, 1e-6);
        }),
      ),
  },
  {
    clause: "DIST-MIXTURE",
    name: "logpdf-is-log-of-weighted-sum",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 4, 0.3), fc.array(num(0.05, 1), { minLength: 4, maxLength: 4 }), ({ mixture, x }, raw) => {
          // Rebuild with raw weights; normalise independently; sum densities directly (no log-sum-exp).
          const comps = mixture.components.map((c, k) => ({ ...c, weight: raw[k] }));
          const total = comps.reduce((s, c) => s + c.weight, 0);
          const m = new GaussianMixture(comps);
          const direct = comps.reduce((s, c) => s + (c.weight / total) * gaussianPdf(x, c.mean, c.std * c.std), 0);
          fc.pre(direct > 1e-250); // the direct sum must not underflow (the log-sum-exp property covers far points)
          expectClose("log p(x)", m.logPdf(x), Math.log(direct), 1e-12, 1e-12);
        }),
      ),
  },
  {
    clause: "DIST-MIXTURE",
    name: "weights-are-normalised-keeping-ratios",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(componentsArb(2, 5), (comps) => {
          const m = new GaussianMixture(comps);
          const total = comps.reduce((s, c) => s + c.weight, 0);
          expectClose("Σ πₖ", m.components.reduce((s, c) => s + c.weight, 0), 1, 1e-14);
          m.components.forEach((c, k) => expectClose(`π${k}`, c.weight, comps[k].weight / total, 1e-14));
        }),
      ),
  },
  {
    clause: "DIST-MIXTURE",
    name: "log-sum-exp-is-stable-far-from-the-data",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 4), num(100, 1e4), ({ mixture, x }, far) => {
          // Far away every density underflows; log p is still finite and within log K of the largest term.
          const y = x.map((v) => v + far);
          const terms = mixture.components.map((c) => Math.log(c.weight) + gaussianLogPdf(y, c.mean, c.std * c.std));
          const top = Math.max(...terms);
          const l = mixture.logPdf(y);
          expect(Number.isFinite(l), `log p = ${l} is not finite`);
          expect(l >= top - 1e-9 * Math.abs(top) && l <= top + Math.log(terms.length) + 1e-9 * Math.abs(top), `log p = ${l} outside [max term ${top}, max + log K]`);
          expectClose("logSumExp of one term", logSumExp([top]), top, 0, 0);
        }),
      ),
  },
  {
    clause: "DIST-MIXTURE-SCORE",
    name: "score-is-finite-difference-gradient",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 4, 0.1), ({ mixture, x }) => {
          const fd = fdGradient((p) => mixture.logPdf(p), x, 2e-6);
          expectNormClose("∇ log p vs finite differences", mixture.score(x), fd, 1e-5);
        }),
      ),
  },
  {
    clause: "DIST-MIXTURE-SCORE",
    name: "responsibilities-are-a-probability-vector",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(3, 5, 0.05), ({ mixture, x }) => {
          const r = mixture.responsibilities(x);
          expect(r.every((v) => v >= 0 && v <= 1), `responsibilities outside [0, 1]: ${Array.from(r)}`);
          // rₖ = exp(lₖ − log p): the rounding of log p (≈ 2⁻⁵³·|log p|) becomes a relative error of every rₖ.
          expectClose("Σ rₖ", r.reduce((a, b) => a + b, 0), 1, 1e-14 * (1 + Math.abs(mixture.logPdf(x))));
        }),
      ),
  },
  {
    clause: "DIST-CONDITIONAL",
    name: "conditional-is-bayes",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(mixtureAndPointArb(2, 5, 0.3), ({ mixture, x }) => {
          for (const y of new Set(mixture.components.map((c) => c.label))) {
            // p(x | y) = p(x, y)/p(y) with p(x, y) = Σ_{k: label y} πₖ 𝒩ₖ(x), p(y) = Σ_{k: label y} πₖ.
            const parts = mixture.components.filter((c) => c.label === y);
            const joint = parts.reduce((s, c) => s + c.weight * gaussianPdf(x, c.mean, c.std * c.std), 0);
            const py = parts.reduce((s, c) => s + c.weight, 0);
            expectClose(`log p(x | y = ${y})`, mixture.conditional(y!).logPdf(x), Math.log(joint / py), 1e-12, 1e-12);
          }
        }),
      ),
  },
  {
    clause: "DIST-CONDITIONAL",
    name: "unknown-label-is-config-error",
    scope: "spec",
    kind: "example",
    run: () => {
      const m = GaussianMixture.fromData([[0], [1]], 0.5, [0, 1]);
      expectTypedError("conditional(7)", () => m.conditional(7), ConfigError, "label");
    },
  },
  {
    clause: "DIST-MOMENTS",
    name: "moments-are-total-mean-and-variance",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: 1, max: 4 }).chain((d) => componentsArb(d, 5, 0)), (comps) => {
          // E x = Σ πₖ μₖ; tr Cov/D = E‖x‖²/D − ‖E x‖²/D with E‖x‖² = Σ πₖ (D sₖ² + ‖μₖ‖²).
          const m = new GaussianMixture(comps);
          const D = m.dim;
          const mean = new Float64Array(D);
          let second = 0;
          for (const c of m.components) {
            for (let i = 0; i < D; i++) mean[i] += c.weight * c.mean[i];
            second += c.weight * (D * c.std * c.std + c.mean.reduce((s, v) => s + v * v, 0));
          }
          const mom = m.moments();
          expectAllClose("E x", mom.mean, mean, 1e-12, 1e-14);
          expectClose("tr Cov/D", mom.variance, (second - mean.reduce((s, v) => s + v * v, 0)) / D, 1e-10, 1e-12 * (1 + second));
        }),
      ),
  },
  {
    clause: "DIST-ML-FIT",
    name: "fit-is-sample-mean-and-biased-variance",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(num(-100, 100), { minLength: 1, maxLength: 200 }), (xs) => {
          const n = xs.length;
          const mean = xs.reduce((a, b) => a + b, 0) / n;
          const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
          const fit = fitGaussian(xs);
          expectClose("μ̂", fit.mean, mean, 1e-12, 1e-12);
          expectClose("σ̂²", fit.variance, variance, 1e-10, 1e-10);
        }),
      ),
  },
  {
    clause: "DIST-ML-FIT",
    name: "fit-maximises-the-likelihood",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(
          fc.array(num(-10, 10), { minLength: 2, maxLength: 100 }).filter((xs) => fitGaussian(xs).variance > 1e-6),
          num(-1, 1),
          num(-0.9, 2),
          (xs, dMean, dLogVar) => {
            // Σ log 𝒩(xᵢ; μ, v) is concave in (μ, log v) with its maximum at the fit.
            const fit = fitGaussian(xs);
            const ll = (mu: number, v: number) => xs.reduce((s, x) => s + gaussianLogPdf([x], [mu], v), 0);
            const best = ll(fit.mean, fit.variance);
            const other = ll(fit.mean + dMean * Math.sqrt(fit.variance), fit.variance * Math.exp(dLogVar));
            expect(other <= best + 1e-9 * Math.abs(best), `perturbed log-likelihood ${other} > ${best} at the fit`);
          },
        ),
      ),
  },
  {
    clause: "DIST-ML-FIT",
    name: "fit-converges-to-the-true-parameters",
    scope: "spec",
    kind: "statistical",
    // z-tests (α = 0.01, Bonferroni over the two): μ̂ ~ 𝒩(μ, σ²/n); σ̂² has mean (n−1)σ²/n and variance 2(n−1)σ⁴/n².
    run: (ctx) =>
      statisticalTest(ctx, "DIST-ML-FIT fit-converges-to-the-true-parameters", 0.01, (s) => {
        const n = sampleSize(ctx, 4000);
        const mu = 1.5;
        const v = 0.7;
        const xs = Float64Array.from(s.normals(n), (z) => mu + Math.sqrt(v) * z);
        const fit = fitGaussian(xs);
        const pMean = twoSidedNormalP((fit.mean - mu) / Math.sqrt(v / n));
        const pVar = twoSidedNormalP((fit.variance - ((n - 1) * v) / n) / Math.sqrt((2 * (n - 1) * v * v) / (n * n)));
        return bonferroni([pMean, pVar]);
      }),
  },
  {
    clause: "DIST-ML-FIT",
    name: "empty-sample-is-config-error",
    scope: "spec",
    kind: "example",
    run: () => expectTypedError("fitGaussian([])", () => fitGaussian([]), ConfigError, "samples"),
  },
  {
    clause: "DIST-SAMPLE",
    name: "component-frequencies-match-weights",
    scope: "spec",
    kind: "statistical",
    // Pearson χ² goodness of fit of the component counts to the weights, 4 bins, 3 df, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "DIST-SAMPLE component-frequencies-match-weights", 0.01, (s) => {
        const m = new GaussianMixture([0.1, 0.2, 0.3, 0.4].map((w, k) => ({ mean: Float64Array.of(k), std: 0.5, weight: w })));
        const counts = [0, 0, 0, 0];
        const n = sampleSize(ctx, 2000);
        for (let i = 0; i < n; i++) counts[m.sample(s).component]++;
        return chiSquareTest(counts, [0.1, 0.2, 0.3, 0.4]).pValue;
      }),
  },
  {
    clause: "DIST-SAMPLE",
    name: "samples-follow-the-mixture-cdf",
    scope: "spec",
    kind: "statistical",
    // One-sample KS against F(x) = Σ πₖ Φ((x − μₖ)/sₖ), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "DIST-SAMPLE samples-follow-the-mixture-cdf", 0.01, (s) => {
        const m = new GaussianMixture([
          { mean: Float64Array.of(-2), std: 0.3, weight: 1 },
          { mean: Float64Array.of(0.5), std: 1, weight: 2 },
          { mean: Float64Array.of(3), std: 0.1, weight: 0.5 },
        ]);
        const xs = m.sampleMany(sampleSize(ctx, 2000), s).map((p) => p[0]);
        return ksTest(xs, mixtureCdf1d(m)).pValue;
      }),
  },
  {
    clause: "DIST-SAMPLE",
    name: "sample-mean-matches-mixture-mean",
    scope: "spec",
    kind: "statistical",
    // Per-coordinate z-tests of the sample mean (sample variance, n large), Bonferroni over D = 3, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "DIST-SAMPLE sample-mean-matches-mixture-mean", 0.01, (s) => {
        const m = new GaussianMixture([
          { mean: Float64Array.of(1, -1, 0), std: 0.2, weight: 3 },
          { mean: Float64Array.of(-2, 0.5, 4), std: 1, weight: 1 },
        ]);
        const xs = m.sampleMany(sampleSize(ctx, 2000), s);
        const mean = m.moments().mean;
        return bonferroni([0, 1, 2].map((i) => zTestMean(xs.map((p) => p[i]), mean[i]).pValue));
      }),
  },
  {
    clause: "DIST-SAMPLE",
    name: "point-mass-samples-are-the-point",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(vecArb(3), fc.integer(), (mu, seed) => {
          const m = new GaussianMixture([{ mean: mu, std: 0, weight: 1 }]);
          const x = m.sample(new GaussianStream(seed)).x;
          expect(x.every((v, i) => v === mu[i]), `sample [${Array.from(x)}] is not the point [${Array.from(mu)}]`);
        }),
      ),
  },
  {
    clause: "DIST-VALIDATE",
    name: "bad-components-are-typed-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      const ok = { mean: Float64Array.of(0, 0), std: 1, weight: 1 };
      expectTypedError("no components", () => new GaussianMixture([]), ConfigError, "components");
      expectTypedError("std < 0", () => new GaussianMixture([{ ...ok, std: -1 }]), ConfigError, "components[0].std");
      expectTypedError("std NaN", () => new GaussianMixture([{ ...ok, std: NaN }]), ConfigError, "components[0].std");
      expectTypedError("weight 0", () => new GaussianMixture([ok, { ...ok, weight: 0 }]), ConfigError, "components[1].weight");
      expectTypedError("weight ∞", () => new GaussianMixture([{ ...ok, weight: Infinity }]), ConfigError, "components[0].weight");
      expectTypedError("mean NaN", () => new GaussianMixture([{ ...ok, mean: Float64Array.of(0, NaN) }]), ConfigError, "components[0].mean[1]");
      expectTypedError("dimension mismatch", () => new GaussianMixture([ok, { ...ok, mean: Float64Array.of(1) }]), ShapeError, "component 1 mean");
    },
  },
]);
