/**
 * The benchmark's sampler catalogue: short names → a diffusers scheduler class with its config, or a
 * k-diffusion function with its σ schedule. Every entry runs on any backend (adapters/contract.ts) with
 * any ε-predicting denoiser trained on one VP schedule (the exact oracle, an ONNX U-Net), and ends at a
 * known noise level, so its result can be compared with the exact probability-flow ODE solution.
 *
 * Why not reference/samplers/order.ts's ORDER_SAMPLERS: those entries run on the reference backend
 * only, and are configured for the order measurement (they stop at σ_min, without the final step to
 * σ = 0, and never drop order at the end). Users benchmark the configurations they use, so here:
 * - diffusers entries: "trailing" timesteps (every n starts at t = N − 1, the same noise level, so one
 *   x_T serves every n), default linear β schedule with N = 1000, ending at σ = 0 (DDIM/PNDM
 *   `setAlphaToOne`, the multistep solvers' `finalSigmasType: "zero"`) except DEIS, which always ends at
 *   the train schedule's σ₀ (diffusers hard-codes it), and TCD / SA-Solver, which end there too;
 * - EDM entries (EDMEuler, EDMDPMSolverMultistep): Karras σ over the train schedule's range, in the VE view,
 *   with the ε-model wrapped as EDM's network F (`epsToEDMNetwork`);
 * - not here: the flow-matching schedulers and iPNDM start at σ_f = 1 / α = 0, an infinite VE noise level
 *   that an ε-model trained on a finite VP schedule cannot be evaluated at (they need their own models);
 * - k-diffusion entries: Karras σ (ρ = 7) from the train schedule's σ_max to σ_min, then 0, driving the
 *   ε-model through k-diffusion's `DiscreteEpsDDPMDenoiser` wrapping (c_in = 1/√(σ² + 1), fractional
 *   timestep t(σ) by log-σ interpolation, D = x − σ ε); the two wrapper combines count as sampler time.
 * The names follow order.ts where they mean the same method (ddim, euler, heun, dpm-2, lms, k-dpmpp-2m,
 * dpmpp-2m, dpmpp-3m, dpm-fast). `dpm-fast` (k-diffusion `sample_dpm_fast`) takes σ_min, σ_max and its
 * number of model evaluations n instead of a σ list; it ends at the train σ_min in the VE view.
 */
import type { Backend, BTensor, Denoiser } from "../adapters/contract.ts";
import { ConfigError } from "../reference/errors.ts";
import { karrasSigmas, type Schedule } from "../reference/schedule.ts";
import { createScheduler, type KDiffusionSamplerName } from "../reference/samplers/index.ts";
import { KDIFFUSION, kdiffusionEvaluations, type KDenoiser } from "../reference/samplers/kdiffusion.ts";
import { sampleDpmFast } from "../reference/samplers/kdiffusion-dpm-solver.ts";
import { runPipeline, type NoiseProvider } from "../reference/samplers/scheduler.ts";
import { edmPreconditioning } from "../reference/samplers/edm.ts";

interface Common {
  readonly name: string;
  /** Draws fresh noise during sampling (only the distribution can be compared, not the path). */
  readonly stochastic: boolean;
  /** Where it ends: σ = 0, or the train schedule's smallest σ (DEIS). */
  readonly finalSigma: "zero" | "train-min";
  readonly description: string;
}
export interface DiffusersSampler extends Common {
  readonly family: "diffusers";
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * "vp" (default): the scheduler drives the ε-model on its train schedule (VP sample x = α x̃).
   * "edm": an EDM scheduler (no β schedule) on σ ∈ [σ_min, σ_max] of the train schedule, in the VE view,
   * whose F-network is the ε-model wrapped as EDM-PRECOND: F = (D − c_skip·x)/c_out with D from `epsToKDenoiser`.
   */
  readonly coordinates?: "vp" | "edm";
}
export interface KDiffusionSampler extends Common {
  readonly family: "k-diffusion";
  readonly fn: KDiffusionSamplerName;
  readonly options: Readonly<Record<string, unknown>>;
}
/** k-diffusion `sample_dpm_fast`: n is its number of model evaluations; it ends at the train schedule's σ_min (VE). */
export interface DpmFastSampler extends Common {
  readonly family: "dpm-fast";
}
export type BenchSampler = DiffusersSampler | KDiffusionSampler | DpmFastSampler;

const TRAILING = { timestepSpacing: "trailing", predictionType: "epsilon" } as const;

const diffusers = (name: string, className: string, config: Record<string, unknown>, description: string, o: Partial<Common> = {}): DiffusersSampler =>
  ({ name, family: "diffusers", className, config: { ...TRAILING, ...config }, stochastic: false, finalSigma: "zero", description, ...o });
