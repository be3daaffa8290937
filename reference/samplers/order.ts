/**
 * SAMP-ORDER — convergence order of the deterministic samplers, measured against an exact solution
 * (spec/08-order.md; article: "Reverse diffusion in practice").
 *
 * The problem. Data x₀ ~ 𝒩(μ, s²I) in D dimensions. Its exact denoiser is linear,
 *   E[x₀ | x̃ = x₀ + σε] = μ + s²/(s² + σ²)·(x̃ − μ)      (ORACLE-X0 with one component),
 * so the probability-flow ODE dx̃/dσ = (x̃ − D(x̃, σ))/σ = σ/(s² + σ²)·(x̃ − μ) has the closed form
 *   x̃(σ) = μ + (x̃(σ₀) − μ)·√(s² + σ²)/√(s² + σ₀²)                    (VE view, x̃ = x/α)
 * and, in VP coordinates, x = α x̃ with α = 1/√(1 + σ²). Every sampler is run from the same x_T (a draw
 * from the noised marginal at its first noise level) with n ∈ a doubling sequence of step counts; the
 * error is the RMS difference between the returned sample and x(σ_final), the exact solution at exactly
 * the noise level the sampler claims to return. The fitted order is −slope of the least-squares line
 * through (log n, log error).
 *
 * Configuration (chosen so the asymptotic regime is reached for the listed n, above Float64 round-off):
 * - k-diffusion samplers: Karras σ (ρ = 7) from σ_max = 80 to σ_min = 0.002, WITHOUT the appended σ = 0.
 *   The usual last step σ_min → 0 has a size independent of n, so its O(σ_min²) error would be a floor
 *   that hides the order; the sample is compared at σ_min instead. s = 0.5 (EDM's σ_data).
 * - diffusers schedulers: a train schedule of N = 1024 steps whose σ(t) is that same Karras ramp
 *   (ORDER_SCHEDULE, given as `trainedBetas`), "trailing" timesteps (every n listed divides N, so they
 *   are evenly spaced and land on the Karras σ grid), `compat: "math"`, ending at ᾱ₀ = the smallest
 *   noise level: DDIM `setAlphaToOne: false`, the multistep solvers `finalSigmasType: "sigma_min"` and
 *   `lowerOrderFinal: false` (lowering the order of the last steps would lower the global order).
 *   With the default linear β schedule the asymptotic regime is out of reach: λ = −log σ has a log
 *   singularity at t = 0, so the last trailing step spans h ≈ ½ log(N/n) in λ, which barely shrinks.
 * - Multistep methods start with lower-order steps (1, 2, …). A first-order start has local error
 *   O(h²), so as n → ∞ the global order of a method of order ≥ 3 is at most 2. On the Karras grid that
 *   start-up error is made at σ_max, where the solution is almost linear in σ, and is contracted by
 *   ≈ s/σ_max on the way down: for the n listed the nominal order is what is measured (checked by
 *   restarting from the exact solution: the errors agree to 3 digits). The entry `lms-startup` runs
 *   LMS-4 on σ ∈ [0.01, 1], where the start-up dominates and the measured order is 2.
 */
import type { Backend, BTensor, Denoiser } from "../contract.ts";
import { referenceBackend } from "../backend.ts";
import { GaussianMixture } from "../distributions.ts";
import { ConfigError, require } from "../errors.ts";
import { x0Star, epsilonStar } from "../oracle.ts";
import { onBackend, scheduleNoiseLevel } from "../conditioning/oracle.ts";
import { GaussianStream } from "../rng.ts";
import { karrasSigmas, makeSchedule, type Schedule } from "../schedule.ts";
import type { Tensor } from "../tensor.ts";
import { createScheduler } from "./index.ts";
import { KDIFFUSION, kdiffusionEvaluations, type KDenoiser } from "./kdiffusion.ts";
import { sampleDpmFast } from "./kdiffusion-dpm-solver.ts";
import type { KDiffusionSamplerName } from "./index.ts";
import { runPipeline } from "./scheduler.ts";
import { edmPreconditioning } from "./edm.ts";

/** The Gaussian test problem: dimension, mean, standard deviation; `batch` starting points. */
export interface OrderProblem {
  readonly dim: number;
  readonly batch: number;
  readonly mean: number;
  readonly std: number;
  /** Seed of the starting points x_T (fixed: the measurement is deterministic). */
  readonly seed: string;
}

