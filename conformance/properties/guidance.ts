/**
 * CFG — classifier-free guidance (spec/12-guidance.md): its algebra, its meaning with the exact
 * oracle, batching on a backend, condition dropout, and what it does to samples.
 *
 * The sampling clauses use a minimal deterministic sampler written here (probability-flow Euler in
 * k-diffusion's σ-space, Karras σs, the exact oracle): they must not depend on reference/samplers/.
 */
import fc from "fast-check";
import type { Backend, BTensor, Conditioning, DType, Denoiser } from "../../adapters/contract.ts";
import { PREDICTION_TYPES } from "../../adapters/contract.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { defineProperties, type PropertyContext } from "../registry.ts";
import { checkProperty, expect, expectAllClose, statisticalTest } from "../check.ts";
import { SAMPLE_SCALE } from "../profiles.ts";
import { tolerance, UNIT_ROUNDOFF } from "../tolerances.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { ConfigError, MissingPrimitiveError, ShapeError } from "../../reference/errors.ts";
import { epsilonStarPoint, noisedLogPdf } from "../../reference/oracle.ts";
import { predictEps, predictV, predictX0 } from "../../reference/param.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { karrasSigmas, makeSchedule } from "../../reference/schedule.ts";
import { binomialTest, bonferroni, logGamma, normalCdf } from "../../reference/stats.ts";
import type { Tensor } from "../../reference/tensor.ts";
import { linearCombination, maxAbsDiff, scale } from "../../reference/tensor.ts";
import {
  bayesClass,
  classConditionalOracle,
  classConditioning,
  classPosterior,
  conditionalEpsilonStar,
  conditioningLabels,
  mixtureClasses,
  onBackend,
  scheduleNoiseLevel,
  veNoiseLevel,
} from "../../reference/conditioning/index.ts";
import { classifierFreeGuidance, dropCondition, guidedDenoiser, guidedPrediction, guideOn, rescaleGuidance } from "../../reference/guidance.ts";

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/**
 * Tolerance of a backend's guided prediction against the Float64 reference (conformance/tolerances.ts,
 * "combine" row, two terms): the combine's own rounding over Σ|cᵢxᵢ|, doubled to cover the rounding of
 * the uploaded predictions, plus one rounding of the result (the host rescale is uploaded again).
 */
function cfgAtol(dtype: DType, u: ArrayLike<number>, c: ArrayLike<number>, w: number, result: ArrayLike<number>): number {
  let mag = 0;
  for (let i = 0; i < u.length; i++) mag = Math.max(mag, Math.abs(1 - w) * Math.abs(u[i]) + Math.abs(w) * Math.abs(c[i]));
  return tolerance(dtype, "combine", { terms: 2, magnitude: 2 * mag, coeffAbsSum: Math.abs(1 - w) + Math.abs(w) }).atol + 2 * UNIT_ROUNDOFF[dtype] * absMax(result);
}

const randn = (s: GaussianStream, shape: number[], sd = 1): Tensor => scale(s.randn(shape), sd);
const absMax = (...ts: ArrayLike<number>[]) => Math.max(1e-300, ...ts.flatMap((t) => Array.from(t, Math.abs)));

/** A pair of model outputs [B, D] with per-item scales (so per-item rescaling matters). */
const pairArb = fc.record({ B: fc.integer({ min: 1, max: 3 }), D: fc.integer({ min: 2, max: 8 }), seed: fc.integer() }).map(({ B, D, seed }) => {
  const s = new GaussianStream(`cfg-pair/${seed}`);
  const u = randn(s, [B, D]);
  const c = randn(s, [B, D]);
  for (let b = 0; b < B; b++) {
    const k = Math.exp(2 * s.normal());
    for (let i = 0; i < D; i++) { u.data[b * D + i] *= k; c.data[b * D + i] = c.data[b * D + i] * k * Math.exp(s.normal()) + s.normal(); }
  }
  return { u, c, xt: randn(s, [B, D]) };
});

const wArb = fc.double({ min: -3, max: 12, noNaN: true });