const edm = (name: string, className: string, config: Record<string, unknown>, description: string): DiffusersSampler =>
  ({ name, family: "diffusers", className, config, coordinates: "edm", stochastic: false, finalSigma: "zero", description });
const kdiff = (name: string, fn: KDiffusionSamplerName, description: string, o: Partial<Common> & { options?: Record<string, unknown> } = {}): KDiffusionSampler =>
  ({ name, family: "k-diffusion", fn, options: o.options ?? {}, stochastic: o.stochastic ?? false, finalSigma: "zero", description });

export const BENCH_SAMPLERS: readonly BenchSampler[] = [
  diffusers("ddim", "DDIMScheduler", { clipSample: false, setAlphaToOne: true }, "DDIMScheduler, η = 0"),
  diffusers("ddpm", "DDPMScheduler", { clipSample: false, varianceType: "fixed_small" }, "DDPMScheduler (ancestral, posterior variance)", { stochastic: true }),
  diffusers("pndm", "PNDMScheduler", { skipPrkSteps: true, setAlphaToOne: true }, "PNDMScheduler, PLMS (skipPrkSteps)"),
  kdiff("euler", "sample_euler", "k-diffusion sample_euler, Karras σ"),
  kdiff("euler-a", "sample_euler_ancestral", "k-diffusion sample_euler_ancestral (η = 1), Karras σ", { stochastic: true }),
  kdiff("heun", "sample_heun", "k-diffusion sample_heun (2 evaluations per step), Karras σ"),
  kdiff("dpm-2", "sample_dpm_2", "k-diffusion sample_dpm_2 (2 evaluations per step), Karras σ"),
  kdiff("lms", "sample_lms", "k-diffusion sample_lms (order 4), Karras σ"),
  kdiff("k-dpmpp-2m", "sample_dpmpp_2m", "k-diffusion sample_dpmpp_2m, Karras σ"),
  kdiff("dpm-2-a", "sample_dpm_2_ancestral", "k-diffusion sample_dpm_2_ancestral (η = 1, 2 evaluations per step), Karras σ", { stochastic: true }),
  kdiff("dpmpp-2s-a", "sample_dpmpp_2s_ancestral", "k-diffusion sample_dpmpp_2s_ancestral (η = 1, 2 evaluations per step), Karras σ", { stochastic: true }),
  kdiff("k-dpmpp-3m-sde", "sample_dpmpp_3m_sde", "k-diffusion sample_dpmpp_3m_sde (η = 1), Karras σ", { stochastic: true }),
  { name: "dpm-fast", family: "dpm-fast", stochastic: false, finalSigma: "train-min", description: "k-diffusion sample_dpm_fast (n = model evaluations, steps uniform in log σ, ends at σ_min)" },
  diffusers("kdpm2", "KDPM2DiscreteScheduler", {}, "KDPM2DiscreteScheduler (DPM-2, 2 evaluations per step)"),
  diffusers("kdpm2-a", "KDPM2AncestralDiscreteScheduler", {}, "KDPM2AncestralDiscreteScheduler (ancestral DPM-2)", { stochastic: true }),
  diffusers("dpmpp-2m", "DPMSolverMultistepScheduler", { algorithmType: "dpmsolver++", solverOrder: 2 }, "DPMSolverMultistepScheduler dpmsolver++, order 2"),
  diffusers("dpmpp-3m", "DPMSolverMultistepScheduler", { algorithmType: "dpmsolver++", solverOrder: 3 }, "DPMSolverMultistepScheduler dpmsolver++, order 3"),
  diffusers("dpmpp-2m-sde", "DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++", solverOrder: 2 }, "DPMSolverMultistepScheduler sde-dpmsolver++, order 2", { stochastic: true }),
  diffusers("unipc", "UniPCMultistepScheduler", { solverOrder: 2, solverType: "bh2" }, "UniPCMultistepScheduler bh2, order 2 with the corrector"),
  diffusers("deis", "DEISMultistepScheduler", { solverOrder: 2 }, "DEISMultistepScheduler order 2 (ends at the train σ₀)", { finalSigma: "train-min" }),
  diffusers("lcm", "LCMScheduler", {}, "LCMScheduler (consistency step, re-noised; n ≤ 50)", { stochastic: true }),
  diffusers("tcd", "TCDScheduler", {}, "TCDScheduler, γ = 0.3 (ends at the train σ₀; n ≤ 50)", { stochastic: true, finalSigma: "train-min" }),
  diffusers("sa-solver", "SASolverScheduler", { predictorOrder: 2, correctorOrder: 2 }, "SASolverScheduler p2c2, τ = 1 on t ∈ [200, 800] (ends at the train σ₀)", { stochastic: true, finalSigma: "train-min" }),
  edm("edm-euler", "EDMEulerScheduler", {}, "EDMEulerScheduler on Karras σ over the train range (ε-model as EDM's F)"),
  edm("edm-dpmpp-2m", "EDMDPMSolverMultistepScheduler", { solverOrder: 2 }, "EDMDPMSolverMultistepScheduler dpmsolver++ order 2 on Karras σ (ε-model as EDM's F)"),
];

