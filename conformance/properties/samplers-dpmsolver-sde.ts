/**
 * Properties of SAMP-BROWNIAN-TREE, SAMP-DPMSOLVER-SDE and SAMP-KDIFF-DPMPP-SDE
 * (spec/07-samplers-dpmsolver-sde.md). All are "spec" properties: they check the reference in Float64
 * (the samplers' tensor updates are one `combine` each, which BACKEND-SAMPLER-PARITY covers on backends).
 * Statistical ones state their test and α and are retried once on a fresh sample (false-failure rate α²).
 */
import fc from "fast-check";
import { fileURLToPath } from "node:url";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose, statisticalTest } from "../check.ts";
import { BrownianTree, BrownianTreeNoiseSampler } from "../../reference/brownian.ts";
import { ConfigError } from "../../reference/errors.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { bonferroni, ksTestNormal, pearsonCorrelationTest } from "../../reference/stats.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { createScheduler } from "../../reference/samplers/index.ts";
import { hostNoise } from "../../reference/samplers/scheduler.ts";
import { midpointSigma } from "../../reference/samplers/dpmsolver-sde.ts";
import { sampleDpmppSde } from "../../reference/samplers/dpmpp-sde.ts";
import { verifyFixtureFile } from "../fixtures/verify.ts";
import type { Tensor } from "../../reference/tensor.ts";
import { expectTypedError, sampleSize } from "./distributions.ts";

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const fixture = (rel: string): string => fileURLToPath(new URL(`../../fixtures/diffusers/${rel}`, import.meta.url));

/** The golden vector passes `fixtures verify` (every array compared at its exact length). */
async function expectFixturePasses(path: string): Promise<void> {
  const r = await verifyFixtureFile(path);
  if (r.status !== "passed") throw new Error(`${path}: ${r.status}: ${r.message ?? ""}`);
}

/** [t₀, t₁] and k ≥ 2 sorted grid points inside it (the ends included), each step refined into 1–4 sub-steps. */
const gridArb = fc
  .record({
    t0: fc.double({ min: 0.001, max: 5, noNaN: true }),
    len: fc.double({ min: 0.01, max: 100, noNaN: true }),
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 0, maxLength: 6 }),
    refine: fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }), { minLength: 7, maxLength: 7 }),
  })
  .map(({ t0, len, cuts, refine }) => {
    const t1 = t0 + len;
    const coarse = [...new Set([t0, ...cuts.map((c) => t0 + c * len), t1])].sort((a, b) => a - b);
    const fine = coarse.slice(0, -1).map((a, i) => [...new Set([a, ...refine[i].map((c) => a + c * (coarse[i + 1] - a)), coarse[i + 1]])].sort((x, y) => x - y));
    return { t0, t1, coarse, fine };
  });

/** The tanh_mix model of the fixtures: ε̂(x, t) = 0.5 tanh(x) + 0.1 sin(t/100). */
const tanhMix = (x: Tensor, t: number): Tensor => ({ shape: x.shape, data: x.data.map((v) => 0.5 * Math.tanh(v) + 0.1 * Math.sin(t / 100)) });

async function runScheduler(seed: number | undefined, n: number, noise?: GaussianStream): Promise<Float64Array> {
  const s = await createScheduler("DPMSolverSDEScheduler", { betaSchedule: "scaled_linear", noiseSamplerSeed: seed }, referenceBackend);
  s.setTimesteps(n);
  let x: Tensor = new GaussianStream("x").randn([2, 4]);
  x = { shape: x.shape, data: x.data.map((v) => v * s.initNoiseSigma) };
  const provider = noise ? hostNoise(referenceBackend, noise) : undefined;
  for (const t of s.timesteps) x = (await s.step(tanhMix(await s.scaleModelInput(x, t), t), t, x, { noise: provider })).prevSample;
  return x.data;
}

