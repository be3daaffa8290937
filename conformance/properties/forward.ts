/**
 * FWD-STEP, FWD-MARGINAL, FWD-CHAIN, FWD-VELOCITY, FWD-VALIDATE (spec/04-forward.md).
 * The headline property of the design card: running the one-step kernel t + 1 times has the law of
 * the closed form q(xₜ | x₀) — exactly for the moments (Float64, 1e-12) and statistically for samples.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose, statisticalTest } from "../check.ts";
import { ConfigError, ShapeError } from "../../reference/errors.ts";
import { addNoise, chainCoefficients, forwardStep, getVelocity, marginalCoefficients } from "../../reference/forward.ts";
import { makeSchedule, type Schedule } from "../../reference/schedule.ts";
import { targetFor } from "../../reference/param.ts";
import { tensor, type Tensor } from "../../reference/tensor.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { bonferroni, energyPermutationTest, ksTestNormal } from "../../reference/stats.ts";
import { expectTypedError, num, sampleSize } from "./distributions.ts";
import { scheduleConfigArb } from "./schedule.ts";

/** A schedule together with a valid timestep index. */
export const scheduleAndTArb: fc.Arbitrary<{ s: Schedule; t: number }> = scheduleConfigArb.chain((c) =>
  fc.integer({ min: 0, max: c.numTrainTimesteps - 1 }).map((t) => ({ s: makeSchedule(c), t })),
);
/** A pair of same-shape small tensors (x₀ in [−3, 3], ε in [−5, 5]). */
export const x0EpsArb = fc.integer({ min: 1, max: 8 }).chain((n) =>
  fc.tuple(fc.array(num(-3, 3), { minLength: n, maxLength: n }), fc.array(num(-5, 5), { minLength: n, maxLength: n })).map(([a, b]) => [tensor(a, [n]), tensor(b, [n])] as const),
);

/** Runs the one-step kernel from x₀ (a batch of scalars) through t = 0 … tMax, calling `at(t, x)` after each step. */
function runChain(s: Schedule, x0: Tensor, tMax: number, stream: GaussianStream, at: (t: number, x: Tensor) => void): void {
  let x = x0;
  for (let t = 0; t <= tMax; t++) {
    x = forwardStep(s, x, t, stream.randn(x.shape));
    at(t, x);
  }
}