export const BENCH_SAMPLER_NAMES = BENCH_SAMPLERS.map((s) => s.name);

export function benchSampler(name: string): BenchSampler {
  const s = BENCH_SAMPLERS.find((x) => x.name === name);
  if (!s) throw new ConfigError("--samplers", name, `one of ${BENCH_SAMPLER_NAMES.join(", ")}`);
  return s;
}

/** The noise level (VE σ) a sampler's result is at. */
export const finalSigmaOf = (s: BenchSampler, schedule: Schedule): number => (s.finalSigma === "zero" ? 0 : schedule.sigmas[0]);

/** The VE noise level every entry starts from: the train schedule's last timestep. */
export const startSigmaOf = (schedule: Schedule): number => schedule.sigmas[schedule.sigmas.length - 1];

/** Karras σ (ρ = 7) over the train schedule's range, n steps, then 0 (k-diffusion's get_sigmas_karras). */
export const kdiffusionSigmas = (n: number, schedule: Schedule): Float64Array => karrasSigmas(n, schedule.sigmas[0], startSigmaOf(schedule));

/** t(σ): the fractional train timestep whose log σ interpolates linearly to log σ (k-diffusion `sigma_to_t`). */
export function sigmaToT(schedule: Schedule, sigma: number): number {
  const s = schedule.sigmas; // increasing in t
  const N = s.length;
  if (sigma <= s[0]) return 0;
  if (sigma >= s[N - 1]) return N - 1;
  let lo = 0;
  let hi = N - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (s[mid] <= sigma) lo = mid;
    else hi = mid;
  }
  const f = (Math.log(sigma) - Math.log(s[lo])) / (Math.log(s[hi]) - Math.log(s[lo]));
  return lo + f;
}

/**
 * k-diffusion's DiscreteEpsDDPMDenoiser around an ε-predictor: D(x, σ) = x − σ·ε(x/√(σ² + 1), t(σ)).
 * The two combines run on the backend and are counted as sampler time (they are outside `evaluate`).
 */
export function epsToKDenoiser<T extends BTensor>(backend: Backend<T>, eps: Denoiser<T>, schedule: Schedule): KDenoiser<T> {
  if (eps.predictionType !== "epsilon") throw new ConfigError("denoiser predictionType", eps.predictionType, '"epsilon" (the k-diffusion wrapper here converts ε-predictions)');
  return async (x, sigma) => {
    const input = await backend.combine([x], [1 / Math.sqrt(sigma * sigma + 1)]);
    const e = await eps.evaluate(input, sigmaToT(schedule, sigma));
    return backend.combine([x, e], [1, -sigma]);
  };
}

export interface SamplerRunContext<T extends BTensor> {
  readonly backend: Backend<T>;
  /** An ε-predictor trained on `schedule` (timestep = train index, possibly fractional). */
  readonly model: Denoiser<T>;
  readonly schedule: Schedule;
  /** Fresh noise for stochastic samplers (a new provider per run, so every run draws the same noise). */
  readonly noise?: () => NoiseProvider<T>;
}

/** Model evaluations of an n-step run. */
export async function evaluationsOf<T extends BTensor>(s: BenchSampler, n: number, ctx: SamplerRunContext<T>): Promise<number> {
  if (s.family === "k-diffusion") return kdiffusionEvaluations(s.fn, kdiffusionSigmas(n, ctx.schedule), s.options);
  if (s.family === "dpm-fast") return n;
  const scheduler = await createScheduler(s.className, schedulerConfig(s, ctx.schedule), ctx.backend);
  scheduler.setTimesteps(n);
  return scheduler.timesteps.length;
}

/** The scheduler config of a diffusers entry on `schedule`: its β schedule, or for EDM entries its σ range. */
const schedulerConfig = (s: DiffusersSampler, schedule: Schedule): Record<string, unknown> =>
  s.coordinates === "edm" ? { ...s.config, sigmaMin: schedule.sigmas[0], sigmaMax: startSigmaOf(schedule) } : { ...s.config, ...scheduleConfig(schedule) };

/**
 * EDM-PRECOND around an ε-predictor: the EDM scheduler calls F(c_in·x, c_noise = ¼ ln σ); the wrapper recovers
 * σ = e^{4 c_noise} and x, takes D(x, σ) from k-diffusion's wrapping of the ε-model and returns F = (D − c_skip·x)/c_out.
 * Its combines count as sampler time, as for the k-diffusion entries.
 */
