/**
 * LOSS-EPS, LOSS-MINIMISER, LOSS-MIN-SNR, LOSS-DATA-PATH (spec/05-parameterisation.md; article:
 * "How the model is implemented").
 *
 * LOSS-MINIMISER uses the Pythagorean identity of conditional expectations: for any perturbation
 * δ(xₜ, t) of the oracle,  E‖ε − ε* − δ‖² = E‖ε − ε*‖² + E‖δ‖²  (the cross term −2E[δ·(ε − ε*)]
 * vanishes because ε* = E[ε | xₜ]). So the oracle's expected loss is lower by exactly E‖δ‖² > 0.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectClose, statisticalTest } from "../check.ts";
import { ConfigError } from "../../reference/errors.ts";
import { epsilonLoss, minSnrWeight, trainingExample } from "../../reference/loss.ts";
import { addNoise } from "../../reference/forward.ts";
import { epsilonStar, epsilonStarPoint, vpCoefficients } from "../../reference/oracle.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { makeSchedule } from "../../reference/schedule.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { linearCombination, map, tensor, type Tensor } from "../../reference/tensor.ts";
import { bonferroni, chiSquareTest, normalCdf, zTestMean } from "../../reference/stats.ts";
import { expectTypedError, num, sampleSize } from "./distributions.ts";
import { scheduleAndTArb } from "./forward.ts";
import { scheduleConfigArb } from "./schedule.ts";
import { TEST_DATA } from "./score.ts";

/** Perturbations δ(xₜ, t, ε*) of the oracle: a constant, a rescaling, a non-linear function, the oracle of a later step. */
function perturbations(N: number, alphaBar: (t: number) => number) {
  return [
    (_x: Float64Array, _t: number, e: Float64Array) => Float64Array.from(e, (_, i) => (i === 0 ? 0.1 : -0.05)),
    (_x: Float64Array, _t: number, e: Float64Array) => e.map((v) => 0.1 * v),
    (x: Float64Array) => x.map((v) => 0.2 * Math.sin(3 * v)),
    (x: Float64Array, t: number, e: Float64Array) => {
      const { alpha, sigma } = vpCoefficients(alphaBar(Math.min(t + 50, N - 1)));
      const other = epsilonStarPoint(TEST_DATA, x, alpha, sigma);
      return other.map((v, i) => v - e[i]);
    },
  ];
}

/** Per training example: ‖ε − ε*‖², and for each perturbation ‖ε − ε* − δ‖² and ‖δ‖². */
function lossRows(n: number, stream: GaussianStream) {
  const s = makeSchedule({ numTrainTimesteps: 1000 });
  const N = s.betas.length;
  const deltas = perturbations(N, (t) => s.alphasCumprod[t]);
  return Array.from({ length: n }, () => {
    const x0 = tensor(TEST_DATA.sample(stream).x, [1, TEST_DATA.dim]);
    const ex = trainingExample(s, x0, stream);
    const { alpha, sigma } = vpCoefficients(s.alphasCumprod[ex.t]);
    const e = epsilonStarPoint(TEST_DATA, ex.xt.data, alpha, sigma);
    const sq = (a: ArrayLike<number>) => Array.from(a).reduce((acc, v) => acc + v * v, 0);
    const res = Float64Array.from(ex.eps.data, (v, i) => v - e[i]);
    return {
      oracle: sq(res),
      perturbed: deltas.map((d) => {
        const dd = d(ex.xt.data, ex.t, e);
        return { loss: sq(res.map((v, i) => v - dd[i])), norm: sq(dd) };
      }),
    };
  });
}

