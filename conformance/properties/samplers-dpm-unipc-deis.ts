/**
 * SAMP-EXPINT, SAMP-EXPINT-SCHEDULE, SAMP-EXPINT-STATE, SAMP-EXPINT-LOWER-ORDER, SAMP-VARIANCE-CHANNELS,
 * SAMP-DPMPP-2M, SAMP-DPMPP-3M, SAMP-DPMPP-SDE, SAMP-DPM-SOLVER, SAMP-DPM-SINGLESTEP, SAMP-UNIPC,
 * SAMP-UNIPC-FINAL, SAMP-DEIS (spec/07-samplers-dpm-unipc-deis.md).
 *
 * The central exact check: for data that is a single point x₀, the ideal model gives
 * ε*(xₜ) = (xₜ − αₜx₀)/σₜ, so x̂₀ = x₀ at every step and the probability-flow ODE's solution through
 * x_T = α_T x₀ + σ_T z is xₜ = αₜx₀ + σₜz. Every exponential integrator here integrates the linear part
 * exactly and interpolates a constant prediction exactly (divided differences of a constant are 0, the
 * Lagrange weights of DEIS sum to the integral of 1), so every deterministic variant stays on that path
 * to rounding (1e-10) and the step to σ = 0 returns x₀. "spec" properties check the reference; "backend"
 * properties (finiteness, reproducibility, agreement with the reference) run on the backend under test.
 * Random tensors come from GaussianStreams seeded by fast-check integers, so counterexamples replay.
 */
import fc from "fast-check";
import type { Backend, BTensor, Denoiser, PredictionType } from "../../adapters/contract.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { defineProperties, type PropertyContext, type PropertyDef } from "../registry.ts";
import { checkProperty, expect, expectAllClose } from "../check.ts";
import { tolerance } from "../tolerances.ts";
import { ConfigError, StateError } from "../../reference/errors.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { size, type Shape, type Tensor } from "../../reference/tensor.ts";
import { hostNoise, runPipeline, type NoiseProvider, type Scheduler } from "../../reference/samplers/scheduler.ts";
import { DPMSolverMultistepScheduler } from "../../reference/samplers/dpmsolver-multistep.ts";
import { DPMSolverSinglestepScheduler, orderList } from "../../reference/samplers/dpmsolver-singlestep.ts";
import { UniPCMultistepScheduler } from "../../reference/samplers/unipc.ts";
import { DEISMultistepScheduler } from "../../reference/samplers/deis.ts";
import { vp } from "../../reference/samplers/multistep.ts";

// ─── generators ─────────────────────────────────────────────────────────────────────────────────

export const EXPINT_CLASSES = ["DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler"] as const;
export type ExpIntClass = (typeof EXPINT_CLASSES)[number];
type Algorithm = "dpmsolver++" | "sde-dpmsolver++" | "dpmsolver" | "sde-dpmsolver";

/** [B, C, H, W] = [2, 1, 2, 2]: two batch items, so per-item operations (thresholding) are exercised. */
const SHAPE: Shape = [2, 1, 2, 2];
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

const rawArb = fc.record({
  cls: fc.constantFrom(...EXPINT_CLASSES),
  numTrainTimesteps: fc.oneof(fc.constant(1000), fc.integer({ min: 100, max: 1200 })),
  betaSchedule: fc.constantFrom("linear", "scaled_linear", "squaredcos_cap_v2"),
  rescaleBetasZeroSnr: fc.boolean(),
  lambdaMinClipped: fc.constantFrom(-Infinity, -Infinity, -5.1),
  timestepSpacing: fc.constantFrom("linspace", "leading", "trailing"),
  stepsOffset: fc.constantFrom(0, 0, 1),
  sigmaSpacing: fc.constantFrom("none", "none", "karras", "exponential", "beta", "lu"),
  n: fc.integer({ min: 1, max: 25 }),
  solverOrder: fc.integer({ min: 1, max: 3 }),
  algorithm: fc.constantFrom<Algorithm>("dpmsolver++", "dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver"),
  solverType: fc.constantFrom("midpoint", "heun"),
  uniSolverType: fc.constantFrom("bh1", "bh2"),
  predictX0: fc.boolean(),
  lowerOrderFinal: fc.boolean(),
  eulerAtFinal: fc.boolean(),
  finalSigmasType: fc.constantFrom("zero", "sigma_min"),
  predictionType: fc.constantFrom<PredictionType>("epsilon", "sample", "v_prediction"),
  thresholding: fc.boolean(),
  sampleMaxValue: fc.constantFrom(0.5, 1, 2),
  disableCorrector: fc.subarray([0, 1, 2, 3]),
  compat: fc.constantFrom("math", "diffusers"),
  seed: seedArb,
});
type Raw = typeof rawArb extends fc.Arbitrary<infer U> ? U : never;

