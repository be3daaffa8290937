/**
 * SAMP-DDPM, SAMP-DDPM-VARIANCE, SAMP-DDIM, SAMP-DDIM-PERFECT, SAMP-DDIM-ETA1-DDPM, SAMP-PNDM,
 * SAMP-PNDM-WARMUP (spec/07-samplers-ddpm-ddim-pndm.md).
 *
 * "spec" properties check the reference mathematics on the Float64 reference backend (exact claims,
 * tolerances of order 1e-10). "backend" properties run the same sampler code on the backend under test:
 * evaluation counts, reproducibility, finiteness for every option, and agreement with the reference
 * within the "sampler" row of conformance/tolerances.ts.
 *
 * Step coefficients are read off through `step` itself: a step is affine in (sample, model output,
 * noise), so stepping with z = 0 and z = 1 gives the mean and the noise standard deviation per element.
 * Random tensors come from a GaussianStream seeded by a fast-check integer, so counterexamples replay.
 */
import fc from "fast-check";
import type { Backend, BTensor, Denoiser, PredictionType } from "../../adapters/contract.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { defineProperties, type PropertyContext } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose } from "../check.ts";
import { tolerance } from "../tolerances.ts";
import { ConfigError } from "../../reference/errors.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { targetFor } from "../../reference/param.ts";
import { posteriorMeanCoefficients, posteriorVariance } from "../../reference/posterior.ts";
import { size, type Shape, type Tensor } from "../../reference/tensor.ts";
import { hostNoise, runPipeline, type NoiseProvider, type Scheduler, type StepOptions } from "../../reference/samplers/scheduler.ts";
import { DDPMScheduler, ddpmPosterior, type DDPMVarianceType } from "../../reference/samplers/ddpm.ts";
import { DDIMScheduler, ddimCoefficients } from "../../reference/samplers/ddim.ts";
import { PNDMScheduler, pndmTransferCoefficients, prkMidpoint } from "../../reference/samplers/pndm.ts";

// ─── generators ─────────────────────────────────────────────────────────────────────────────────

const SCHEDULES = ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"] as const;
const SPACINGS = ["linspace", "leading", "trailing"] as const;
const PREDICTIONS: readonly PredictionType[] = ["epsilon", "sample", "v_prediction"];
const COMPATS = ["math", "diffusers"] as const;
/** Small tensors: [B, C, H, W] = [2, 1, 2, 2] (two batch items, so per-item operations are exercised). */
const SHAPE: Shape = [2, 1, 2, 2];

const scheduleArb = fc.record({
  numTrainTimesteps: fc.oneof(fc.constant(1000), fc.integer({ min: 8, max: 1200 })),
  betaSchedule: fc.constantFrom(...SCHEDULES),
  rescaleBetasZeroSnr: fc.boolean(),
  timestepSpacing: fc.constantFrom(...SPACINGS),
  stepsOffset: fc.constantFrom(0, 0, 1),
});
type ScheduleArb = typeof scheduleArb extends fc.Arbitrary<infer U> ? U : never;

/** n ∈ [1, maxN], kept ≤ N − 1 so that stepsOffset = 1 stays inside [0, N − 1] for every spacing. */
const stepsFor = (sc: ScheduleArb, n: number): number => Math.max(1, Math.min(n, sc.numTrainTimesteps - 1));

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

// ─── helpers ────────────────────────────────────────────────────────────────────────────────────

const ref = referenceBackend;
const randn = (g: GaussianStream, shape: Shape = SHAPE, scale = 1): Tensor => {
  const t = g.randn(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] *= scale;
  return t;
};
const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** A noise provider that always returns the same tensor (z = 0 or z = 1 to read coefficients off). */
const constNoise = <T extends BTensor>(z: T): NoiseProvider<T> => ({ next: async () => z });
/** A noise provider that counts draws (and supplies zeros). */
function countingNoise<T extends BTensor>(b: Backend<T>): NoiseProvider<T> & { draws: number } {
  const p = { draws: 0, next: async (shape: Shape) => { p.draws++; return b.fromHost(new Float64Array(shape.reduce((a, d) => a * d, 1)), shape); } };
  return p;
}

/**
 * One step's affine parts on the reference: mean = step with z = 0; std = step(z = 1) − mean
 * (elementwise), 0 where the step draws no noise.
 */
async function stepParts(s: Scheduler<Tensor>, out: Tensor, t: number, x: Tensor, opts: StepOptions<Tensor> = {}): Promise<{ mean: Float64Array; std: Float64Array; draws: number }> {
  const zeros = countingNoise(ref);
  const mean = (await s.step(out, t, x, { ...opts, noise: zeros })).prevSample.data;
  const ones = ref.fromHost(new Float64Array(x.data.length).fill(1), x.shape);
  const shifted = (await s.step(out, t, x, { ...opts, noise: constNoise(ones) })).prevSample.data;
  return { mean, std: shifted.map((v, i) => v - mean[i]), draws: zeros.draws };
}