export function epsToEDMNetwork<T extends BTensor>(backend: Backend<T>, eps: Denoiser<T>, schedule: Schedule, sigmaData = 0.5): Denoiser<T> {
  const denoise = epsToKDenoiser(backend, eps, schedule);
  return {
    predictionType: "epsilon",
    async evaluate(input: T, cNoise: number): Promise<T> {
      const sigma = Math.exp(4 * cNoise);
      const p = edmPreconditioning(sigma, sigmaData);
      const x = await backend.combine([input], [1 / p.cIn]);
      const d = await denoise(x, sigma);
      return backend.combine([d, x], [1 / p.cOut, -p.cSkip / p.cOut]);
    },
  };
}

const scheduleConfig = (schedule: Schedule): Record<string, unknown> => {
  const c = schedule.config;
  return c.trainedBetas ? { numTrainTimesteps: c.numTrainTimesteps, trainedBetas: c.trainedBetas } : { numTrainTimesteps: c.numTrainTimesteps, betaStart: c.betaStart, betaEnd: c.betaEnd, betaSchedule: c.betaSchedule };
};

/** A sampler bound to a backend and model; a diffusers scheduler is constructed once and reused. */
export interface PreparedSampler<T extends BTensor> {
  readonly sampler: BenchSampler;
  /**
   * Runs n steps from the VE state x̃_T (a backend tensor at σ = startSigmaOf(schedule)) and returns the
   * final sample in the sampler's own coordinates: VE x̃ for k-diffusion, VP x = α x̃ for diffusers (α = 1
   * at σ = 0). A diffusers run calls setTimesteps(n) (which resets the scheduler's state) and scales the
   * input, x_T = α_T·initNoiseSigma·x̃_T, with one combine, as a pipeline call does.
   */
  run(n: number, xTildeT: T): Promise<T>;
}

/**
 * Binds `s` to a backend and model. The scheduler object is built once, outside any timed run, as a
 * diffusers pipeline builds it once at load time.
 */
export async function prepareSampler<T extends BTensor>(s: BenchSampler, ctx: SamplerRunContext<T>): Promise<PreparedSampler<T>> {
  const { backend, model, schedule } = ctx;
  const noiseFor = (): NoiseProvider<T> | undefined => {
    if (!s.stochastic) return undefined;
    const noise = ctx.noise?.();
    if (!noise) throw new ConfigError(`sampler ${s.name} noise`, undefined, "a NoiseProvider (it is stochastic)");
    return noise;
  };
  if (s.family === "k-diffusion") {
    const kmodel = epsToKDenoiser(backend, model, schedule);
    return { sampler: s, run: (n, xTildeT) => KDIFFUSION[s.fn](backend, kmodel, xTildeT, kdiffusionSigmas(n, schedule), { ...s.options, noise: noiseFor() }) };
  }
  if (s.family === "dpm-fast") {
    const kmodel = epsToKDenoiser(backend, model, schedule);
    return { sampler: s, run: (n, xTildeT) => sampleDpmFast(backend, kmodel, xTildeT, schedule.sigmas[0], startSigmaOf(schedule), n) };
  }
  const scheduler = await createScheduler(s.className, schedulerConfig(s, schedule), backend);
  if (s.coordinates === "edm") {
    const network = epsToEDMNetwork(backend, model, schedule);
    return { sampler: s, run: async (n, xTildeT) => { scheduler.setTimesteps(n); return runPipeline(scheduler, network, xTildeT, { checkFinite: false, noise: noiseFor() }); } };
  }
  const N = schedule.config.numTrainTimesteps;
  const alphaT = Math.sqrt(schedule.alphasCumprod[N - 1]);
  return {
    sampler: s,
    async run(n, xTildeT) {
      scheduler.setTimesteps(n);
      const t0 = scheduler.timesteps[0];
      if (t0 !== N - 1) throw new ConfigError(`${s.className} first timestep`, t0, `${N - 1} (every run starts at the same noise level)`);
      const xT = await backend.combine([xTildeT], [alphaT * scheduler.initNoiseSigma]);
      return runPipeline(scheduler, model, xT, { checkFinite: false, noise: noiseFor() });
    },
  };
}

/** prepareSampler + run, for one-off runs. */
export async function runSampler<T extends BTensor>(s: BenchSampler, n: number, xTildeT: T, ctx: SamplerRunContext<T>): Promise<T> {
  return (await prepareSampler(s, ctx)).run(n, xTildeT);
}

/** The α of the coordinates a sampler returns (x = α x̃): 1 for k-diffusion, EDM and at σ = 0. */
export function finalAlphaOf(s: BenchSampler, schedule: Schedule): number {
  if (s.family !== "diffusers" || s.coordinates === "edm") return 1;
  const sigma = finalSigmaOf(s, schedule);
  return 1 / Math.sqrt(1 + sigma * sigma);
}