/** The algorithm a raw draw runs (diffusers' constraints applied). */
function algorithmOf(r: Raw): Algorithm {
  if (r.cls === "DPMSolverSinglestepScheduler" && r.algorithm === "sde-dpmsolver") return "dpmsolver";
  return r.algorithm;
}

/** The camelCase config of a raw draw, valid for its class (thresholding only where the backend can). */
export function configOf(r: Raw, b: Backend<any> = referenceBackend, opts: { perfect?: boolean } = {}): Record<string, unknown> {
  const common: Record<string, unknown> = {
    numTrainTimesteps: r.numTrainTimesteps,
    betaSchedule: r.betaSchedule,
    solverOrder: r.solverOrder,
    predictionType: r.predictionType,
    thresholding: r.thresholding && !!b.threshold && !!b.clamp,
    // the perfect-model check keeps x₀ ∈ [−1, 1] unchanged by thresholding: s = clamp(quantile, 1, max) = 1
    sampleMaxValue: opts.perfect ? 1 : r.sampleMaxValue,
    compat: r.compat,
    useKarrasSigmas: r.sigmaSpacing === "karras",
    useExponentialSigmas: r.sigmaSpacing === "exponential",
    useBetaSigmas: r.sigmaSpacing === "beta",
  };
  const spaced = { timestepSpacing: r.timestepSpacing, stepsOffset: r.stepsOffset };
  const alg = algorithmOf(r);
  const noiseAlg = alg === "dpmsolver" || alg === "sde-dpmsolver";
  if (r.cls === "DPMSolverMultistepScheduler") {
    return {
      ...common, ...spaced, algorithmType: alg, solverType: r.solverType, lowerOrderFinal: r.lowerOrderFinal, eulerAtFinal: r.eulerAtFinal,
      finalSigmasType: noiseAlg ? "sigma_min" : r.finalSigmasType, solverOrder: alg === "sde-dpmsolver" ? Math.min(r.solverOrder, 2) : r.solverOrder,
      useLuLambdas: r.sigmaSpacing === "lu", rescaleBetasZeroSnr: r.rescaleBetasZeroSnr, lambdaMinClipped: r.lambdaMinClipped,
    };
  }
  if (r.cls === "DPMSolverSinglestepScheduler") {
    return { ...common, algorithmType: alg, solverType: r.solverType, lowerOrderFinal: r.lowerOrderFinal, finalSigmasType: noiseAlg ? "sigma_min" : r.finalSigmasType, lambdaMinClipped: r.lambdaMinClipped };
  }
  if (r.cls === "UniPCMultistepScheduler") {
    return {
      ...common, ...spaced, solverType: r.uniSolverType, predictX0: r.predictX0, lowerOrderFinal: r.lowerOrderFinal,
      disableCorrector: r.disableCorrector, finalSigmasType: r.finalSigmasType, rescaleBetasZeroSnr: r.rescaleBetasZeroSnr,
    };
  }
  return { ...common, ...spaced, lowerOrderFinal: r.lowerOrderFinal };
}

export function makeExpInt<T extends BTensor>(cls: ExpIntClass, config: Record<string, unknown>, b: Backend<T>): Scheduler<T> & { lastStepOrder: number } {
  if (cls === "DPMSolverMultistepScheduler") return new DPMSolverMultistepScheduler(config, b);
  if (cls === "DPMSolverSinglestepScheduler") return new DPMSolverSinglestepScheduler(config, b);
  if (cls === "UniPCMultistepScheduler") return new UniPCMultistepScheduler(config, b);
  return new DEISMultistepScheduler(config, b);
}

/** setTimesteps, or false when n is too large for the spacing (a repeated σ: a typed ConfigError). */
function trySetTimesteps(s: Scheduler<any>, n: number): boolean {
  try {
    s.setTimesteps(n);
    return true;
  } catch (e) {
    if (e instanceof ConfigError && e.field === "numInferenceSteps") return false;
    throw e;
  }
}

const isStochastic = (config: Record<string, unknown>): boolean => String(config.algorithmType ?? "").startsWith("sde");

/**
 * The configurations where diffusers v0.40.0 itself returns a non-finite sample on the step to σ = 0
 * (SAMP-UNIPC-FINAL): UniPC with bh1 (B(h) = −∞ times 0), with noise prediction (σ_t·(e^{h} − 1) = 0·∞),
 * or with an order > 1 predictor (rₖ = 0 divides). compat "diffusers" reproduces them.
 */
