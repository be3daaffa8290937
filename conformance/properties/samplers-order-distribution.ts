/**
 * SAMP-ORDER, SAMP-SINGLE-STEP, SAMP-DISTRIBUTION (spec/08-order.md; article: "Reverse diffusion in practice"). All three use the exact oracle (reference/oracle.ts): for Gaussian-mixture data the
 * ideal denoiser is known in closed form, so what is left is the sampler's own error.
 *
 * - SAMP-ORDER (spec, example): one property per entry of ORDER_SAMPLERS (reference/samplers/order.ts):
 *   the least-squares order fitted to the error against the exact PF-ODE solution is within ±0.3 of
 *   theory, and the error decreases strictly with n.
 * - SAMP-SINGLE-STEP (backend, property): one step from pure noise to σ = 0 returns E[x₀ | x_T], the
 *   oracle's x̂₀, for every sampler whose last step is the data prediction.
 * - SAMP-DISTRIBUTION (backend, statistical): samples from pure noise match the data law. Test: the
 *   two-sample energy-distance permutation test (Székely & Rizzo 2004; reference/stats.ts
 *   `energyPermutationTest`, 199 permutations) of the sampler's N outputs against N fresh data draws,
 *   at level α = 0.01, retried once on a fresh sample (false-failure rate α² = 10⁻⁴ when the sampler is
 *   exact). Sample sizes: 2-D mixture N = 400 (quick) / 800 (full); 64-D mixture N = 200 / 400.
 *   Step counts are chosen so the sampler's own discretisation bias (measured with N = 2000: relative
 *   error of the within-component variance ≤ 5 % in 64-D, ≤ 3 % at the full-profile step counts) is
 *   far below what the test can detect at these N; a wrong coefficient (e.g. a missing noise term, a
 *   variance off by a factor, a skipped step) changes the law by far more and is rejected.
 *   Stochastic samplers (DDPM, DDIM η = 1, Euler ancestral, SDE-DPM-Solver++(2M) in k-diffusion's and
 *   diffusers' forms) run in both profiles on both mixtures; the deterministic ones (DDIM η = 0, Euler,
 *   Heun, DPM-Solver++(2M)) on the 2-D mixture in quick and on both in full. x_T ~ 𝒩(0, I)·initNoiseSigma
 *   (VP: KL to the true q(x_T) ≈ ᾱ_T‖μ‖²/2 ≈ 1e-4) or 𝒩(0, σ_max² I) (k-diffusion, σ_max = 80: KL ≈
 *   ‖μ‖²/(2σ_max²) ≤ 5e-4); for the deterministic flows the output laws then differ by at most that KL
 *   (data processing inequality), far below the test's resolution.
 *   Two variants (`…-backend-randn`, 2-D) draw every step's noise from the backend's own `randn(shape, seed, k)`
 *   (reference/samplers/scheduler.ts backendNoise) instead of the host stream: noise that repeats or
 *   correlates across steps changes the sampler's output law even when each draw is 𝒩(0, I).
 */
import type { Backend, BTensor } from "../../adapters/contract.ts";
import { defineProperties, type PropertyContext, type PropertyDef, type Profile } from "../registry.ts";
import { checkProperty, expect, expectAllClose, statisticalTest } from "../check.ts";
import { tolerance } from "../tolerances.ts";
import fc from "fast-check";
import { GaussianMixture } from "../../reference/distributions.ts";
import { x0Star } from "../../reference/oracle.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { karrasSigmas, makeSchedule, type ScheduleConfig } from "../../reference/schedule.ts";
import { energyPermutationTest } from "../../reference/stats.ts";
import type { Tensor } from "../../reference/tensor.ts";
import { createScheduler, KDIFFUSION_SAMPLERS, type KDiffusionSamplerName } from "../../reference/samplers/index.ts";
import { KDIFFUSION } from "../../reference/samplers/kdiffusion.ts";
import { measureOrder, ORDER_SAMPLERS, ORDER_TOLERANCE, veOracle, vpOracle } from "../../reference/samplers/order.ts";
import { backendNoise, hostNoise, runPipeline, type NoiseProvider } from "../../reference/samplers/scheduler.ts";

// ─── data ───────────────────────────────────────────────────────────────────────────────────────