export const properties = defineProperties([
  {
    clause: "LOSS-EPS",
    name: "loss-is-the-mean-weighted-squared-error",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, fc.integer(), fc.integer({ min: 1, max: 4 }), fc.oneof(fc.constant(Infinity), num(0.1, 20)), (c, seed, B, gamma) => {
          // Re-derived: for each item, t = int(N), ε ~ 𝒩(0, I) (in that order from the stream), xₜ in
          // closed form, then w(t)·‖ε − ε̂‖²/D; the loss is the batch mean.
          const s = makeSchedule(c);
          const D = 3;
          const x0 = tensor(Array.from({ length: B * D }, (_, i) => Math.sin(i + seed)), [B, D]);
          const predict = (xt: Tensor, t: number) => map(xt, (v) => 0.3 * v + 0.01 * Math.cos(t));
          const loss = epsilonLoss(s, x0, predict, new GaussianStream(seed), gamma);
          const g = new GaussianStream(seed);
          let total = 0;
          for (let b = 0; b < B; b++) {
            const t = g.int(s.betas.length);
            const eps = g.normals(D);
            const a = s.alphasCumprod[t];
            const snr = a / (1 - a);
            const w = Number.isFinite(gamma) ? (snr <= gamma ? 1 : gamma / snr) : 1;
            let mse = 0;
            for (let i = 0; i < D; i++) {
              const xt = Math.sqrt(a) * x0.data[b * D + i] + Math.sqrt(1 - a) * eps[i];
              mse += (0.3 * xt + 0.01 * Math.cos(t) - eps[i]) ** 2 / D;
            }
            total += w * mse;
          }
          expectClose("epsilonLoss", loss, total / B, 1e-12, 1e-15);
        }),
      ),
  },
  {
    clause: "LOSS-EPS",
    name: "oracle-of-a-point-mass-has-zero-loss",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(num(-2, 2), { minLength: 3, maxLength: 3 }), fc.integer(), (point, seed) => {
          // One data point: ε is recoverable from xₜ, ε* = (xₜ − αx₀)/σ, and the loss is 0 up to rounding.
          const s = makeSchedule();
          const data = new GaussianMixture([{ mean: Float64Array.from(point), std: 0, weight: 1 }]);
          const x0 = tensor([...point, ...point], [2, 3]);
          const oracle = (xt: Tensor, t: number) => {
            const { alpha, sigma } = vpCoefficients(s.alphasCumprod[t]);
            return epsilonStar(data, xt, alpha, sigma);
          };
          const loss = epsilonLoss(s, x0, oracle, new GaussianStream(seed));
          expect(loss < 1e-20, `loss of the exact predictor = ${loss}`);
        }),
      ),
  },
  {
    clause: "LOSS-MINIMISER",
    name: "excess-loss-of-a-perturbation-is-its-squared-norm",
    scope: "spec",
    kind: "statistical",
    // Per example dᵢ = ‖ε − ε* − δ‖² − ‖ε − ε*‖² − ‖δ‖² (= −2δ·(ε − ε*)), mean 0 by the Pythagorean
    // identity; two-sided z-tests (sample variance) for the 4 perturbations, Bonferroni, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "LOSS-MINIMISER excess-loss-of-a-perturbation-is-its-squared-norm", 0.01, (stream) => {
        const rows = lossRows(sampleSize(ctx, 3000), stream);
        return bonferroni([0, 1, 2, 3].map((k) => zTestMean(rows.map((r) => r.perturbed[k].loss - r.oracle - r.perturbed[k].norm), 0).pValue));
      }),
  },
  {
    clause: "LOSS-MINIMISER",
    name: "oracle-has-lower-expected-loss-than-perturbed-predictors",
    scope: "spec",
    kind: "statistical",
    // Paired differences eᵢ = ‖ε − ε* − δ‖² − ‖ε − ε*‖² (common random numbers). One-sided z-test of
    // H₀: E e ≥ 0 (the clause) against E e < 0, p = Φ(ē/se), for the 4 perturbations, Bonferroni, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "LOSS-MINIMISER oracle-has-lower-expected-loss-than-perturbed-predictors", 0.01, (stream) => {
        const rows = lossRows(sampleSize(ctx, 3000), stream);
        return bonferroni([0, 1, 2, 3].map((k) => normalCdf(zTestMean(rows.map((r) => r.perturbed[k].loss - r.oracle), 0).statistic)));
      }),
  },
  {
    clause: "LOSS-MIN-SNR",
    name: "weight-identities",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndTArb, num(0.01, 50), ({ s, t }, gamma) => {
          const a = s.alphasCumprod[t];
          const snr = a / (1 - a);
          const w = minSnrWeight(s, t, gamma);
          expect(w > 0 && w <= 1, `w = ${w} outside (0, 1]`);
          expect((w === 1) === (snr <= gamma), `w = ${w} but SNR = ${snr}, γ = ${gamma}`);
          if (snr > 0) expectClose("w·SNR = min(SNR, γ)", w * snr, Math.min(snr, gamma), 1e-14);
          expect(minSnrWeight(s, t, Infinity) === 1, "γ = ∞ must give weight 1");
          if (t > 0) expect(minSnrWeight(s, t - 1, gamma) <= w, "w must not decrease with t (SNR decreases)");
        }),
      ),
  },
  {
    clause: "LOSS-MIN-SNR",
    name: "bad-gamma-is-config-error",
    scope: "spec",
    kind: "example",
    run: () => {
      const s = makeSchedule({ numTrainTimesteps: 10 });
      for (const g of [0, -1, NaN]) expectTypedError(`γ = ${g}`, () => minSnrWeight(s, 3, g), ConfigError, "minSnrGamma");
      const z = makeSchedule({ numTrainTimesteps: 10, rescaleBetasZeroSnr: true });
      expect(minSnrWeight(z, 9, 5) === 1, "zero terminal SNR must give the limit weight 1, not 0/0");
    },
  },
  {
    clause: "LOSS-DATA-PATH",
    name: "training-example-is-closed-form-noising",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleConfigArb, fc.integer(), fc.array(num(-1, 1), { minLength: 4, maxLength: 4 }), (c, seed, v) => {
          const s = makeSchedule(c);
          const x0 = tensor(v, [1, 4]);
          const ex = trainingExample(s, x0, new GaussianStream(seed));
          expect(Number.isInteger(ex.t) && ex.t >= 0 && ex.t < s.betas.length, `t = ${ex.t}`);
          expect(ex.eps.shape.join() === "1,4" && ex.x0 === x0, "ε must have x₀'s shape and x₀ is passed through");
          const expected = addNoise(s, x0, ex.eps, ex.t);
          expect(ex.xt.data.every((y, i) => y === expected.data[i]), "xₜ is not addNoise(x₀, ε, t)");
          expect(linearCombination([ex.xt, expected], [1, -1]).data.every((d) => d === 0), "xₜ differs from the closed form");
        }),
      ),
  },
  {
    clause: "LOSS-DATA-PATH",
    name: "timesteps-are-uniform",
    scope: "spec",
    kind: "statistical",
    // χ² goodness of fit of the drawn t to the uniform law on [0, 19] (N = 20, 19 df), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "LOSS-DATA-PATH timesteps-are-uniform", 0.01, (stream) => {
        const s = makeSchedule({ numTrainTimesteps: 20 });
        const counts = new Array(20).fill(0);
        const x0 = tensor([0.5], [1, 1]);
        for (let i = 0; i < sampleSize(ctx, 4000); i++) counts[trainingExample(s, x0, stream).t]++;
        return chiSquareTest(counts, new Array(20).fill(1)).pValue;
      }),
  },
]);
