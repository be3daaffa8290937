/**
 * SAMP-SIGMAS, SAMP-SIGMAS-INTERP, SAMP-SIGMAS-KARRAS, SAMP-SIGMAS-EXPONENTIAL, SAMP-SIGMAS-BETA,
 * SAMP-SCALE-INPUT, SAMP-EULER, SAMP-EULER-ANCESTRAL, SAMP-HEUN, SAMP-LMS
 * (spec/07-samplers-euler-heun-lms.md).
 *
 * "spec" properties check the reference mathematics on the Float64 reference backend (σ schedules, the
 * LMS weights, convergence orders against the exact ODE solution for Gaussian data). "backend" properties
 * run the scheduler code on the backend under test: scaleModelInput, the single-step-to-x̂₀ picture with
 * the exact oracle, evaluation counts, reproducibility and finiteness for every option; they compare with
 * host Float64 values within conformance/tolerances.ts. Random tensors come from a GaussianStream seeded
 * by a fast-check integer, so every counterexample replays.
 */
import fc from "fast-check";
import type { Backend, BTensor, Denoiser, PredictionType } from "../../adapters/contract.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { defineProperties, type PropertyContext } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose, statisticalTest } from "../check.ts";
import { ksTestNormal } from "../../reference/stats.ts";
import { tolerance } from "../tolerances.ts";
import { ConfigError, StateError } from "../../reference/errors.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { epsilonStar, x0Star } from "../../reference/oracle.ts";
import { targetFor } from "../../reference/param.ts";
import { makeSchedule } from "../../reference/schedule.ts";
import { size, type Shape, type Tensor } from "../../reference/tensor.ts";
import { backendNoise, hostNoise, runPipeline, type NoiseProvider, type Scheduler } from "../../reference/samplers/scheduler.ts";
import { createScheduler } from "../../reference/samplers/index.ts";
import {
  betaCdf,
  betaPpf,
  convertSigmas,
  makeSigmaSchedule,
  scaleInputFactor,
  sigmaAtTimestep,
  sigmaToTimestep,
  timestepForSigma,
  trainSigmas,
  type InterpolationType,
} from "../../reference/samplers/sigmas.ts";
import { EulerDiscreteScheduler } from "../../reference/samplers/euler.ts";
import { EulerAncestralDiscreteScheduler } from "../../reference/samplers/euler.ts";
import { getAncestralStep, linearMultistepCoeff } from "../../reference/samplers/kdiffusion.ts";
import { loadFixture, numbers } from "../fixtures/format.ts";
import { fixtureConfig } from "../fixtures/verify.ts";

// ─── generators ─────────────────────────────────────────────────────────────────────────────────

type ClassName = "EulerDiscreteScheduler" | "EulerAncestralDiscreteScheduler" | "HeunDiscreteScheduler" | "LMSDiscreteScheduler";
const PREDICTIONS: readonly PredictionType[] = ["epsilon", "sample", "v_prediction"];
const RAMPS = ["none", "karras", "exponential", "beta"] as const;
/** Small tensors: [B, C, H, W] = [2, 1, 2, 2]. */
const SHAPE: Shape = [2, 1, 2, 2];
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

const rampFlags = (r: (typeof RAMPS)[number]): Record<string, boolean> => ({ useKarrasSigmas: r === "karras", useExponentialSigmas: r === "exponential", useBetaSigmas: r === "beta" });

/** A random valid config of `cls` (every option its diffusers class has, both compat modes) and a step count n. */
function configArb(cls: ClassName): fc.Arbitrary<{ config: Record<string, unknown>; n: number }> {
  const common = fc.record({
    numTrainTimesteps: fc.oneof(fc.constant(1000), fc.integer({ min: 20, max: 1200 })),
    betaSchedule: fc.constantFrom("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", ...(cls === "HeunDiscreteScheduler" ? ["exp"] : [])),
    predictionType: fc.constantFrom(...PREDICTIONS),
    timestepSpacing: fc.constantFrom("linspace", "leading", "trailing"),
    stepsOffset: fc.constantFrom(0, 0, 1),
    compat: fc.constantFrom("math", "diffusers"),
    ramp: fc.constantFrom(...RAMPS),
    interpolationType: fc.constantFrom<InterpolationType>("linear", "log_linear"),
    finalSigmasType: fc.constantFrom("zero", "sigma_min"),
    timestepType: fc.constantFrom("discrete", "continuous"),
    rescaleBetasZeroSnr: fc.boolean(),
    clipSample: fc.boolean(),
    n: fc.integer({ min: 1, max: 25 }),
  });
  return common.map((c) => {
    const config: Record<string, unknown> = { numTrainTimesteps: c.numTrainTimesteps, betaSchedule: c.betaSchedule, predictionType: c.predictionType, timestepSpacing: c.timestepSpacing, stepsOffset: c.stepsOffset, compat: c.compat };
    if (c.compat === "diffusers" && c.betaSchedule === "sigmoid") config.betaSchedule = "linear";
    if (cls === "EulerAncestralDiscreteScheduler" && c.compat === "diffusers" && c.predictionType === "sample") config.predictionType = "epsilon";
    if (cls !== "EulerAncestralDiscreteScheduler") Object.assign(config, rampFlags(c.ramp));
    if (cls === "EulerDiscreteScheduler") Object.assign(config, { interpolationType: c.interpolationType, finalSigmasType: c.finalSigmasType, timestepType: c.timestepType });
    if (cls === "EulerDiscreteScheduler" || cls === "EulerAncestralDiscreteScheduler") config.rescaleBetasZeroSnr = c.rescaleBetasZeroSnr;
    if (cls === "HeunDiscreteScheduler") config.clipSample = c.clipSample;
    return { config, n: Math.max(1, Math.min(c.n, c.numTrainTimesteps - 1)) };
  });
}