/** The 2-D test mixture: three unequal, unequally weighted modes. */
export const MIXTURE_2D = new GaussianMixture([
  { mean: Float64Array.from([-2, 0]), std: 0.35, weight: 0.5 },
  { mean: Float64Array.from([1.5, 1.5]), std: 0.25, weight: 0.3 },
  { mean: Float64Array.from([1, -1.5]), std: 0.4, weight: 0.2 },
]);

/** The 64-D test mixture: four modes with means of norm 2.5 in fixed random directions, std 0.6. */
export const MIXTURE_64D = (() => {
  const g = new GaussianStream("samp-distribution/mixture-64d");
  return new GaussianMixture([0.4, 0.3, 0.2, 0.1].map((weight) => {
    const u = g.normals(64);
    const norm = Math.hypot(...u);
    return { mean: u.map((v) => (2.5 * v) / norm), std: 0.6, weight };
  }));
})();

/** The default linear β schedule (every class's config accepts these four keys). */
const LINEAR: Partial<ScheduleConfig> = { numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: "linear" };

// ─── samplers driven by the oracle on a backend ─────────────────────────────────────────────────

/** Where a stochastic step's noise comes from: the host stream (uploaded), or the backend's own `randn` (BACKEND-RANDN). */
type NoiseChoice = "host" | "backend";

/** The sampler noise of one run: host draws from `stream`, or backend.randn(shape, seed, k) with a seed taken from `stream`. */
const noiseFor = <T extends BTensor>(b: Backend<T>, stream: GaussianStream, choice: NoiseChoice): NoiseProvider<T> =>
  choice === "backend" ? backendNoise(b, stream.int(2 ** 31)) : hostNoise(b, stream);

/** Draws N samples (flattened [N, D]) from pure noise with the exact oracle on backend b. */
type DistRunner = <T extends BTensor>(b: Backend<T>, data: GaussianMixture, N: number, steps: number, stream: GaussianStream, noise: NoiseChoice) => Promise<Float64Array>;

/** A k-diffusion sampler on Karras σ ∈ [0.002, 80] followed by σ = 0, from x_T = 80·z. */
export const kdiffusionRunner = (name: KDiffusionSamplerName, options: Record<string, unknown> = {}): DistRunner => async (b, data, N, steps, stream, noise) => {
  const sigmas = karrasSigmas(steps, 0.002, 80);
  const x = await b.fromHost(stream.normals(N * data.dim).map((v) => v * sigmas[0]), [N, data.dim]);
  const out = await KDIFFUSION[name](b, veOracle(b, data), x, sigmas, { ...options, noise: noiseFor(b, stream, noise) });
  return Float64Array.from(await b.toHost(out));
};

/** A diffusers scheduler on the default linear β schedule (trailing timesteps), from x_T = z·initNoiseSigma. */
export const diffusersRunner = (className: string, config: Record<string, unknown>, eta?: number): DistRunner => async (b, data, N, steps, stream, noise) => {
  const s = await createScheduler(className, { ...LINEAR, timestepSpacing: "trailing", ...config }, b);
  s.setTimesteps(steps);
  const x = await b.fromHost(stream.normals(N * data.dim).map((v) => v * s.initNoiseSigma), [N, data.dim]);
  const out = await runPipeline(s, vpOracle(b, data, makeSchedule(LINEAR)), x, { noise: noiseFor(b, stream, noise), eta, checkFinite: false });
  return Float64Array.from(await b.toHost(out));
};

export interface DistSampler {
  readonly name: string;
  readonly stochastic: boolean;
  /** Steps per profile [quick, full]. */
  readonly steps: readonly [number, number];
  readonly run: DistRunner;
  /** "backend": the variant whose noise is the backend's own randn (default "host"). */
  readonly noise?: NoiseChoice;
}

