/**
 * SAMP-FLOW-EULER, SAMP-FLOW-HEUN — rectified-flow samplers: diffusers' FlowMatchEulerDiscreteScheduler
 * and FlowMatchHeunDiscreteScheduler (SD3, Flux) (spec/07-samplers-flow-lcm-edm.md; Lipman et al. 2023,
 * "Flow Matching for Generative Modeling"; Esser et al. 2024, "Scaling Rectified Flow Transformers").
 *
 * Flow matching trains on the straight path between data and noise, x_σ = (1 − σ)·x₀ + σ·ε, σ ∈ [0, 1]
 * (FLOW-PATH), with a network that predicts the velocity v = dx_σ/dσ = ε − x₀ (FLOW-VELOCITY). Sampling
 * integrates dx/dσ = v(x, σ) from σ = 1 (pure noise) down to σ = 0. The schedule of σ is "shifted"
 * (FLOW-SHIFT): σ ↦ sσ/(1 + (s − 1)σ), a time change that spends more steps at high noise for large
 * images; with dynamic shifting s = e^μ is chosen per image size (Flux). The model sees the timestep
 * t = N·σ (N = numTrainTimesteps), unscaled: there is no `scale_model_input` (identity here).
 */
import type { Backend, BTensor } from "../contract.ts";
import { ConfigError, require, requireOneOf, requirePositiveInt } from "../errors.ts";
import { linspace } from "../schedule.ts";
import type { NoiseProvider, Scheduler, SetTimestepsOptions, StepOptions, StepOutput } from "./scheduler.ts";
import { resolveConfig, type Compat } from "./common.ts";
import { StepCounter, addNoise, convertSigmas, sigmaRamp } from "./sigmas.ts";
import { repeatInterior } from "./heun.ts";
import { churnGamma, churnOptions } from "./euler.ts";

const f32 = Math.fround;

// ─── the flow-matching algebra ───────────────────────────────────────────────────────────────────

/** FLOW-PATH: x_σ = (1 − σ)·x₀ + σ·ε (diffusers `scale_noise`), as coefficients of [x₀, ε]. */
export const flowPathCoeffs = (sigma: number): [number, number] => [1 - sigma, sigma];

/** FLOW-VELOCITY: x̂₀ = x − σ·v, as coefficients of [x, v]. */
export const flowX0Coeffs = (sigma: number): [number, number] => [1, -sigma];

/** FLOW-VELOCITY: ε̂ = x + (1 − σ)·v, as coefficients of [x, v]. */
export const flowEpsCoeffs = (sigma: number): [number, number] => [1, 1 - sigma];

/** FLOW-VELOCITY: v from (x₀, ε): v = ε − x₀, as coefficients of [x₀, ε]. */
export const flowVelocityCoeffs = (): [number, number] => [-1, 1];

/**
 * FLOW-SHIFT: the shifted noise level sσ/(1 + (s − 1)σ) (Esser et al. 2024, eq. 23), evaluated as
 * sσ/(sσ + (1 − σ)) so that 0 and 1 are fixed exactly. s = 1 is the identity.
 */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (shift * sigma + (1 - sigma));
}

export type TimeShiftType = "exponential" | "linear";
export const TIME_SHIFT_TYPES: readonly TimeShiftType[] = ["exponential", "linear"];

/**
 * FLOW-SHIFT (dynamic): diffusers `time_shift(μ, 1, σ)`. "exponential": e^μ/(e^μ + (1/σ − 1)), which is
 * `shiftSigma(σ, e^μ)`; "linear": μ/(μ + (1/σ − 1)) = `shiftSigma(σ, μ)`.
 */
export function timeShift(mu: number, sigma: number, type: TimeShiftType): number {
  const s = type === "exponential" ? Math.exp(mu) : mu;
  return s / (s + (1 / sigma - 1));
}

/**
 * FLOW-SHIFT: diffusers `stretch_shift_to_terminal` (LTX-Video): the affine map of 1 − σ that keeps σ = 1
 * and sends the last σ to `terminal`: σ' = 1 − (1 − σ)·(1 − terminal)/(1 − σ_last).
 */
export function stretchToTerminal(sigmas: Float64Array, terminal: number): Float64Array<ArrayBuffer> {
  const scale = (1 - sigmas[sigmas.length - 1]) / (1 - terminal);
  return sigmas.map((s) => 1 - (1 - s) / scale);
}

/**
 * FLOW-SHIFT: Flux's choice of μ from the image's token count L: the line through (L_base, μ_base) and
 * (L_max, μ_max) (diffusers pipelines' `calculate_shift`).
 */