export const properties = defineProperties([
  // ─── SAMP-BROWNIAN-TREE ─────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-BROWNIAN-TREE",
    name: "coarse-increment-is-sum-of-refined-increments",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(gridArb, seedArb, ({ t0, t1, coarse, fine }, seed) => {
        const tree = new BrownianTree(t0, t1, 3, seed);
        // A second tree with the same seed, queried in another order (fine grid first, backwards).
        const other = new BrownianTree(t0, t1, 3, seed);
        for (const sub of [...fine].reverse()) for (const t of [...sub].reverse()) other.at(t);
        coarse.slice(0, -1).forEach((a, i) => {
          const b = coarse[i + 1];
          const whole = tree.increment(a, b);
          const sum = new Float64Array(3);
          fine[i].slice(0, -1).forEach((u, j) => other.increment(u, fine[i][j + 1]).forEach((v, k) => (sum[k] += v)));
          expectAllClose(`W(${b}) − W(${a}) vs the sum over ${fine[i].length - 1} sub-steps`, sum, whole, 0, 1e-12 * (1 + Math.sqrt(t1 - t0)) * fine[i].length);
        });
        expectAllClose("W(t₀)", tree.at(t0), [0, 0, 0], 0, 0);
      })),
  },
  {
    clause: "SAMP-BROWNIAN-TREE",
    name: "increments-are-independent-with-variance-dt",
    scope: "spec",
    kind: "statistical",
    run: (ctx) =>
      statisticalTest(ctx, "SAMP-BROWNIAN-TREE increments-are-independent-with-variance-dt", 0.01, (s) => {
        // n independent coordinates; three adjacent intervals at random places, the middle one refined.
        // H₀: (W(b) − W(a))/√(b − a) ~ 𝒩(0, 1) per coordinate (KS), adjacent increments uncorrelated (Pearson);
        // the four p-values are combined by Bonferroni.
        const n = sampleSize(ctx, 2000);
        const tree = new BrownianTree(0.03, 14.6, n, s.int(2 ** 31));
        const pts = [0, 1, 2, 3].map(() => 0.03 + s.uniform() * 14.57).sort((a, b) => a - b);
        const inc = (a: number, b: number): Float64Array => tree.increment(a, b).map((v) => v / Math.sqrt(b - a));
        const [i1, i2, i3] = [inc(pts[0], pts[1]), inc(pts[1], pts[2]), inc(pts[2], pts[3])];
        return bonferroni([ksTestNormal(i1).pValue, ksTestNormal(i2).pValue, ksTestNormal(i3).pValue, pearsonCorrelationTest(i1, i2).pValue]);
      }),
  },
  {
    clause: "SAMP-BROWNIAN-TREE",
    name: "noise-sampler-returns-normalised-increments",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(seedArb, fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), (seed, u, v) => {
        const [lo, hi] = [0.0292, 14.61];
        const sampler = new BrownianTreeNoiseSampler(lo, hi, [2, 2], seed);
        const tree = new BrownianTree(lo, hi, 4, seed);
        const [sigma, sigmaNext] = [lo + Math.max(u, v) * (hi - lo), lo + Math.min(u, v) * (hi - lo)];
        if (sigma === sigmaNext) return;
        const expected = tree.increment(sigma, sigmaNext).map((w) => w / Math.sqrt(sigma - sigmaNext));
        expectAllClose("(W(σ') − W(σ))/√|σ' − σ|", sampler.sample(sigma, sigmaNext).data, expected, 1e-14, 0);
        expectAllClose("the ends, an ulp outside, read as the ends", sampler.sample(hi * (1 + 1e-15), lo * (1 - 1e-15)).data, tree.increment(hi, lo).map((w) => w / Math.sqrt(hi - lo)), 1e-14, 0);
        expectTypedError("σ above σ_max", () => sampler.sample(hi * 1.01, lo), ConfigError);
        expectTypedError("σ below σ_min", () => sampler.sample(hi, lo * 0.99), ConfigError);
        expectTypedError("an empty interval", () => sampler.sample(sigma, sigma), ConfigError);
      })),
  },

  // ─── SAMP-DPMSOLVER-SDE ─────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-DPMSOLVER-SDE",
    name: "matches-diffusers-golden-vectors",
    scope: "spec",
    kind: "example",
    run: async () => {
      for (const f of ["loops/dpmsolver_sde/N1000-scaled_linear-linspace-eps-seed0-n10.json", "loops/dpmsolver_sde/N1000-scaled_linear-karras-v-seed42-n7.json"]) await expectFixturePasses(fixture(f));
    },
  },
  {
    clause: "SAMP-DPMSOLVER-SDE",
    name: "schedule-interleaves-the-lambda-midpoints",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.boolean(), async (n, karras) => {
        const s = await createScheduler("DPMSolverSDEScheduler", { betaSchedule: "scaled_linear", useKarrasSigmas: karras }, referenceBackend);
        s.setTimesteps(n);
        const [ts, sig] = [s.timesteps, s.sigmas as Float64Array];
        expect(ts.length === 2 * n - 1 && sig.length === 2 * n, `n = ${n}: ${ts.length} timesteps and ${sig.length} σ, expected ${2 * n - 1} and ${2 * n}`);
        expect(sig[sig.length - 1] === 0, "the last σ is 0");
        for (let k = 1; k < n; k++) {
          expect(sig[2 * k - 1] === sig[2 * k], `σ[${2 * k - 1}] = σ[${2 * k}] (each interior σ twice)`);
          expect(ts[2 * k - 2] > ts[2 * k - 1] && ts[2 * k - 1] > ts[2 * k], `the midpoint timestep ${ts[2 * k - 1]} lies strictly between ${ts[2 * k - 2]} and ${ts[2 * k]}`);
          const [a, b] = [sig[2 * k - 2], sig[2 * k]];
          expectAllClose("σ_s = √(σ σ')", [midpointSigma(a, b)], [Math.sqrt(a * b)], 1e-13, 0);
        }
      })),
  },
  {
    clause: "SAMP-DPMSOLVER-SDE",
    name: "brownian-noise-is-seeded-and-recorded-noise-replays-it",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 2, max: 8 }), async (seed, n) => {
        const a = await runScheduler(seed, n);
        const b = await runScheduler(seed, n);
        expectAllClose("the same noiseSamplerSeed twice", a, b, 0, 0);
        const c = await runScheduler(seed + 1, n);
        expect(a.some((v, i) => v !== c[i]), "a different noiseSamplerSeed changes the sample");
        // Recorded noise overrides the tree: with the same recorded draws the seed no longer matters.
        const r1 = await runScheduler(seed, n, new GaussianStream(`rec/${seed}`));
        const r2 = await runScheduler(seed + 1, n, new GaussianStream(`rec/${seed}`));
        expectAllClose("recorded noise, two seeds", r1, r2, 0, 0);
      }), Math.min(ctx.numRuns, 20)),
  },

  // ─── SAMP-KDIFF-DPMPP-SDE ───────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-KDIFF-DPMPP-SDE",
    name: "matches-k-diffusion-golden-vectors",
    scope: "spec",
    kind: "example",
    run: async () => {
      for (const f of ["kdiffusion/sample_dpmpp_sde/n10-sd.json", "kdiffusion/sample_dpmpp_sde/n7-edm-eta0.json"]) await expectFixturePasses(fixture(f));
    },
  },
  {
    clause: "SAMP-KDIFF-DPMPP-SDE",
    name: "two-draws-per-step-and-eta-zero-ignores-them",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.boolean(), seedArb, async (n, endAtZero, seed) => {
        const sigmas = Float64Array.from({ length: n + 1 }, (_, i) => (i === n && endAtZero ? 0 : 10 * 0.5 ** i));
        const x = new GaussianStream(seed).randn([2, 3]);
        const D = async (v: Tensor, s: number): Promise<Tensor> => ({ shape: v.shape, data: v.data.map((u) => Math.tanh(u) / (1 + s * s)) });
        const draws: number[] = [];
        const run = (eta: number, noiseSeed: string) => sampleDpmppSde(referenceBackend, D, x, sigmas, { eta, noise: hostNoise(referenceBackend, new GaussianStream(noiseSeed)), onNoise: (i) => draws.push(i) });
        const a = await run(0, "a");
        const steps = Array.from({ length: n }, (_, i) => i).filter((i) => sigmas[i + 1] > 0);
        expectAllClose("noise draws (iteration of each)", draws, steps.flatMap((i) => [i, i]), 0, 0);
        const b = await run(0, "b");
        expectAllClose("η = 0 with two different noises", a.data, b.data, 0, 0);
        if (steps.length > 0) {
          const [c, d] = [await run(1, "a"), await run(1, "b")];
          expect(c.data.some((v, i) => v !== d.data[i]), "η = 1: the noise changes the sample");
        }
      })),
  },
  {
    clause: "SAMP-KDIFF-DPMPP-SDE",
    name: "bad-options-are-config-errors",
    scope: "spec",
    kind: "example",
    run: async () => {
      const x = new GaussianStream(1).randn([1, 2]);
      const D = async (v: Tensor): Promise<Tensor> => v;
      for (const [what, sigmas, opts] of [
        ["r = 0", [2, 1, 0], { r: 0 }],
        ["η < 0", [2, 1, 0], { eta: -1 }],
        ["an unknown option", [2, 1, 0], { churn: 1 }],
        ["increasing σ", [1, 2, 0], {}],
        ["one σ", [1], {}],
      ] as const) {
        let thrown: unknown;
        try { await sampleDpmppSde(referenceBackend, D, x, Float64Array.from(sigmas), opts as object); } catch (e) { thrown = e; }
        expect(thrown instanceof ConfigError, `${what}: expected a ConfigError, got ${thrown === undefined ? "no error" : String(thrown)}`);
      }
    },
  },
]);