export const ORDER_PROBLEM: OrderProblem = { dim: 8, batch: 4, mean: 0.3, std: 0.5, seed: "samp-order" };

/** Where a run starts and ends: the noise levels (VE σ) and the sample's scale α (1 for VE samplers). */
interface RunResult {
  readonly sample: Float64Array;
  /** VE σ of the returned sample. */
  readonly sigmaFinal: number;
  /** α of the returned sample's coordinates (x = α x̃); 1 for VE samplers. */
  readonly alphaFinal: number;
  /** Model evaluations the run made (NFE); n when omitted. */
  readonly evaluations?: number;
}

export interface OrderSamplerDef {
  readonly name: string;
  /** The global order theory predicts for exactly this configuration (see each entry's note). */
  readonly expectedOrder: number;
  /** What is run, in words (printed by `diffspec order --help`). */
  readonly description: string;
  /** Default step counts (a doubling sequence in the asymptotic regime). */
  readonly steps: readonly number[];
  /** VE σ of the first state (the same for every n). */
  sigmaStart(): number;
  /** Runs n steps from the VE start x̃_T (flattened [batch, dim]). */
  run(n: number, xTilde: Float64Array, problem: OrderProblem): Promise<RunResult>;
}

/** Allowed |fitted − expected|: justified in spec/08-order.md (SAMP-ORDER). */
export const ORDER_TOLERANCE = 0.3;

export interface OrderMeasurement {
  sampler: string;
  expectedOrder: number;
  fittedOrder: number;
  steps: number[];
  errors: number[];
  /** Model evaluations (NFE) of the run at each step count. */
  evaluations: number[];
}

// ─── the problem's exact pieces ─────────────────────────────────────────────────────────────────

export function orderData(p: OrderProblem): GaussianMixture {
  return new GaussianMixture([{ mean: new Float64Array(p.dim).fill(p.mean), std: p.std, weight: 1 }]);
}

/** The exact PF-ODE solution x̃(σ) from x̃(σ₀) for 𝒩(μ, s²I) data (VE view). */
export function exactFlow(xTilde: ArrayLike<number>, mean: number, std: number, sigma0: number, sigma: number): Float64Array {
  const c = Math.sqrt(std * std + sigma * sigma) / Math.sqrt(std * std + sigma0 * sigma0);
  return Float64Array.from(xTilde, (v) => mean + (v - mean) * c);
}

/** The k-diffusion oracle denoiser D(x̃, σ) = E[x₀ | x̃] (VE, α = 1) on a backend. */
export function veOracle<T extends BTensor>(backend: Backend<T>, data: GaussianMixture): KDenoiser<T> {
  return async (x, sigma) => {
    const h: Tensor = { shape: [...x.shape], data: Float64Array.from(await backend.toHost(x)) };
    return backend.fromHost(x0Star(data, h, 1, sigma).data, x.shape);
  };
}

/**
 * The diffusers-style oracle ε*(xₜ, t) (VP) on a backend: αₜ, σₜ from the schedule at integer t, with
 * log σ interpolated between neighbours at a fractional t (reference/conditioning/oracle.ts, unconditional).
 */
export function vpOracle<T extends BTensor>(backend: Backend<T>, data: GaussianMixture, schedule: Pick<Schedule, "sigmas">): Denoiser<T> {
  const level = scheduleNoiseLevel(schedule);
  return onBackend<T>(backend, {
    predictionType: "epsilon",
    evaluate: (sample, timestep) => {
      const { alpha, sigma } = level(timestep);
      return epsilonStar(data, sample, alpha, sigma);
    },
  });
}

// ─── the samplers ───────────────────────────────────────────────────────────────────────────────

const EDM = { sigmaMin: 0.002, sigmaMax: 80 };

/** Karras σ (ρ = 7) with n steps from σ_max to σ_min, without the appended 0. */
export const karrasNoZero = (n: number, sigmaMin: number, sigmaMax: number): Float64Array => karrasSigmas(n + 1, sigmaMin, sigmaMax).slice(0, n + 1);