export function calculateShift(imageSeqLen: number, c: Pick<FlowMatchEulerConfig, "baseImageSeqLen" | "maxImageSeqLen" | "baseShift" | "maxShift">): number {
  const m = (c.maxShift - c.baseShift) / (c.maxImageSeqLen - c.baseImageSeqLen);
  return imageSeqLen * m + (c.baseShift - m * c.baseImageSeqLen);
}

// ─── the σ schedule ──────────────────────────────────────────────────────────────────────────────

export interface FlowSchedule {
  readonly timesteps: number[];
  /** σ of each timestep, then the final σ (0, or 1 with invertSigmas). */
  readonly sigmas: Float64Array;
}

/**
 * FLOW-SHIFT: diffusers' train grid σ_k = k/N, k = N … 1, shifted by `shift` unless dynamic shifting is
 * on (then μ is applied in setTimesteps). Its first and last values are σ_max and σ_min of the inference
 * grid; compat "diffusers" computes them in float32 as diffusers does.
 */
function trainSigmaRange(c: FlowMatchEulerConfig): { sigmaMax: number; sigmaMin: number } {
  const N = c.numTrainTimesteps;
  const at = (k: number): number => {
    if (c.compat === "math") return c.useDynamicShifting ? k / N : shiftSigma(k / N, c.shift);
    const s = f32(k / N);
    return c.useDynamicShifting ? s : f32(f32(c.shift * s) / f32(1 + f32((c.shift - 1) * s)));
  };
  return { sigmaMax: at(N), sigmaMin: at(1) };
}

/**
 * FLOW-SHIFT / SAMP-FLOW-EULER: `set_timesteps` of the flow schedulers. n values of σ evenly spaced from
 * σ_max to σ_min of the train grid, shifted (static `shift`, or dynamic with μ), optionally stretched to
 * `shiftTerminal`, optionally replaced by a Karras / exponential / beta ramp between the first and last,
 * then t = N·σ; the final σ 0 is appended (with `invertSigmas`, σ ↦ 1 − σ and 1 is appended).
 * Note (diffusers): σ_min of the train grid is already shifted, so with static shift the last σ is shifted
 * twice; kept in both compat modes because it defines the grid users' models were tuned on.
 */
export function flowMatchSchedule(n: number, c: FlowMatchEulerConfig, mu?: number): FlowSchedule {
  requirePositiveInt(`${c.className}.setTimesteps numInferenceSteps`, n);
  if (c.useDynamicShifting) require(typeof mu === "number" && Number.isFinite(mu), `${c.className}.setTimesteps mu`, mu, "a finite number (useDynamicShifting is true: the shift e^μ must be given, e.g. calculateShift(imageSeqLen, config))");
  else require(mu === undefined, `${c.className}.setTimesteps mu`, mu, "absent: μ is used only with useDynamicShifting (the static `shift` applies)");
  const N = c.numTrainTimesteps;
  const { sigmaMax, sigmaMin } = trainSigmaRange(c);
  let sigmas: Float64Array = linspace(sigmaMax * N, sigmaMin * N, n).map((t) => t / N);
  sigmas = c.useDynamicShifting ? sigmas.map((s) => timeShift(mu as number, s, c.timeShiftType)) : sigmas.map((s) => shiftSigma(s, c.shift));
  if (c.shiftTerminal !== undefined && c.shiftTerminal !== 0) sigmas = stretchToTerminal(sigmas, c.shiftTerminal);
  const ramp = sigmaRamp(c, c.className);
  if (ramp !== "none") sigmas = Float64Array.from(convertSigmas(ramp, sigmas, n));
  const r = (v: number): number => (c.compat === "diffusers" ? f32(v) : v);
  sigmas = sigmas.map(r);
  if (c.invertSigmas) sigmas = sigmas.map((s) => r(1 - s));
  const timesteps = Array.from(sigmas, (s) => r(s * N));
  const all = new Float64Array(n + 1);
  all.set(sigmas);
  all[n] = c.invertSigmas ? 1 : 0;
  return { timesteps, sigmas: all };
}

// ─── FlowMatchEulerDiscreteScheduler ─────────────────────────────────────────────────────────────

export interface FlowMatchEulerConfig {
  className: string;
  numTrainTimesteps: number;
  shift: number;
  useDynamicShifting: boolean;
  baseShift: number;
  maxShift: number;
  baseImageSeqLen: number;
  maxImageSeqLen: number;
  invertSigmas: boolean;
  shiftTerminal?: number;
  useKarrasSigmas: boolean;
  useExponentialSigmas: boolean;
  useBetaSigmas: boolean;
  timeShiftType: TimeShiftType;
  stochasticSampling: boolean;
  compat: Compat;
}

