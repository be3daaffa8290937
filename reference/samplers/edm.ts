/**
 * SAMP-EDM-EULER, SAMP-EDM-DPMPP — samplers in the EDM formulation (Karras et al. 2022, "Elucidating the
 * Design Space of Diffusion-Based Generative Models"): diffusers' EDMEulerScheduler and
 * EDMDPMSolverMultistepScheduler (spec/07-samplers-flow-lcm-edm.md).
 *
 * EDM works directly in the variance-exploding view x = x₀ + σ·ε, σ ∈ [σ_min, σ_max] (no ᾱ schedule), with a
 * network F wrapped by the preconditioning of Table 1 (EDM-PRECOND):
 *   D(x, σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x, c_noise(σ)),
 *   c_skip = σ_d²/(σ² + σ_d²), c_out = σ·σ_d/√(σ² + σ_d²), c_in = 1/√(σ² + σ_d²), c_noise = ¼·ln σ,
 * σ_d = `sigmaData` (0.5). diffusers calls this F-prediction "epsilon"; its "v_prediction" negates c_out.
 * The σ's come from a Karras (ρ = 7) or exponential ramp between σ_max and σ_min (EDM-SIGMAS); the
 * timesteps the network sees are c_noise(σ). `scaleModelInput` is x ↦ c_in·x.
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import { ConfigError, require, requireOneOf, requirePositiveInt } from "../errors.ts";
import { exponentialSigmas, karrasSigmas } from "../schedule.ts";
import { postprocessX0, resolveConfig, type Compat } from "./common.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";
import { StepCounter, addNoise, torchLinspaceFloat32 } from "./sigmas.ts";
import { churnGamma, churnOptions } from "./euler.ts";
import { History, drawNoise, type VP } from "./multistep.ts";
import { dpmMultistepUpdate } from "./dpmsolver-multistep.ts";

const f32 = Math.fround;

export type EDMSigmaSchedule = "karras" | "exponential";

export interface EDMConfig {
  sigmaMin: number;
  sigmaMax: number;
  sigmaData: number;
  sigmaSchedule: EDMSigmaSchedule;
  numTrainTimesteps: number;
  predictionType: PredictionType;
  rho: number;
  finalSigmasType: "zero" | "sigma_min";
  compat: Compat;
}

/** diffusers v0.40.0 EDMEulerScheduler defaults (EDM's σ range [0.002, 80], σ_d = 0.5, ρ = 7). */
export const EDM_DEFAULTS: EDMConfig = {
  sigmaMin: 0.002,
  sigmaMax: 80,
  sigmaData: 0.5,
  sigmaSchedule: "karras",
  numTrainTimesteps: 1000,
  predictionType: "epsilon",
  rho: 7,
  finalSigmasType: "zero",
  compat: "math",
};

// ─── EDM's preconditioning ───────────────────────────────────────────────────────────────────────

export interface EDMPreconditioning {
  cSkip: number;
  cOut: number;
  cIn: number;
  cNoise: number;
}

/** EDM-PRECOND: Karras et al. (2022), Table 1; `predictionType` "v_prediction" negates c_out (diffusers). */
export function edmPreconditioning(sigma: number, sigmaData: number, predictionType: PredictionType = "epsilon"): EDMPreconditioning {
  const norm = Math.sqrt(sigma * sigma + sigmaData * sigmaData);
  const cOut = (sigma * sigmaData) / norm;
  return { cSkip: (sigmaData * sigmaData) / (norm * norm), cOut: predictionType === "v_prediction" ? -cOut : cOut, cIn: 1 / norm, cNoise: 0.25 * Math.log(sigma) };
}

/**
 * EDM-SIGMAS: n noise levels from σ_max down to σ_min: Karras' ramp (σ_max^{1/ρ} + r·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,
 * r = linspace(0, 1, n) (Karras et al. 2022, eq. 5), or log σ evenly spaced. compat "diffusers" computes the
 * exponential ramp as torch does (float32 linspace of log σ, float32 exp) and rounds every σ to float32.
 */
export function edmSigmas(n: number, c: EDMConfig): Float64Array {
  requirePositiveInt("numInferenceSteps", n);
  let s: Float64Array;
  if (c.sigmaSchedule === "karras") s = karrasSigmas(n, c.sigmaMin, c.sigmaMax, c.rho).subarray(0, n).slice();
  else if (c.compat === "diffusers") s = torchLinspaceFloat32(Math.log(c.sigmaMin), Math.log(c.sigmaMax), n).map((l) => f32(Math.exp(l))).reverse();
  else s = exponentialSigmas(n, c.sigmaMin, c.sigmaMax).subarray(0, n).slice();
  return c.compat === "diffusers" ? s.map(f32) : s;
}