export const DISTRIBUTION_SAMPLERS: readonly DistSampler[] = [
  { name: "ddpm", stochastic: true, steps: [300, 600], run: diffusersRunner("DDPMScheduler", { clipSample: false }) },
  { name: "ddim-eta1", stochastic: true, steps: [300, 600], run: diffusersRunner("DDIMScheduler", { clipSample: false }, 1) },
  { name: "euler-ancestral", stochastic: true, steps: [300, 500], run: kdiffusionRunner("sample_euler_ancestral") },
  { name: "k-dpmpp-2m-sde", stochastic: true, steps: [100, 200], run: kdiffusionRunner("sample_dpmpp_2m_sde") },
  { name: "sde-dpmsolver-pp-2m", stochastic: true, steps: [100, 200], run: diffusersRunner("DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++", solverOrder: 2 }) },
  { name: "ddim", stochastic: false, steps: [200, 300], run: diffusersRunner("DDIMScheduler", { clipSample: false }) },
  { name: "euler", stochastic: false, steps: [200, 300], run: kdiffusionRunner("sample_euler") },
  { name: "heun", stochastic: false, steps: [50, 60], run: kdiffusionRunner("sample_heun") },
  { name: "dpmpp-2m", stochastic: false, steps: [50, 60], run: diffusersRunner("DPMSolverMultistepScheduler", { algorithmType: "dpmsolver++", solverOrder: 2 }) },
  // The same laws with the backend's own noise (BACKEND-RANDN used the way samplers use it: one draw per step).
  { name: "ddpm-backend-randn", stochastic: true, steps: [300, 600], run: diffusersRunner("DDPMScheduler", { clipSample: false }), noise: "backend" },
  { name: "euler-ancestral-backend-randn", stochastic: true, steps: [300, 500], run: kdiffusionRunner("sample_euler_ancestral"), noise: "backend" },
];

const SAMPLE_SIZE: Record<2 | 64, Record<Profile, number>> = { 2: { quick: 400, full: 800 }, 64: { quick: 200, full: 400 } };
const ALPHA = 0.01;
const PERMUTATIONS = 199;

const split = (a: Float64Array, D: number): Float64Array[] => Array.from({ length: a.length / D }, (_, i) => a.subarray(i * D, (i + 1) * D));

export function distributionProperty(s: DistSampler, dim: 2 | 64): PropertyDef {
  const data = dim === 2 ? MIXTURE_2D : MIXTURE_64D;
  return {
    clause: "SAMP-DISTRIBUTION",
    name: `${s.name}-matches-the-${dim}d-mixture`,
    scope: "backend",
    kind: "statistical",
    profiles: s.stochastic || dim === 2 ? ["quick", "full"] : ["full"],
    ...(s.noise === "backend" ? { needs: ["randn" as const] } : {}),
    run: (ctx) =>
      statisticalTest(ctx, `SAMP-DISTRIBUTION ${s.name} ${dim}-D`, ALPHA, async (stream) => {
        const N = SAMPLE_SIZE[dim][ctx.profile];
        const out = await s.run(ctx.backend as Backend<BTensor>, data, N, s.steps[ctx.profile === "quick" ? 0 : 1], stream, s.noise ?? "host");
        const bad = out.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0) throw new Error(`${s.name}: sample value ${out[bad]} at flat index ${bad}`);
        return energyPermutationTest(split(out, dim), data.sampleMany(N, stream), stream, PERMUTATIONS).pValue;
      }),
  };
}

// ─── single step ────────────────────────────────────────────────────────────────────────────────

/** Diffusers configurations whose 1-step run from t = N − 1 returns the oracle's x̂₀ (final ᾱ = 1 / σ = 0). */
const SINGLE_STEP_DIFFUSERS: readonly [string, Record<string, unknown>][] = [
  ["DDIMScheduler", { clipSample: false, setAlphaToOne: true }],
  ["DDPMScheduler", { clipSample: false }],
  ["DPMSolverMultistepScheduler", { finalSigmasType: "zero" }],
  ["DPMSolverMultistepScheduler", { finalSigmasType: "zero", algorithmType: "sde-dpmsolver++" }],
  ["UniPCMultistepScheduler", { finalSigmasType: "zero" }],
  ["EulerDiscreteScheduler", { finalSigmasType: "zero" }],
  ["EulerAncestralDiscreteScheduler", {}],
  ["HeunDiscreteScheduler", {}],
  ["LMSDiscreteScheduler", {}],
];

/** A random 2-component 3-D mixture from a seed. */
function randomMixture(seed: number): GaussianMixture {
  const g = new GaussianStream(`single-step/${seed}`);
  return new GaussianMixture([0, 1].map(() => ({ mean: g.normals(3).map((v) => 2 * v), std: 0.2 + g.uniform(), weight: 0.2 + g.uniform() })));
}