// ─── helpers ────────────────────────────────────────────────────────────────────────────────────

const ref = referenceBackend;
const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** A host model (bounded, smooth, depends on t) evaluated on the backend's values; counts its calls. */
function hostModel<T extends BTensor>(b: Backend<T>, predictionType: PredictionType, f: (x: Float64Array, t: number) => Float64Array): Denoiser<T> & { calls: number } {
  const m = {
    predictionType,
    calls: 0,
    async evaluate(x: T, t: number): Promise<T> {
      m.calls++;
      return b.fromHost(f(await b.toHost(x), t), x.shape);
    },
  };
  return m;
}

/** A bounded model with large outputs (scale up to 100) that still varies with x and t. */
const wildModel = <T extends BTensor>(b: Backend<T>, p: PredictionType, scale: number) =>
  hostModel(b, p, (x, t) => x.map((v, i) => scale * Math.tanh(v + 0.3 * i) + Math.sin(t / 37)));

/** σ of the schedule at timestep t (the first index of t: Heun's repeated timesteps share their σ). */
const sigmaOf = (s: Scheduler<BTensor>, t: number): number => (s.sigmas as Float64Array)[s.timesteps.indexOf(t)];

/**
 * ORACLE: the exact model for Gaussian-mixture data in the scheduler's parameterisation. The model sees
 * xₜ = x̃/√(σ² + 1), i.e. the VP view with α = 1/√(1 + σ²), σ_vp = σα, and returns ε*, x̂₀* or v*.
 */
function oracleModel<T extends BTensor>(b: Backend<T>, data: GaussianMixture, s: Scheduler<T>, p: PredictionType): Denoiser<T> & { calls: number } {
  const m = {
    predictionType: p,
    calls: 0,
    async evaluate(x: T, t: number): Promise<T> {
      m.calls++;
      const sigma = sigmaOf(s as Scheduler<BTensor>, t);
      const alpha = 1 / Math.sqrt(1 + sigma * sigma);
      const xt: Tensor = { shape: x.shape, data: await b.toHost(x) };
      const eps = epsilonStar(data, xt, alpha, sigma * alpha);
      const x0 = x0Star(data, xt, alpha, sigma * alpha);
      return b.fromHost(targetFor(p, x0, eps, alpha, sigma * alpha).data, x.shape);
    },
  };
  return m;
}

const randnTensor = <T extends BTensor>(b: Backend<T>, g: GaussianStream, shape: Shape, scale = 1): Promise<T> | T => b.fromHost(g.normals(size(shape)).map((v) => v * scale), shape);

async function make<T extends BTensor>(cls: ClassName, config: Record<string, unknown>, b: Backend<T>, n: number): Promise<Scheduler<T>> {
  const s = await createScheduler(cls, config, b);
  s.setTimesteps(n);
  return s;
}

/** Runs the pipeline and returns every state (after each step) on the host. */
async function trajectory<T extends BTensor>(s: Scheduler<T>, model: Denoiser<T>, x: T, noise?: NoiseProvider<T>): Promise<Float64Array[]> {
  const b = s.backend;
  const states: Float64Array[] = [];
  await runPipeline(s, model, x, { noise, onStep: async (_i, _t, xi) => { states.push(await b.toHost(xi)); } });
  return states;
}

/** A Gaussian mixture with two components in dimension D (item size of SHAPE) from a seed. */
function mixtureFrom(seed: number, dim = 4): GaussianMixture {
  const g = new GaussianStream(`mixture/${seed}`);
  return new GaussianMixture([0, 1].map((k) => ({ mean: g.normals(dim).map((v) => v * 0.8), std: 0.1 + 0.4 * g.uniform(), weight: 0.3 + k * 0.4 })));
}