/** A model evaluated on the host from the backend's values; counts its evaluations. */
function hostModel<T extends BTensor>(b: Backend<T>, predictionType: PredictionType, f: (x: Float64Array, t: number) => Float64Array, outShape: (s: Shape) => Shape = (s) => s): Denoiser<T> & { calls: number } {
  const m = {
    predictionType,
    calls: 0,
    async evaluate(x: T, t: number): Promise<T> {
      m.calls++;
      return b.fromHost(f(await b.toHost(x), t), outShape(x.shape));
    },
  };
  return m;
}

/**
 * The exact model for data that is a single point x₀ (ORACLE-EPS with one component of std 0):
 * ε*(xₜ) = (xₜ − αₜ x₀)/σₜ, returned in the scheduler's parameterisation (PARAM).
 */
function pointMassModel(alphasCumprod: Float64Array, x0: Tensor, p: PredictionType): Denoiser<Tensor> {
  return {
    predictionType: p,
    async evaluate(x: Tensor, t: number): Promise<Tensor> {
      const abar = alphasCumprod[t];
      const alpha = Math.sqrt(abar);
      const sigma = Math.sqrt(1 - abar);
      const eps = { shape: x.shape, data: x.data.map((v, i) => (v - alpha * x0.data[i]) / sigma) };
      return targetFor(p, x0, eps, alpha, sigma);
    },
  };
}

/**
 * setTimesteps, or false when it rejected ε-prediction on a schedule that visits ᾱ = 0 (zero terminal
 * SNR) with the typed error the spec requires; any other error propagates.
 */
function trySetTimesteps(s: Scheduler<any> & { schedule?: { alphasCumprod: Float64Array } }, n: number, predictionType: PredictionType): boolean {
  try {
    s.setTimesteps(n);
    return true;
  } catch (e) {
    if (e instanceof ConfigError && predictionType === "epsilon" && /predictionType/.test(e.field)) return false;
    throw e;
  }
}

/** The tanh-mix test model of the fixtures, with random coefficients: a·tanh(x) + b·x + c·sin(t/100). */
const mixModel = (a: number, b: number, c: number) => (x: Float64Array, t: number): Float64Array => x.map((v) => a * Math.tanh(v) + b * v + c * Math.sin(t / 100));

/**
 * SAMP-PNDM: the conditioning of a PNDM run, κ = max(|a| + |m|)²·max 1/σₜ over its transfers φ = a·x + m·ε
 * and its evaluations (a rounding error of x grows by 1/σ in the next ε and by |a| + |m| in the next
 * transfer; see the point-mass property).
 */
function pndmConditioning(s: PNDMScheduler<any>): number {
  const ac = s.schedule.alphasCumprod;
  const abar = (t: number): number => (t >= 0 ? ac[t] : s.finalAlphaCumprod);
  const growth = Math.max(...s.plan.map((c) => { const k = pndmTransferCoefficients(abar(c.from), abar(c.to)); return Math.abs(k.sample) + Math.abs(k.eps); }));
  return growth * growth * Math.max(...s.timesteps.map((t) => 1 / Math.sqrt(1 - ac[t])));
}

// ─── the sampler family under random options ────────────────────────────────────────────────────

type Family = "DDPM" | "DDIM" | "PNDM";

const optionsArb = fc.record({
  sc: scheduleArb,
  n: fc.integer({ min: 1, max: 30 }),
  predictionType: fc.constantFrom(...PREDICTIONS),
  compat: fc.constantFrom(...COMPATS),
  clipSample: fc.boolean(),
  clipSampleRange: fc.double({ min: 0.5, max: 3, noNaN: true }),
  thresholding: fc.boolean(),
  dynamicThresholdingRatio: fc.double({ min: 0.5, max: 1, noNaN: true }),
  sampleMaxValue: fc.double({ min: 0.25, max: 3, noNaN: true }),
  varianceType: fc.constantFrom<DDPMVarianceType>("fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range"),
  setAlphaToOne: fc.boolean(),
  skipPrkSteps: fc.boolean(),
  eta: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
  model: fc.tuple(fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true })),
  seed: seedArb,
});
type Options = typeof optionsArb extends fc.Arbitrary<infer U> ? U : never;

/** The config of `family` for random options, restricted to what the backend supports and diffusers allows. */
function configFor(family: Family, o: Options, b: Backend<any>): Record<string, unknown> {
  const sc = { numTrainTimesteps: o.sc.numTrainTimesteps, betaSchedule: o.sc.betaSchedule, timestepSpacing: o.sc.timestepSpacing, stepsOffset: o.sc.stepsOffset, predictionType: o.predictionType, compat: o.compat };
  if (family === "PNDM") {
    const predictionType = o.compat === "diffusers" && o.predictionType === "sample" ? "epsilon" : o.predictionType;
    return { ...sc, predictionType, setAlphaToOne: o.setAlphaToOne, skipPrkSteps: o.skipPrkSteps };
  }
  const post = {
    rescaleBetasZeroSnr: o.sc.rescaleBetasZeroSnr,
    clipSample: o.clipSample && !!b.clamp,
    clipSampleRange: o.clipSampleRange,
    thresholding: o.thresholding && !!b.threshold && (o.sampleMaxValue >= 1 || !!b.clamp),
    dynamicThresholdingRatio: o.dynamicThresholdingRatio,
    sampleMaxValue: o.sampleMaxValue,
  };
  if (family === "DDPM") return { ...sc, ...post, varianceType: o.varianceType };
  return { ...sc, ...post, setAlphaToOne: o.setAlphaToOne };
}

