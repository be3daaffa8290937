/**
 * FLOW-PATH, FLOW-VELOCITY, FLOW-SHIFT, SAMP-FLOW-EULER, SAMP-FLOW-HEUN, CM-BOUNDARY, SAMP-LCM, SAMP-TCD,
 * EDM-PRECOND, EDM-SIGMAS, SAMP-EDM-EULER, SAMP-EDM-DPMPP, SAMP-IPNDM, SAMP-SA-SOLVER
 * (spec/07-samplers-flow-lcm-edm.md).
 *
 * "spec" properties check the algebra on the Float64 reference (fast-check over random tensors, noise levels
 * and configs; every counterexample replays from its seed). "backend" properties run each scheduler on the
 * backend under test and compare with the Float64 reference within the "sampler" row of
 * conformance/tolerances.ts, and the statistical ones test the distribution of the stochastic steps
 * (LCM's re-noising, TCD's forward diffusion from s, FlowMatchEuler's stochastic sampling): one-sample KS
 * tests of the standardised fresh-noise term against 𝒩(0, 1), α = 1e-3, rejected only if two independent
 * samples both reject (conformance/check.ts `statisticalTest`, false-failure rate 1e-6).
 */
import fc from "fast-check";
import type { Backend, BTensor, Denoiser, PredictionType } from "../../adapters/contract.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose, statisticalTest } from "../check.ts";
import { tolerance } from "../tolerances.ts";
import { ksTestNormal } from "../../reference/stats.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { size, type Shape } from "../../reference/tensor.ts";
import { backendNoise, hostNoise, runPipeline, type Scheduler } from "../../reference/samplers/scheduler.ts";
import { createScheduler } from "../../reference/samplers/index.ts";
import {
  FlowMatchEulerDiscreteScheduler, flowEpsCoeffs, flowMatchSchedule, flowPathCoeffs, flowVelocityCoeffs, flowX0Coeffs, shiftSigma, timeShift,
  FLOW_MATCH_EULER_DEFAULTS, type FlowMatchEulerConfig,
} from "../../reference/samplers/flow-match.ts";
import { LCMScheduler, TCDScheduler, consistencyScalings, consistencyTimesteps } from "../../reference/samplers/consistency.ts";
import { ddimCoefficients } from "../../reference/samplers/ddim.ts";
import { EDMDPMSolverMultistepScheduler, EDMEulerScheduler, edmPreconditioning, edmSigmas, EDM_DEFAULTS } from "../../reference/samplers/edm.ts";
import { ipndmSchedule } from "../../reference/samplers/ipndm.ts";
import { vp } from "../../reference/samplers/multistep.ts";
import { ADAMS_BASHFORTH } from "../../reference/samplers/pndm.ts";
import { SASolverScheduler, expNegativeMoment, expPositiveMoment, lagrangeBasis } from "../../reference/samplers/sasolver.ts";

const ref = referenceBackend;
const SHAPE: Shape = [2, 1, 2, 2];
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const unit = fc.double({ min: 0.001, max: 0.999, noNaN: true });
const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const lin = (xs: Float64Array[], cs: readonly number[]): Float64Array => xs[0].map((_, i) => xs.reduce((s, x, k) => s + cs[k] * x[i], 0));

/** A bounded smooth host model (depends on x and t), evaluated on the backend's values. */
function hostModel<T extends BTensor>(b: Backend<T>, p: PredictionType = "epsilon"): Denoiser<T> {
  return {
    predictionType: p,
    async evaluate(x: T, t: number): Promise<T> {
      const h = await b.toHost(x);
      return b.fromHost(h.map((v, i) => 0.6 * Math.tanh(v + 0.2 * i) + 0.25 * v - 0.1 * Math.cos(t / 300)), x.shape);
    },
  };
}

/** The classes of this chapter, each with the options its backend-parity run uses. */
const PARITY: readonly [string, string, Record<string, unknown>, Record<string, unknown>?][] = [
  ["SAMP-FLOW-EULER", "FlowMatchEulerDiscreteScheduler", { shift: 3 }],
  ["SAMP-FLOW-EULER", "FlowMatchEulerDiscreteScheduler", { useDynamicShifting: true, stochasticSampling: true }, { mu: 0.8 }],
  ["SAMP-FLOW-HEUN", "FlowMatchHeunDiscreteScheduler", { shift: 3 }],
  ["SAMP-LCM", "LCMScheduler", { predictionType: "v_prediction" }],
  ["SAMP-TCD", "TCDScheduler", {}],
  ["SAMP-EDM-EULER", "EDMEulerScheduler", { sigmaSchedule: "exponential" }],
  ["SAMP-EDM-DPMPP", "EDMDPMSolverMultistepScheduler", { solverOrder: 3 }],
  ["SAMP-EDM-DPMPP", "EDMDPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++" }],
  ["SAMP-IPNDM", "IPNDMScheduler", {}],
  ["SAMP-SA-SOLVER", "SASolverScheduler", { predictorOrder: 3, correctorOrder: 2 }],
];