export function diffusersNaN(cls: ExpIntClass, config: Record<string, unknown>, n: number): boolean {
  if (cls !== "UniPCMultistepScheduler" || config.compat !== "diffusers" || config.finalSigmasType !== "zero") return false;
  const order = Math.min(config.lowerOrderFinal === false ? (config.solverOrder as number) : 1, n);
  return config.solverType === "bh1" || config.predictX0 === false || order > 1;
}

// ─── models ─────────────────────────────────────────────────────────────────────────────────────

/** A model evaluated on the host from the backend's values; counts its evaluations. */
function hostModel<T extends BTensor>(b: Backend<T>, predictionType: PredictionType, f: (x: Float64Array, t: number, k: number) => Float64Array): Denoiser<T> & { calls: number } {
  const m = {
    predictionType,
    calls: 0,
    async evaluate(x: T, t: number): Promise<T> {
      return b.fromHost(f(await b.toHost(x), t, m.calls++), x.shape);
    },
  };
  return m;
}

/**
 * The ideal model for the single data point x₀ (one per batch item), at the noise level of the k-th
 * call: σ = scheduler.sigmas[k] (the timestep is only the network's label; the solver's σ is exact).
 */
function pointMassModel<T extends BTensor>(b: Backend<T>, s: Scheduler<T>, x0: Float64Array, p: PredictionType): Denoiser<T> & { calls: number } {
  return hostModel(b, p, (x, _t, k) => {
    const { alpha, sigma } = vp((s.sigmas as Float64Array)[k]);
    return x.map((v, i) => {
      const eps = (v - alpha * x0[i]) / sigma;
      return p === "epsilon" ? eps : p === "sample" ? x0[i] : alpha * eps - sigma * x0[i];
    });
  });
}

/** The fixtures' tanh-mix model with random coefficients: a·tanh(x) + b·x + c·sin(t/100). */
const mixModel = (a: number, bb: number, c: number) => (x: Float64Array, t: number): Float64Array => x.map((v) => a * Math.tanh(v) + bb * v + c * Math.sin(t / 100));

const relErr = (a: number, b: number): number => Math.abs(a - b) / (1 + Math.abs(b));

// ─── the perfect-model property, per clause ─────────────────────────────────────────────────────

/**
 * Runs a variant with the ideal model of a single data point and checks every step against the exact
 * path αₜx₀ + σₜz (deterministic variants) and the last step to σ = 0 against x₀ (all variants).
 */
async function perfectModelRun(r: Raw): Promise<void> {
  const config = configOf(r, referenceBackend, { perfect: true });
  if (diffusersNaN(r.cls, config, r.n)) return;
  const s = makeExpInt(r.cls, config, referenceBackend);
  if (!trySetTimesteps(s, r.n)) return;
  const g = new GaussianStream(r.seed);
  const D = size(SHAPE);
  const x0 = Float64Array.from({ length: D }, (_, i) => (i < D / 2 ? Math.tanh(g.normal()) : 0)).map((v, i, a) => (i >= D / 2 ? a[i - D / 2] : v));
  const z = g.normals(D);
  const sig = s.sigmas as Float64Array;
  const path = (k: number): Float64Array => { const { alpha, sigma } = vp(sig[k]); return x0.map((v, i) => alpha * v + sigma * z[i]); };
  const model = pointMassModel(referenceBackend, s, x0, r.predictionType);
  const stochastic = isStochastic(config);
  // Exact up to rounding: x̂₀ = (x − σₜε̂)/αₜ carries u·σ_T of rounding, which divided differences over uneven
  // steps may amplify, so the bound is 1e-10 for ordinary schedules (σ_T ≲ 300) and u-proportional to σ_T² beyond.
  // The noise-prediction form cancels terms of size e^{h} ≈ (α_t/σ_t)/(α_s/σ_s) (and UniC's B(h) = e^{h} − 1 multiplies
  // differences of ε̂): its bound grows with the largest step ratio σᵢ/σᵢ₊₁ squared, and when σ_T ≫ 1 (cosine, zero
  // SNR) only finiteness is checked.
  const noisePred = config.algorithmType === "dpmsolver" || config.algorithmType === "sde-dpmsolver" || config.predictX0 === false || r.cls === "DEISMultistepScheduler";
  // A singlestep method of order k takes its step over a whole block of k σ's, so its h spans the block.
  const span = r.cls === "DPMSolverSinglestepScheduler" ? Number(config.solverOrder ?? 2) : 1;
  let ratio = 1;
  let lastPositive = sig.length - 1;
  while (lastPositive > 0 && !(sig[lastPositive] > 0)) lastPositive--;
  for (let i = 0; i < lastPositive; i++) ratio = Math.max(ratio, sig[i] / sig[Math.min(i + span, lastPositive)]);
  const tol = Math.max(1e-10, 1e-15 * (1 + sig[0] * sig[0]), noisePred ? 1e-15 * ratio * ratio : 0);
  const exact = !(noisePred && sig[0] > 300);
  const noise = hostNoise(referenceBackend, new GaussianStream(`${r.seed}/noise`));
  const final = await runPipeline(s, model, referenceBackend.fromHost(path(0), SHAPE), {
    noise,
    onStep: (i, t, x) => {
      expect(x.data.every(Number.isFinite), `step ${i} (t = ${t}) is not finite`);
      if (stochastic || !exact) return;
      const want = path(i + 1);
      const k = x.data.findIndex((v, j) => !(relErr(v, want[j]) <= tol));
      expect(k < 0, `step ${i} (σ ${sig[i]} → ${sig[i + 1]}) left the exact path αx₀ + σz: element ${k}: ${x.data[k]} vs ${want[k]}`);
    },
  });
  expect(model.calls === s.timesteps.length, `${model.calls} model evaluations for ${s.timesteps.length} timesteps`);
  if (sig[sig.length - 1] === 0 && exact) {
    const k = final.data.findIndex((v, j) => !(relErr(v, x0[j]) <= tol));
    expect(k < 0, `the step to σ = 0 did not return x₀: element ${k}: ${final.data[k]} vs ${x0[k]}`);
  }
}

