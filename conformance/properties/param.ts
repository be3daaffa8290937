/**
 * PARAM-TO-X0, PARAM-TO-EPS, PARAM-TO-V, PARAM-ROUND-TRIP, PARAM-SCORE, PARAM-SCALE-INPUT,
 * PARAM-THRESHOLD (spec/05-parameterisation.md): what the network predicts and the exact
 * conversions between ε, x₀, v and the score.
 *
 * Generators: ᾱ ∈ [1e-4, 1 − 1e-4] (so α, σ ≥ 0.01 and the divisions by α or σ lose at most two
 * digits), x₀ ∈ [−3, 3], ε ∈ [−5, 5]. Tolerance 1e-12, relative to the magnitude of the terms.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose } from "../check.ts";
import { PREDICTION_TYPES, type PredictionType } from "../../adapters/contract.ts";
import { ConfigError } from "../../reference/errors.ts";
import { epsFromScore, predictEps, predictV, predictX0, scaleModelInputFactor, scoreFromEps, targetFor } from "../../reference/param.ts";
import { gaussianScore } from "../../reference/distributions.ts";
import { sigmaFromAlphaBar } from "../../reference/schedule.ts";
import { dynamicThreshold, quantileSorted } from "../../reference/threshold.ts";
import { linearCombination, tensor, type Tensor } from "../../reference/tensor.ts";
import { expectTypedError, num } from "./distributions.ts";
import { x0EpsArb } from "./forward.ts";

const TOL = 1e-12;
const abarArb = num(1e-4, 1 - 1e-4);
const predArb = fc.constantFrom(...PREDICTION_TYPES);
const coeffs = (abar: number) => ({ alpha: Math.sqrt(abar), sigma: Math.sqrt(1 - abar) });

/** The three quantities a model output may mean, for the pair (x₀, ε) at (α, σ). */
function truth(x0: Tensor, eps: Tensor, alpha: number, sigma: number) {
  const xt = linearCombination([x0, eps], [alpha, sigma]);
  const v = linearCombination([eps, x0], [alpha, -sigma]);
  return { xt, v, out: (p: PredictionType) => (p === "epsilon" ? eps : p === "sample" ? x0 : v) };
}

/** Converts a model output of type `from` into an output of type `to`. */
function convert(from: PredictionType, to: PredictionType, xt: Tensor, out: Tensor, alpha: number, sigma: number): Tensor {
  if (to === "epsilon") return predictEps(from, xt, out, alpha, sigma);
  if (to === "sample") return predictX0(from, xt, out, alpha, sigma);
  return predictV(from, xt, out, alpha, sigma);
}