/** An order entry for a k-diffusion sampler on Karras σ (without the final 0) over `range`. */
export function kdiffusionEntry(name: string, fn: KDiffusionSamplerName, expectedOrder: number, steps: readonly number[], description: string, range = EDM, options: Record<string, unknown> = {}): OrderSamplerDef {
  return {
    name,
    expectedOrder,
    description,
    steps,
    sigmaStart: () => range.sigmaMax,
    async run(n, xTilde, p) {
      const b = referenceBackend;
      const sigmas = karrasNoZero(n, range.sigmaMin, range.sigmaMax);
      const x = await KDIFFUSION[fn](b, veOracle(b, orderData(p)), b.fromHost(xTilde, [p.batch, p.dim]), sigmas, options);
      return { sample: x.data, sigmaFinal: range.sigmaMin, alphaFinal: 1, evaluations: kdiffusionEvaluations(fn, sigmas, options) };
    },
  };
}

/** Train betas whose ᾱₜ = 1/(1 + σ(t)²) for a given VE noise level σ(t), t = 0 … N−1. */
export function betasForSigmas(sigma: (t: number) => number, N: number): number[] {
  const abar = (t: number): number => 1 / (1 + sigma(t) ** 2);
  return Array.from({ length: N }, (_, t) => 1 - abar(t) / (t === 0 ? 1 : abar(t - 1)));
}

/** σ(t) on the Karras ramp (ρ = 7) from σ_min at t = 0 to σ_max at t = N − 1. */
export const karrasRamp = (N: number, sigmaMin: number, sigmaMax: number, rho = 7) => (t: number): number =>
  (sigmaMin ** (1 / rho) + (t / (N - 1)) * (sigmaMax ** (1 / rho) - sigmaMin ** (1 / rho))) ** rho;

/**
 * The train schedule of the diffusers entries: N = 1024 steps (every n in the lists divides N, so
 * "trailing" timesteps t = N − 1 − kN/n are evenly spaced) whose noise level σ(t) is the Karras ramp
 * over EDM's range [0.002, 80], given as `trainedBetas`. Evenly spaced timesteps are then exactly the
 * Karras σ of the k-diffusion entries, and both families are measured on the same grid.
 * (With the default linear β schedule, λ = −log σ has a log singularity at t = 0: the last trailing step
 * spans h ≈ ½ log(N/n), which shrinks far too slowly for the asymptotic regime to be reached.)
 */
export const ORDER_SCHEDULE = { numTrainTimesteps: 1024, trainedBetas: betasForSigmas(karrasRamp(1024, EDM.sigmaMin, EDM.sigmaMax), 1024) } as const;

/** An order entry for a diffusers scheduler on ORDER_SCHEDULE with trailing timesteps, ending at ᾱ₀. */
export function diffusersEntry(name: string, className: string, config: Record<string, unknown>, expectedOrder: number, steps: readonly number[], description: string, train: typeof ORDER_SCHEDULE = ORDER_SCHEDULE): OrderSamplerDef {
  const schedule = makeSchedule(train);
  const ac = schedule.alphasCumprod;
  const veSigma = (t: number): number => Math.sqrt((1 - ac[t]) / ac[t]);
  const full = { ...train, timestepSpacing: "trailing", predictionType: "epsilon", compat: "math", ...config };
  return {
    name,
    expectedOrder,
    description,
    steps,
    sigmaStart: () => veSigma(ORDER_SCHEDULE.numTrainTimesteps - 1),
    async run(n, xTilde, p) {
      const b = referenceBackend;
      const scheduler = await createScheduler(className, full, b);
      scheduler.setTimesteps(n);
      const t0 = scheduler.timesteps[0];
      if (t0 !== ORDER_SCHEDULE.numTrainTimesteps - 1) throw new ConfigError(`${className} first timestep`, t0, `${ORDER_SCHEDULE.numTrainTimesteps - 1} (the order measurement starts every n at the same noise level)`);
      const alphaT = Math.sqrt(ac[t0]);
      const xT = b.fromHost(Float64Array.from(xTilde, (v) => v * alphaT * scheduler.initNoiseSigma), [p.batch, p.dim]);
      const out = await runPipeline(scheduler, vpOracle(b, orderData(p), schedule), xT);
      // Every diffusers entry ends at ᾱ₀ (setAlphaToOne: false / finalSigmasType: "sigma_min").
      return { sample: out.data, sigmaFinal: veSigma(0), alphaFinal: Math.sqrt(ac[0]), evaluations: scheduler.timesteps.length };
    },
  };
}