/** `_what` (the variants `fix` selects) with the ideal model of one data point follows x_t = α_t x₀ + σ_t z to 1e-10 and returns x₀ at σ = 0. */
function perfectModelProperty(clause: string, fix: (r: Raw) => Raw, _what: string): PropertyDef {
  return {
    clause,
    name: "perfect-model-stays-on-the-path",
    scope: "spec",
    kind: "property",
    run: (ctx: PropertyContext) => checkProperty(ctx, fc.asyncProperty(rawArb.map(fix), perfectModelRun)),
  };
}

// ─── properties ─────────────────────────────────────────────────────────────────────────────────

/** Finite model, every option: each step's sample is finite (documented diffusers NaN cases excepted in compat "diffusers"). */
async function finiteRun<T extends BTensor>(b: Backend<T>, r: Raw, coeffs: [number, number, number]): Promise<void> {
  const config = configOf(r, b);
  if (diffusersNaN(r.cls, config, r.n)) return;
  const s = makeExpInt(r.cls, config, b);
  if (!trySetTimesteps(s, r.n)) return;
  const model = hostModel(b, r.predictionType, mixModel(...coeffs));
  const x = await b.fromHost(new GaussianStream(r.seed).normals(size(SHAPE)), SHAPE);
  await runPipeline(s, model, x, {
    noise: hostNoise(b, new GaussianStream(`${r.seed}/noise`)),
    onStep: async (i, t, xi) => {
      const d = await b.toHost(xi);
      const k = d.findIndex((v) => !Number.isFinite(v));
      expect(k < 0, `${r.cls} ${JSON.stringify(config)}: step ${i} (t = ${t}) gives ${d[k]} at ${k}`);
    },
  });
}

/** The orders the spec prescribes for step i of n (SAMP-EXPINT-LOWER-ORDER). */
function expectedOrder(cls: ExpIntClass, c: Record<string, unknown>, i: number, n: number, sigmaNext: number, orders: number[]): number {
  const p = c.solverOrder as number;
  const lof = c.lowerOrderFinal as boolean;
  if (cls === "DPMSolverSinglestepScheduler") return orders[i];
  if (cls === "UniPCMultistepScheduler") {
    if (c.compat === "math" && sigmaNext === 0) return 1;
    return Math.min(lof ? Math.min(p, n - i) : p, i + 1);
  }
  const last = i === n - 1 && ((lof && n < 15) || (cls === "DPMSolverMultistepScheduler" && (c.eulerAtFinal === true || c.finalSigmasType === "zero")));
  const second = i === n - 2 && lof && n < 15;
  return p === 1 || i < 1 || last ? 1 : p === 2 || i < 2 || second ? 2 : 3;
}