function stepsOf(family: Family, o: Options): number {
  const n = stepsFor(o.sc, o.n);
  // diffusers' PRK warm-up takes the last four timesteps (compat "diffusers" rejects n < 4 with a ConfigError)
  return family === "PNDM" && o.compat === "diffusers" && !o.skipPrkSteps ? Math.max(4, Math.min(n, o.sc.numTrainTimesteps - 1)) : n;
}

function makeScheduler<T extends BTensor>(family: Family, config: Record<string, unknown>, b: Backend<T>): Scheduler<T> {
  if (family === "DDPM") return new DDPMScheduler(config, b);
  if (family === "DDIM") return new DDIMScheduler(config, b);
  return new PNDMScheduler(config, b);
}

/** The model of random options: learned DDPM variance types get 2C channels (prediction, then v). */
function familyModel<T extends BTensor>(family: Family, o: Options, b: Backend<T>, predictionType: PredictionType): Denoiser<T> & { calls: number } {
  const f = mixModel(...o.model);
  const learned = family === "DDPM" && (o.varianceType === "learned" || o.varianceType === "learned_range");
  if (!learned) return hostModel(b, predictionType, f);
  return hostModel(b, predictionType, (x, t) => {
    const pred = f(x, t);
    const [B] = SHAPE;
    const per = x.length / B;
    const out = new Float64Array(2 * x.length);
    for (let i = 0; i < B; i++) {
      out.set(pred.subarray(i * per, (i + 1) * per), 2 * i * per);
      for (let k = 0; k < per; k++) {
        const s = Math.sin(x[i * per + k] + t);
        out[(2 * i + 1) * per + k] = o.varianceType === "learned" ? s * s : s;
      }
    }
    return out;
  }, ([B, C, ...rest]) => [B, 2 * C, ...rest]);
}

/** Runs `family` on backend b for options o; returns the final sample (host) and every step's sample. */
async function runFamily<T extends BTensor>(family: Family, o: Options, b: Backend<T>, onStep?: (x: Float64Array, i: number, t: number) => void): Promise<{ final: Float64Array; calls: number; scheduler: Scheduler<T> } | undefined> {
  const config = configFor(family, o, b);
  const s = makeScheduler(family, config, b);
  if (!trySetTimesteps(s, stepsOf(family, o), config.predictionType as PredictionType)) return undefined;
  const g = new GaussianStream(o.seed);
  const model = familyModel(family, o, b, config.predictionType as PredictionType);
  const x = await b.fromHost(g.normals(size(SHAPE)), SHAPE);
  const final = await runPipeline(s, model, x, {
    eta: family === "DDIM" ? o.eta : undefined,
    noise: hostNoise(b, new GaussianStream(`${o.seed}/noise`)),
    onStep: onStep ? async (i, t, xi) => onStep(await b.toHost(xi), i, t) : undefined,
  });
  return { final: await b.toHost(final), calls: model.calls, scheduler: s };
}

const FAMILY_CLAUSE: Record<Family, string> = { DDPM: "SAMP-DDPM", DDIM: "SAMP-DDIM", PNDM: "SAMP-PNDM" };