/**
 * k-diffusion `sample_dpm_fast` with m steps uniform in λ over EDM's range: nfe = 3m − 1, so m − 1
 * DPM-Solver-3 steps and a final DPM-Solver-2 step (local error O(h³): it does not lower the global order 3;
 * with nfe ≡ 0 or 1 mod 3 the final DPM-Solver-1 step would make the global order 2).
 */
export function dpmFastEntry(name: string, steps: readonly number[], range = EDM): OrderSamplerDef {
  return {
    name,
    expectedOrder: 3,
    description: `k-diffusion sample_dpm_fast with m steps (nfe = 3m − 1) uniform in λ, σ ∈ [${range.sigmaMin}, ${range.sigmaMax}]`,
    steps,
    sigmaStart: () => range.sigmaMax,
    async run(m, xTilde, p) {
      const b = referenceBackend;
      const x = await sampleDpmFast(b, veOracle(b, orderData(p)), b.fromHost(xTilde, [p.batch, p.dim]), range.sigmaMin, range.sigmaMax, 3 * m - 1);
      return { sample: x.data, sigmaFinal: range.sigmaMin, alphaFinal: 1, evaluations: 3 * m - 1 };
    },
  };
}

/**
 * The σ the flow entries start from. Flow matching's schedule starts at σ_f = 1 (pure noise), VE σ = ∞; the
 * start x̃ is drawn at this VE σ and enters the flow as x = x̃/(1 + σ), i.e. at σ_f = 1 − 1/(1 + σ) ≈ 1 − 10⁻⁹,
 * a mismatch of 10⁻⁹ in σ_f, far below the smallest error measured.
 */
const FLOW_START_VE = 1e9;

/**
 * FLOW-VELOCITY's exact velocity for the order problem: the flow sees x = (1 − σ)x₀ + σε, σ = t/N, i.e. the
 * VP-style pair (α, σ) = (1 − σ, σ); v* = (x − x̂₀*)/σ with x̂₀* = E[x₀ | x] (ORACLE-X0).
 */
function flowOracle(data: GaussianMixture, N: number): Denoiser<Tensor> {
  return {
    predictionType: "epsilon",
    evaluate: async (x, t) => {
      const sigma = t / N;
      // At σ_f = 1 the sample is pure noise and E[x₀ | x] is the data mean (x0Star would divide by α = 0).
      const x0 = sigma < 1 ? x0Star(data, x, 1 - sigma, sigma) : { data: Float64Array.from(x.data, (_, i) => dataMean(data)[i % data.dim]) };
      return { shape: [...x.shape], data: Float64Array.from(x.data, (v, i) => (v - x0.data[i]) / sigma) };
    },
  };
}

/** The mean Σ wₖμₖ/Σ wₖ of a Gaussian mixture. */
function dataMean(data: GaussianMixture): Float64Array {
  const w = data.components.reduce((a, c) => a + c.weight, 0);
  return Float64Array.from({ length: data.dim }, (_, i) => data.components.reduce((a, c) => a + c.weight * c.mean[i], 0) / w);
}

/**
 * An order entry for a flow-matching scheduler (FlowMatchEuler/Heun, shift 1, N = 1000): n + 1 grid points
 * from σ_f = 1 to 1/N, run up to 1/N (the last interval to σ_f = 0 has a size independent of n and is left
 * out, as σ_min → 0 for the k-diffusion entries). Flow coordinates are x = (1 − σ_f)·x̃, σ_VE = σ_f/(1 − σ_f).
 */
export function flowEntry(name: string, className: string, config: Record<string, unknown>, expectedOrder: number, steps: readonly number[], description: string): OrderSamplerDef {
  const N = 1000;
  return {
    name,
    expectedOrder,
    description,
    steps,
    sigmaStart: () => FLOW_START_VE,
    async run(n, xTilde, p) {
      const b = referenceBackend;
      const s = await createScheduler(className, { numTrainTimesteps: N, compat: "math", ...config }, b);
      s.setTimesteps(n + 1);
      const calls = s.timesteps.length - 1; // every call but the last (the interval to σ_f = 0)
      const model = flowOracle(orderData(p), N);
      let x = b.fromHost(Float64Array.from(xTilde, (v) => v / (1 + FLOW_START_VE)), [p.batch, p.dim]);
      for (let i = 0; i < calls; i++) x = (await s.step(await model.evaluate(x, s.timesteps[i]), s.timesteps[i], x)).prevSample;
      const sigmaF = (s.sigmas as Float64Array)[calls];
      return { sample: x.data, sigmaFinal: sigmaF / (1 - sigmaF), alphaFinal: 1 - sigmaF };
    },
  };
}