export const properties = defineProperties([
  {
    clause: "SAMP-EXPINT",
    name: "vp-view-of-sigma",
    scope: "spec",
    kind: "property",
    /** α² + σₜ² = 1, σₜ/α = σ and λ = −log σ for every σ > 0; σ = 0 gives α = 1, σₜ = 0, λ = +∞. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.double({ min: 1e-4, max: 1e4, noNaN: true }), (s) => {
        const v = vp(s);
        const z = vp(0);
        return Math.abs(v.alpha ** 2 + v.sigma ** 2 - 1) < 1e-14 && Math.abs(v.sigma / v.alpha - s) <= 1e-14 * s && Math.abs(v.lambda + Math.log(s)) < 1e-12 && z.alpha === 1 && z.sigma === 0 && z.lambda === Infinity;
      })),
  },
  perfectModelProperty("SAMP-EXPINT", (r) => r, "every variant of the four classes"),
  {
    clause: "SAMP-EXPINT",
    name: "finite-for-every-option",
    scope: "backend",
    kind: "property",
    /** Finite inputs and finite model outputs give a finite sample after every step, for every option, incl. the step to σ = 0 (compat "math" always; "diffusers" except its documented NaN cases). */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(rawArb, fc.tuple(fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true })), (r, m) => finiteRun(ctx.backend, r, m))),
  },
  {
    clause: "SAMP-EXPINT",
    name: "matches-reference",
    scope: "backend",
    kind: "example",
    /** Each class (defaults + karras + highest order) on the backend agrees with the Float64 reference within the "sampler" tolerance row. */
    run: async (ctx) => {
      const configs: [ExpIntClass, Record<string, unknown>][] = [
        ["DPMSolverMultistepScheduler", { solverOrder: 3, useKarrasSigmas: true }],
        ["DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++", solverType: "heun" }],
        ["DPMSolverSinglestepScheduler", { solverOrder: 3 }],
        ["UniPCMultistepScheduler", { solverOrder: 3, solverType: "bh1", finalSigmasType: "sigma_min" }],
        ["DEISMultistepScheduler", { solverOrder: 3 }],
      ];
      for (const [cls, config] of configs) {
        const run = async <T extends BTensor>(b: Backend<T>): Promise<Float64Array> => {
          const s = makeExpInt(cls, { betaSchedule: "scaled_linear", betaStart: 0.00085, betaEnd: 0.012, ...config }, b);
          s.setTimesteps(10);
          const x = await b.fromHost(new GaussianStream(`${ctx.seed}/ref`).normals(size(SHAPE)), SHAPE);
          const out = await runPipeline(s, hostModel(b, "epsilon", mixModel(0.5, 0, 0.1)), x, { noise: hostNoise(b, new GaussianStream(`${ctx.seed}/ref-noise`)) });
          return b.toHost(out);
        };
        const want = await run(referenceBackend);
        const got = await run(ctx.backend);
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        const tol = tolerance(ctx.backend.dtype, "sampler", { steps: 10, scale });
        expectAllClose(`${cls} ${JSON.stringify(config)}`, got, want, tol.rtol, tol.atol);
      }
    },
  },
  {
    clause: "SAMP-EXPINT-SCHEDULE",
    name: "schedule-shape",
    scope: "spec",
    kind: "property",
    /** n integer timesteps in [0, N−1] (diffusers' trailing may add a last t = −1), n + 1 σ's strictly decreasing up to the last step, the final σ is 0 or σ_min, karras/exponential/beta ramps start at σ_max. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(rawArb, (r) => {
        const c = configOf(r);
        const s = makeExpInt(r.cls, c, referenceBackend);
        if (!trySetTimesteps(s, r.n)) return true;
        const ts = s.timesteps;
        const sig = s.sigmas as Float64Array;
        const N = r.numTrainTimesteps;
        const extra = ts.length - r.n;
        const ramp = r.sigmaSpacing !== "none" && !(r.sigmaSpacing === "lu" && r.cls !== "DPMSolverMultistepScheduler");
        // diffusers' trailing arange steps by N/n from the clipped L: fewer than n timesteps when λ is clipped, or one more ending at t = −1.
        const diffusersTrailing = r.compat === "diffusers" && c.timestepSpacing === "trailing" && !ramp;
        const clipped = Number.isFinite(c.lambdaMinClipped as number);
        expect(extra === 0 || (diffusersTrailing && ((extra === 1 && ts[ts.length - 1] === -1) || (extra < 0 && clipped))), `${ts.length} timesteps for n = ${r.n}`);
        const tMin = diffusersTrailing ? -1 : 0;
        expect(ts.every((t) => (Number.isInteger(t) || (ramp && r.compat === "math")) && t >= tMin && t <= N - 1), `timesteps out of range [${tMin}, ${N - 1}]: ${ts.join(", ")}`);
        if (ramp && r.compat === "math") {
          // the network is told the σ the solver uses: σ(t) by linear interpolation of the train σ equals σ
          const train = (s as unknown as { train: { sigmas: Float64Array } }).train.sigmas;
          ts.forEach((t, i) => { const lo = Math.floor(t); const w = t - lo; const st = lo + 1 < train.length ? train[lo] + w * (train[lo + 1] - train[lo]) : train[lo]; expect(Math.abs(st - sig[i]) <= 1e-9 * sig[i], `σ(t = ${t}) = ${st} ≠ σ = ${sig[i]}`); });
        }
        expect(sig.length === ts.length + 1, `${sig.length} σ's for ${ts.length} timesteps`);
        const steps = Math.min(r.n, ts.length);
        for (let i = 1; i < steps; i++) expect(sig[i] < sig[i - 1], `σ not decreasing at ${i}: ${sig[i - 1]} → ${sig[i]}`);
        const last = sig[sig.length - 1];
        expect(last === 0 || (last > 0 && last <= sig[steps - 1]), `final σ ${last} after ${sig[steps - 1]}`);
        if (c.finalSigmasType === "zero" && r.cls !== "DEISMultistepScheduler") expect(last === 0, `finalSigmasType zero but σ_last = ${last}`);
        return true;
      })),
  },
  {
    clause: "SAMP-EXPINT-STATE",
    name: "rerun-after-set-timesteps-reproduces",
    scope: "backend",
    kind: "property",
    /** setTimesteps clears the history: a second run from the same start gives the same samples, bit for bit. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(rawArb, async (r) => {
        const b = ctx.backend;
        const config = configOf(r, b);
        if (diffusersNaN(r.cls, config, r.n)) return;
        const s = makeExpInt(r.cls, config, b);
        const once = async (): Promise<Float64Array | undefined> => {
          if (!trySetTimesteps(s, r.n)) return undefined;
          const x = await b.fromHost(new GaussianStream(r.seed).normals(size(SHAPE)), SHAPE);
          return b.toHost(await runPipeline(s, hostModel(b, r.predictionType, mixModel(0.7, 0.1, 0.2)), x, { noise: hostNoise(b, new GaussianStream(`${r.seed}/noise`)) }));
        };
        const a = await once();
        const c2 = await once();
        if (!a || !c2) return;
        const k = a.findIndex((v, i) => !Object.is(v, c2[i]));
        expect(k < 0, `second run differs at ${k}: ${a[k]} vs ${c2[k]}`);
      }), Math.max(5, Math.floor(ctx.numRuns / 2))),
  },
  {
    clause: "SAMP-EXPINT-STATE",
    name: "order-of-calls-typed-errors",
    scope: "spec",
    kind: "example",
    /** step before setTimesteps → StateError; a timestep not in the schedule → ConfigError; out of order or past the end → StateError; an SDE step without noise → ConfigError. */
    run: async () => {
      const b = referenceBackend;
      const x = b.fromHost(new Float64Array(size(SHAPE)).fill(0.3), SHAPE);
      const throwsAsync = async (f: () => Promise<unknown>, type: Function, what: string): Promise<void> => {
        try { await f(); } catch (e) { expect(e instanceof type, `${what}: ${(e as Error).name}: ${(e as Error).message}`); return; }
        throw new Error(`${what}: no error`);
      };
      for (const cls of EXPINT_CLASSES) {
        const s = makeExpInt(cls, {}, b);
        await throwsAsync(() => s.step(x, 999, x), StateError, `${cls} step before setTimesteps`);
        s.setTimesteps(5);
        await throwsAsync(() => s.step(x, 12345, x), ConfigError, `${cls} step with a timestep not in the schedule`);
        await s.step(x, s.timesteps[0], x);
        await throwsAsync(() => s.step(x, s.timesteps[2], x), StateError, `${cls} skipping a timestep`);
        for (const t of s.timesteps.slice(1)) await s.step(x, t, x);
        await throwsAsync(() => s.step(x, s.timesteps[0], x), StateError, `${cls} stepping past the end`);
      }
      const sde = makeExpInt("DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++" }, b);
      sde.setTimesteps(4);
      await throwsAsync(() => sde.step(x, sde.timesteps[0], x), ConfigError, "sde-dpmsolver++ without options.noise");
    },
  },
  {
    clause: "SAMP-EXPINT-LOWER-ORDER",
    name: "orders-per-step",
    scope: "spec",
    kind: "property",
    /** Warm-up orders 1, 2, …; with lowerOrderFinal and n < 15 the last two steps use orders 1 and ≤ 2 (DPM, DEIS); UniPC uses ≤ n − i; the step to σ = 0 is first order; singlestep follows its order list. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(rawArb, async (r) => {
        const c = configOf(r);
        if (diffusersNaN(r.cls, c, r.n)) return;
        const s = makeExpInt(r.cls, c, referenceBackend);
        if (!trySetTimesteps(s, r.n)) return;
        const n = s.timesteps.length;
        const sig = s.sigmas as Float64Array;
        const cfg = s.config as Record<string, unknown>;
        const orders = r.cls === "DPMSolverSinglestepScheduler" ? orderList(n, cfg.solverOrder as number, cfg.lowerOrderFinal as boolean, cfg.finalSigmasType === "zero") : [];
        const x = referenceBackend.fromHost(new GaussianStream(r.seed).normals(size(SHAPE)), SHAPE);
        let sample = x;
        const noise = hostNoise(referenceBackend, new GaussianStream(`${r.seed}/noise`));
        for (let i = 0; i < n; i++) {
          sample = (await s.step(x, s.timesteps[i], sample, { noise })).prevSample;
          const want = expectedOrder(r.cls, cfg, i, n, sig[i + 1], orders);
          expect(s.lastStepOrder === want, `step ${i} of ${n} used order ${s.lastStepOrder}, the spec says ${want}`);
          if (sig[i + 1] === 0) expect(s.lastStepOrder === 1 || r.compat === "diffusers", `the step to σ = 0 used order ${s.lastStepOrder}`);
          if (c.lowerOrderFinal && n < 15 && r.cls !== "UniPCMultistepScheduler" && r.cls !== "DPMSolverSinglestepScheduler" && i >= n - 2) expect(s.lastStepOrder <= 2, `lowerOrderFinal: step ${i} of ${n} used order ${s.lastStepOrder}`);
        }
      })),
  },
  {
    clause: "SAMP-VARIANCE-CHANNELS",
    name: "learned-variance-uses-the-mean",
    scope: "spec",
    kind: "property",
    /** With varianceType learned / learned_range the sampler uses the first C of the 2C output channels: the result equals a run with those C channels only. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.constantFrom("learned", "learned_range"), fc.constantFrom("DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler") as fc.Arbitrary<ExpIntClass>, fc.constantFrom<PredictionType>("epsilon", "v_prediction"), async (seed, varianceType, cls, p) => {
        const b = referenceBackend;
        const f = mixModel(0.6, 0.05, 0.2);
        const x = b.fromHost(new GaussianStream(seed).normals(size(SHAPE)), SHAPE);
        const plain = makeExpInt(cls, { predictionType: p }, b);
        plain.setTimesteps(6);
        const want = await runPipeline(plain, hostModel(b, p, f), x);
        const learned = makeExpInt(cls, { predictionType: p, varianceType }, b);
        learned.setTimesteps(6);
        const m: Denoiser<Tensor> = {
          predictionType: p,
          evaluate: (xt, t) => {
            const mean = f(xt.data, t);
            const [B] = xt.shape;
            const per = mean.length / B;
            const out = new Float64Array(2 * mean.length);
            for (let i = 0; i < B; i++) { out.set(mean.subarray(i * per, (i + 1) * per), 2 * i * per); out.fill(7 + i, (2 * i + 1) * per, (2 * i + 2) * per); }
            return b.fromHost(out, [B, 2 * xt.shape[1], ...xt.shape.slice(2)]);
          },
        };
        const got = await runPipeline(learned, m, x);
        expectAllClose("learned variance run", got.data, want.data, 0, 0);
      })),
  },
  perfectModelProperty("SAMP-DPMPP-2M", (r) => ({ ...r, cls: "DPMSolverMultistepScheduler", algorithm: "dpmsolver++", solverOrder: 2 }), "DPM-Solver++(2M), midpoint and Heun"),
  perfectModelProperty("SAMP-DPMPP-3M", (r) => ({ ...r, cls: "DPMSolverMultistepScheduler", algorithm: "dpmsolver++", solverOrder: 3 }), "DPM-Solver++(3M)"),
  perfectModelProperty("SAMP-DPMPP-SDE", (r) => ({ ...r, cls: "DPMSolverMultistepScheduler", algorithm: "sde-dpmsolver++", finalSigmasType: "zero" }), "SDE-DPM-Solver++ (the last step to σ = 0 returns x₀)"),
  {
    clause: "SAMP-DPMPP-SDE",
    name: "last-step-noise-times-zero",
    scope: "spec",
    kind: "property",
    /** SDE-DPM-Solver++ draws noise on every step; on the step to σ = 0 its coefficient is exactly 0: a huge draw changes nothing, the result is x̂₀ and finite. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom("midpoint", "heun"), async (seed, n, order, solverType) => {
        const b = referenceBackend;
        const s = makeExpInt("DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++", solverOrder: order, solverType }, b);
        s.setTimesteps(n);
        const g = new GaussianStream(`${seed}/noise`);
        let draws = 0;
        const noise: NoiseProvider<Tensor> = { next: async (shape) => { draws++; const t = g.randn(shape); if (draws === n) t.data.forEach((_, i) => (t.data[i] *= 1e6)); return t; } };
        let x = b.fromHost(new GaussianStream(seed).normals(size(SHAPE)), SHAPE);
        const f = mixModel(0.5, 0, 0.1);
        let x0: Tensor | undefined;
        for (const t of s.timesteps) {
          const out = await s.step(b.fromHost(f(x.data, t), SHAPE), t, x, { noise });
          x = out.prevSample;
          x0 = out.predOriginalSample as Tensor;
        }
        expect(draws === n, `${draws} noise draws for ${n} steps`);
        expect(x.data.every(Number.isFinite), "the last step is not finite");
        expectAllClose("last step = x̂₀", x.data, (x0 as Tensor).data, 0, 0);
      })),
  },
  perfectModelProperty("SAMP-DPM-SOLVER", (r) => ({ ...r, cls: "DPMSolverMultistepScheduler", algorithm: r.seed % 2 ? "dpmsolver" : "sde-dpmsolver" }), "DPM-Solver and SDE-DPM-Solver (noise prediction, σ_min final)"),
  perfectModelProperty("SAMP-DPM-SINGLESTEP", (r) => ({ ...r, cls: "DPMSolverSinglestepScheduler" }), "singlestep DPM-Solver(++) of orders 1–3"),
  perfectModelProperty("SAMP-UNIPC", (r) => ({ ...r, cls: "UniPCMultistepScheduler" }), "UniPC bh1/bh2, data or noise prediction, with and without the corrector"),
  {
    clause: "SAMP-UNIPC-FINAL",
    name: "last-step-to-zero-is-finite",
    scope: "spec",
    kind: "property",
    /** compat "math": UniPC's step to σ = 0 (bh1, noise prediction, any lowerOrderFinal) is finite and equals its first-order limit α·x̂₀ = x̂₀. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom("bh1", "bh2"), fc.boolean(), fc.boolean(), async (seed, n, order, solverType, predictX0, lowerOrderFinal) => {
        const b = referenceBackend;
        const s = makeExpInt("UniPCMultistepScheduler", { solverOrder: order, solverType, predictX0, lowerOrderFinal }, b);
        s.setTimesteps(n);
        let x = b.fromHost(new GaussianStream(seed).normals(size(SHAPE)), SHAPE);
        const f = mixModel(0.5, 0.1, 0.1);
        for (let i = 0; i < n; i++) {
          const t = s.timesteps[i];
          const out = await s.step(b.fromHost(f(x.data, t), SHAPE), t, x);
          expect(out.prevSample.data.every(Number.isFinite), `step ${i} not finite`);
          if (i === n - 1) expectAllClose("the step to σ = 0 returns x̂₀", out.prevSample.data, (out.predOriginalSample as Tensor).data, 1e-12, 1e-12);
          x = out.prevSample;
        }
      })),
  },
  {
    clause: "SAMP-UNIPC-FINAL",
    name: "diffusers-compat-reproduces-nan",
    scope: "spec",
    kind: "example",
    /** compat "diffusers" reproduces diffusers v0.40.0: UniPC bh1 with final σ = 0 returns NaN on its last step (and only there) — the documented deviation. */
    run: async () => {
      const b = referenceBackend;
      const s = makeExpInt("UniPCMultistepScheduler", { solverType: "bh1", compat: "diffusers" }, b);
      s.setTimesteps(10);
      let x = b.fromHost(new GaussianStream("unipc-bh1").normals(size(SHAPE)), SHAPE);
      const f = mixModel(0.5, 0.1, 0.1);
      for (let i = 0; i < 10; i++) {
        const t = s.timesteps[i];
        x = (await s.step(b.fromHost(f(x.data, t), SHAPE), t, x)).prevSample;
        expect(i < 9 ? x.data.every(Number.isFinite) : x.data.every(Number.isNaN), `step ${i}: ${x.data[0]}`);
      }
    },
  },
  perfectModelProperty("SAMP-DEIS", (r) => ({ ...r, cls: "DEISMultistepScheduler" }), "DEIS (log-ρ) of orders 1–3"),
]);