export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

export const properties = defineProperties([
  ...ORDER_SAMPLERS.map((s): PropertyDef => ({
    clause: "SAMP-ORDER",
    name: `${s.name}-converges-at-order-${s.expectedOrder}`,
    scope: "spec",
    kind: "example",
    async run() {
      const m = await measureOrder(s.name);
      const table = m.steps.map((n, i) => `n = ${n}: ${m.errors[i].toExponential(3)}`).join(", ");
      expect(Math.abs(m.fittedOrder - m.expectedOrder) <= ORDER_TOLERANCE, `${s.name}: fitted order ${m.fittedOrder.toFixed(3)}, theory ${m.expectedOrder} (tolerance ±${ORDER_TOLERANCE}); errors ${table}`);
      m.errors.forEach((e, i) => expect(Number.isFinite(e) && (i === 0 || e < m.errors[i - 1]), `${s.name}: the error does not decrease with n (${table})`));
    },
  })),
  {
    clause: "SAMP-SINGLE-STEP",
    name: "k-diffusion-one-step-to-zero-is-the-posterior-mean",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.constantFrom(...KDIFFUSION_SAMPLERS), fc.double({ min: 1, max: 200, noNaN: true }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (name, sigma, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const data = randomMixture(seed);
        const g = new GaussianStream(`single-step-x/${seed}`);
        const xT = Float64Array.from(g.normals(4 * data.dim), (v) => v * Math.sqrt(1 + sigma * sigma));
        const out = await KDIFFUSION[name](b, veOracle(b, data), await b.fromHost(xT, [4, data.dim]), Float64Array.from([sigma, 0]), { noise: hostNoise(b, g) });
        const want = x0Star(data, { shape: [4, data.dim], data: xT }, 1, sigma).data;
        expectAllClose(`${name}: x after one step σ = ${sigma} → 0 vs E[x₀ | x_T]`, await b.toHost(out), want, 0, 4 * tolerance(b.dtype, "sampler", { steps: 2, scale: maxAbs(xT) }).atol);
      })),
  },
  {
    clause: "SAMP-SINGLE-STEP",
    name: "diffusers-one-step-from-pure-noise-is-the-posterior-mean",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.constantFrom(...SINGLE_STEP_DIFFUSERS), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async ([className, config], seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const data = randomMixture(seed);
        const s = await createScheduler(className, { ...LINEAR, timestepSpacing: "trailing", ...config }, b);
        s.setTimesteps(1);
        const t = s.timesteps[0];
        const ac = makeSchedule(LINEAR).alphasCumprod[t];
        const g = new GaussianStream(`single-step-x/${seed}`);
        const xT = Float64Array.from(g.normals(4 * data.dim), (v) => v * s.initNoiseSigma);
        // The model sees x_t = scaleModelInput(x_T) (x_T itself for VP schedulers, x̃_T/√(σ² + 1) for σ-based ones).
        const oracle = vpOracle(b, data, makeSchedule(LINEAR));
        let seen: Tensor | undefined;
        const recording = { predictionType: oracle.predictionType, async evaluate(x: BTensor, tt: number) { seen = { shape: [...x.shape], data: Float64Array.from(await b.toHost(x)) }; return oracle.evaluate(x, tt); } };
        const out = await runPipeline(s, recording, await b.fromHost(xT, [4, data.dim]), { noise: hostNoise(b, g) });
        const xt = seen as Tensor;
        const want = x0Star(data, xt, Math.sqrt(ac), Math.sqrt(1 - ac)).data;
        expectAllClose(`${className} ${JSON.stringify(config)}: one step from t = ${t} vs E[x₀ | x_T]`, await b.toHost(out), want, 1e-9, 4 * tolerance(b.dtype, "sampler", { steps: 2, scale: maxAbs(xT) }).atol);
      })),
  },
  ...DISTRIBUTION_SAMPLERS.flatMap((s) => (s.noise === "backend" ? [distributionProperty(s, 2)] : [distributionProperty(s, 2), distributionProperty(s, 64)])),
]);

export type { PropertyContext };