/** Runs `cls` for 6 steps on `b` from a seeded start with seeded host noise; returns the final sample. */
async function runOn<T extends BTensor>(b: Backend<T>, cls: string, config: Record<string, unknown>, kw: Record<string, unknown> | undefined, seed: number): Promise<Float64Array> {
  const s = await createScheduler(cls, config, b);
  s.setTimesteps(6, kw);
  const x = await b.fromHost(new GaussianStream(`${seed}/x`).normals(size(SHAPE)).map((v) => v * s.initNoiseSigma), SHAPE);
  return b.toHost(await runPipeline(s, hostModel(b, (config.predictionType as PredictionType) ?? "epsilon"), x, { noise: hostNoise(b, new GaussianStream(`${seed}/noise`)) }));
}

const parityProperties = PARITY.map(([clause, cls, config, kw], k) => ({
  clause,
  name: `matches-reference-on-backend${PARITY.slice(0, k).some((p) => p[1] === cls) ? "-" + Object.keys(config).join("-") : ""}`,
  scope: "backend" as const,
  kind: "example" as const,
  /** 6 steps with a smooth host model and seeded host noise on the backend vs the Float64 reference, within the "sampler" tolerance row. */
  async run(ctx: { backend: Backend<any>; seed: number }) {
    const want = await runOn(ref, cls, config, kw, ctx.seed);
    const got = await runOn(ctx.backend, cls, config, kw, ctx.seed);
    const tol = tolerance(ctx.backend.dtype, "sampler", { steps: 12, scale: Math.max(1, maxAbs(want)) });
    expectAllClose(`${cls} ${JSON.stringify(config)}`, got, want, tol.rtol, tol.atol);
  },
}));

/** A random FlowMatchEuler config (every schedule option) and a step count. */
const flowConfigArb = fc.record({
  numTrainTimesteps: fc.integer({ min: 10, max: 2000 }),
  shift: fc.double({ min: 0.2, max: 8, noNaN: true }),
  useDynamicShifting: fc.boolean(),
  timeShiftType: fc.constantFrom("exponential", "linear"),
  mu: fc.double({ min: 0.1, max: 2, noNaN: true }),
  invertSigmas: fc.boolean(),
  shiftTerminal: fc.constantFrom(undefined, 0.02, 0.1),
  ramp: fc.constantFrom("none", "karras", "exponential", "beta"),
  compat: fc.constantFrom("math", "diffusers"),
  n: fc.integer({ min: 2, max: 40 }),
});

/** KS p-value that x' = √ā·base + √(1 − ā)·z with z ~ 𝒩(0, 1) elementwise (the forward marginal FWD-MARGINAL from a given base). */
function forwardNoisedP(got: ArrayLike<number>, base: ArrayLike<number>, abar: number): number {
  return ksTestNormal(Array.from(got, (v, i) => (v - Math.sqrt(abar) * base[i]) / Math.sqrt(1 - abar))).pValue;
}