export const properties = defineProperties([
  {
    clause: "FWD-STEP",
    name: "step-is-the-stated-affine-map",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndTArb, x0EpsArb, ({ s, t }, [x, eps]) => {
          const b = s.betas[t];
          const out = forwardStep(s, x, t, eps);
          expectAllClose("xₜ = √(1 − βₜ) xₜ₋₁ + √βₜ ε", out.data, x.data.map((v, i) => Math.sqrt(1 - b) * v + Math.sqrt(b) * eps.data[i]), 1e-15, 1e-15);
          // Variance preserving: a unit-variance input stays unit variance, (1 − β)·1 + β = 1.
          expectClose("(1 − β) + β", Math.sqrt(1 - b) ** 2 + Math.sqrt(b) ** 2, 1, 4e-16);
        }),
      ),
  },
  {
    clause: "FWD-MARGINAL",
    name: "add-noise-is-the-closed-form",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndTArb, x0EpsArb, ({ s, t }, [x0, eps]) => {
          const a = s.alphasCumprod[t];
          const { mean, variance } = marginalCoefficients(s, t);
          expect(mean === Math.sqrt(a) && variance === 1 - a, `marginalCoefficients(${t}) = (${mean}, ${variance}), expected (√ᾱ, 1 − ᾱ)`);
          expectClose("mean² + variance", mean * mean + variance, 1, 4e-16);
          expectAllClose("xₜ = √ᾱ x₀ + √(1 − ᾱ) ε", addNoise(s, x0, eps, t).data, x0.data.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps.data[i]), 1e-15, 1e-15);
        }),
      ),
  },
  {
    clause: "FWD-CHAIN",
    name: "chain-moments-equal-the-closed-form",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndTArb, ({ s, t }) => {
          // Means multiply, variances add: vₜ = (1 − βₜ)vₜ₋₁ + βₜ equals 1 − ᾱₜ, Π √(1 − βₛ) equals √ᾱₜ.
          const chain = chainCoefficients(s, t);
          const closed = marginalCoefficients(s, t);
          expectClose(`mean coefficient at t = ${t}`, chain.mean, closed.mean, 1e-12, 1e-15);
          expectClose(`variance at t = ${t}`, chain.variance, closed.variance, 1e-12, 1e-15);
        }),
      ),
  },
  {
    clause: "FWD-CHAIN",
    name: "chain-samples-have-the-closed-form-law",
    scope: "spec",
    kind: "statistical",
    // From a fixed x₀ = 0.8, n chains per schedule (linear, cosine; N = 1000); at t ∈ {0, 9, 99, 499, 999}
    // a one-sample KS test against 𝒩(√ᾱₜ x₀, 1 − ᾱₜ); Bonferroni over the 10 tests, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "FWD-CHAIN chain-samples-have-the-closed-form-law", 0.01, (stream) => {
        const n = sampleSize(ctx, 1000);
        const targets = new Set([0, 9, 99, 499, 999]);
        const ps: number[] = [];
        for (const betaSchedule of ["linear", "squaredcos_cap_v2"] as const) {
          const s = makeSchedule({ betaSchedule });
          const x0 = tensor(new Array(n).fill(0.8), [n]);
          runChain(s, x0, 999, stream, (t, x) => {
            if (targets.has(t)) ps.push(ksTestNormal(x.data, Math.sqrt(s.alphasCumprod[t]) * 0.8, 1 - s.alphasCumprod[t]).pValue);
          });
        }
        return bonferroni(ps);
      }),
  },
  {
    clause: "FWD-CHAIN",
    name: "chain-from-mixture-data-matches-add-noise",
    scope: "spec",
    kind: "statistical",
    // x₀ from a 2-D mixture; 60 chain steps (scaled_linear, N = 1000) versus one addNoise call at t = 59:
    // energy-distance permutation test (199 permutations), α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "FWD-CHAIN chain-from-mixture-data-matches-add-noise", 0.01, (stream) => {
        const n = sampleSize(ctx, 150);
        const s = makeSchedule({ betaSchedule: "scaled_linear", betaStart: 0.00085, betaEnd: 0.012 });
        const data = new GaussianMixture([
          { mean: Float64Array.of(-1, 0.5), std: 0.1, weight: 1 },
          { mean: Float64Array.of(1, -0.5), std: 0.3, weight: 2 },
        ]);
        const t = 59;
        const x0a = tensor(data.sampleMany(n, stream).flatMap((p) => Array.from(p)), [n, 2]);
        let chained = x0a;
        runChain(s, x0a, t, stream, (_, x) => (chained = x));
        const x0b = tensor(data.sampleMany(n, stream).flatMap((p) => Array.from(p)), [n, 2]);
        const closed = addNoise(s, x0b, stream.randn([n, 2]), t);
        const pts = (x: Tensor) => Array.from({ length: n }, (_, i) => [x.data[2 * i], x.data[2 * i + 1]]);
        return energyPermutationTest(pts(chained), pts(closed), new GaussianStream(`${stream.seed}/perm`), 199).pValue;
      }),
  },
  {
    clause: "FWD-VELOCITY",
    name: "velocity-is-the-v-target",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(scheduleAndTArb, x0EpsArb, ({ s, t }, [x0, eps]) => {
          const a = Math.sqrt(s.alphasCumprod[t]);
          const sg = Math.sqrt(1 - s.alphasCumprod[t]);
          const v = getVelocity(s, x0, eps, t);
          expectAllClose("v = αε − σx₀", v.data, x0.data.map((x, i) => a * eps.data[i] - sg * x), 1e-15, 1e-15);
          expectAllClose("getVelocity = targetFor(v_prediction)", v.data, targetFor("v_prediction", x0, eps, a, sg).data, 0, 1e-15);
          // (xₜ, v) is (x₀, ε) rotated by φ with cos φ = α, sin φ = σ: the norm is kept.
          const xt = addNoise(s, x0, eps, t);
          x0.data.forEach((x, i) => expectClose(`xₜ² + v² at ${i}`, xt.data[i] ** 2 + v.data[i] ** 2, x * x + eps.data[i] ** 2, 1e-12, 1e-14));
        }),
      ),
  },
  {
    clause: "FWD-VALIDATE",
    name: "bad-timestep-or-shape-is-typed-error",
    scope: "spec",
    kind: "example",
    run: () => {
      const s = makeSchedule({ numTrainTimesteps: 10 });
      const x = tensor([1, 2], [2]);
      for (const t of [-1, 10, 2.5, NaN]) {
        expectTypedError(`addNoise t = ${t}`, () => addNoise(s, x, x, t), ConfigError, "timestep");
        expectTypedError(`forwardStep t = ${t}`, () => forwardStep(s, x, t, x), ConfigError, "timestep");
        expectTypedError(`chainCoefficients t = ${t}`, () => chainCoefficients(s, t), ConfigError, "timestep");
        expectTypedError(`marginalCoefficients t = ${t}`, () => marginalCoefficients(s, t), ConfigError, "timestep");
        expectTypedError(`getVelocity t = ${t}`, () => getVelocity(s, x, x, t), ConfigError, "timestep");
      }
      expectTypedError("addNoise noise shape", () => addNoise(s, x, tensor([1, 2, 3], [3]), 0), ShapeError, "addNoise noise");
      expectTypedError("forwardStep noise shape", () => forwardStep(s, x, 0, tensor([1], [1])), ShapeError, "forwardStep noise");
    },
  },
]);