/** A random class-labelled mixture, a point, a label (as in conditioning.ts). */
const mixtureArb = fc.record({ D: fc.integer({ min: 1, max: 3 }), K: fc.integer({ min: 2, max: 3 }), per: fc.integer({ min: 1, max: 2 }), seed: fc.integer() }).map(({ D, K, per, seed }) => {
  const s = new GaussianStream(`cfg-mixture/${seed}`);
  const comps = [];
  for (let y = 0; y < K; y++) for (let k = 0; k < per; k++) comps.push({ mean: s.normals(D).map((v) => 2 * v), std: 0.25 + 0.95 * s.uniform(), weight: 0.2 + s.uniform(), label: y });
  return { data: new GaussianMixture(comps), x: s.normals(D).map((v) => 2 * v), label: s.int(K) };
});
const alphaBarArb = fc.double({ min: 0.02, max: 0.9, noNaN: true });

function gradient(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-4): Float64Array {
  return Float64Array.from(x, (_, i) => {
    const at = (dx: number) => { const y = Float64Array.from(x); y[i] += dx; return f(y); };
    return (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
  });
}

const expectThrows = async (what: string, cls: new (...a: any[]) => Error, fn: () => unknown): Promise<void> => {
  try {
    await fn();
  } catch (e) {
    expect(e instanceof cls, `${what}: threw ${(e as Error).name} (${(e as Error).message}), expected ${cls.name}`);
    return;
  }
  throw new Error(`${what}: did not throw (expected ${cls.name})`);
};

const up = async <T extends BTensor>(backend: Backend<T>, t: Tensor): Promise<T> => backend.fromHost(t.data, t.shape);
const down = async <T extends BTensor>(backend: Backend<T>, t: T): Promise<Tensor> => ({ shape: [...t.shape], data: Float64Array.from(await backend.toHost(t)) });
const upCond = async <T extends BTensor>(backend: Backend<T>, c: Conditioning<Tensor>): Promise<Conditioning<T>> => ({ embeddings: await up(backend, c.embeddings), mask: c.mask ? await up(backend, c.mask) : undefined });

/** A Denoiser that records each call's batch size and conditioning labels. */
function counting<T extends BTensor>(backend: Backend<T>, inner: Denoiser<T>, classes: readonly number[]) {
  const calls: { batch: number; labels: (number | null)[] }[] = [];
  const d: Denoiser<T> = {
    predictionType: inner.predictionType,
    async evaluate(sample, t, cond) {
      const hc = cond ? { embeddings: await down(backend, cond.embeddings), mask: cond.mask ? await down(backend, cond.mask) : undefined } : undefined;
      calls.push({ batch: sample.shape[0], labels: conditioningLabels(classes, sample.shape[0], hc) });
      return inner.evaluate(sample, t, cond);
    },
  };
  return { d, calls };
}

/**
 * Probability-flow Euler in σ-space (k-diffusion `sample_euler`, no churn) with an ε-predicting
 * Denoiser whose timestep is σ (veNoiseLevel): x̃ ← x̃ + (σᵢ₊₁ − σᵢ) ε̂(x̃/√(1 + σᵢ²), σᵢ); x̃₀ = σ₀ z.
 */
async function eulerSample(den: Denoiser<Tensor>, z: Tensor, sigmas: Float64Array): Promise<Tensor> {
  let x = scale(z, sigmas[0]);
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const s = sigmas[i];
    const eps = (await den.evaluate(scale(x, 1 / Math.sqrt(1 + s * s)), s)) as Tensor;
    x = linearCombination([x, eps], [1, sigmas[i + 1] - s]);
  }
  return x;
}

/** Guided samples [N, D] of class y at scale w, from noise z. */
async function guidedSamples(data: GaussianMixture, ys: readonly number[], w: number, z: Tensor, steps: number): Promise<Tensor> {
  const oracle = classConditionalOracle(data, veNoiseLevel);
  const den = guidedDenoiser(oracle, referenceBackend, classConditioning(oracle.classes, ys), classConditioning(oracle.classes, ys.map(() => null)), w, 0, { batched: true });
  return eulerSample(den, z, karrasSigmas(steps, 0.01, 80));
}

/** P(Bin(n, p) ≥ k): the one-sided binomial upper tail (exact sum in log space). */
function binomialUpperTail(k: number, n: number, p: number): number {
  let s = 0;
  for (let i = k; i <= n; i++) s += Math.exp(logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1) + i * Math.log(p) + (n - i) * Math.log1p(-p));
  return Math.min(1, s);
}