export const properties = defineProperties([
  {
    clause: "PARAM-TO-X0",
    name: "x0-from-every-prediction-type",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(x0EpsArb, abarArb, predArb, ([x0, eps], abar, p) => {
          const { alpha, sigma } = coeffs(abar);
          const { xt, out } = truth(x0, eps, alpha, sigma);
          expectAllClose(`x₀ from ${p}`, predictX0(p, xt, out(p), alpha, sigma).data, x0.data, TOL, TOL);
        }),
      ),
  },
  {
    clause: "PARAM-TO-EPS",
    name: "eps-from-every-prediction-type",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(x0EpsArb, abarArb, predArb, ([x0, eps], abar, p) => {
          const { alpha, sigma } = coeffs(abar);
          const { xt, out } = truth(x0, eps, alpha, sigma);
          expectAllClose(`ε from ${p}`, predictEps(p, xt, out(p), alpha, sigma).data, eps.data, TOL, TOL);
        }),
      ),
  },
  {
    clause: "PARAM-TO-V",
    name: "v-from-every-prediction-type",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(x0EpsArb, abarArb, predArb, ([x0, eps], abar, p) => {
          const { alpha, sigma } = coeffs(abar);
          const { xt, v, out } = truth(x0, eps, alpha, sigma);
          expectAllClose(`v from ${p}`, predictV(p, xt, out(p), alpha, sigma).data, v.data, TOL, TOL);
          expectAllClose(`targetFor(${p})`, targetFor(p, x0, eps, alpha, sigma).data, out(p).data, 0, 1e-15);
        }),
      ),
  },
  {
    clause: "PARAM-ROUND-TRIP",
    name: "eps-x0-v-round-trip",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(x0EpsArb, abarArb, predArb, predArb, predArb, ([x0, eps], abar, p, q, r) => {
          // p → q → r → p returns the output it started from.
          const { alpha, sigma } = coeffs(abar);
          const { xt, out } = truth(x0, eps, alpha, sigma);
          const o = out(p);
          const back = convert(r, p, xt, convert(q, r, xt, convert(p, q, xt, o, alpha, sigma), alpha, sigma), alpha, sigma);
          expectAllClose(`${p} → ${q} → ${r} → ${p}`, back.data, o.data, TOL, TOL);
        }),
      ),
  },
  {
    clause: "PARAM-ROUND-TRIP",
    name: "eps-score-round-trip",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(x0EpsArb, abarArb, ([, eps], abar) => {
          const { sigma } = coeffs(abar);
          expectAllClose("ε → score → ε", epsFromScore(scoreFromEps(eps, sigma), sigma).data, eps.data, TOL, TOL);
        }),
      ),
  },
  {
    clause: "PARAM-SCORE",
    name: "score-of-the-noising-kernel-is-minus-eps-over-sigma",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(x0EpsArb, abarArb, ([x0, eps], abar) => {
          // ∇ₓ log q(xₜ | x₀) = −(xₜ − αx₀)/σ² = −ε/σ: the score of the one-point data distribution.
          const { alpha, sigma } = coeffs(abar);
          const { xt } = truth(x0, eps, alpha, sigma);
          const analytic = gaussianScore(xt.data, x0.data.map((v) => alpha * v), sigma * sigma);
          expectAllClose("−ε/σ vs ∇ log 𝒩(xₜ; αx₀, σ²)", scoreFromEps(eps, sigma).data, analytic, 1e-10, 1e-10);
        }),
      ),
  },
  {
    clause: "PARAM-SCALE-INPUT",
    name: "scaled-input-is-the-vp-sample",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(abarArb, x0EpsArb, (abar, [x0, eps]) => {
          // x̃ = xₜ/α = x₀ + σ_VE ε with σ_VE = √((1 − ᾱ)/ᾱ); the model input x̃/√(σ_VE² + 1) is xₜ again.
          const { alpha, sigma } = coeffs(abar);
          const sVE = sigmaFromAlphaBar(abar);
          expectClose("1/√(σ² + 1)", scaleModelInputFactor(sVE), alpha, 1e-14);
          const { xt } = truth(x0, eps, alpha, sigma);
          const xTilde = linearCombination([x0, eps], [1, sVE]);
          expectAllClose("scaled x̃", xTilde.data.map((v) => v * scaleModelInputFactor(sVE)), xt.data, 1e-12, 1e-12);
        }),
      ),
  },
  {
    clause: "PARAM-THRESHOLD",
    name: "output-is-clamped-and-scaled-by-the-quantile",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(
          fc.integer({ min: 1, max: 3 }).chain((B) => fc.tuple(fc.constant(B), fc.array(num(-5, 5), { minLength: B * 6, maxLength: B * 6 }))),
          num(0.5, 1),
          fc.oneof(num(0.2, 1), num(1, 4)),
          ([B, values], ratio, maxValue) => {
            const x = tensor(values, [B, 6]);
            const out = dynamicThreshold(x, ratio, maxValue);
            for (let b = 0; b < B; b++) {
              const item = values.slice(6 * b, 6 * b + 6);
              // Independent quantile: numpy's "linear" method on the sorted |x|.
              const sorted = item.map(Math.abs).sort((p, q) => p - q);
              const pos = (sorted.length - 1) * ratio;
              const lo = Math.floor(pos);
              const q = lo + 1 < sorted.length ? sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
              const s = Math.min(Math.max(q, 1), maxValue);
              item.forEach((v, i) => {
                const got = out.data[6 * b + i];
                expectClose(`item ${b} element ${i}`, got, Math.min(Math.max(v, -s), s) / s, 1e-14, 1e-15);
                expect(got >= -1 && got <= 1, `thresholded value ${got} outside [−1, 1]`);
              });
            }
          },
        ),
      ),
  },
  {
    clause: "PARAM-THRESHOLD",
    name: "identity-on-samples-already-in-range",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(num(-1, 1), { minLength: 1, maxLength: 20 }), num(0.5, 1), num(1, 4), (values, ratio, maxValue) => {
          // Every |x| ≤ 1 makes the quantile ≤ 1, so s = 1 and nothing changes.
          const x = tensor(values, [1, values.length]);
          expect(dynamicThreshold(x, ratio, maxValue).data.every((v, i) => v === values[i]), "an in-range sample was changed");
        }),
      ),
  },
  {
    clause: "PARAM-THRESHOLD",
    name: "quantile-matches-numpy-and-bad-arguments-are-config-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      // np.quantile([1, 2, 3, 4], 0.5) = 2.5; np.quantile([0, 10], 0.995) = 9.95; np.quantile([0..10], 0.33) = 3.3
      expectClose("quantile 0.5", quantileSorted([1, 2, 3, 4], 0.5), 2.5, 1e-15);
      expectClose("quantile 0.995", quantileSorted([0, 10], 0.995), 9.95, 1e-15);
      expectClose("quantile 0.33", quantileSorted([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.33), 3.3, 1e-15);
      expect(quantileSorted([7], 0.7) === 7, "quantile of one value");
      const x = tensor([0, 1, 2, 3], [1, 4]);
      for (const r of [0, -0.1, 1.5, NaN]) expectTypedError(`ratio ${r}`, () => dynamicThreshold(x, r, 2), ConfigError, "dynamicThresholdingRatio");
      for (const m of [0, -1, NaN, Infinity]) expectTypedError(`maxValue ${m}`, () => dynamicThreshold(x, 0.9, m), ConfigError, "sampleMaxValue");
    },
  },
]);