/**
 * EDM-PRECOND's network for the order problem: F = (D* − c_skip·x)/c_out with D* = E[x₀ | x] (VE), where the
 * scheduler passed c_in·x and c_noise = ¼ ln σ.
 */
function edmOracle(data: GaussianMixture, sigmaData: number): Denoiser<Tensor> {
  return {
    predictionType: "epsilon",
    evaluate: async (input, cNoise) => {
      const sigma = Math.exp(4 * cNoise);
      const p = edmPreconditioning(sigma, sigmaData);
      const x: Tensor = { shape: [...input.shape], data: input.data.map((v) => v / p.cIn) };
      const d = x0Star(data, x, 1, sigma);
      return { shape: [...x.shape], data: Float64Array.from(d.data, (v, i) => (v - p.cSkip * x.data[i]) / p.cOut) };
    },
  };
}

/** An order entry for an EDM scheduler: Karras σ ∈ [0.002, 80] (ρ = 7), n intervals, compared at σ_min. */
export function edmEntry(name: string, className: string, config: Record<string, unknown>, expectedOrder: number, steps: readonly number[], description: string): OrderSamplerDef {
  return {
    name,
    expectedOrder,
    description,
    steps,
    sigmaStart: () => EDM.sigmaMax,
    async run(n, xTilde, p) {
      const b = referenceBackend;
      const s = await createScheduler(className, { ...EDM, finalSigmasType: "sigma_min", compat: "math", ...config }, b);
      s.setTimesteps(n + 1);
      const model = edmOracle(orderData(p), 0.5);
      let x = b.fromHost(xTilde, [p.batch, p.dim]);
      for (let i = 0; i < n; i++) {
        const t = s.timesteps[i];
        x = (await s.step(await model.evaluate(await s.scaleModelInput(x, t), t), t, x)).prevSample;
      }
      return { sample: x.data, sigmaFinal: (s.sigmas as Float64Array)[n], alphaFinal: 1 };
    },
  };
}

const MULTISTEP = { lowerOrderFinal: false, finalSigmasType: "sigma_min" } as const;
const DOUBLING = [8, 16, 32, 64, 128] as const;
/** Third- and fourth-order methods leave the pre-asymptotic regime later (their error at n = 8 is O(1)). */
const LATE = [32, 64, 128, 256, 512] as const;

/**
 * The measured samplers. Expected orders: Euler / DDIM 1 (one-step, first order); Heun, DPM-2 2
 * (two-stage, second order); DPM-Solver++(2M) 2 (Lu et al. 2022b, Thm. 3.2); DPM-Solver++(3M) 3 (with
 * the Taylor weight of D₂: diffusers' weight is half of it, see spec/08-order.md); UniPC-p with the
 * corrector UniC p + 1 (Zhao et al. 2023, Thm. 3.3: UniC raises the order of a p-th-order predictor by
 * one); DEIS-p p (Zhang & Chen 2023, Lagrange extrapolation of degree p − 1, integrated exactly);
 * LMS-4 4 on smoothly varying steps (variable-step Adams–Bashforth, Lagrange weights integrated exactly)
 * with its start-up damped, and 2 where the first-order start-up dominates (`lms-startup`).
 */