function resolveEDMConfig<C extends EDMConfig>(className: string, defaults: C, given: Record<string, unknown>): C {
  const c = resolveConfig(className, defaults, given);
  const f = (k: string): string => `${className}.${k}`;
  requireOneOf(f("sigmaSchedule"), c.sigmaSchedule, ["karras", "exponential"] as const);
  requireOneOf(f("predictionType"), c.predictionType, ["epsilon", "v_prediction"] as const);
  requireOneOf(f("finalSigmasType"), c.finalSigmasType, ["zero", "sigma_min"] as const);
  for (const k of ["sigmaMin", "sigmaData", "rho"] as const) require(typeof c[k] === "number" && Number.isFinite(c[k]) && c[k] > 0, f(k), c[k], "a finite number > 0");
  require(typeof c.sigmaMax === "number" && Number.isFinite(c.sigmaMax) && c.sigmaMax > c.sigmaMin, f("sigmaMax"), c.sigmaMax, `a finite number > sigmaMin (${c.sigmaMin})`);
  return c;
}

/** The shell both EDM schedulers share: σ schedule, timesteps c_noise(σ), c_in scaling, the denoiser D. */
abstract class EDMScheduler<T extends BTensor, C extends EDMConfig> implements Scheduler<T> {
  timesteps: readonly number[] = [];
  sigmas: Float64Array | undefined = undefined;
  readonly order: number = 1;
  protected readonly counter: StepCounter;

  constructor(
    readonly className: string,
    readonly config: Readonly<C>,
    readonly backend: Backend<T>,
  ) {
    this.counter = new StepCounter(className);
  }

  /** √(σ_max² + 1), as diffusers (the std of x at σ_max for unit-variance data). */
  get initNoiseSigma(): number {
    return Math.sqrt(this.config.sigmaMax ** 2 + 1);
  }

  protected resetState(): void {}

  /** EDM-SIGMAS: σ's of an n-step run, then the final σ (0, or σ_min); timesteps c_noise(σ). */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const s = edmSigmas(numInferenceSteps, c);
    const r = (v: number): number => (c.compat === "diffusers" ? f32(v) : v);
    this.timesteps = Array.from(s, (sigma) => r(0.25 * r(Math.log(sigma))));
    const all = new Float64Array(s.length + 1);
    all.set(s);
    all[s.length] = c.finalSigmasType === "zero" ? 0 : r(c.sigmaMin);
    this.sigmas = all;
    this.counter.reset();
    this.resetState();
  }

  protected locate(timestep: number): { i: number; sigmas: Float64Array } {
    return { i: this.counter.current(this.timesteps, timestep), sigmas: this.sigmas as Float64Array };
  }

  /** EDM-PRECOND: the network's input c_in(σ)·x. */
  async scaleModelInput(sample: T, timestep: number): Promise<T> {
    const { i, sigmas } = this.locate(timestep);
    return this.backend.combine([sample], [edmPreconditioning(sigmas[i], this.config.sigmaData).cIn]);
  }

  /** EDM-PRECOND: D = c_skip·x + c_out·F at σ. */
  protected denoise(output: T, sample: T, sigma: number): Promise<T> | T {
    const p = edmPreconditioning(sigma, this.config.sigmaData, this.config.predictionType);
    return this.backend.combine([sample, output], [p.cSkip, p.cOut]);
  }

  abstract step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>>;
}

// ─── EDMEulerScheduler ───────────────────────────────────────────────────────────────────────────

/**
 * SAMP-EDM-EULER: Euler's method on the probability-flow ODE dx/dσ = (x − D(x, σ))/σ (Karras et al. 2022,
 * Alg. 2 without the second-order correction): x' = x + (σ' − σ̂)·(x̂ − D)/σ̂. With churn γ > 0
 * (options sChurn, sTmin, sTmax, sNoise as EulerDiscreteScheduler) the sample is first raised to
 * σ̂ = σ(1 + γ): x̂ = x + S_noise·√(σ̂² − σ²)·z. compat "math" uses D(x, σ) from the evaluation before the
 * step; compat "diffusers" preconditions that same network output at (x̂, σ̂) instead.
 */
export class EDMEulerScheduler<T extends BTensor> extends EDMScheduler<T, EDMConfig> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super("EDMEulerScheduler", resolveEDMConfig("EDMEulerScheduler", EDM_DEFAULTS, config), backend);
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i, sigmas } = this.locate(timestep);
    const b = this.backend;
    const o = churnOptions(options, this.className);
    const sigma = sigmas[i];
    const gamma = o.sChurn > 0 ? churnGamma(sigma, sigmas.length - 1, o) : 0;
    const sigmaHat = sigma * (gamma + 1);
    const xHat = gamma > 0 ? await addNoise(b, sample, o.sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2), options.noise, `${this.className}.step`) : sample;
    const denoised = this.config.compat === "diffusers" ? await this.denoise(modelOutput, xHat, sigmaHat) : await this.denoise(modelOutput, sample, sigma);
    const r = sigmas[i + 1] / sigmaHat;
    const prevSample = await b.combine([xHat, denoised], [r, 1 - r]);
    this.counter.advance(i);
    return { prevSample, predOriginalSample: denoised };
  }
}