/** diffusers v0.40.0 FlowMatchEulerDiscreteScheduler defaults, plus compat "math". */
export const FLOW_MATCH_EULER_DEFAULTS: Omit<FlowMatchEulerConfig, "className"> = {
  numTrainTimesteps: 1000,
  shift: 1,
  useDynamicShifting: false,
  baseShift: 0.5,
  maxShift: 1.15,
  baseImageSeqLen: 256,
  maxImageSeqLen: 4096,
  invertSigmas: false,
  shiftTerminal: undefined,
  useKarrasSigmas: false,
  useExponentialSigmas: false,
  useBetaSigmas: false,
  timeShiftType: "exponential",
  stochasticSampling: false,
  compat: "math",
};

function resolveFlowConfig(className: string, defaults: Omit<FlowMatchEulerConfig, "className">, given: Record<string, unknown>): FlowMatchEulerConfig {
  const c = { ...resolveConfig(className, defaults, given), className } as FlowMatchEulerConfig;
  const f = (k: string): string => `${className}.${k}`;
  requirePositiveInt(f("numTrainTimesteps"), c.numTrainTimesteps);
  require(typeof c.shift === "number" && Number.isFinite(c.shift) && c.shift > 0, f("shift"), c.shift, "a finite number > 0 (1 = no shift)");
  requireOneOf(f("timeShiftType"), c.timeShiftType, TIME_SHIFT_TYPES);
  for (const k of ["useDynamicShifting", "invertSigmas", "stochasticSampling"] as const) require(typeof c[k] === "boolean", f(k), c[k], "true or false");
  if (c.shiftTerminal !== undefined) require(typeof c.shiftTerminal === "number" && c.shiftTerminal >= 0 && c.shiftTerminal < 1, f("shiftTerminal"), c.shiftTerminal, "null or a number in [0, 1)");
  sigmaRamp(c, className);
  return c;
}

/**
 * The shell both flow schedulers share: config, σ schedule, step counter, identity model-input scaling,
 * and initNoiseSigma = 1 (the flow starts from unit Gaussian noise at σ = 1).
 */
abstract class FlowScheduler<T extends BTensor> implements Scheduler<T> {
  timesteps: readonly number[] = [];
  sigmas: Float64Array | undefined = undefined;
  readonly initNoiseSigma = 1;
  readonly order: number = 1;
  protected readonly counter: StepCounter;

  constructor(
    readonly config: Readonly<FlowMatchEulerConfig>,
    readonly backend: Backend<T>,
  ) {
    this.counter = new StepCounter(config.className);
  }

  protected abstract makeSchedule(n: number, mu?: number): FlowSchedule;
  protected resetState(): void {}

  setTimesteps(numInferenceSteps: number, options: SetTimestepsOptions = {}): void {
    const s = this.makeSchedule(numInferenceSteps, options.mu);
    this.timesteps = s.timesteps;
    this.sigmas = s.sigmas;
    this.counter.reset();
    this.resetState();
  }

  protected locate(timestep: number): { i: number; sigmas: Float64Array } {
    return { i: this.counter.current(this.timesteps, timestep), sigmas: this.sigmas as Float64Array };
  }

  /** The model sees the raw sample (diffusers' flow classes have no scale_model_input). */
  async scaleModelInput(sample: T, timestep: number): Promise<T> {
    this.locate(timestep);
    return sample;
  }

  abstract step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>>;
}

/**
 * SAMP-FLOW-EULER: Euler's method on dx/dσ = v: x' = x + (σ' − σ)·v. With `stochasticSampling` the step
 * instead re-noises the predicted x̂₀ = x − σv along the straight path to σ': x' = (1 − σ')·x̂₀ + σ'·z
 * (FLOW-PATH with fresh z; diffusers draws z on every step, also the last where σ' = 0).
 */
export class FlowMatchEulerDiscreteScheduler<T extends BTensor> extends FlowScheduler<T> {
  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    super(resolveFlowConfig("FlowMatchEulerDiscreteScheduler", FLOW_MATCH_EULER_DEFAULTS, config), backend);
  }

  protected makeSchedule(n: number, mu?: number): FlowSchedule {
    return flowMatchSchedule(n, this.config, mu);
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i, sigmas } = this.locate(timestep);
    const [sigma, sigmaNext] = [sigmas[i], sigmas[i + 1]];
    const b = this.backend;
    let prevSample: T;
    if (this.config.stochasticSampling) {
      const x0 = await b.combine([sample, modelOutput], flowX0Coeffs(sigma));
      const z = await drawNoise(options.noise, sample, `${this.config.className}.step`);
      prevSample = await b.combine([x0, z], flowPathCoeffs(sigmaNext));
    } else prevSample = await b.combine([sample, modelOutput], [1, sigmaNext - sigma]);
    this.counter.advance(i);
    return { prevSample };
  }
}