export const ORDER_SAMPLERS: readonly OrderSamplerDef[] = [
  diffusersEntry("ddim", "DDIMScheduler", { setAlphaToOne: false, clipSample: false }, 1, DOUBLING, "DDIMScheduler, η = 0, trailing timesteps, N = 1024"),
  kdiffusionEntry("euler", "sample_euler", 1, DOUBLING, "k-diffusion sample_euler on Karras σ ∈ [0.002, 80]"),
  kdiffusionEntry("heun", "sample_heun", 2, DOUBLING, "k-diffusion sample_heun on Karras σ ∈ [0.002, 80]"),
  kdiffusionEntry("dpm-2", "sample_dpm_2", 2, DOUBLING, "k-diffusion sample_dpm_2 on Karras σ ∈ [0.002, 80]"),
  kdiffusionEntry("lms", "sample_lms", 4, [64, 128, 256, 512, 1024], "k-diffusion sample_lms (order 4) on Karras σ ∈ [0.002, 80]; start-up damped"),
  kdiffusionEntry("lms-startup", "sample_lms", 2, LATE, "k-diffusion sample_lms (order 4) on Karras σ ∈ [0.01, 1]: the first-order start-up step limits the global order to 2", { sigmaMin: 0.01, sigmaMax: 1 }),
  kdiffusionEntry("k-dpmpp-2m", "sample_dpmpp_2m", 2, DOUBLING, "k-diffusion sample_dpmpp_2m on Karras σ ∈ [0.002, 80]"),
  kdiffusionEntry("k-dpmpp-2s", "sample_dpmpp_2s_ancestral", 2, DOUBLING, "k-diffusion sample_dpmpp_2s_ancestral, η = 0 (DPM-Solver++(2S)), on Karras σ ∈ [0.002, 80]", EDM, { eta: 0 }),
  kdiffusionEntry("k-dpm-2-anc", "sample_dpm_2_ancestral", 2, DOUBLING, "k-diffusion sample_dpm_2_ancestral, η = 0, on Karras σ ∈ [0.002, 80]", EDM, { eta: 0 }),
  // k-diffusion weights D₂ ≈ h²D''/2 by −φ₃ = −(φ₂/h − ½), half the Taylor weight (as diffusers does: spec/08-order.md,
  // deviation 1): the local error keeps an h³ term and the method as written is globally second order.
  kdiffusionEntry("k-dpmpp-3m", "sample_dpmpp_3m_sde", 2, [64, 128, 256, 512, 1024], "k-diffusion sample_dpmpp_3m_sde, η = 0, on Karras σ ∈ [0.002, 80]: second order (its D₂ weight is half the Taylor weight)", EDM, { eta: 0 }),
  dpmFastEntry("dpm-fast", DOUBLING),
  diffusersEntry("dpmpp-2m", "DPMSolverMultistepScheduler", { ...MULTISTEP, algorithmType: "dpmsolver++", solverOrder: 2, solverType: "midpoint" }, 2, DOUBLING, "DPMSolverMultistepScheduler dpmsolver++ order 2, trailing, N = 1024"),
  diffusersEntry("dpmpp-3m", "DPMSolverMultistepScheduler", { ...MULTISTEP, algorithmType: "dpmsolver++", solverOrder: 3 }, 3, LATE, "DPMSolverMultistepScheduler dpmsolver++ order 3, trailing, N = 1024"),
  diffusersEntry("unipc-2", "UniPCMultistepScheduler", { ...MULTISTEP, solverOrder: 2, solverType: "bh2", predictX0: true, disableCorrector: [] }, 3, LATE, "UniPCMultistepScheduler bh2 order 2 with the corrector UniC, trailing, N = 1024"),
  diffusersEntry("unipc-3", "UniPCMultistepScheduler", { ...MULTISTEP, solverOrder: 3, solverType: "bh2", predictX0: true, disableCorrector: [] }, 4, LATE, "UniPCMultistepScheduler bh2 order 3 with the corrector UniC, trailing, N = 1024"),
  diffusersEntry("deis-2", "DEISMultistepScheduler", { lowerOrderFinal: false, solverOrder: 2 }, 2, DOUBLING, "DEISMultistepScheduler order 2, trailing, N = 1024"),
  diffusersEntry("deis-3", "DEISMultistepScheduler", { lowerOrderFinal: false, solverOrder: 3 }, 3, LATE, "DEISMultistepScheduler order 3, trailing, N = 1024"),
  flowEntry("flow-euler", "FlowMatchEulerDiscreteScheduler", {}, 1, DOUBLING, "FlowMatchEulerDiscreteScheduler, shift 1, σ_f from 1 to 1/N, N = 1000"),
  flowEntry("flow-heun", "FlowMatchHeunDiscreteScheduler", {}, 2, DOUBLING, "FlowMatchHeunDiscreteScheduler, shift 1, σ_f from 1 to 1/N, N = 1000"),
  edmEntry("edm-euler", "EDMEulerScheduler", {}, 1, DOUBLING, "EDMEulerScheduler on Karras σ ∈ [0.002, 80]"),
  edmEntry("edm-dpmpp-2m", "EDMDPMSolverMultistepScheduler", { solverOrder: 2, lowerOrderFinal: false }, 2, DOUBLING, "EDMDPMSolverMultistepScheduler dpmsolver++ order 2 on Karras σ ∈ [0.002, 80]"),
];