/** SAMP-SIGMAS: the classes' config used by the convergence properties (Stable Diffusion's schedule). */
const SD = { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear" };

/**
 * The exact probability-flow ODE solution for data 𝒩(μ, s²I): x̃(σ) − μ = (x̃(σ₀) − μ)·√(s² + σ²)/√(s² + σ₀²).
 * Returns the error of `cls` at the state before its last step (at σ_{n−1}), run with the exact model.
 */
async function odeError(cls: ClassName, n: number, mu: Float64Array, s: number, x0: Float64Array): Promise<number> {
  const data = new GaussianMixture([{ mean: mu, std: s, weight: 1 }]);
  const sch = await make(cls, { ...SD }, ref, n);
  const sig = sch.sigmas as Float64Array;
  const model = oracleModel(ref, data, sch, "epsilon");
  const shape = [1, mu.length];
  const states = await trajectory(sch, model, ref.fromHost(x0, shape));
  const before = states[states.length - 2];
  const sigmaEnd = sig[sig.length - 2];
  const k = Math.sqrt(s * s + sigmaEnd * sigmaEnd) / Math.sqrt(s * s + sig[0] * sig[0]);
  let err = 0;
  for (let i = 0; i < mu.length; i++) err = Math.max(err, Math.abs(before[i] - (mu[i] + (x0[i] - mu[i]) * k)));
  return err;
}

/** The exact integral of the Lagrange basis polynomial ℓⱼ over the nodes σᵢ, σᵢ₋₁, …, from σᵢ to σᵢ₊₁ (expanded in monomials around σᵢ). */
function lagrangeIntegralClosedForm(order: number, s: ArrayLike<number>, i: number, j: number): number {
  const c = s[i];
  let poly = [1]; // coefficients of u⁰, u¹, … with u = τ − c
  let denom = 1;
  for (let m = 0; m < order; m++) {
    if (m === j) continue;
    const r = s[i - m] - c;
    const next = new Array(poly.length + 1).fill(0);
    poly.forEach((a, k) => { next[k + 1] += a; next[k] -= a * r; });
    poly = next;
    denom *= s[i - j] - s[i - m];
  }
  const B = s[i + 1] - c;
  return poly.reduce((acc, a, k) => acc + (a * B ** (k + 1)) / (k + 1), 0) / denom;
}

/** Float64 of the backend vs the reference: the sampler row of the tolerance table. */
const samplerTol = (b: Backend<any>, steps: number, scale: number) => tolerance(b.dtype, "sampler", { steps, scale });

// ─── properties ─────────────────────────────────────────────────────────────────────────────────

const CLASSES: readonly ClassName[] = ["EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler", "LMSDiscreteScheduler"];
const CLAUSE_OF: Record<ClassName, string> = {
  EulerDiscreteScheduler: "SAMP-EULER",
  EulerAncestralDiscreteScheduler: "SAMP-EULER-ANCESTRAL",
  HeunDiscreteScheduler: "SAMP-HEUN",
  LMSDiscreteScheduler: "SAMP-LMS",
};

/** SAMP-FINITE-style: finite inputs and finite model outputs give finite samples at every step, for every option. */
const finiteProperty = (cls: ClassName) => ({
  clause: CLAUSE_OF[cls],
  name: "finite-for-every-option",
  scope: "backend" as const,
  kind: "property" as const,
  needs: cls === "HeunDiscreteScheduler" ? (["clamp"] as const) : undefined,
  async run(ctx: PropertyContext) {
    await checkProperty(ctx, fc.asyncProperty(configArb(cls), seedArb, fc.constantFrom(1, 10, 100), async ({ config, n }, seed, scale) => {
      const b = ctx.backend;
      const s = await make(cls, config, b, n);
      const g = new GaussianStream(seed);
      const x = await randnTensor(b, g, SHAPE, s.initNoiseSigma);
      const states = await trajectory(s, wildModel(b, config.predictionType as PredictionType, scale), x, hostNoise(b, g));
      states.forEach((st, i) => expect(st.every(Number.isFinite), `${cls} ${JSON.stringify(config)} n = ${n}: non-finite sample after step ${i} (t = ${s.timesteps[i]})`));
    }), Math.min(ctx.numRuns, 15));
  },
});

/** Multistep/two-stage state resets on setTimesteps: a second run reproduces the first bit for bit. */
const rerunProperty = (cls: ClassName) => ({
  clause: CLAUSE_OF[cls],
  name: "rerun-after-set-timesteps-reproduces",
  scope: "backend" as const,
  kind: "property" as const,
  needs: cls === "HeunDiscreteScheduler" ? (["clamp"] as const) : undefined,
  async run(ctx: PropertyContext) {
    await checkProperty(ctx, fc.asyncProperty(configArb(cls), seedArb, async ({ config, n }, seed) => {
      const b = ctx.backend;
      const s = await make(cls, config, b, n);
      const x = await randnTensor(b, new GaussianStream(seed), SHAPE, s.initNoiseSigma);
      const run = async () => {
        s.setTimesteps(n);
        const states = await trajectory(s, wildModel(b, config.predictionType as PredictionType, 3), x, hostNoise(b, new GaussianStream(`${seed}/noise`)));
        return states[states.length - 1];
      };
      const first = await run();
      const second = await run();
      expect(first.every((v, i) => Object.is(v, second[i]) || v === second[i]), `${cls}: the second run after setTimesteps(${n}) differs from the first`);
    }), Math.min(ctx.numRuns, 10));
  },
});

export const properties = defineProperties([
  // ── SAMP-SIGMAS ──
  {
    clause: "SAMP-SIGMAS",
    name: "schedule-shape",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(fc.constantFrom(...CLASSES), configArb("EulerDiscreteScheduler"), async (cls, { config, n }) => {
        const c = { ...config };
        if (cls !== "EulerDiscreteScheduler") for (const k of ["interpolationType", "finalSigmasType", "timestepType"]) delete c[k];
        if (cls === "HeunDiscreteScheduler" || cls === "LMSDiscreteScheduler") delete c.rescaleBetasZeroSnr;
        if (cls === "EulerAncestralDiscreteScheduler") { for (const k of ["useKarrasSigmas", "useExponentialSigmas", "useBetaSigmas"]) delete c[k]; if (c.compat === "diffusers" && c.predictionType === "sample") c.predictionType = "epsilon"; }
        const s = await make(cls, c, ref, n);
        const sig = s.sigmas as Float64Array;
        const quirk = c.compat === "diffusers" && c.interpolationType === "log_linear" && !c.useKarrasSigmas && !c.useExponentialSigmas && !c.useBetaSigmas;
        const steps = cls === "HeunDiscreteScheduler" ? 2 * n - 1 : n;
        const trailingExtra = c.compat === "diffusers" && c.timestepSpacing === "trailing" && s.timesteps.length === steps + (cls === "HeunDiscreteScheduler" ? 2 : 1);
        // diffusers' log_linear quirk makes n + 1 σ; with continuous v-prediction timesteps it derives a timestep from each of them.
        const quirkExtra = quirk && c.timestepType === "continuous" && c.predictionType === "v_prediction" && s.timesteps.length === steps + 1;
        if (!trailingExtra && !quirkExtra) expect(s.timesteps.length === steps, `${cls}: ${s.timesteps.length} timesteps for n = ${n}, expected ${steps}`);
        if (!quirk && cls !== "HeunDiscreteScheduler") expect(sig.length === s.timesteps.length + 1, `${cls}: ${sig.length} σ for ${s.timesteps.length} timesteps`);
        for (let i = 0; i < sig.length; i++) expect(Number.isFinite(sig[i]) && sig[i] >= 0, `σ[${i}] = ${sig[i]}`);
        for (let i = 0; i + 1 < sig.length - 1; i++) expect(sig[i] >= sig[i + 1] && sig[i] > 0, `σ not decreasing at ${i}: ${sig[i]}, ${sig[i + 1]}`);
        const last = sig[sig.length - 1];
        expect(c.finalSigmasType === "sigma_min" && cls === "EulerDiscreteScheduler" ? last > 0 : last === 0, `final σ ${last} does not follow finalSigmasType ${String(c.finalSigmasType)}`);
        expect(Number.isFinite(s.initNoiseSigma) && s.initNoiseSigma >= sig[0], `initNoiseSigma ${s.initNoiseSigma} < σ₀ ${sig[0]}`);
      }), Math.min(ctx.numRuns, 20));
    },
  },
  {
    clause: "SAMP-SIGMAS",
    name: "init-noise-sigma-is-prior-std",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(fc.constantFrom(...CLASSES), fc.constantFrom("linspace", "leading", "trailing"), fc.integer({ min: 1, max: 50 }), async (cls, spacing, n) => {
        const s = await make(cls, { timestepSpacing: spacing }, ref, n);
        const sigmaMax = Math.max(...(s.sigmas as Float64Array));
        expectClose(`${cls} initNoiseSigma (math)`, s.initNoiseSigma, Math.sqrt(sigmaMax ** 2 + 1), 1e-15);
      }));
    },
  },
  {
    clause: "SAMP-SIGMAS",
    name: "diffusers-euler-set-timesteps-fixture",
    scope: "spec",
    kind: "example",
    async run() {
      for (const id of ["karras-linspace-n10", "leading-off1-n7", "linspace-off0-n10", "trailing-off0-n13"]) {
        const f = loadFixture(new URL(`../../fixtures/diffusers/timesteps/euler/${id}.json`, import.meta.url).pathname);
        const s = await make("EulerDiscreteScheduler", fixtureConfig(f), ref, f.num_inference_steps as number);
        // compat "diffusers" recomputes diffusers' float32 arithmetic: σ equal to within 2 float32 ulps (libm's log/pow may
        // differ by one ulp). The σ → t inversion divides by Δlog σ between train steps (≈ 0.01), so one ulp of a float32
        // log σ moves a Karras timestep by up to ~3e-5: timesteps within atol 1e-4 (verify.ts's bound for float timesteps).
        expectAllClose(`${id} timesteps (float32)`, s.timesteps, numbers(f.timesteps), 2 ** -22, 1e-4);
        expectAllClose(`${id} sigmas (float32)`, s.sigmas as Float64Array, numbers(f.sigmas), 2 ** -22, 0);
      }
    },
  },
  // ── SAMP-SIGMAS-INTERP ──
  {
    clause: "SAMP-SIGMAS-INTERP",
    name: "timestep-for-sigma-inverts-sigma-at-timestep",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.property(fc.constantFrom("linear", "scaled_linear", "squaredcos_cap_v2"), fc.constantFrom<InterpolationType>("linear", "log_linear"), fc.double({ min: 0, max: 1, noNaN: true }), (schedule, interp, u) => {
        const train = trainSigmas(makeSchedule({ betaSchedule: schedule as "linear" }).alphasCumprod);
        const sigma = Math.exp(Math.log(train[0]) + u * (Math.log(train[train.length - 1]) - Math.log(train[0])));
        const t = timestepForSigma(sigma, train, interp);
        expect(t >= 0 && t <= train.length - 1, `t = ${t} outside [0, N − 1]`);
        expectClose(`σ(t(σ)) (${interp})`, sigmaAtTimestep(t, train, interp), sigma, 1e-11);
        if (interp === "log_linear") expectClose("sigmaToTimestep = timestepForSigma(log_linear)", sigmaToTimestep(sigma, train.map(Math.log)), t, 1e-12, 1e-12);
      }));
    },
  },
  {
    clause: "SAMP-SIGMAS-INTERP",
    name: "ramp-timesteps-carry-their-sigma",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.property(fc.constantFrom("karras", "exponential", "beta") as fc.Arbitrary<"karras" | "exponential" | "beta">, fc.constantFrom<InterpolationType>("linear", "log_linear"), fc.constantFrom("linspace", "leading", "trailing") as fc.Arbitrary<"linspace">, fc.integer({ min: 1, max: 40 }), (ramp, interp, spacing, n) => {
        const ac = makeSchedule(SD as { betaSchedule: "scaled_linear" }).alphasCumprod;
        const s = makeSigmaSchedule(n, ac, { numTrainTimesteps: 1000, timestepSpacing: spacing, stepsOffset: 0, compat: "math", ramp, interpolationType: interp });
        const train = trainSigmas(ac);
        s.timesteps.forEach((t, i) => expectClose(`σ(t${i}) (${ramp}, ${interp})`, sigmaAtTimestep(t, train, interp), s.sigmas[i], 1e-10));
      }));
    },
  },
  // ── SAMP-SIGMAS-KARRAS / EXPONENTIAL / BETA ──
  {
    clause: "SAMP-SIGMAS-KARRAS",
    name: "endpoints-and-rho-spacing",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.property(fc.integer({ min: 2, max: 200 }), fc.double({ min: 1e-3, max: 1, noNaN: true }), fc.double({ min: 1.5, max: 200, noNaN: true }), (n, lo, hi) => {
        const s = convertSigmas("karras", [hi, lo], n);
        expect(s.length === n, `${s.length} σ for n = ${n}`);
        expectClose("σ₀ = σ_max", s[0], hi, 1e-12);
        expectClose("σ_{n−1} = σ_min", s[n - 1], lo, 1e-12);
        const r = Array.from(s, (v) => v ** (1 / 7));
        for (let i = 1; i < n; i++) {
          expect(s[i] < s[i - 1], `σ not decreasing at ${i}`);
          expectClose(`σ^{1/ρ} evenly spaced at ${i}`, r[i] - r[i - 1], (r[n - 1] - r[0]) / (n - 1), 1e-9, 1e-13);
        }
      }));
    },
  },
  {
    clause: "SAMP-SIGMAS-KARRAS",
    name: "config-sigma-min-max-override",
    scope: "spec",
    kind: "example",
    run() {
      const ac = makeSchedule(SD as { betaSchedule: "scaled_linear" }).alphasCumprod;
      const s = makeSigmaSchedule(12, ac, { numTrainTimesteps: 1000, timestepSpacing: "linspace", stepsOffset: 0, compat: "math", ramp: "karras", sigmaMin: 0.1, sigmaMax: 10 });
      expectClose("σ₀ = sigmaMax", s.sigmas[0], 10, 1e-12);
      expectClose("σ₁₁ = sigmaMin", s.sigmas[11], 0.1, 1e-12);
      const sch = new EulerDiscreteScheduler({ ...SD, useKarrasSigmas: true, sigmaMin: 0.1, sigmaMax: 10 }, ref);
      sch.setTimesteps(12);
      expectAllClose("EulerDiscreteScheduler σ", (sch.sigmas as Float64Array).subarray(0, 12), s.sigmas.subarray(0, 12), 1e-15);
      let threw = false;
      try { new EulerDiscreteScheduler({ useKarrasSigmas: true, useExponentialSigmas: true }, ref); } catch (e) { threw = e instanceof ConfigError; }
      expect(threw, "two σ ramps at once must be a ConfigError");
    },
  },
  {
    clause: "SAMP-SIGMAS-EXPONENTIAL",
    name: "log-sigma-evenly-spaced",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.property(fc.integer({ min: 2, max: 200 }), fc.double({ min: 1e-3, max: 1, noNaN: true }), fc.double({ min: 1.5, max: 200, noNaN: true }), (n, lo, hi) => {
        const s = convertSigmas("exponential", [hi, lo], n);
        expectClose("σ₀", s[0], hi, 1e-12);
        expectClose("σ_{n−1}", s[n - 1], lo, 1e-12);
        for (let i = 1; i < n; i++) expectClose(`log σ step ${i}`, Math.log(s[i]) - Math.log(s[i - 1]), (Math.log(lo) - Math.log(hi)) / (n - 1), 1e-9, 1e-13);
      }));
    },
  },
  {
    clause: "SAMP-SIGMAS-BETA",
    name: "ppf-inverts-cdf",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0.3, max: 5, noNaN: true }), fc.double({ min: 0.3, max: 5, noNaN: true }), (p, a, b) => {
        const x = betaPpf(p, a, b);
        expect(x >= 0 && x <= 1, `ppf ${x} outside [0, 1]`);
        expectClose(`I_{ppf(p)}(${a}, ${b}) = p`, betaCdf(x, a, b), p, 1e-10, 1e-12);
        if (a === b) expectClose("symmetry ppf(1 − p) = 1 − ppf(p)", betaPpf(1 - p, a, b), 1 - x, 1e-9, 1e-12);
      }));
    },
  },
  {
    clause: "SAMP-SIGMAS-BETA",
    name: "matches-scipy",
    scope: "spec",
    kind: "example",
    run() {
      // scipy 1.10.1: scipy.stats.beta.ppf([0.1, 0.5, 0.9, 0.999, 1e-6], 0.6, 0.6)
      const expected = [0.039584405588780914, 0.5, 0.9604155944112191, 0.9999814412614826, 1.855882462405306e-10];
      [0.1, 0.5, 0.9, 0.999, 1e-6].forEach((p, i) => expectClose(`ppf(${p})`, betaPpf(p, 0.6, 0.6), expected[i], 1e-12));
      const s = convertSigmas("beta", [14.614641229333639, 0.029167158151720367], 10);
      // scipy: σ_min + ppf(1 − linspace(0, 1, 10))·(σ_max − σ_min) for SD's Float64 σ range
      const sp = [14.614641229333639, 13.92778474550725, 12.490980202241884, 10.597607817837726, 8.44243669367562, 6.2013716938097385, 4.046200569647634, 2.1528281852434765, 0.7160236419781089, 0.029167158151720367];
      expectAllClose("beta σ", s, sp, 1e-12);
    },
  },
  // ── SAMP-SCALE-INPUT ──
  {
    clause: "SAMP-SCALE-INPUT",
    name: "divides-by-sqrt-sigma2-plus-1",
    scope: "backend",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(fc.constantFrom(...CLASSES), fc.integer({ min: 1, max: 30 }), seedArb, async (cls, n, seed) => {
        const b = ctx.backend;
        const s = await make(cls, { ...SD }, b, n);
        const g = new GaussianStream(seed);
        const i = g.int(s.timesteps.length);
        const host = g.normals(size(SHAPE)).map((v) => v * 10);
        const got = await b.toHost(await s.scaleModelInput(await b.fromHost(host, SHAPE), s.timesteps[i]));
        const sigma = (s.sigmas as Float64Array)[i];
        const want = host.map((v) => v / Math.sqrt(sigma * sigma + 1));
        expectAllClose(`${cls} scaleModelInput at step ${i} (σ = ${sigma})`, got, want, 0, tolerance(b.dtype, "combine", { terms: 1, magnitude: maxAbs(host) * scaleInputFactor(sigma), coeffAbsSum: 1 }).atol * 2 + 1e-300);
      }));
    },
  },
  // ── SAMP-EULER ──
  {
    clause: "SAMP-EULER",
    name: "last-step-to-zero-returns-posterior-mean",
    scope: "backend",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 12 }), fc.constantFrom(...PREDICTIONS), fc.constantFrom(...RAMPS), seedArb, async (n, p, ramp, seed) => {
        const b = ctx.backend;
        const data = mixtureFrom(seed);
        const s = await make("EulerDiscreteScheduler", { ...SD, predictionType: p, ...rampFlags(ramp) }, b, n);
        const sig = s.sigmas as Float64Array;
        const x = await randnTensor(b, new GaussianStream(seed), [3, 4], s.initNoiseSigma);
        const states = await trajectory(s, oracleModel(b, data, s, p), x);
        const before: Tensor = { shape: [3, 4], data: n > 1 ? states[n - 2] : await b.toHost(x) };
        const want = x0Star(data, before, 1, sig[n - 1]).data;
        expectAllClose(`Euler's step σ = ${sig[n - 1]} → 0 vs E[x₀ | x̃] (${p})`, states[n - 1], want, 0, samplerTol(b, n, maxAbs(before.data)).atol + 1e-9 * maxAbs(want));
      }));
    },
  },
  {
    clause: "SAMP-EULER",
    name: "first-order-convergence",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(seedArb, async (seed) => {
        const g = new GaussianStream(seed);
        const mu = g.normals(3);
        const sd = 0.3 + 0.7 * g.uniform();
        const x0 = g.normals(3).map((v, i) => mu[i] + 14.6 * v);
        const e1 = await odeError("EulerDiscreteScheduler", 20, mu, sd, x0);
        const e2 = await odeError("EulerDiscreteScheduler", 40, mu, sd, x0);
        expect(e2 < e1 && e1 / e2 > 1.6 && e1 / e2 < 2.6, `Euler error ratio e(20)/e(40) = ${e1 / e2} (expected ≈ 2 for a first-order method; e = ${e1}, ${e2})`);
      }), 3);
    },
  },
  {
    clause: "SAMP-EULER",
    name: "churn-final-step-is-clean",
    scope: "backend",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.double({ min: 0.1, max: 80, noNaN: true }), fc.constantFrom(...PREDICTIONS), seedArb, async (n, sChurn, p, seed) => {
        const b = ctx.backend;
        const data = mixtureFrom(seed);
        const s = (await make("EulerDiscreteScheduler", { ...SD, predictionType: p }, b, n)) as EulerDiscreteScheduler<BTensor>;
        const sig = s.sigmas as Float64Array;
        const g = new GaussianStream(seed);
        let x = await randnTensor(b, g, [2, 4], s.initNoiseSigma);
        const model = oracleModel(b, data, s, p);
        const noise = hostNoise(b, g);
        let before = x;
        for (const t of s.timesteps) {
          before = x;
          x = (await s.step(await model.evaluate(await s.scaleModelInput(x, t), t), t, x, { sChurn, noise })).prevSample;
        }
        const beforeHost = await b.toHost(before);
        const want = x0Star(data, { shape: [2, 4], data: beforeHost }, 1, sig[n - 1]).data;
        expectAllClose(`churned Euler (S_churn = ${sChurn}) last step σ → 0 vs D(x̃, σ)`, await b.toHost(x), want, 0, samplerTol(b, n, maxAbs(beforeHost)).atol + 1e-9 * maxAbs(want));
      }), Math.min(ctx.numRuns, 15));
    },
  },
  finiteProperty("EulerDiscreteScheduler"),
  rerunProperty("EulerDiscreteScheduler"),
  // ── SAMP-EULER-ANCESTRAL ──
  {
    clause: "SAMP-EULER-ANCESTRAL",
    name: "variance-split",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.property(fc.double({ min: 1e-4, max: 1e3, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (from, r) => {
        const to = r < 0.1 ? 0 : from * r;
        const { sigmaUp, sigmaDown } = getAncestralStep(from, to);
        expectClose("σ_up² + σ_down² = σ_next²", sigmaUp ** 2 + sigmaDown ** 2, to ** 2, 1e-14, 1e-300);
        expect(sigmaUp >= 0 && sigmaUp <= to && sigmaDown >= 0 && sigmaDown <= to, `σ_up ${sigmaUp}, σ_down ${sigmaDown} outside [0, σ_next = ${to}]`);
        if (to === 0) expect(sigmaUp === 0 && sigmaDown === 0, `σ_up = ${sigmaUp} on a step to σ = 0`);
      }));
    },
  },
  {
    clause: "SAMP-EULER-ANCESTRAL",
    name: "final-step-adds-no-noise",
    scope: "backend",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 10 }), fc.constantFrom(...PREDICTIONS), fc.constantFrom("math", "diffusers"), seedArb, async (n, p, compat, seed) => {
        if (compat === "diffusers" && p === "sample") return;
        const b = ctx.backend;
        const data = mixtureFrom(seed);
        const s = await make("EulerAncestralDiscreteScheduler", { ...SD, predictionType: p, compat }, b, n);
        const sig = s.sigmas as Float64Array;
        const g = new GaussianStream(seed);
        const states = await trajectory(s, oracleModel(b, data, s, p), await randnTensor(b, g, [2, 4], s.initNoiseSigma), hostNoise(b, g));
        const { sigmaUp } = getAncestralStep(sig[n - 1], sig[n]);
        expect(sigmaUp === 0, `σ_up = ${sigmaUp} on the final step`);
        if (n > 1) {
          const before = states[n - 2];
          const want = x0Star(data, { shape: [2, 4], data: before }, 1, sig[n - 1]).data;
          expectAllClose("ancestral last step vs E[x₀ | x̃]", states[n - 1], want, 0, samplerTol(b, n, maxAbs(before)).atol + 1e-9 * maxAbs(want));
        }
      }));
    },
  },
  {
    clause: "SAMP-EULER-ANCESTRAL",
    name: "step-noise-has-std-sigma-up",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** H₀: (x̃' − mean)/σ_up ~ 𝒩(0, 1) elementwise, for one interior step with 4096 draws; KS test, α = 1e-3 (two samples must both reject). */
    async run(ctx) {
      const b = ctx.backend;
      await statisticalTest(ctx, "SAMP-EULER-ANCESTRAL step-noise-has-std-sigma-up", 1e-3, async (g) => {
        const s = await make("EulerAncestralDiscreteScheduler", { ...SD }, b, 10);
        const shape = [1, 1, 64, 64];
        const x = await randnTensor(b, g, shape, 3);
        const out = await randnTensor(b, g, shape);
        const t = s.timesteps[0];
        const sig = s.sigmas as Float64Array;
        const zero = { next: async (sh: Shape) => b.fromHost(new Float64Array(size(sh)), sh) };
        const mean = await b.toHost((await s.step(out, t, x, { noise: zero })).prevSample);
        s.setTimesteps(10);
        const drawn = await b.toHost((await s.step(out, t, x, { noise: backendNoise(b, g.int(2 ** 31)) })).prevSample);
        const { sigmaUp } = getAncestralStep(sig[0], sig[1]);
        return ksTestNormal(drawn.map((v, i) => (v - mean[i]) / sigmaUp)).pValue;
      });
    },
  },
  {
    clause: "SAMP-EULER-ANCESTRAL",
    name: "missing-noise-is-a-config-error",
    scope: "spec",
    kind: "example",
    async run() {
      const s = new EulerAncestralDiscreteScheduler({}, ref);
      s.setTimesteps(4);
      const x = ref.fromHost([1, 2, 3, 4], [1, 4]);
      let err: unknown;
      try { await s.step(x, s.timesteps[0], x); } catch (e) { err = e; }
      expect(err instanceof ConfigError, `a stochastic step without options.noise gave ${String(err)}`);
    },
  },
  finiteProperty("EulerAncestralDiscreteScheduler"),
  rerunProperty("EulerAncestralDiscreteScheduler"),
  // ── SAMP-HEUN ──
  {
    clause: "SAMP-HEUN",
    name: "2n-minus-1-model-evaluations",
    scope: "backend",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.constantFrom(...RAMPS), fc.constantFrom("linspace", "leading", "trailing"), async (n, ramp, spacing) => {
        const b = ctx.backend;
        const s = await make("HeunDiscreteScheduler", { timestepSpacing: spacing, ...rampFlags(ramp) }, b, n);
        const model = wildModel(b, "epsilon", 1);
        await trajectory(s, model, await b.fromHost(new Float64Array(4).fill(s.initNoiseSigma), [1, 4]));
        expect(model.calls === 2 * n - 1, `Heun with n = ${n} evaluated the model ${model.calls} times, expected 2n − 1 = ${2 * n - 1}`);
        const ts = s.timesteps;
        for (let k = 1; k < n; k++) expect(ts[2 * k - 1] === ts[2 * k], `timesteps[${2 * k - 1}] ≠ timesteps[${2 * k}]: interior timesteps must repeat`);
      }));
    },
  },
  {
    clause: "SAMP-HEUN",
    name: "second-order-convergence",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.asyncProperty(seedArb, async (seed) => {
        const g = new GaussianStream(seed);
        const mu = g.normals(3);
        const sd = 0.3 + 0.7 * g.uniform();
        const x0 = g.normals(3).map((v, i) => mu[i] + 14.6 * v);
        const e1 = await odeError("HeunDiscreteScheduler", 10, mu, sd, x0);
        const e2 = await odeError("HeunDiscreteScheduler", 20, mu, sd, x0);
        expect(e2 < e1 && e1 / e2 > 3, `Heun error ratio e(10)/e(20) = ${e1 / e2} (expected ≈ 4 for a second-order method; e = ${e1}, ${e2})`);
      }), 3);
    },
  },
  finiteProperty("HeunDiscreteScheduler"),
  rerunProperty("HeunDiscreteScheduler"),
  // ── SAMP-LMS ──
  {
    clause: "SAMP-LMS",
    name: "coefficients-integrate-exactly",
    scope: "spec",
    kind: "property",
    async run(ctx) {
      await checkProperty(ctx, fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom(...RAMPS), (order, n, ramp) => {
        const ac = makeSchedule(SD as { betaSchedule: "scaled_linear" }).alphasCumprod;
        const sig = makeSigmaSchedule(n, ac, { numTrainTimesteps: 1000, timestepSpacing: "linspace", stepsOffset: 0, compat: "math", ramp }).sigmas;
        for (let i = order - 1; i < n; i++) {
          let sum = 0;
          for (let j = 0; j < order; j++) {
            const gl = linearMultistepCoeff(order, sig, i, j);
            const exact = lagrangeIntegralClosedForm(order, sig, i, j);
            expectClose(`c[${i}][${j}] (order ${order}) Gauss–Legendre vs closed form`, gl, exact, 1e-12, 1e-12 * Math.abs(sig[i + 1] - sig[i]));
            sum += gl;
          }
          expectClose(`Σⱼ c[${i}][j] = σᵢ₊₁ − σᵢ (the basis sums to 1)`, sum, sig[i + 1] - sig[i], 1e-12, 1e-14);
        }
      }));
    },
  },
  {
    clause: "SAMP-LMS",
    name: "exact-for-polynomial-derivatives",
    scope: "backend",
    kind: "property",
    async run(ctx) {
      // With a model whose ODE derivative d(σ) is a polynomial of degree < order in σ, LMS reproduces ∫d dσ exactly once warmed up.
      await checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 4, max: 15 }), fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -0.2, max: 0.2, noNaN: true }), async (n, a, c2) => {
        const b = ctx.backend;
        const s = await make("LMSDiscreteScheduler", { ...SD, predictionType: "epsilon", useKarrasSigmas: true }, b, n);
        const sig = s.sigmas as Float64Array;
        // ε-prediction: d = ε (the model output), so d(σ) = a + c₂σ² needs output = a + c₂σ²; x̃ evolves by ∫ d dσ.
        const d = (sigma: number) => a + c2 * sigma * sigma;
        const F = (sigma: number) => a * sigma + (c2 * sigma ** 3) / 3;
        const model = hostModel(b, "epsilon", (x, t) => x.map(() => d(sigmaOf(s as Scheduler<BTensor>, t))));
        const states = await trajectory(s, model, await b.fromHost([0, 1], [1, 2]));
        // from step 2 on (order ≥ 3) every step is exact: x̃ₙ − x̃₂ = F(σₙ) − F(σ₂)
        const got = states[n - 1][0] - states[1][0];
        expectClose(`LMS on d(σ) = ${a} + ${c2}σ²`, got, F(sig[n]) - F(sig[2]), 0, samplerTol(b, n, Math.abs(F(sig[0])) + 1).atol + 1e-10 * Math.abs(F(sig[0])));
      }));
    },
  },
  {
    clause: "SAMP-LMS",
    name: "order-out-of-range-is-a-config-error",
    scope: "spec",
    kind: "example",
    async run() {
      const s = await make("LMSDiscreteScheduler", {}, ref, 4);
      const x = ref.fromHost([1, 2], [1, 2]);
      for (const order of [0, 5, 2.5]) {
        let err: unknown;
        try { await s.step(x, s.timesteps[0], x, { order } as never); } catch (e) { err = e; }
        expect(err instanceof ConfigError, `order = ${order} gave ${String(err)}`);
      }
      const fresh = await createScheduler("LMSDiscreteScheduler", {}, ref);
      let state: unknown;
      try { await fresh.step(x, 999, x); } catch (e) { state = e; }
      expect(state instanceof StateError, `step before setTimesteps gave ${String(state)}`);
    },
  },
  finiteProperty("LMSDiscreteScheduler"),
  rerunProperty("LMSDiscreteScheduler"),
]);