/** The backend properties every sampler of the family has. */
function familyProperties(family: Family) {
  const clause = FAMILY_CLAUSE[family];
  return defineProperties([
    {
      clause,
      name: "finite-for-every-option",
      scope: "backend",
      kind: "property",
      /** Finite inputs and finite model outputs give a finite sample after every step, for every option (incl. the last step to x₀). */
      run: (ctx) =>
        checkProperty(ctx, fc.asyncProperty(optionsArb, async (o) => {
          await runFamily(family, o, ctx.backend, (x, i, t) => {
            const k = x.findIndex((v) => !Number.isFinite(v));
            if (k >= 0) throw new Error(`step ${i} (t = ${t}) gave ${x[k]} at index ${k}`);
          });
        })),
    },
    {
      clause,
      name: "rerun-after-set-timesteps-reproduces",
      scope: "backend",
      kind: "property",
      /** setTimesteps resets all state: a second run with the same inputs and noise gives the same sample bit for bit. */
      run: (ctx) =>
        checkProperty(ctx, fc.asyncProperty(optionsArb, async (o) => {
          const b = ctx.backend;
          const config = configFor(family, o, b);
          const s = makeScheduler(family, config, b);
          const p = config.predictionType as PredictionType;
          const once = async (): Promise<Float64Array | undefined> => {
            if (!trySetTimesteps(s, stepsOf(family, o), p)) return undefined;
            const x = await b.fromHost(new GaussianStream(o.seed).normals(size(SHAPE)), SHAPE);
            const out = await runPipeline(s, familyModel(family, o, b, p), x, { eta: family === "DDIM" ? o.eta : undefined, noise: hostNoise(b, new GaussianStream(`${o.seed}/noise`)) });
            return b.toHost(out);
          };
          const a = await once();
          const c = await once();
          if (!a || !c) return;
          const k = a.findIndex((v, i) => !Object.is(v, c[i]));
          expect(k < 0, `second run differs at index ${k}: ${a[k]} vs ${c[k]}`);
        })),
    },
    {
      clause,
      name: "model-evaluations",
      scope: "backend",
      kind: "property",
      /** DDPM and DDIM evaluate the model n times; PNDM len(timesteps) times (diffusers: n + 9 with the PRK warm-up, n + 1 with skipPrkSteps). */
      run: (ctx) =>
        checkProperty(ctx, fc.asyncProperty(optionsArb, async (o) => {
          const r = await runFamily(family, o, ctx.backend);
          if (!r) return;
          const n = stepsOf(family, o);
          let expected = n;
          if (family === "PNDM") {
            const skip = o.skipPrkSteps;
            const w = Math.min(3, n - 1);
            expected = skip ? (n === 1 ? 1 : n + 1) : o.compat === "diffusers" ? n + 9 : 3 * w + n;
            expect(r.scheduler.timesteps.length === expected, `len(timesteps) = ${r.scheduler.timesteps.length}, expected ${expected}`);
          }
          expect(r.calls === expected, `${r.calls} model evaluations for n = ${n}, expected ${expected}`);
        })),
    },
    {
      clause,
      name: "backend-matches-reference",
      scope: "backend",
      kind: "property",
      /**
       * The sampler on the backend under test agrees with the Float64 reference within the "sampler" row of
       * the tolerance table (n calls, scale max |x_ref|). Options without clipping/thresholding (whose
       * branch decisions may flip under rounding) and with up to 10 steps (the row's validity). PNDM runs
       * with conditioning κ > 1e5 (e.g. n = 2 with one RK step 999 → 0, where rounding grows ~1e7-fold even
       * in Float64) are outside the row's "well-conditioned" premise and skipped.
       */
      run: (ctx) =>
        checkProperty(ctx, fc.asyncProperty(optionsArb, async (o0) => {
          const o: Options = { ...o0, clipSample: false, thresholding: false, n: Math.min(o0.n, 10), model: [0.5, 0, 0.1], varianceType: o0.varianceType.startsWith("learned") ? "fixed_small" : o0.varianceType };
          let scale = 1;
          const r = await runFamily(family, o, ref, (x) => { scale = Math.max(scale, maxAbs(x)); });
          if (!r || (r.scheduler instanceof PNDMScheduler && pndmConditioning(r.scheduler) > 1e5)) return;
          const got = await runFamily(family, o, ctx.backend);
          const tol = tolerance(ctx.backend.dtype, "sampler", { steps: r.calls, scale });
          expectAllClose(`${family} final sample on ${ctx.backend.name} vs reference`, got!.final, r.final, tol.rtol, tol.atol);
        }), Math.min(ctx.numRuns, 10)),
    },
  ]);
}

// ─── the properties ─────────────────────────────────────────────────────────────────────────────