export const properties = defineProperties([
  // ─── flow matching ───────────────────────────────────────────────────────────────────────────
  {
    clause: "FLOW-PATH",
    name: "straight-path-endpoints-and-velocity",
    scope: "spec",
    kind: "property",
    /** x_σ = (1 − σ)x₀ + σε is x₀ at σ = 0, ε at σ = 1, and d x_σ/dσ (central difference) is ε − x₀. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(seedArb, unit, (seed, sigma) => {
        const g = new GaussianStream(`path/${seed}`);
        const [x0, eps] = [g.normals(8), g.normals(8)];
        const at = (s: number): Float64Array => lin([x0, eps], flowPathCoeffs(s));
        expectAllClose("x_0", at(0), x0, 0, 0);
        expectAllClose("x_1", at(1), eps, 0, 0);
        const h = 1e-4;
        const d = at(sigma + h).map((v, i) => (v - at(sigma - h)[i]) / (2 * h));
        expectAllClose("dx/dσ", d, lin([x0, eps], flowVelocityCoeffs()), 0, 1e-9);
      })),
  },
  {
    clause: "FLOW-PATH",
    name: "straight-path-marginal",
    scope: "spec",
    kind: "statistical",
    /** For x₀ ~ 𝒩(μ, s²), x_σ ~ 𝒩((1 − σ)μ, (1 − σ)²s² + σ²): 4096 draws standardised, KS test, α = 1e-3 (two samples must both reject). */
    async run(ctx) {
      await statisticalTest(ctx, "FLOW-PATH straight-path-marginal", 1e-3, (g) => {
        const [mu, s, sigma] = [g.normal(), 0.2 + g.uniform(), g.uniform()];
        const sd = Math.sqrt((1 - sigma) ** 2 * s * s + sigma * sigma);
        const z = Float64Array.from({ length: 4096 }, () => {
          const [c0, c1] = flowPathCoeffs(sigma);
          return (c0 * (mu + s * g.normal()) + c1 * g.normal() - (1 - sigma) * mu) / sd;
        });
        return ksTestNormal(z).pValue;
      });
    },
  },
  {
    clause: "FLOW-VELOCITY",
    name: "velocity-converts-to-x0-and-eps",
    scope: "spec",
    kind: "property",
    /** With x = (1 − σ)x₀ + σε and v = ε − x₀: x − σv = x₀ and x + (1 − σ)v = ε (up to Float64 rounding). */
    run: (ctx) =>
      checkProperty(ctx, fc.property(seedArb, unit, (seed, sigma) => {
        const g = new GaussianStream(`vel/${seed}`);
        const [x0, eps] = [g.normals(8), g.normals(8)];
        const x = lin([x0, eps], flowPathCoeffs(sigma));
        const v = lin([x0, eps], flowVelocityCoeffs());
        expectAllClose("x̂₀", lin([x, v], flowX0Coeffs(sigma)), x0, 0, 1e-12 * (1 + maxAbs(x0) + maxAbs(eps)));
        expectAllClose("ε̂", lin([x, v], flowEpsCoeffs(sigma)), eps, 0, 1e-12 * (1 + maxAbs(x0) + maxAbs(eps)));
      })),
  },
  {
    clause: "FLOW-SHIFT",
    name: "shift-is-a-time-change-of-log-snr",
    scope: "spec",
    kind: "property",
    /** shift(σ, s) fixes 0 and 1, is increasing, composes (shift(shift(σ, a), b) = shift(σ, ab)), inverts with 1/s, and moves the flow's log-SNR log((1 − σ)/σ) by exactly −log s; dynamic shifting is the static shift e^μ (exponential) or μ (linear). */
    run: (ctx) =>
      checkProperty(ctx, fc.property(unit, unit, fc.double({ min: 0.1, max: 10, noNaN: true }), fc.double({ min: 0.1, max: 10, noNaN: true }), (s1, s2, a, b) => {
        expect(shiftSigma(0, a) === 0 && shiftSigma(1, a) === 1, `shift(·, ${a}) does not fix 0 and 1`);
        const [lo, hi] = s1 < s2 ? [s1, s2] : [s2, s1];
        expect(lo === hi || shiftSigma(lo, a) < shiftSigma(hi, a), `shift(·, ${a}) is not increasing at ${lo}, ${hi}`);
        expectClose("shift(shift(σ, a), b)", shiftSigma(shiftSigma(s1, a), b), shiftSigma(s1, a * b), 1e-12, 1e-15);
        expectClose("shift(shift(σ, a), 1/a)", shiftSigma(shiftSigma(s1, a), 1 / a), s1, 1e-12, 1e-15);
        const logSnr = (s: number): number => Math.log((1 - s) / s);
        expectClose("log-SNR after shift", logSnr(shiftSigma(s1, a)), logSnr(s1) - Math.log(a), 1e-9, 1e-9);
        expectClose("exponential dynamic shift", timeShift(Math.log(a), s1, "exponential"), shiftSigma(s1, a), 1e-12, 1e-15);
        expectClose("linear dynamic shift", timeShift(a, s1, "linear"), shiftSigma(s1, a), 1e-12, 1e-15);
      })),
  },
  {
    clause: "FLOW-SHIFT",
    name: "schedule-shape",
    scope: "spec",
    kind: "property",
    /** Every option: n + 1 σ's in [0, 1] (compat "diffusers": within float32 rounding, 1e-6, of it — its float32 shift of σ = 1 can exceed 1), the first n strictly monotone (decreasing; increasing with invertSigmas), the last 0 (1 inverted), timesteps = N·σ; σ₀ = 1 unless inverted or stretched. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(flowConfigArb, (r) => {
        const c: FlowMatchEulerConfig = { ...FLOW_MATCH_EULER_DEFAULTS, className: "FlowMatchEulerDiscreteScheduler", ...r, useKarrasSigmas: r.ramp === "karras", useExponentialSigmas: r.ramp === "exponential", useBetaSigmas: r.ramp === "beta" } as FlowMatchEulerConfig;
        const s = flowMatchSchedule(r.n, c, r.useDynamicShifting ? r.mu : undefined);
        expect(s.sigmas.length === r.n + 1 && s.timesteps.length === r.n, "lengths");
        const sig = Array.from(s.sigmas.subarray(0, r.n));
        const dir = r.invertSigmas ? 1 : -1;
        sig.forEach((v, i) => {
          const slack = r.compat === "diffusers" ? 1e-6 : 0;
          expect(v >= -slack && v <= 1 + slack, `σ[${i}] = ${v} outside [0, 1]`);
          if (i > 0) expect(dir * (v - sig[i - 1]) > 0, `σ not strictly ${dir < 0 ? "decreasing" : "increasing"} at ${i}: ${sig[i - 1]}, ${v}`);
          expectClose(`timestep[${i}]`, s.timesteps[i], v * r.numTrainTimesteps, 1e-6, 1e-9);
        });
        expect(s.sigmas[r.n] === (r.invertSigmas ? 1 : 0), `final σ ${s.sigmas[r.n]}`);
        if (!r.invertSigmas && !r.shiftTerminal) expectClose("σ₀", sig[0], 1, 1e-6);
      })),
  },
  {
    clause: "SAMP-FLOW-EULER",
    name: "step-is-euler-on-the-velocity",
    scope: "spec",
    kind: "property",
    /** Deterministic: x' = x + (σ' − σ)·v exactly; the step to σ' = 0 returns x̂₀ = x − σv. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 12 }), async (seed, n) => {
        const g = new GaussianStream(`feuler/${seed}`);
        const s = new FlowMatchEulerDiscreteScheduler({ shift: 1 + 4 * g.uniform() }, ref);
        s.setTimesteps(n);
        let x = ref.fromHost(g.normals(8), [1, 8]);
        for (let i = 0; i < n; i++) {
          const v = ref.fromHost(g.normals(8), [1, 8]);
          const sig = s.sigmas as Float64Array;
          const next = (await s.step(v, s.timesteps[i], x)).prevSample;
          expectAllClose(`step ${i}`, next.data, lin([x.data, v.data], [1, sig[i + 1] - sig[i]]), 0, 1e-12);
          if (i === n - 1) expectAllClose("last step = x̂₀", next.data, lin([x.data, v.data], flowX0Coeffs(sig[i])), 0, 1e-12);
          x = next;
        }
      })),
  },
  {
    clause: "SAMP-FLOW-EULER",
    name: "stochastic-step-renoises-along-the-path",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** stochasticSampling: (x' − (1 − σ')x̂₀)/σ' ~ 𝒩(0, 1) elementwise for one interior step, 4096 draws of the backend's randn; KS test, α = 1e-3 (two samples must both reject). */
    async run(ctx) {
      const b = ctx.backend;
      await statisticalTest(ctx, "SAMP-FLOW-EULER stochastic-step-renoises-along-the-path", 1e-3, async (g) => {
        const s = new FlowMatchEulerDiscreteScheduler({ stochasticSampling: true, shift: 3 }, b);
        s.setTimesteps(8);
        const i = 2; // the first call may start anywhere in the schedule (img2img)
        const shape = [1, 1, 64, 64];
        const x = await b.fromHost(g.normals(4096), shape);
        const v = await b.fromHost(g.normals(4096).map((z) => 0.5 * z), shape);
        const out = await b.toHost((await s.step(v, s.timesteps[i], x, { noise: backendNoise(b, g.int(2 ** 31)) })).prevSample);
        const sig = s.sigmas as Float64Array;
        const [xh, vh] = [await b.toHost(x), await b.toHost(v)];
        return ksTestNormal(out.map((o, j) => (o - (1 - sig[i + 1]) * (xh[j] - sig[i] * vh[j])) / sig[i + 1])).pValue;
      });
    },
  },
  {
    clause: "SAMP-FLOW-HEUN",
    name: "two-evaluations-per-interval-and-trapezoid",
    scope: "spec",
    kind: "property",
    /** 2n − 1 calls; for a velocity field constant in x the predictor–corrector pair equals x + (σ' − σ)(v₁ + v₂)/2 (the trapezoid rule). */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 2, max: 10 }), async (seed, n) => {
        const g = new GaussianStream(`fheun/${seed}`);
        const s = await createScheduler("FlowMatchHeunDiscreteScheduler", { shift: 2 }, ref);
        s.setTimesteps(n);
        expect(s.timesteps.length === 2 * n - 1, `${s.timesteps.length} calls for n = ${n}`);
        const sig = s.sigmas as Float64Array;
        const x = ref.fromHost(g.normals(8), [1, 8]);
        const [v1, v2] = [ref.fromHost(g.normals(8), [1, 8]), ref.fromHost(g.normals(8), [1, 8])];
        const mid = (await s.step(v1, s.timesteps[0], x)).prevSample;
        const end = (await s.step(v2, s.timesteps[1], mid)).prevSample;
        expectAllClose("Heun interval", end.data, lin([x.data, v1.data, v2.data], [1, (sig[1] - sig[0]) / 2, (sig[1] - sig[0]) / 2]), 0, 1e-12);
      })),
  },
  // ─── consistency models ──────────────────────────────────────────────────────────────────────
  {
    clause: "CM-BOUNDARY",
    name: "boundary-scalings",
    scope: "spec",
    kind: "property",
    /** c_skip(0) = 1, c_out(0) = 0 (f(x, 0) = x); for t > 0: c_skip, c_out ∈ (0, 1), c_skip decreasing and c_out increasing in t, and c_skip + c_out² = 1. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.integer({ min: 1, max: 999 }), fc.double({ min: 0.1, max: 100, noNaN: true }), (t, k) => {
        const z = consistencyScalings(0, k);
        expect(z.cSkip === 1 && z.cOut === 0, `c(0) = ${JSON.stringify(z)}`);
        const a = consistencyScalings(t, k);
        const b = consistencyScalings(t + 1, k);
        expect(a.cSkip > 0 && a.cSkip < 1 && a.cOut > 0 && a.cOut < 1, `c(${t}) = ${JSON.stringify(a)}`);
        expect(b.cSkip < a.cSkip && b.cOut > a.cOut, `monotonicity at t = ${t}`);
        expectClose("c_out² + c_skip", a.cOut ** 2 + a.cSkip, 1, 1e-12);
      })),
  },
  {
    clause: "SAMP-LCM",
    name: "skipping-step-timesteps",
    scope: "spec",
    kind: "property",
    /** n ≤ originalSteps timesteps, strictly decreasing, each on the distillation grid k·j − 1 (k = ⌊N/originalSteps⌋), the first the top one; n > originalSteps is a ConfigError. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 100, max: 2000 }), (n, orig, N) => {
        if (n > orig) {
          let threw = false;
          try { consistencyTimesteps(n, N, orig, "LCMScheduler"); } catch { threw = true; }
          expect(threw, `n = ${n} > originalSteps = ${orig} was accepted`);
          return;
        }
        const ts = consistencyTimesteps(n, N, orig, "LCMScheduler");
        const k = Math.floor(N / orig);
        expect(ts.length === n && ts[0] === orig * k - 1, `timesteps ${ts.slice(0, 4).join(", ")}…`);
        ts.forEach((t, i) => {
          expect((t + 1) % k === 0 && t >= 0 && t < N, `timestep ${t} not on the grid k·j − 1 (k = ${k})`);
          if (i > 0) expect(t < ts[i - 1], "not strictly decreasing");
        });
      })),
  },
  {
    clause: "SAMP-LCM",
    name: "one-step-is-the-consistency-function",
    scope: "spec",
    kind: "property",
    /** n = 1 (no noise drawn): the sample returned is c_skip(t)·x + c_out(t)·x̂₀ with x̂₀ the model's x₀ prediction. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.constantFrom<PredictionType>("epsilon", "sample", "v_prediction"), async (seed, p) => {
        const g = new GaussianStream(`lcm1/${seed}`);
        const s = new LCMScheduler({ predictionType: p }, ref);
        s.setTimesteps(1);
        const t = s.timesteps[0];
        const [x, out] = [ref.fromHost(g.normals(8), [1, 8]), ref.fromHost(g.normals(8), [1, 8])];
        const abar = s.schedule.alphasCumprod[t];
        const [a, sg] = [Math.sqrt(abar), Math.sqrt(1 - abar)];
        const x0 = p === "epsilon" ? lin([x.data, out.data], [1 / a, -sg / a]) : p === "sample" ? out.data : lin([x.data, out.data], [a, -sg]);
        const { cSkip, cOut } = consistencyScalings(t, 10);
        const r = await s.step(out, t, x);
        expectAllClose("f(x, t)", r.prevSample.data, lin([x.data, x0], [cSkip, cOut]), 0, 1e-12);
      })),
  },
  {
    clause: "SAMP-LCM",
    name: "renoise-is-the-forward-marginal",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** A step that is not the last returns √ᾱ'·f + √(1 − ᾱ')·z: (x' − √ᾱ'·f)/√(1 − ᾱ') ~ 𝒩(0, 1), 4096 draws of the backend's randn; KS, α = 1e-3 (two samples must both reject). */
    async run(ctx) {
      const b = ctx.backend;
      await statisticalTest(ctx, "SAMP-LCM renoise-is-the-forward-marginal", 1e-3, async (g) => {
        const s = new LCMScheduler({}, b);
        s.setTimesteps(4);
        const shape = [1, 1, 64, 64];
        const [x, out] = [await b.fromHost(g.normals(4096), shape), await b.fromHost(g.normals(4096), shape)];
        const r = (await s.step(out, s.timesteps[0], x, { noise: backendNoise(b, g.int(2 ** 31)) })) as { prevSample: BTensor; denoised: BTensor };
        const abar = s.schedule.alphasCumprod[s.timesteps[1]];
        const [got, f] = [await b.toHost(r.prevSample), await b.toHost(r.denoised)];
        return forwardNoisedP(got, f, abar);
      });
    },
  },
  {
    clause: "SAMP-TCD",
    name: "gamma-zero-is-ddim",
    scope: "spec",
    kind: "property",
    /** γ = 0: the TCD step from t to t' is DDIM's deterministic step (η = 0) with the same x̂₀, ε̂. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 2, max: 20 }), async (seed, n) => {
        const g = new GaussianStream(`tcd0/${seed}`);
        const s = new TCDScheduler({}, ref);
        s.setTimesteps(n);
        const [t, tp] = [s.timesteps[0], s.timesteps[1]];
        const [x, eps] = [ref.fromHost(g.normals(8), [1, 8]), ref.fromHost(g.normals(8), [1, 8])];
        const ac = s.schedule.alphasCumprod;
        const x0 = lin([x.data, eps.data], [1 / Math.sqrt(ac[t]), -Math.sqrt(1 - ac[t]) / Math.sqrt(ac[t])]);
        const k = ddimCoefficients(ac[t], ac[tp], 0);
        const r = await s.step(eps, t, x, { eta: 0 });
        expectAllClose("TCD γ = 0 vs DDIM", r.prevSample.data, lin([x0, eps.data], [k.x0, k.eps]), 0, 1e-10);
      })),
  },
  {
    clause: "SAMP-TCD",
    name: "renoise-is-forward-diffusion-from-s",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** γ > 0, not the last step: (x' − √(ᾱ'/ᾱ_s)·x_s)/√(1 − ᾱ'/ᾱ_s) ~ 𝒩(0, 1), s = ⌊(1 − γ)t'⌋; 4096 draws of the backend's randn, KS, α = 1e-3 (two samples must both reject). */
    async run(ctx) {
      const b = ctx.backend;
      await statisticalTest(ctx, "SAMP-TCD renoise-is-forward-diffusion-from-s", 1e-3, async (g) => {
        const s = new TCDScheduler({}, b);
        s.setTimesteps(4);
        const gamma = 0.2 + 0.7 * g.uniform();
        const shape = [1, 1, 64, 64];
        const [x, out] = [await b.fromHost(g.normals(4096), shape), await b.fromHost(g.normals(4096), shape)];
        const r = (await s.step(out, s.timesteps[0], x, { eta: gamma, noise: backendNoise(b, g.int(2 ** 31)) })) as { prevSample: BTensor; predNoisedSample: BTensor };
        const ac = s.schedule.alphasCumprod;
        const ratio = ac[s.timesteps[1]] / ac[Math.floor((1 - gamma) * s.timesteps[1])];
        const [got, xs] = [await b.toHost(r.prevSample), await b.toHost(r.predNoisedSample)];
        return forwardNoisedP(got, xs, ratio);
      });
    },
  },
  // ─── EDM ─────────────────────────────────────────────────────────────────────────────────────
  {
    clause: "EDM-PRECOND",
    name: "unit-variance-input-and-target",
    scope: "spec",
    kind: "property",
    /** For y with variance σ_d² and x = y + σn: Var(c_in·x) = 1 and Var((y − c_skip·x)/c_out) = 1 (Karras et al. 2022, App. B.6), exactly in the algebra. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.double({ min: 1e-3, max: 200, noNaN: true }), fc.double({ min: 0.1, max: 2, noNaN: true }), (sigma, sd) => {
        const p = edmPreconditioning(sigma, sd);
        expectClose("c_in²(σ_d² + σ²)", p.cIn ** 2 * (sd * sd + sigma * sigma), 1, 1e-12);
        const targetVar = ((1 - p.cSkip) ** 2 * sd * sd + p.cSkip ** 2 * sigma * sigma) / p.cOut ** 2;
        expectClose("Var(F target)", targetVar, 1, 1e-9);
        expectClose("c_noise", p.cNoise, Math.log(sigma) / 4, 1e-12, 1e-15);
      })),
  },
  {
    clause: "EDM-PRECOND",
    name: "denoiser-from-network-roundtrip",
    scope: "spec",
    kind: "property",
    /** D = c_skip·x + c_out·F and F = (D − c_skip·x)/c_out are inverse; "v_prediction" flips the sign of c_out only. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.double({ min: 0.01, max: 80, noNaN: true }), async (seed, sigma) => {
        const g = new GaussianStream(`edm/${seed}`);
        const s = new EDMEulerScheduler({}, ref);
        s.setTimesteps(3);
        const [x, d] = [g.normals(8), g.normals(8)];
        for (const pt of ["epsilon", "v_prediction"] as const) {
          const p = edmPreconditioning(sigma, 0.5, pt);
          const F = d.map((v, i) => (v - p.cSkip * x[i]) / p.cOut);
          expectAllClose(`D(F) ${pt}`, lin([x, F], [p.cSkip, p.cOut]), d, 0, 1e-10 * (1 + maxAbs(d)));
        }
        expect(edmPreconditioning(sigma, 0.5, "v_prediction").cOut === -edmPreconditioning(sigma, 0.5).cOut, "v_prediction must negate c_out");
      })),
  },
  {
    clause: "EDM-SIGMAS",
    name: "schedule-shape",
    scope: "spec",
    kind: "property",
    /** n σ's from σ_max to σ_min strictly decreasing (karras or exponential), then 0 or σ_min; timesteps c_noise = ¼ ln σ. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 2, max: 60 }), fc.constantFrom("karras", "exponential"), fc.constantFrom("zero", "sigma_min"), fc.constantFrom("math", "diffusers"), async (n, sched, fin, compat) => {
        const s = new EDMEulerScheduler({ sigmaSchedule: sched, finalSigmasType: fin, compat }, ref);
        s.setTimesteps(n);
        const sig = s.sigmas as Float64Array;
        const c = { ...EDM_DEFAULTS, sigmaSchedule: sched, compat } as typeof EDM_DEFAULTS;
        expectAllClose("σ's", sig.subarray(0, n), edmSigmas(n, c), 0, 0);
        expectClose("σ_max", sig[0], 80, 1e-6);
        expectClose("σ_min", sig[n - 1], 0.002, 1e-6);
        for (let i = 1; i < n; i++) expect(sig[i] < sig[i - 1], `σ not decreasing at ${i}`);
        expect(sig[n] === (fin === "zero" ? 0 : Math.fround(0.002)) || (compat === "math" && sig[n] === 0.002), `final σ ${sig[n]}`);
        s.timesteps.forEach((t, i) => expectClose(`c_noise[${i}]`, t, Math.log(sig[i]) / 4, 1e-6, 1e-7));
      })),
  },
  {
    clause: "SAMP-EDM-EULER",
    name: "last-step-returns-the-denoiser",
    scope: "backend",
    kind: "property",
    /** The step to σ' = 0 returns D = c_skip·x + c_out·F on the backend (the single-step picture), within the "sampler" tolerance. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 8 }), async (seed, n) => {
        const b = ctx.backend;
        const g = new GaussianStream(`edmlast/${seed}`);
        const s = new EDMEulerScheduler({}, b);
        s.setTimesteps(n);
        for (let i = 0; i < n - 1; i++) await s.step(await b.fromHost(g.normals(8), [1, 8]), s.timesteps[i], await b.fromHost(g.normals(8), [1, 8]));
        const sigma = (s.sigmas as Float64Array)[n - 1];
        const [xh, fh] = [g.normals(8).map((v) => v * sigma), g.normals(8)];
        const out = await b.toHost((await s.step(await b.fromHost(fh, [1, 8]), s.timesteps[n - 1], await b.fromHost(xh, [1, 8]))).prevSample);
        const p = edmPreconditioning(sigma, 0.5);
        const want = lin([xh, fh], [p.cSkip, p.cOut]);
        const tol = tolerance(b.dtype, "sampler", { steps: 1, scale: Math.max(1, maxAbs(xh)) });
        expectAllClose("EDM Euler last step vs D", out, want, tol.rtol, tol.atol);
      })),
  },
  {
    clause: "SAMP-EDM-DPMPP",
    name: "first-order-step-is-edm-euler",
    scope: "spec",
    kind: "property",
    /** The first DPM-Solver++ step (order 1, α = 1, λ = −ln σ) equals EDM Euler's step from the same x and F: x' = (σ'/σ)x + (1 − σ'/σ)D. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 2, max: 30 }), fc.constantFrom("karras", "exponential"), async (seed, n, sched) => {
        const g = new GaussianStream(`edmdpm/${seed}`);
        const [e, d] = [new EDMEulerScheduler({ sigmaSchedule: sched }, ref), new EDMDPMSolverMultistepScheduler({ sigmaSchedule: sched }, ref)];
        e.setTimesteps(n);
        d.setTimesteps(n);
        const [x, F] = [ref.fromHost(g.normals(8).map((v) => v * 80), [1, 8]), ref.fromHost(g.normals(8), [1, 8])];
        const a = (await e.step(F, e.timesteps[0], x)).prevSample.data;
        const c = (await d.step(F, d.timesteps[0], x)).prevSample.data;
        expectAllClose("DPM-Solver++ order 1 vs EDM Euler", c, a, 1e-12, 1e-12);
      })),
  },
  {
    clause: "SAMP-EDM-DPMPP",
    name: "sde-step-noise-has-std-sigma-sqrt-one-minus-e-2h",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** sde-dpmsolver++, first step σ₀ → σ₁: (x' − x'|_{z=0})/(σ₁√(1 − e^{−2h})) ~ 𝒩(0, 1), h = ln(σ₀/σ₁); 4096 draws of the backend's randn, KS, α = 1e-3 (two samples must both reject). */
    async run(ctx) {
      const b = ctx.backend;
      await statisticalTest(ctx, "SAMP-EDM-DPMPP sde-step-noise", 1e-3, async (g) => {
        const s = new EDMDPMSolverMultistepScheduler({ algorithmType: "sde-dpmsolver++" }, b);
        const shape = [1, 1, 64, 64];
        const [x, F] = [await b.fromHost(g.normals(4096).map((v) => 80 * v), shape), await b.fromHost(g.normals(4096), shape)];
        const zero = { next: async (sh: Shape) => b.fromHost(new Float64Array(size(sh)), sh) };
        s.setTimesteps(8);
        const mean = await b.toHost((await s.step(F, s.timesteps[0], x, { noise: zero })).prevSample);
        s.setTimesteps(8);
        const drawn = await b.toHost((await s.step(F, s.timesteps[0], x, { noise: backendNoise(b, g.int(2 ** 31)) })).prevSample);
        const sig = s.sigmas as Float64Array;
        const std = sig[1] * Math.sqrt(1 - (sig[1] / sig[0]) ** 2);
        return ksTestNormal(drawn.map((v, i) => (v - mean[i]) / std)).pValue;
      });
    },
  },
  // ─── iPNDM ───────────────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-IPNDM",
    name: "schedule-on-the-quarter-circle-and-eps-from-velocity",
    scope: "spec",
    kind: "property",
    /** α_k² + σ_k² = 1 with σ₀ = 1 and σ_n = 0, timesteps decreasing in [0, 1]; σ·x + α·v recovers ε exactly for v = αε − σx₀. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.integer({ min: 1, max: 50 }), seedArb, (n, seed) => {
        const s = ipndmSchedule(n, { numTrainTimesteps: 1000, compat: "math" });
        s.alphas.forEach((a, k) => expectClose(`α² + σ² at ${k}`, a * a + s.sigmas[k] ** 2, 1, 1e-12));
        expect(s.sigmas[0] === 1 && s.sigmas[n] === 0, "σ must run from 1 to 0");
        s.timesteps.forEach((t, k) => expect(t <= 1 && t > 0 && (k === 0 || t < s.timesteps[k - 1]), `timestep ${k} = ${t}`));
        const g = new GaussianStream(`ipndm/${seed}`);
        const k = Math.min(n - 1, 1 + g.int(n));
        const [a, sg] = [s.alphas[k], s.sigmas[k]];
        const [x0, eps] = [g.normals(8), g.normals(8)];
        const x = lin([x0, eps], [a, sg]);
        const v = lin([x0, eps], [-sg, a]);
        expectAllClose("σx + αv", lin([x, v], [sg, a]), eps, 0, 1e-12 * (1 + maxAbs(x0) + maxAbs(eps)));
      })),
  },
  {
    clause: "SAMP-IPNDM",
    name: "adams-bashforth-weights-are-exact-on-polynomials",
    scope: "spec",
    kind: "example",
    /** The k-step weights (k = 1 … 4) integrate every polynomial of degree < k over one unit step from its values at 0, −1, …, −(k − 1). */
    run() {
      for (let k = 1; k <= 4; k++) {
        const w = ADAMS_BASHFORTH[k];
        for (let d = 0; d < k; d++) {
          const got = w.reduce((s, wj, j) => s + wj * (-j) ** d, 0);
          expectClose(`AB${k} on t^${d}`, got, 1 / (d + 1), 1e-12, 1e-15);
        }
      }
    },
  },
  // ─── SA-Solver ───────────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-SA-SOLVER",
    name: "closed-form-moments-match-quadrature",
    scope: "spec",
    kind: "property",
    /** ∫_a^b e^{cλ}λ^k dλ and ∫_a^b e^{−λ}λ^k dλ (k ≤ 3) against composite Simpson with 2000 panels (error ≪ 1e-8 here). */
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.double({ min: -6, max: 4, noNaN: true }), fc.double({ min: 0.01, max: 2, noNaN: true }), fc.double({ min: 1, max: 3, noNaN: true }), fc.integer({ min: 0, max: 3 }), (a, h, c, k) => {
        const b = a + h;
        const simpson = (f: (x: number) => number): number => {
          const m = 2000;
          const dx = (b - a) / m;
          let s = f(a) + f(b);
          for (let i = 1; i < m; i++) s += (i % 2 ? 4 : 2) * f(a + i * dx);
          return (s * dx) / 3;
        };
        expectClose("∫e^{cλ}λ^k", expPositiveMoment(k, a, b, c), simpson((x) => Math.exp(c * x) * x ** k), 1e-7, 1e-9);
        expectClose("∫e^{−λ}λ^k", expNegativeMoment(k, a, b), simpson((x) => Math.exp(-x) * x ** k), 1e-7, 1e-9);
      })),
  },
  {
    clause: "SAMP-SA-SOLVER",
    name: "lagrange-basis-is-cardinal",
    scope: "spec",
    kind: "property",
    /** ℓ_j(λ_k) = δ_jk for up to 4 distinct nodes. */
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.uniqueArray(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 4, comparator: (x, y) => Math.abs(x - y) < 0.05 }), (nodes) => {
        nodes.forEach((_, j) => {
          const poly = lagrangeBasis(j, nodes);
          nodes.forEach((x, k) => expectClose(`ℓ_${j}(λ_${k})`, poly.reduce((s, c, d) => s + c * x ** d, 0), j === k ? 1 : 0, 1e-8, 1e-8));
        });
      })),
  },
  {
    clause: "SAMP-SA-SOLVER",
    name: "tau-zero-is-deterministic",
    scope: "spec",
    kind: "property",
    /** With τ ≡ 0 every noise coefficient is 0: two runs with different noise give the same samples. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(seedArb, fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), async (seed, n, p, c) => {
        const run = async (noiseSeed: string): Promise<Float64Array> => {
          const s = new SASolverScheduler({ tauFunc: () => 0, predictorOrder: p, correctorOrder: c }, ref);
          s.setTimesteps(n);
          const x = ref.fromHost(new GaussianStream(`sa/${seed}`).normals(8), [1, 8]);
          return (await runPipeline(s as Scheduler<any>, hostModel(ref), x, { noise: hostNoise(ref, new GaussianStream(noiseSeed)) })).data;
        };
        expectAllClose("τ = 0 with different noise", await run(`a/${seed}`), await run(`b/${seed}`), 0, 0);
      })),
  },
  {
    clause: "SAMP-SA-SOLVER",
    name: "predictor-noise-has-std-sigma-sqrt-one-minus-e-2tau2h",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** τ ≡ 1, first (predictor-only) step: (x' − x'|_{ξ=0})/(σ_t√(1 − e^{−2τ²h})) ~ 𝒩(0, 1) (VP σ_t, h = λ_t − λ_s); 4096 draws of the backend's randn, KS, α = 1e-3 (two samples must both reject). */
    async run(ctx) {
      const b = ctx.backend;
      await statisticalTest(ctx, "SAMP-SA-SOLVER predictor-noise", 1e-3, async (g) => {
        const s = new SASolverScheduler({ tauFunc: () => 1 }, b);
        const shape = [1, 1, 64, 64];
        const [x, out] = [await b.fromHost(g.normals(4096), shape), await b.fromHost(g.normals(4096), shape)];
        const zero = { next: async (sh: Shape) => b.fromHost(new Float64Array(size(sh)), sh) };
        s.setTimesteps(6);
        const mean = await b.toHost((await s.step(out, s.timesteps[0], x, { noise: zero })).prevSample);
        s.setTimesteps(6);
        const drawn = await b.toHost((await s.step(out, s.timesteps[0], x, { noise: backendNoise(b, g.int(2 ** 31)) })).prevSample);
        const sig = s.sigmas as Float64Array;
        const [from, to] = [vp(sig[0]), vp(sig[1])];
        const std = to.sigma * Math.sqrt(1 - Math.exp(-2 * (to.lambda - from.lambda)));
        return ksTestNormal(drawn.map((v, i) => (v - mean[i]) / std)).pValue;
      });
    },
  },
  ...parityProperties,
  {
    clause: "SAMP-FLOW-EULER",
    name: "dynamic-shifting-needs-mu",
    scope: "spec",
    kind: "example",
    /** useDynamicShifting without `mu` is a ConfigError naming mu (diffusers raises ValueError). */
    run() {
      const s = new FlowMatchEulerDiscreteScheduler({ useDynamicShifting: true }, ref);
      let msg = "";
      try { s.setTimesteps(4); } catch (e) { msg = (e as Error).message; }
      expect(/mu/.test(msg), `expected a ConfigError naming mu, got "${msg}"`);
    },
  },
]);