export const ORDER_SAMPLER_NAMES = ORDER_SAMPLERS.map((s) => s.name);

// ─── measurement ────────────────────────────────────────────────────────────────────────────────

/** The least-squares slope of y against x. */
export function leastSquaresSlope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxy / sxx;
}

const rms = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
};

export interface MeasureOptions {
  /** Step counts (default: the entry's). At least 2, increasing. */
  steps?: readonly number[];
  problem?: OrderProblem;
}

/** SAMP-ORDER: runs `samplerName` at each n and fits the order. */
export async function measureOrder(sampler: string | OrderSamplerDef, opts: MeasureOptions = {}): Promise<OrderMeasurement> {
  const samplerName = typeof sampler === "string" ? sampler : sampler.name;
  const def = typeof sampler === "string" ? ORDER_SAMPLERS.find((s) => s.name === sampler) : sampler;
  if (!def) throw new ConfigError("sampler", samplerName, `one of ${ORDER_SAMPLER_NAMES.join(", ")}`);
  const p = opts.problem ?? ORDER_PROBLEM;
  const steps = [...(opts.steps ?? def.steps)];
  require(steps.length >= 2 && steps.every((n, i) => Number.isInteger(n) && n > 0 && (i === 0 || n > steps[i - 1])), "steps", steps, "at least 2 increasing positive integers");
  const sigma0 = def.sigmaStart();
  const stream = new GaussianStream(p.seed);
  // x̃_T ~ q(x̃ | σ₀) = 𝒩(μ, (s² + σ₀²) I): a draw from the noised marginal, the same for every n.
  const xTilde = Float64Array.from(stream.normals(p.batch * p.dim), (z) => p.mean + Math.sqrt(p.std ** 2 + sigma0 ** 2) * z);
  const errors: number[] = [];
  const evaluations: number[] = [];
  for (const n of steps) {
    const r = await def.run(n, xTilde, p);
    const exact = exactFlow(xTilde, p.mean, p.std, sigma0, r.sigmaFinal).map((v) => v * r.alphaFinal);
    errors.push(rms(r.sample, exact));
    evaluations.push(r.evaluations ?? n);
  }
  const fittedOrder = -leastSquaresSlope(steps.map(Math.log), errors.map(Math.log));
  return { sampler: def.name, expectedOrder: def.expectedOrder, fittedOrder, steps, errors, evaluations };
}

/**
 * SAMP-ORDER, read backwards: the cost x (step count or NFE) at which the error reaches `target`, from the
 * measurement's own points on the log–log line — interpolated between the two points that bracket the
 * target, else extrapolated from the nearest two (their local order). Rounded up; Infinity when the error
 * does not fall between those points.
 */
export function costToReach(cost: readonly number[], errors: readonly number[], target: number): number {
  require(target > 0, "target error", target, "a number > 0");
  require(cost.length >= 2 && cost.length === errors.length, "measurement", cost.length, "at least 2 (cost, error) points");
  let i = errors.findIndex((e, k) => k + 1 < errors.length && e >= target && errors[k + 1] <= target);
  if (i < 0) i = target < errors[errors.length - 1] ? errors.length - 2 : 0;
  const slope = (Math.log(errors[i + 1]) - Math.log(errors[i])) / (Math.log(cost[i + 1]) - Math.log(cost[i]));
  if (!(slope < 0)) return Infinity;
  return Math.ceil(Math.exp(Math.log(cost[i]) + (Math.log(target) - Math.log(errors[i])) / slope) - 1e-9);
}

/** The step count and the model evaluations (NFE) at which sampler `m` reaches error `target` (costToReach). */
export function stepsToReach(m: OrderMeasurement, target: number): { steps: number; evaluations: number } {
  return { steps: costToReach(m.steps, m.errors, target), evaluations: costToReach(m.evaluations, m.errors, target) };
}

/** Within tolerance of theory, and the error decreasing with n. */
export function orderHolds(m: OrderMeasurement, tolerance = ORDER_TOLERANCE): boolean {
  return Math.abs(m.fittedOrder - m.expectedOrder) <= tolerance && m.errors.every((e, i) => Number.isFinite(e) && (i === 0 || e < m.errors[i - 1]));
}