export const properties = defineProperties([
  // SAMP-DDPM ────────────────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-DDPM",
    name: "step-is-the-posterior",
    scope: "spec",
    kind: "property",
    /**
     * With x̂₀ the model's prediction ("sample", no clipping), each step's mean and variance are those of
     * q(xₛ | xₜ, x̂₀), computed here by Bayes' rule in precision form (an independent derivation):
     * 1/σ̃² = αₜₛ/βₜₛ + 1/(1 − ᾱₛ), μ̃ = σ̃²(√αₜₛ xₜ/βₜₛ + √ᾱₛ x̂₀/(1 − ᾱₛ)). For n = N the coefficients also
     * equal reference/posterior.ts (POST-MEAN, POST-VARIANCE).
     */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.constantFrom(...COMPATS), fc.constantFrom("fixed_small", "fixed_large"), seedArb, async (sc, n0, full, compat, varianceType, seed) => {
        const n = full ? sc.numTrainTimesteps : stepsFor(sc, n0);
        const s = new DDPMScheduler({ ...sc, stepsOffset: full ? 0 : sc.stepsOffset, predictionType: "sample", clipSample: false, varianceType, compat }, ref);
        s.setTimesteps(n);
        const g = new GaussianStream(seed);
        const ts = s.timesteps;
        const picks = full ? [0, 1, Math.floor(ts.length / 2), ts.length - 2, ts.length - 1] : ts.map((_, i) => i);
        for (const i of [...new Set(picks)]) {
          const t = ts[i];
          const prev = s.previousTimestep(i);
          const x = randn(g), x0 = randn(g);
          const { mean, std } = await stepParts(s, x0, t, x);
          const abarT = s.schedule.alphasCumprod[t];
          const abarS = prev >= 0 ? s.schedule.alphasCumprod[prev] : 1;
          const alphaTs = abarT / abarS;
          const betaTs = 1 - alphaTs;
          let mu: Float64Array, variance: number;
          if (abarS === 1) {
            mu = x0.data.slice();
            variance = 0;
          } else {
            variance = 1 / (alphaTs / betaTs + 1 / (1 - abarS));
            mu = x.data.map((v, k) => variance * ((Math.sqrt(alphaTs) * v) / betaTs + (Math.sqrt(abarS) * x0.data[k]) / (1 - abarS)));
          }
          const scale = 1 + Math.max(maxAbs(x.data), maxAbs(x0.data));
          expectAllClose(`posterior mean at t = ${t} → ${prev}`, mean, mu, 0, 1e-10 * scale);
          const noisy = compat === "diffusers" ? t > 0 : prev >= 0;
          const expStd = !noisy ? 0 : Math.sqrt(varianceType === "fixed_large" ? betaTs : compat === "diffusers" ? Math.max(variance, 1e-20) : variance);
          expectAllClose(`noise std at t = ${t} → ${prev} (${varianceType})`, std, new Float64Array(std.length).fill(expStd), 1e-9, 1e-12);
          if (prev === t - 1 && t >= 1) {
            const [c0, ct] = posteriorMeanCoefficients(s.schedule, t);
            const post = ddpmPosterior(abarT, abarS);
            expectClose(`x̂₀ coefficient vs POST-MEAN at t = ${t}`, post.x0, c0, 1e-10);
            expectClose(`xₜ coefficient vs POST-MEAN at t = ${t}`, post.xt, ct, 1e-10);
            expectClose(`β̃ vs POST-VARIANCE at t = ${t}`, post.variance, posteriorVariance(s.schedule, t, "fixed_small"), 1e-10);
          }
        }
      })),
  },
  {
    clause: "SAMP-DDPM",
    name: "noise-draws",
    scope: "spec",
    kind: "property",
    /** "math" draws fresh noise on every step but the last (Ho et al., Alg. 2); "diffusers" on every step with t > 0. */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 30 }), fc.constantFrom(...COMPATS), async (sc, n0, compat) => {
        const s = new DDPMScheduler({ ...sc, predictionType: "sample", clipSample: false, compat }, ref);
        s.setTimesteps(stepsFor(sc, n0));
        const noise = countingNoise(ref);
        const x = ref.fromHost(new Float64Array(8), SHAPE);
        await runPipeline(s, hostModel(ref, "sample", (v) => v), x, { noise });
        const ts = s.timesteps;
        const expected = compat === "diffusers" ? ts.filter((t) => t > 0).length : ts.length - 1;
        expect(noise.draws === expected, `${noise.draws} noise draws over timesteps [${ts.join(", ")}], expected ${expected}`);
      })),
  },
  ...familyProperties("DDPM"),

  // SAMP-DDPM-VARIANCE ───────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-DDPM-VARIANCE",
    name: "noise-std-of-each-variance-type",
    scope: "spec",
    kind: "property",
    /**
     * Per element, the std of the fresh noise is √β̃ (fixed_small, fixed_small_log), √βₜₛ (fixed_large,
     * fixed_large_log), √v (learned, v ≥ 0) and exp(½(f log βₜₛ + (1 − f) log β̃)), f = (v + 1)/2
     * (learned_range; v = −1 gives √β̃, v = 1 gives √βₜₛ). Learned types read v from the second half of
     * the channels.
     */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 2, max: 30 }), fc.constantFrom<DDPMVarianceType>("fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range"), seedArb, async (sc, n0, varianceType, seed) => {
        const s = new DDPMScheduler({ ...sc, predictionType: "sample", clipSample: false, varianceType }, ref);
        s.setTimesteps(Math.max(2, stepsFor(sc, n0)));
        const g = new GaussianStream(seed);
        const ts = s.timesteps;
        for (let i = 0; i + 1 < ts.length; i++) {
          const t = ts[i];
          const post = ddpmPosterior(s.schedule.alphasCumprod[t], s.schedule.alphasCumprod[ts[i + 1]]);
          const x = randn(g);
          const pred = randn(g);
          const learned = varianceType === "learned" || varianceType === "learned_range";
          const v = Float64Array.from({ length: 8 }, (_, k) => (k === 0 ? -1 : k === 1 ? 1 : 2 * g.uniform() - 1)).map((u) => (varianceType === "learned" ? u * u : u));
          let out = pred;
          if (learned) {
            const d = new Float64Array(16);
            for (let b = 0; b < 2; b++) { d.set(pred.data.subarray(4 * b, 4 * b + 4), 8 * b); d.set(v.subarray(4 * b, 4 * b + 4), 8 * b + 4); }
            out = ref.fromHost(d, [2, 2, 2, 2]);
          }
          const { std } = await stepParts(s, out, t, x);
          const expected = v.map((vk) => {
            if (varianceType === "fixed_small" || varianceType === "fixed_small_log") return Math.sqrt(post.variance);
            if (varianceType === "fixed_large" || varianceType === "fixed_large_log") return Math.sqrt(post.beta);
            if (varianceType === "learned") return Math.sqrt(vk);
            const f = (vk + 1) / 2;
            return Math.exp(0.5 * (f * Math.log(post.beta) + (1 - f) * Math.log(post.variance)));
          });
          expectAllClose(`noise std (${varianceType}) at t = ${t}`, std, expected, 1e-9, 1e-14);
        }
      })),
  },

  // SAMP-DDIM ────────────────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-DDIM",
    name: "marginal-preserved-for-every-eta",
    scope: "spec",
    kind: "property",
    /**
     * Read off through `step` ("sample" prediction): the x̂₀ coefficient is √ᾱₛ, the noise std is
     * σₜ(η) = η√((1 − ᾱₛ)/(1 − ᾱₜ)·(1 − ᾱₜ/ᾱₛ)), and the ε̂ coefficient c satisfies c² + σₜ(η)² = 1 − ᾱₛ:
     * with xₜ = √ᾱₜx₀ + √(1 − ᾱₜ)ε the step gives xₛ with the law of q(xₛ | x₀) for every η (Song et al., Lemma 1).
     */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), fc.constantFrom(...COMPATS), async (sc, n0, eta, setAlphaToOne, compat) => {
        const s = new DDIMScheduler({ ...sc, predictionType: "sample", clipSample: false, setAlphaToOne, compat }, ref);
        s.setTimesteps(stepsFor(sc, n0));
        const zero = ref.fromHost(new Float64Array(8), SHAPE);
        const one = ref.fromHost(new Float64Array(8).fill(1), SHAPE);
        for (let i = 0; i < s.timesteps.length; i++) {
          const t = s.timesteps[i];
          const prev = s.previousTimestep(i);
          const abarT = s.schedule.alphasCumprod[t];
          const abarS = prev >= 0 ? s.schedule.alphasCumprod[prev] : s.finalAlphaCumprod;
          const opts = { eta, noise: constNoise(zero) };
          const perX = (await s.step(zero, t, one, opts)).prevSample.data[0]; // c/σₜ
          const perX0 = (await s.step(one, t, zero, opts)).prevSample.data[0]; // √ᾱₛ − c·αₜ/σₜ
          const std = (await s.step(zero, t, zero, { eta, noise: constNoise(one) })).prevSample.data[0];
          const c = perX * Math.sqrt(1 - abarT);
          expectClose(`x̂₀ coefficient at t = ${t}`, perX0 + c * Math.sqrt(abarT) / Math.sqrt(1 - abarT), Math.sqrt(abarS), 1e-9, 1e-12);
          expectClose(`σₜ(η) at t = ${t}`, std, eta * Math.sqrt(((1 - abarS) / (1 - abarT)) * (1 - abarT / abarS)), 1e-9, 1e-14);
          expectClose(`c² + σ² = 1 − ᾱₛ at t = ${t}`, c * c + std * std, 1 - abarS, 1e-9, 1e-14);
        }
      })),
  },
  {
    clause: "SAMP-DDIM",
    name: "noise-draws",
    scope: "spec",
    kind: "property",
    /** η = 0 draws no noise (the run needs no provider); η > 0 draws once per step, including the last (as diffusers). */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 1, noNaN: true }), async (sc, n0, eta) => {
        const s = new DDIMScheduler({ ...sc, predictionType: "sample", clipSample: false }, ref);
        s.setTimesteps(stepsFor(sc, n0));
        const noise = countingNoise(ref);
        await runPipeline(s, hostModel(ref, "sample", (v) => v), ref.fromHost(new Float64Array(8), SHAPE), { eta, noise: eta > 0 ? noise : undefined });
        expect(noise.draws === (eta > 0 ? s.timesteps.length : 0), `${noise.draws} draws with η = ${eta} over ${s.timesteps.length} steps`);
      })),
  },
  ...familyProperties("DDIM"),

  // SAMP-DDIM-PERFECT ────────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-DDIM-PERFECT",
    name: "point-mass-exact-eps-returns-x0",
    scope: "spec",
    kind: "property",
    /**
     * Data = one point x₀ and the exact predictor ε*(xₜ) = (xₜ − αₜx₀)/σₜ: then x̂₀ = x₀ at every step, and
     * DDIM with η = 0 (set_alpha_to_one) ends at x₀ to 1e-10 from any start, for every step count, spacing,
     * schedule (incl. zero terminal SNR), parameterisation and compat.
     */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 50 }), fc.constantFrom(...PREDICTIONS), fc.constantFrom(...COMPATS), seedArb, async (sc, n0, p, compat, seed) => {
        const s = new DDIMScheduler({ ...sc, predictionType: p, compat, clipSample: false, setAlphaToOne: true }, ref);
        if (!trySetTimesteps(s, stepsFor(sc, n0), p)) return;
        // compat "diffusers" lands the last step on t − ⌊N/n⌋, which need not be past 0 (trailing/linspace):
        // then it stops at ᾱ of that timestep, not at x₀ (a listed deviation); the claim is for the others.
        if (s.previousTimestep(s.timesteps.length - 1) >= 0) return;
        const g = new GaussianStream(seed);
        const x0 = randn(g, SHAPE, 2);
        const xT = randn(g);
        const out = await runPipeline(s, pointMassModel(s.schedule.alphasCumprod, x0, p), xT);
        expectAllClose("final sample vs x₀", out.data, x0.data, 0, 1e-10 * (1 + maxAbs(x0.data)));
      })),
  },

  // SAMP-DDIM-ETA1-DDPM ──────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-DDIM-ETA1-DDPM",
    name: "eta-one-is-the-ddpm-posterior",
    scope: "spec",
    kind: "property",
    /**
     * On the same timesteps, DDIM with η = 1 has the DDPM posterior variance β̃ at every step (the
     * coefficient formulas agree exactly; read off through `step` to 1e-9 relative) and, without
     * clipping, the same mean (η = 1 makes DDIM's generative process the DDPM one; Song et al. §4.1).
     */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 30 }), seedArb, async (sc, n0, seed) => {
        const common = { ...sc, predictionType: "sample", clipSample: false };
        const ddim = new DDIMScheduler({ ...common, setAlphaToOne: true }, ref);
        const ddpm = new DDPMScheduler({ ...common, varianceType: "fixed_small" }, ref);
        const n = stepsFor(sc, n0);
        ddim.setTimesteps(n);
        ddpm.setTimesteps(n);
        expect(ddim.timesteps.join() === ddpm.timesteps.join(), `timesteps differ: ${ddim.timesteps} vs ${ddpm.timesteps}`);
        const g = new GaussianStream(seed);
        for (let i = 0; i < ddim.timesteps.length; i++) {
          const t = ddim.timesteps[i];
          const prev = ddim.previousTimestep(i);
          expect(prev === ddpm.previousTimestep(i), `previous timestep of ${t}: DDIM ${prev}, DDPM ${ddpm.previousTimestep(i)}`);
          const abarT = ddim.schedule.alphasCumprod[t];
          const abarS = prev >= 0 ? ddim.schedule.alphasCumprod[prev] : 1;
          const kd = ddimCoefficients(abarT, abarS, 1);
          const kp = ddpmPosterior(abarT, abarS);
          expect(kd.variance === kp.variance, `variance coefficient at t = ${t}: DDIM ${kd.variance}, DDPM ${kp.variance}`);
          const x = randn(g), x0 = randn(g);
          const a = await stepParts(ddim, x0, t, x, { eta: 1 });
          const b = await stepParts(ddpm, x0, t, x);
          expectAllClose(`noise variance at t = ${t} → ${prev}`, a.std.map((v) => v * v), b.std.map((v) => v * v), 1e-9, 1e-15);
          expectAllClose(`mean at t = ${t} → ${prev}`, a.mean, b.mean, 0, 1e-10 * (1 + maxAbs(x.data) + maxAbs(x0.data)));
        }
      })),
  },

  // SAMP-PNDM ────────────────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-PNDM",
    name: "point-mass-exact-eps-returns-x0",
    scope: "spec",
    kind: "property",
    /**
     * With the exact ε* of a point mass, every evaluation along the PNDM path gives the same ε, and the
     * Runge–Kutta and Adams–Bashforth weights sum to 1, so PNDM ends at x₀ (set_alpha_to_one): in "math"
     * for every parameterisation and spacing (ε is formed per evaluation), in "diffusers" for ε-prediction
     * with leading spacing and an even ⌊N/n⌋ (where its midpoints are the true ones).
     * Unlike DDIM, whose x̂₀ is re-derived from the current sample at every step, PNDM's transfer
     * a·x + m·Σwᵢεᵢ mixes ε evaluated at different points: a rounding error of x is amplified by 1/σₜ in
     * the next evaluation and by |a| + |m| (up to √(ᾱₛ/ᾱₜ)·2) in the next transfer, and the four RK
     * stages compound it. Tolerance 1e-12·κ·(1 + |x₀|) with κ = max(|a| + |m|)²·max 1/σₜ (measured worst
     * error/κ: 7e-14 over 3000 random cases), checked where κ ≤ 1e8; beyond it (e.g. the cosine schedule
     * from t = N − 1, ᾱ ≈ 1e-9, κ ≈ 1e11) the warm-up is ill-conditioned even in Float64 (spec chapter).
     */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 40 }), fc.constantFrom(...PREDICTIONS), fc.boolean(), fc.boolean(), seedArb, async (sc, n0, p, skipPrkSteps, diffusers, seed) => {
        let n = stepsFor(sc, n0);
        const N = sc.numTrainTimesteps;
        const cfg = { numTrainTimesteps: N, betaSchedule: sc.betaSchedule, timestepSpacing: sc.timestepSpacing, stepsOffset: sc.stepsOffset, predictionType: p, skipPrkSteps, setAlphaToOne: true, compat: "math" };
        if (diffusers) {
          n = Math.max(4, n);
          if (n > N - 1 || Math.floor(N / n) % 2 !== 0) return;
          Object.assign(cfg, { predictionType: "epsilon", timestepSpacing: "leading", compat: "diffusers" });
        }
        const s = new PNDMScheduler(cfg, ref);
        s.setTimesteps(n);
        const g = new GaussianStream(seed);
        const x0 = randn(g, SHAPE, 2);
        const out = await runPipeline(s, pointMassModel(s.schedule.alphasCumprod, x0, cfg.predictionType as PredictionType), randn(g));
        const kappa = pndmConditioning(s);
        if (kappa > 1e8) return;
        expectAllClose(`final sample vs x₀ (κ = ${kappa.toExponential(2)})`, out.data, x0.data, 0, 1e-12 * kappa * (1 + maxAbs(x0.data)));
      })),
  },
  ...familyProperties("PNDM"),

  // SAMP-PNDM-WARMUP ─────────────────────────────────────────────────────────────────────────────
  {
    clause: "SAMP-PNDM-WARMUP",
    name: "warmup-timesteps-are-integers",
    scope: "spec",
    kind: "property",
    /**
     * Every timestep PNDM visits and every transfer endpoint is an integer in [0, N − 1] (or −1, "x₀"):
     * the half steps use floor division. "math": each PRK group is [t, m, m, s] with m = t − ⌊(t − s)/2⌋;
     * "diffusers" (leading): the groups are [t, t − h, t − h, t − 2h′]… with h = ⌊⌊N/n⌋/2⌋, never N/n/2.
     */
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(scheduleArb, fc.integer({ min: 1, max: 60 }), fc.boolean(), fc.constantFrom(...COMPATS), async (sc, n0, skipPrkSteps, compat) => {
        const N = sc.numTrainTimesteps;
        const n = compat === "diffusers" && !skipPrkSteps ? Math.max(4, stepsFor(sc, n0)) : stepsFor(sc, n0);
        if (n > N - 1 && n > 1) return;
        const s = new PNDMScheduler({ numTrainTimesteps: N, betaSchedule: sc.betaSchedule, timestepSpacing: sc.timestepSpacing, stepsOffset: sc.stepsOffset, skipPrkSteps, compat }, ref);
        s.setTimesteps(n);
        const isIndex = (t: number): boolean => Number.isInteger(t) && t >= 0 && t <= N - 1;
        s.timesteps.forEach((t, i) => expect(isIndex(t), `timesteps[${i}] = ${t} is not an integer in [0, ${N - 1}]`));
        s.plan.forEach((c, i) => expect(isIndex(c.from) && (isIndex(c.to) || c.to < 0) && Number.isInteger(c.to), `call ${i}: transfer ${c.from} → ${c.to} is not between integer timesteps`));
        const prk = s.prkTimesteps;
        expect(prk.length % 4 === 0 && (skipPrkSteps ? prk.length === 0 : prk.length === (compat === "diffusers" ? 12 : 4 * Math.min(3, n - 1))), `${prk.length} PRK calls for n = ${n}`);
        for (let k = 0; k < prk.length; k += 4) {
          const [t, m1, m2, s2] = prk.slice(k, k + 4);
          // diffusers with ⌊N/n⌋ < 2 has no room for a midpoint (h = 0): its groups are [t, s, s, s]
          expect(m1 === m2 && s2 <= m1 && m1 <= t && s2 < t, `PRK group [${t}, ${m1}, ${m2}, ${s2}] is not [t, m, m, s] with s ≤ m ≤ t, s < t`);
          if (compat === "math") expect(m1 === prkMidpoint(t, s2) && s2 < m1, `midpoint ${m1} of ${t} → ${s2}, expected ${prkMidpoint(t, s2)}`);
          else if (sc.timestepSpacing === "leading") {
            const h = Math.floor(Math.floor(N / n) / 2);
            expect(t - m1 === h || m1 - s2 === h, `PRK group [${t}, ${m1}, ${m1}, ${s2}]: no half step of ⌊⌊N/n⌋/2⌋ = ${h}`);
          }
        }
        const plms = s.plmsTimesteps;
        expect(plms.every((t, i) => i === 0 || t <= plms[i - 1]), `PLMS timesteps not decreasing: ${plms}`);
      })),
  },
]);