export function createEDMEulerScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): EDMEulerScheduler<T> {
  return new EDMEulerScheduler(config, backend);
}

// ─── EDMDPMSolverMultistepScheduler ──────────────────────────────────────────────────────────────

export interface EDMDPMSolverConfig extends EDMConfig {
  solverOrder: number;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  algorithmType: "dpmsolver++" | "sde-dpmsolver++";
  solverType: "midpoint" | "heun";
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
}

/** diffusers v0.40.0 EDMDPMSolverMultistepScheduler defaults. */
export const EDM_DPMSOLVER_DEFAULTS: EDMDPMSolverConfig = {
  ...EDM_DEFAULTS,
  solverOrder: 2,
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  sampleMaxValue: 1,
  algorithmType: "dpmsolver++",
  solverType: "midpoint",
  lowerOrderFinal: true,
  eulerAtFinal: false,
};

/** SAMP-EDM-DPMPP: a VE noise level as the exponential integrator's point: α = 1, σ, λ = −ln σ (+∞ at σ = 0). */
export const edmPoint = (sigma: number): VP => ({ alpha: 1, sigma, lambda: -Math.log(sigma) });

/**
 * SAMP-EDM-DPMPP: multistep DPM-Solver++ (Lu et al. 2022b) on EDM's σ's, with the data prediction x̂₀ = D(x, σ)
 * (EDM-PRECOND, optionally thresholded). In the VE view α = 1 and λ = −ln σ, and the update is the one of
 * DPMSolverMultistepScheduler (`dpmMultistepUpdate`): first order at the start, orders 1 and 2 for the last two
 * steps with lowerOrderFinal and fewer than 15 steps, first order for the step to σ = 0 (where it returns x̂₀).
 * "sde-dpmsolver++" adds σ_t√(1 − e^{−2h})·z on every step.
 */
export class EDMDPMSolverMultistepScheduler<T extends BTensor> extends EDMScheduler<T, EDMDPMSolverConfig> {
  /** The solver order the last `step` used. */
  lastStepOrder = 0;
  private readonly history: History<T>;
  private lowerOrderNums = 0;

  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    const name = "EDMDPMSolverMultistepScheduler";
    const c = resolveEDMConfig(name, EDM_DPMSOLVER_DEFAULTS, config);
    require([1, 2, 3].includes(c.solverOrder), `${name}.solverOrder`, c.solverOrder, "1, 2 or 3");
    requireOneOf(`${name}.algorithmType`, c.algorithmType, ["dpmsolver++", "sde-dpmsolver++"] as const);
    requireOneOf(`${name}.solverType`, c.solverType, ["midpoint", "heun"] as const);
    if (c.algorithmType === "sde-dpmsolver++" && c.solverOrder === 3) throw new ConfigError(`${name}.solverOrder`, 3, `1 or 2 for algorithmType "sde-dpmsolver++" (diffusers has no third-order SDE update)`);
    for (const k of ["thresholding", "lowerOrderFinal", "eulerAtFinal"] as const) require(typeof c[k] === "boolean", `${name}.${k}`, c[k], "true or false");
    super(name, c, backend);
    this.history = new History<T>(c.solverOrder);
  }

  protected override resetState(): void {
    this.history.reset();
    this.lowerOrderNums = 0;
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const c = this.config;
    const { i, sigmas } = this.locate(timestep);
    const n = this.timesteps.length;
    const lowerOrderFinal = i === n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigmasType === "zero");
    const lowerOrderSecond = i === n - 2 && c.lowerOrderFinal && n < 15;
    const x0 = await postprocessX0(this.backend, await this.denoise(modelOutput, sample, sigmas[i]), { ...c, clipSample: false, clipSampleRange: 1 });
    this.history.push(x0);
    const noise = c.algorithmType === "sde-dpmsolver++" ? await drawNoise(options, sample.shape, this.className, `algorithmType "sde-dpmsolver++"`) : undefined;
    const order = c.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal ? 1 : c.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond ? 2 : 3;
    const points = [sigmas[i + 1], sigmas[i], sigmas[i - 1], sigmas[i - 2]].slice(0, order + 1).map(edmPoint);
    const prevSample = await dpmMultistepUpdate(this.backend, { algorithm: c.algorithmType, solverType: c.solverType, compat: c.compat }, order, points, sample, this.history, noise);
    this.lastStepOrder = order;
    if (this.lowerOrderNums < c.solverOrder) this.lowerOrderNums++;
    this.counter.advance(i);
    return { prevSample };
  }
}

export function createEDMDPMSolverMultistepScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): EDMDPMSolverMultistepScheduler<T> {
  return new EDMDPMSolverMultistepScheduler(config, backend);
}