const separated = () =>
  new GaussianMixture([0, 1, 2].flatMap((y) => [-0.25, 0.25].map((dt) => {
    const th = (2 * Math.PI * y) / 3 + dt;
    return { mean: Float64Array.of(2.5 * Math.cos(th), 2.5 * Math.sin(th)), std: 0.3, weight: 1, label: y };
  })));

const overlapping = () =>
  new GaussianMixture([
    { mean: Float64Array.of(-1, 0), std: 1, weight: 1, label: 0 },
    { mean: Float64Array.of(1, 0), std: 1, weight: 1, label: 1 },
  ]);

const sampleSize = (ctx: PropertyContext, base: number) => base * SAMPLE_SCALE[ctx.profile];

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

export const properties = defineProperties([
  {
    clause: "CFG-COMBINE",
    name: "endpoints-are-exact-on-the-backend",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(pairArb, async ({ u, c }) => {
        const b = ctx.backend;
        const U = await up(b, u);
        const C = await up(b, c);
        const hu = await b.toHost(U);
        const hc = await b.toHost(C);
        const g0 = await b.toHost(await guideOn(b, U, C, 0));
        const g1 = await b.toHost(await guideOn(b, U, C, 1));
        expect(maxAbsDiff(g0, hu) === 0, `w = 0 differs from ε_u by ${maxAbsDiff(g0, hu)}`);
        expect(maxAbsDiff(g1, hc) === 0, `w = 1 differs from ε_c by ${maxAbsDiff(g1, hc)}`);
      })),
  },
  {
    clause: "CFG-COMBINE",
    name: "backend-guidance-matches-the-reference",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(pairArb, wArb, async ({ u, c }, w) => {
        const b = ctx.backend;
        const U = await up(b, u);
        const C = await up(b, c);
        const hu = await down(b, U);
        const hc = await down(b, C);
        const got = await b.toHost(await guideOn(b, U, C, w));
        const want = classifierFreeGuidance(hu, hc, w).data;
        expectAllClose(`w = ${w}`, got, want, 0, cfgAtol(b.dtype, hu.data, hc.data, w, want));
      })),
  },
  {
    clause: "CFG-COMBINE",
    name: "guided-prediction-is-affine-in-w",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(pairArb, wArb, wArb, fc.double({ min: -1, max: 2, noNaN: true }), ({ u, c }, w1, w2, a) => {
        const M = absMax(u.data, c.data);
        const g = (w: number) => classifierFreeGuidance(u, c, w).data;
        const atol = (w: number) => 1e-14 * (1 + 2 * Math.abs(w)) * M;
        // ε̂ = ε_u + w (ε_c − ε_u)
        expectAllClose(`ε_u + w(ε_c − ε_u), w = ${w1}`, g(w1), Float64Array.from(u.data, (v, i) => v + w1 * (c.data[i] - v)), 1e-13, 4 * atol(w1));
        // ε̂(a w₁ + (1 − a) w₂) = a ε̂(w₁) + (1 − a) ε̂(w₂)
        const wm = a * w1 + (1 - a) * w2;
        const g1 = g(w1);
        const g2 = g(w2);
        expectAllClose(`affine in w (a = ${a})`, g(wm), Float64Array.from(g1, (v, i) => a * v + (1 - a) * g2[i]), 1e-12, 8 * (atol(w1) + atol(w2)) * (1 + 2 * Math.abs(a)));
      })),
  },
  {
    clause: "CFG-PARAM-COMMUTE",
    name: "guidance-commutes-with-prediction-type-conversion",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(pairArb, wArb, fc.double({ min: 0.05, max: 0.995, noNaN: true }), fc.constantFrom(...PREDICTION_TYPES), ({ u, c, xt }, w, alpha, p) => {
        const sigma = Math.sqrt(1 - alpha * alpha);
        for (const [name, conv] of [["x0", predictX0], ["eps", predictEps], ["v", predictV]] as const) {
          const a = conv(p, xt, classifierFreeGuidance(u, c, w), alpha, sigma).data;
          const cu = conv(p, xt, u, alpha, sigma);
          const cc = conv(p, xt, c, alpha, sigma);
          const b = classifierFreeGuidance(cu, cc, w).data;
          const M = absMax(cu.data, cc.data, xt.data, u.data, c.data) / Math.min(alpha, sigma);
          expectAllClose(`${p} → ${name}, w = ${w}, α = ${alpha}`, a, b, 1e-10, 1e-13 * (1 + 2 * Math.abs(w)) * M);
        }
      })),
  },
  {
    clause: "CFG-RESCALE",
    name: "phi-one-restores-the-conditional-std-per-sample",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(pairArb, wArb, ({ u, c }, w) => {
        const g = classifierFreeGuidance(u, c, w);
        const r = rescaleGuidance(g, c, 1);
        const [B, D] = g.shape;
        const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
        const sd = (a: ArrayLike<number>, ddof = 0) => { const m = mean(a); return Math.sqrt(Array.from(a).reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - ddof)); };
        for (let b = 0; b < B; b++) {
          const [gb, cb, rb] = [g, c, r].map((t) => t.data.subarray(b * D, (b + 1) * D));
          if (sd(gb) === 0) continue;
          expectAllClose(`item ${b}: std of the rescaled prediction`, [sd(rb)], [sd(cb)], 1e-12, 0);
          // diffusers' rescale_noise_cfg, literally (torch.std is Bessel-corrected; the ratio is unchanged).
          const lit = Array.from(gb, (v) => v * (sd(cb, 1) / sd(gb, 1)));
          expectAllClose(`item ${b}: equals diffusers' rescale_noise_cfg at φ = 1`, rb, lit, 1e-12, 1e-14 * absMax(rb));
        }
      })),
  },
  {
    clause: "CFG-RESCALE",
    name: "phi-zero-is-identity-and-phi-interpolates",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(pairArb, wArb, fc.double({ min: 0, max: 1, noNaN: true }), ({ u, c }, w, phi) => {
        const g = classifierFreeGuidance(u, c, w);
        expect(maxAbsDiff(rescaleGuidance(g, c, 0).data, g.data) === 0, "φ = 0 changed the guided prediction");
        const r1 = rescaleGuidance(g, c, 1).data;
        const want = Float64Array.from(g.data, (v, i) => phi * r1[i] + (1 - phi) * v);
        expectAllClose(`φ = ${phi}`, rescaleGuidance(g, c, phi).data, want, 1e-12, 1e-14 * absMax(g.data, r1));
      })),
  },
  {
    clause: "CFG-BATCH",
    name: "batched-and-unbatched-passes-agree-with-one-model-call",
    scope: "backend",
    kind: "property",
    needs: ["concat", "split"],
    run: (ctx) => {
      const data = new GaussianMixture([
        { mean: Float64Array.of(1, 0, -1), std: 0.5, weight: 1, label: 0 },
        { mean: Float64Array.of(-1, 1, 0), std: 0.7, weight: 2, label: 1 },
        { mean: Float64Array.of(0, -1, 1), std: 0.4, weight: 1, label: 2 },
      ]);
      const schedule = makeSchedule();
      const host = classConditionalOracle(data, scheduleNoiseLevel(schedule));
      const b = ctx.backend;
      const masks = fc.constantFrom("none", "both", "cond-only");
      return checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 999 }), wArb, fc.double({ min: 0, max: 1, noNaN: true }), masks, fc.integer(), async (B, t, w, phi, maskMode, seed) => {
          const s = new GaussianStream(`cfg-batch/${seed}`);
          const x = await up(b, randn(s, [B, 3], 1.5));
          const ys = Array.from({ length: B }, () => s.int(3));
          const cond = classConditioning(host.classes, ys);
          const nul = classConditioning(host.classes, ys.map(() => null));
          const ones: Tensor = { shape: [B, 1], data: new Float64Array(B).fill(1) };
          if (maskMode !== "none") (cond as { mask?: Tensor }).mask = ones;
          if (maskMode === "both") (nul as { mask?: Tensor }).mask = { shape: [B, 1], data: new Float64Array(B) };
          const C = await upCond(b, cond);
          const N = await upCond(b, nul);
          const one = counting(b, onBackend(b, host), host.classes);
          const two = counting(b, onBackend(b, host), host.classes);
          const batched = await b.toHost(await guidedPrediction(one.d, b, x, t, C, N, w, { phi, batched: true }));
          const unbatched = await b.toHost(await guidedPrediction(two.d, b, x, t, C, N, w, { phi, batched: false }));
          const wrapped = await b.toHost(await guidedDenoiser(one.d, b, C, N, w, phi).evaluate(x, t));
          const single = w === 1 || (w === 0 && phi === 0);
          expect(one.calls.length >= 1 && one.calls[0].batch === (single ? B : 2 * B), `batched guidance made calls of batch ${one.calls.map((c) => c.batch)}, expected one of ${single ? B : 2 * B}`);
          if (!single) {
            expect(one.calls.length === 2 && two.calls.length === 2, `calls: batched ${one.calls.length - 1} (expected 1), unbatched ${two.calls.length} (expected 2)`);
            expect(one.calls[0].labels.slice(0, B).every((l) => l === null) && one.calls[0].labels.slice(B).every((l, i) => l === ys[i]), `batched call labels ${JSON.stringify(one.calls[0].labels)}: expected ${B} nulls, then ${ys}`);
          }
          // concat/split only move values (tolerance "batch": exact), so both paths combine the same inputs.
          const same = tolerance(b.dtype, "batch");
          expectAllClose("batched vs unbatched", batched, unbatched, same.rtol, same.atol);
          expectAllClose("guidedDenoiser vs guidedPrediction", wrapped, batched, same.rtol, same.atol);
          // …and both are the guidance of the exact conditional and unconditional ε* (on the uploaded sample).
          const hx = await down(b, x);
          const alphaSigma = host.noiseLevel(t);
          const eu = { shape: hx.shape, data: new Float64Array(hx.data.length) };
          const ec = { shape: hx.shape, data: new Float64Array(hx.data.length) };
          for (let i = 0; i < B; i++) {
            const xi = hx.data.subarray(3 * i, 3 * i + 3);
            eu.data.set(epsilonStarPoint(data, xi, alphaSigma.alpha, alphaSigma.sigma), 3 * i);
            ec.data.set(conditionalEpsilonStar(data, ys[i], { shape: [1, 3], data: xi }, alphaSigma.alpha, alphaSigma.sigma).data, 3 * i);
          }
          const want = rescaleGuidance(classifierFreeGuidance(eu, ec, w), ec, phi).data;
          expectAllClose("guided vs host formula", batched, want, 0, cfgAtol(b.dtype, eu.data, ec.data, w, want) * (phi > 0 ? 2 : 1));
        }),
      );
    },
  },
  {
    clause: "CFG-TILT",
    name: "guided-eps-is-minus-sigma-grad-log-of-the-tilted-density",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(mixtureArb, alphaBarArb, wArb, ({ data, x, label }, abar, w) => {
        const alpha = Math.sqrt(abar);
        const sigma = Math.sqrt(1 - abar);
        const X: Tensor = { shape: [1, data.dim], data: x };
        const guided = classifierFreeGuidance({ shape: X.shape, data: epsilonStarPoint(data, x, alpha, sigma) }, conditionalEpsilonStar(data, label, X, alpha, sigma), w).data;
        const sub = data.conditional(label);
        const logTilted = (p: Float64Array) => (1 - w) * noisedLogPdf(data, p, alpha, sigma) + w * noisedLogPdf(sub, p, alpha, sigma);
        const fd = gradient(logTilted, x).map((g) => -sigma * g);
        expectAllClose(`w = ${w}, y = ${label}, ᾱ = ${abar}`, guided, fd, 1e-6, 1e-6 * (1 + 2 * Math.abs(w)));
      })),
  },
  {
    clause: "CFG-IMPLICIT-CLASSIFIER",
    name: "cond-minus-uncond-is-the-class-posterior-gradient",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(mixtureArb, alphaBarArb, fc.double({ min: 0, max: 12, noNaN: true }), ({ data, x, label }, abar, w) => {
        const alpha = Math.sqrt(abar);
        const sigma = Math.sqrt(1 - abar);
        const k = mixtureClasses(data).indexOf(label);
        const eu = epsilonStarPoint(data, x, alpha, sigma);
        const ec = conditionalEpsilonStar(data, label, { shape: [1, data.dim], data: x }, alpha, sigma).data;
        const gradLogPost = gradient((p) => Math.log(classPosterior(data, p, alpha, sigma)[k]), x);
        expectAllClose(`ε_c − ε_u vs −σ ∇ log q(y | x)`, ec.map((v, i) => v - eu[i]), gradLogPost.map((g) => -sigma * g), 1e-6, 1e-6);
        // x̂₀(w) − x̂₀(0) = −(σ/α) w (ε_c − ε_u) = w (σ²/α) ∇ log q(y | x): guidance climbs the class posterior.
        let inner = 0;
        for (let i = 0; i < data.dim; i++) inner += (-(sigma / alpha) * w * (ec[i] - eu[i])) * gradLogPost[i];
        expect(inner >= -1e-9, `x̂₀ moved down the class posterior: ⟨Δx̂₀, ∇ log q(y | x)⟩ = ${inner}`);
      })),
  },
  {
    clause: "CFG-DROPOUT",
    name: "each-condition-is-dropped-independently-with-probability-p",
    scope: "spec",
    kind: "statistical",
    run: (ctx) => {
      const n = 2, d = 3;
      const B = sampleSize(ctx, 2000);
      const pDrop = 0.15;
      const nul: Conditioning<Tensor> = { embeddings: { shape: [1, n, d], data: Float64Array.of(7, 7, 7, 0, 0, 0) }, mask: { shape: [1, n], data: Float64Array.of(1, 0) } };
      // α = 0.01, exact two-sided binomial test of the number dropped against Bin(B, p); retried once on a fresh sample.
      return statisticalTest(ctx, "CFG-DROPOUT", 0.01, (stream) => {
        const cond: Conditioning<Tensor> = { embeddings: stream.randn([B, n, d]), mask: { shape: [B, n], data: new Float64Array(B * n).fill(1) } };
        const { cond: out, dropped } = dropCondition(cond, nul, pDrop, stream);
        for (let b = 0; b < B; b++) {
          const src = dropped[b] ? nul.embeddings.data : cond.embeddings.data.subarray(b * n * d, (b + 1) * n * d);
          const srcMask = dropped[b] ? nul.mask!.data : cond.mask!.data.subarray(b * n, (b + 1) * n);
          expect(maxAbsDiff(out.embeddings.data.subarray(b * n * d, (b + 1) * n * d), src) === 0 && maxAbsDiff(out.mask!.data.subarray(b * n, (b + 1) * n), srcMask) === 0, `item ${b} (dropped: ${dropped[b]}) is neither its condition nor the null condition`);
        }
        expect(dropCondition(cond, nul, 0, stream).dropped.every((x) => !x), "pDrop = 0 dropped a condition");
        expect(dropCondition(cond, nul, 1, stream).dropped.every((x) => x), "pDrop = 1 kept a condition");
        return binomialTest(dropped.filter(Boolean).length, B, pDrop).pValue;
      });
    },
  },
  {
    clause: "CFG-SAMPLE-CLASS",
    name: "guided-samples-fall-in-their-class",
    scope: "spec",
    kind: "statistical",
    run: (ctx) => {
      const data = separated();
      const per = sampleSize(ctx, 100);
      const ys = [0, 1, 2].flatMap((y) => Array(per).fill(y));
      const maxError = 0.02;
      // α = 0.01. H₀: P(sample's Bayes class ≠ y) ≤ 2 %, one-sided exact binomial tail, at w = 1 and
      // w = 3 (Bonferroni); 20-step Euler on the exact oracle; retried once on a fresh sample.
      return statisticalTest(ctx, "CFG-SAMPLE-CLASS", 0.01, async (stream) => {
        const z = stream.randn([ys.length, 2]);
        const ps: number[] = [];
        for (const w of [1, 3]) {
          const x = await guidedSamples(data, ys, w, z, 20);
          const wrong = ys.filter((y, i) => bayesClass(data, x.data.subarray(2 * i, 2 * i + 2)) !== y).length;
          ps.push(binomialUpperTail(wrong, ys.length, maxError));
        }
        return bonferroni(ps);
      });
    },
  },
  {
    clause: "CFG-PURITY",
    name: "class-purity-grows-with-w",
    scope: "spec",
    kind: "statistical",
    run: (ctx) => {
      // Two overlapping classes (𝒩((∓1, 0), I)): purity P(Bayes class = y) is ½ at w = 0, Φ(1) ≈ 0.84 at w = 1, ≈ 0.99 at w = 2.
      const data = overlapping();
      const N = sampleSize(ctx, 400);
      const ws = [0, 1, 2];
      const delta = 0.05;
      // α = 0.01. Common noise for every w; for each consecutive pair the paired differences
      // dᵢ = 1[class at w'] − 1[class at w] test H₀: purity(w') − purity(w) ≥ δ = 0.05, one-sided z-test
      // p = Φ((d̄ − δ)/SE); Bonferroni over the two pairs; retried once on a fresh sample.
      return statisticalTest(ctx, "CFG-PURITY", 0.01, async (stream) => {
        const z = stream.randn([N, 2]);
        const ys = Array(N).fill(1);
        const hits: number[][] = [];
        for (const w of ws) {
          const x = await guidedSamples(data, ys, w, z, 30);
          hits.push(ys.map((y, i) => (bayesClass(data, x.data.subarray(2 * i, 2 * i + 2)) === y ? 1 : 0)));
        }
        const ps = ws.slice(1).map((_, k) => {
          const d = hits[k + 1].map((h, i) => h - hits[k][i]);
          const mean = d.reduce((a, v) => a + v, 0) / N;
          const sd = Math.sqrt(d.reduce((a, v) => a + (v - mean) ** 2, 0) / (N - 1));
          return normalCdf((mean - delta) / (Math.max(sd, 1 / N) / Math.sqrt(N)));
        });
        return bonferroni(ps);
      });
    },
  },
  {
    clause: "CFG-INPUT-ERRORS",
    name: "bad-guidance-inputs-give-typed-errors",
    scope: "spec",
    kind: "example",
    run: async () => {
      const u: Tensor = { shape: [2, 3], data: Float64Array.of(1, 2, 3, 4, 5, 6) };
      const c: Tensor = { shape: [2, 3], data: Float64Array.of(2, 1, 0, 1, 1, 1) };
      for (const w of [NaN, Infinity, -Infinity]) await expectThrows(`w = ${w}`, ConfigError, () => classifierFreeGuidance(u, c, w));
      await expectThrows("shape mismatch", ShapeError, () => classifierFreeGuidance(u, { shape: [3, 2], data: c.data }, 2));
      for (const phi of [NaN, -0.1, 1.5]) await expectThrows(`φ = ${phi}`, ConfigError, () => rescaleGuidance(u, c, phi));
      const data = new GaussianMixture([{ mean: Float64Array.of(0, 0, 0), std: 1, weight: 1, label: 0 }, { mean: Float64Array.of(1, 1, 1), std: 1, weight: 1, label: 1 }]);
      const oracle = classConditionalOracle(data, scheduleNoiseLevel(makeSchedule()));
      const cond = classConditioning(oracle.classes, [0, 1]);
      const nul = classConditioning(oracle.classes, [null, null]);
      await expectThrows("guidedDenoiser with w = NaN", ConfigError, () => guidedDenoiser(oracle, referenceBackend, cond, nul, NaN));
      await expectThrows("guidedPrediction with w = ∞", ConfigError, () => guidedPrediction(oracle, referenceBackend, u, 10, cond, nul, Infinity));
      await expectThrows("null condition of another shape", ShapeError, () => guidedPrediction(oracle, referenceBackend, u, 10, cond, classConditioning(oracle.classes, [null]), 3));
      const r = referenceBackend;
      const bare: Backend<Tensor> = { name: "no-concat", dtype: "float64", fromHost: (d, sh) => r.fromHost(d, sh), toHost: (t) => r.toHost(t), combine: (ts, cs) => r.combine(ts, cs) };
      await expectThrows("batched on a backend without concat", MissingPrimitiveError, () => guidedPrediction(oracle, bare, u, 10, cond, nul, 3, { batched: true }));
      const unbatched = await bare.toHost(await guidedPrediction(oracle, bare, u, 10, cond, nul, 3));
      expect(unbatched.every(Number.isFinite), "a backend without concat falls back to two calls");
      const stream = new GaussianStream("cfg-errors");
      for (const p of [NaN, -0.1, 1.1]) await expectThrows(`pDrop = ${p}`, ConfigError, () => dropCondition(cond, nul, p, stream));
      await expectThrows("dropout null of another width", ShapeError, () => dropCondition(cond, { embeddings: { shape: [1, 1, 3], data: new Float64Array(3) } }, 0.1, stream));
    },
  },
]);