export function createFlowMatchEulerDiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): FlowMatchEulerDiscreteScheduler<T> {
  return new FlowMatchEulerDiscreteScheduler(config, backend);
}

/** Fresh 𝒩(0, I) noise shaped like `like`, or a ConfigError naming the missing provider. */
async function drawNoise<T extends BTensor>(noise: NoiseProvider<T> | undefined, like: T, what: string): Promise<T> {
  if (!noise) throw new ConfigError(`${what} options.noise`, undefined, "a NoiseProvider (this step draws fresh Gaussian noise; pass e.g. backendNoise(backend, seed))");
  return noise.next(like.shape);
}

// ─── FlowMatchHeunDiscreteScheduler ──────────────────────────────────────────────────────────────

/** diffusers v0.40.0 FlowMatchHeunDiscreteScheduler: only numTrainTimesteps and shift. */
export const FLOW_MATCH_HEUN_DEFAULTS = { numTrainTimesteps: 1000, shift: 1, compat: "math" as Compat };

/**
 * SAMP-FLOW-HEUN: Heun's method on dx/dσ = v (Karras et al. 2022, Alg. 2, in the flow's σ): a predictor
 * x* = x̂ + (σ' − σ̂)·d with d = v·σ/σ̂, then the corrector x' = x̂ + (σ' − σ̂)·(d + v(x*, σ'))/2. Without
 * churn σ̂ = σ and d = v. One model evaluation per `step` call; timesteps repeat every interior value and
 * the last interval to σ' = 0 is a plain Euler step (2n − 1 calls). With churn γ > 0 the predictor's
 * sample is first raised to σ̂ = σ(1 + γ) by x̂ = x + S_noise·√(σ̂² − σ²)·z; the velocity is the one
 * evaluated at (x, σ) (diffusers: D = x̂ − σ·v, d = (x̂ − D)/σ̂).
 */
export class FlowMatchHeunDiscreteScheduler<T extends BTensor> extends FlowScheduler<T> {
  override readonly order = 2;
  private predictor: { d: T; dt: number; sample: T } | null = null;

  constructor(config: Record<string, unknown>, backend: Backend<T>) {
    const given = resolveConfig("FlowMatchHeunDiscreteScheduler", FLOW_MATCH_HEUN_DEFAULTS, config);
    super(resolveFlowConfig("FlowMatchHeunDiscreteScheduler", FLOW_MATCH_EULER_DEFAULTS, given), backend);
  }

  protected makeSchedule(n: number, mu?: number): FlowSchedule {
    const s = flowMatchSchedule(n, this.config, mu);
    return { timesteps: repeatInterior(s.timesteps, false), sigmas: Float64Array.from(repeatInterior(Array.from(s.sigmas), true)) };
  }

  protected override resetState(): void {
    this.predictor = null;
  }

  get stateInFirstOrder(): boolean {
    return this.predictor === null;
  }

  async step(modelOutput: T, timestep: number, sample: T, options: StepOptions<T> = {}): Promise<StepOutput<T>> {
    const { i, sigmas } = this.locate(timestep);
    const b = this.backend;
    const o = churnOptions(options, this.config.className);
    const first = this.predictor;
    const [sigma, sigmaNext] = first === null ? [sigmas[i], sigmas[i + 1]] : [sigmas[i - 1], sigmas[i]];
    const gamma = o.sChurn > 0 ? churnGamma(sigma, sigmas.length - 1, o) : 0;
    const sigmaHat = sigma * (gamma + 1);
    let prevSample: T;
    if (first === null) {
      const xHat = gamma > 0 ? await addNoise(b, sample, o.sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2), options.noise, `${this.config.className}.step`) : sample;
      const dt = sigmaNext - sigmaHat;
      const d = await b.combine([modelOutput], [sigma / sigmaHat]);
      prevSample = await b.combine([xHat, d], [1, dt]);
      this.predictor = { d, dt, sample: xHat };
    } else {
      // diffusers draws (and discards) the churn noise in the corrector stage too: keep its stream in step.
      if (gamma > 0 && this.config.compat === "diffusers") await drawNoise(options.noise, sample, `${this.config.className}.step`);
      prevSample = await b.combine([first.sample, first.d, modelOutput], [1, first.dt / 2, first.dt / 2]);
      this.predictor = null;
    }
    this.counter.advance(i);
    return { prevSample };
  }
}

export function createFlowMatchHeunDiscreteScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): FlowMatchHeunDiscreteScheduler<T> {
  return new FlowMatchHeunDiscreteScheduler(config, backend);
}
