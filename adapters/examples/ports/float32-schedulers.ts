/**
 * An example scheduler port, written the way a user ports diffusers' schedulers to the browser: plain
 * TypeScript over Float32Array, nothing imported from diffspec. It implements DDIMScheduler,
 * EulerDiscreteScheduler, EulerAncestralDiscreteScheduler and DPMSolverMultistepScheduler
 * (DPM-Solver++(2M)) and passes every clause that applies to it:
 *
 *   npx diffspec conformance --scheduler adapters/examples/ports/float32-schedulers.ts
 *
 * The contract (spec/14-scheduler-ports.md): export `capabilities` and one factory per class, named after
 * the class. Tensors are flat Float32Arrays; scalars (schedules, coefficients) are JS numbers.
 */

type Config = Record<string, unknown>;
type Arr = Float32Array | Float64Array;

const SCHEDULE_KEYS = {
  numTrainTimesteps: { min: 50, max: 1024, integer: true },
  betaStart: { min: 0.00005, max: 0.001 },
  betaEnd: { min: 0.01, max: 0.03 },
  betaSchedule: ["linear", "scaled_linear", "squaredcos_cap_v2"],
  trainedBetas: "betas",
  predictionType: ["epsilon", "v_prediction", "sample"],
  timestepSpacing: ["linspace", "leading", "trailing"],
} as const;

export const capabilities = {
  name: "float32-schedulers (TypeScript example)",
  dtype: "float32",
  compat: "math",
  classes: {
    DDIMScheduler: { config: { ...SCHEDULE_KEYS, stepsOffset: [0, 1], setAlphaToOne: [true, false], clipSample: [true, false] }, eta: { min: 0, max: 1 }, addNoise: true, getVelocity: true },
    EulerDiscreteScheduler: { config: { ...SCHEDULE_KEYS, stepsOffset: [0, 1] }, addNoise: true },
    EulerAncestralDiscreteScheduler: { config: { ...SCHEDULE_KEYS, stepsOffset: [0, 1] }, addNoise: true },
    DPMSolverMultistepScheduler: {
      config: { ...SCHEDULE_KEYS, solverOrder: [2], algorithmType: ["dpmsolver++"], solverType: ["midpoint"], lowerOrderFinal: [true, false], finalSigmasType: ["zero", "sigma_min"] },
      addNoise: true,
    },
  },
};

// ─── schedule ────────────────────────────────────────────────────────────────────────────────────

/** numpy's linspace. */
function linspace(start: number, stop: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (stop - start) / (n - 1);
  const out = Array.from({ length: n }, (_, i) => i * step + start);
  out[n - 1] = stop;
  return out;
}

/** numpy's round: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface Base {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: string;
  trainedBetas: number[] | null;
  predictionType: string;
  timestepSpacing: string;
  stepsOffset: number;
}

function baseConfig(config: Config, defaults: Partial<Base>): Base {
  const c = { numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: "linear", trainedBetas: null, predictionType: "epsilon", timestepSpacing: "leading", stepsOffset: 0, ...defaults } as Base;
  for (const [k, v] of Object.entries(config)) if (v !== null && v !== undefined) (c as unknown as Config)[k] = v;
  return c;
}

export function betas(c: Base): number[] {
  const N = c.numTrainTimesteps;
  if (c.trainedBetas) return [...c.trainedBetas];
  if (c.betaSchedule === "linear") return linspace(c.betaStart, c.betaEnd, N);
  if (c.betaSchedule === "scaled_linear") return linspace(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), N).map((r) => r * r);
  if (c.betaSchedule === "squaredcos_cap_v2") {
    const f = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    return Array.from({ length: N }, (_, i) => Math.min(1 - f((i + 1) / N) / f(i / N), 0.999));
  }
  throw new Error(`betaSchedule ${c.betaSchedule} is not implemented`);
}

export function cumprod(bs: number[]): number[] {
  let p = 1;
  return bs.map((b) => (p *= 1 - b));
}

/** The n visited timesteps of DDIM/DDPM (leading, linspace, trailing). */
export function spacedTimesteps(n: number, N: number, spacing: string, offset: number): number[] {
  if (spacing === "linspace") return linspace(0, N - 1, n).map(roundHalfEven).reverse();
  if (spacing === "leading") {
    const ratio = Math.floor(N / n);
    return Array.from({ length: n }, (_, k) => (n - 1 - k) * ratio + offset);
  }
  const delta = N - N / n - N; // numpy's arange(N, 0, -N/n) computes N + k·δ
  return Array.from({ length: n }, (_, k) => roundHalfEven(N + k * delta) - 1);
}

/** x̂₀ and ε̂ from a model output at √ᾱ = a, √(1 − ᾱ) = s. */
function predict(p: string, out: number, x: number, a: number, s: number): [number, number] {
  if (p === "epsilon") return [(x - s * out) / a, out];
  if (p === "sample") return [out, (x - a * out) / s];
  return [a * x - s * out, a * out + s * x]; // v_prediction
}

const map = (n: number, f: (i: number) => number): Float32Array => {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
};

// ─── DDIM ────────────────────────────────────────────────────────────────────────────────────────

export class DDIM {
  readonly c: Base & { setAlphaToOne: boolean; clipSample: boolean };
  readonly alphasCumprod: Float32Array;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  protected ac: number[];

  constructor(config: Config) {
    this.c = baseConfig(config, {}) as DDIM["c"];
    this.c.setAlphaToOne = (config.setAlphaToOne as boolean | undefined) ?? true;
    this.c.clipSample = (config.clipSample as boolean | undefined) ?? true;
    this.ac = cumprod(betas(this.c));
    this.alphasCumprod = Float32Array.from(this.ac);
  }
  setTimesteps(n: number): void {
    this.timesteps = spacedTimesteps(n, this.c.numTrainTimesteps, this.c.timestepSpacing, this.c.stepsOffset);
  }
  /** The timestep a step from timesteps[i] lands on: the next visited one, −1 after the last. */
  previousTimestep(i: number): number {
    return i + 1 < this.timesteps.length ? this.timesteps[i + 1] : -1;
  }
  scaleModelInput(sample: Arr): Arr {
    return sample;
  }
  step(modelOutput: Arr, timestep: number, sample: Arr, options: { eta?: number; noise?: Arr } = {}) {
    const i = this.timesteps.indexOf(timestep);
    const prev = this.previousTimestep(i);
    const abarT = this.ac[timestep];
    const abarS = prev >= 0 ? this.ac[prev] : this.c.setAlphaToOne ? 1 : this.ac[0];
    const eta = options.eta ?? 0;
    const variance = ((1 - abarS) / (1 - abarT)) * (1 - abarT / abarS);
    const std = eta * Math.sqrt(variance);
    const [a, s] = [Math.sqrt(abarT), Math.sqrt(1 - abarT)];
    const x0 = new Float32Array(sample.length);
    const prevSample = new Float32Array(sample.length);
    for (let j = 0; j < sample.length; j++) {
      let [x0j, epsj] = predict(this.c.predictionType, modelOutput[j], sample[j], a, s);
      if (this.c.clipSample) x0j = Math.min(1, Math.max(-1, x0j));
      x0[j] = x0j;
      prevSample[j] = Math.sqrt(abarS) * x0j + Math.sqrt(Math.max(0, 1 - abarS - std * std)) * epsj + (std > 0 ? std * options.noise![j] : 0);
    }
    return { prevSample, predOriginalSample: x0 };
  }
  addNoise(x0: Arr, noise: Arr, timestep: number): Float32Array {
    const abar = this.ac[timestep];
    return map(x0.length, (j) => Math.sqrt(abar) * x0[j] + Math.sqrt(1 - abar) * noise[j]);
  }
  getVelocity(x0: Arr, noise: Arr, timestep: number): Float32Array {
    const abar = this.ac[timestep];
    return map(x0.length, (j) => Math.sqrt(abar) * noise[j] - Math.sqrt(1 - abar) * x0[j]);
  }
}

export function DDIMScheduler(config: Config): DDIM {
  return new DDIM(config);
}

// ─── Euler (and ancestral) ───────────────────────────────────────────────────────────────────────

/** diffusers' EulerDiscreteScheduler with linear σ interpolation, ending at σ = 0. */
export class Euler {
  readonly c: Base;
  readonly alphasCumprod: Float32Array;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas = new Float32Array(0);
  protected trainSigmas: number[];
  protected sig: number[] = [];
  private index = 0;

  constructor(config: Config) {
    this.c = baseConfig(config, { timestepSpacing: "linspace" });
    const ac = cumprod(betas(this.c));
    this.alphasCumprod = Float32Array.from(ac);
    this.trainSigmas = ac.map((a) => Math.sqrt((1 - a) / a));
  }
  get initNoiseSigma(): number {
    const max = Math.max(...(this.sig.length ? this.sig : this.trainSigmas));
    return Math.sqrt(max * max + 1);
  }
  setTimesteps(n: number): void {
    const N = this.c.numTrainTimesteps;
    this.timesteps = this.c.timestepSpacing === "linspace" ? linspace(0, N - 1, n).reverse() : spacedTimesteps(n, N, this.c.timestepSpacing, this.c.stepsOffset);
    this.sig = [...this.timesteps.map((t) => this.sigmaAt(t)), 0];
    this.sigmas = Float32Array.from(this.sig);
    this.index = 0;
  }
  /** σ at a fractional timestep: linear interpolation of the train σ's. */
  sigmaAt(t: number): number {
    const lo = Math.floor(t);
    const hi = Math.min(lo + 1, this.trainSigmas.length - 1);
    return this.trainSigmas[lo] + (t - lo) * (this.trainSigmas[hi] - this.trainSigmas[lo]);
  }
  scaleModelInput(sample: Arr, timestep: number): Float32Array {
    const sigma = this.sig[this.timesteps.indexOf(timestep)];
    return map(sample.length, (j) => sample[j] / Math.sqrt(sigma * sigma + 1));
  }
  /** x̂₀ in the VE view (the sample is x̃ = x₀ + σ ε). */
  denoised(out: number, x: number, sigma: number): number {
    const p = this.c.predictionType;
    if (p === "epsilon") return x - sigma * out;
    if (p === "sample") return out;
    return x / (sigma * sigma + 1) - (sigma / Math.sqrt(sigma * sigma + 1)) * out;
  }
  /** The Euler step σ → σ', optionally plus σ_up·z; `sigmaNext` may be σ_down. */
  protected eulerStep(modelOutput: Arr, sample: Arr, sigma: number, sigmaTo: number, noiseStd = 0, noise?: Arr) {
    const x0 = new Float32Array(sample.length);
    const prevSample = new Float32Array(sample.length);
    for (let j = 0; j < sample.length; j++) {
      x0[j] = this.denoised(modelOutput[j], sample[j], sigma);
      const d = (sample[j] - x0[j]) / sigma;
      prevSample[j] = sample[j] + (sigmaTo - sigma) * d + (noiseStd > 0 ? noiseStd * noise![j] : 0);
    }
    return { prevSample, predOriginalSample: x0 };
  }
  protected nextIndex(): number {
    return this.index++;
  }
  step(modelOutput: Arr, _timestep: number, sample: Arr) {
    const i = this.nextIndex();
    return this.eulerStep(modelOutput, sample, this.sig[i], this.sig[i + 1]);
  }
  addNoise(x0: Arr, noise: Arr, timestep: number): Float32Array {
    const sigma = this.sig[this.timesteps.indexOf(timestep)];
    return map(x0.length, (j) => x0[j] + sigma * noise[j]);
  }
}

export function EulerDiscreteScheduler(config: Config): Euler {
  return new Euler(config);
}

/** Ancestral Euler: down to σ_down deterministically, then σ_up of fresh noise (σ_up² + σ_down² = σ'²). */
export class EulerAncestral extends Euler {
  ancestral(sigma: number, sigmaNext: number): { up: number; down: number } {
    const up = Math.sqrt((sigmaNext ** 2 * (sigma ** 2 - sigmaNext ** 2)) / sigma ** 2);
    return { up, down: Math.sqrt(sigmaNext ** 2 - up ** 2) };
  }
  override step(modelOutput: Arr, _timestep: number, sample: Arr, options: { noise?: Arr } = {}) {
    const i = this.nextIndex();
    const { up, down } = this.ancestral(this.sig[i], this.sig[i + 1]);
    return this.eulerStep(modelOutput, sample, this.sig[i], down, up, options.noise);
  }
}

export function EulerAncestralDiscreteScheduler(config: Config): EulerAncestral {
  return new EulerAncestral(config);
}

// ─── DPM-Solver++(2M) ────────────────────────────────────────────────────────────────────────────

/** diffusers' DPMSolverMultistepScheduler, algorithm dpmsolver++, order 2, midpoint. */
export class DPMSolverPP2M {
  readonly c: Base & { lowerOrderFinal: boolean; finalSigmasType: string };
  readonly alphasCumprod: Float32Array;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas = new Float32Array(0);
  protected sig: number[] = [];
  protected trainSigmas: number[];
  protected index = 0;
  protected previous: Float64Array | null = null;

  constructor(config: Config) {
    this.c = baseConfig(config, { timestepSpacing: "linspace" }) as DPMSolverPP2M["c"];
    this.c.lowerOrderFinal = (config.lowerOrderFinal as boolean | undefined) ?? true;
    this.c.finalSigmasType = (config.finalSigmasType as string | undefined) ?? "zero";
    const ac = cumprod(betas(this.c));
    this.alphasCumprod = Float32Array.from(ac);
    this.trainSigmas = ac.map((a) => Math.sqrt((1 - a) / a));
  }
  setTimesteps(n: number): void {
    const N = this.c.numTrainTimesteps;
    const s = this.c.timestepSpacing;
    if (s === "linspace") this.timesteps = linspace(0, N - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
    else if (s === "leading") this.timesteps = Array.from({ length: n }, (_, k) => (n - k) * Math.floor(N / (n + 1)) + this.c.stepsOffset);
    else this.timesteps = Array.from({ length: n }, (_, k) => roundHalfEven(N - k * (N / n)) - 1);
    this.sig = [...this.timesteps.map((t) => this.trainSigmas[t]), this.c.finalSigmasType === "zero" ? 0 : this.trainSigmas[0]];
    this.sigmas = Float32Array.from(this.sig);
    this.index = 0;
    this.previous = null;
  }
  scaleModelInput(sample: Arr): Arr {
    return sample;
  }
  /** α, σ and λ = log(α/σ) of the VP view at VE noise level σ_VE. */
  static vp(sigmaVE: number): { alpha: number; sigma: number; lambda: number } {
    const alpha = 1 / Math.sqrt(sigmaVE * sigmaVE + 1);
    return { alpha, sigma: sigmaVE * alpha, lambda: Math.log(alpha) - Math.log(sigmaVE * alpha) };
  }
  step(modelOutput: Arr, _timestep: number, sample: Arr) {
    const i = this.index++;
    const n = this.timesteps.length;
    const s0 = DPMSolverPP2M.vp(this.sig[i]);
    const t = DPMSolverPP2M.vp(this.sig[i + 1]);
    // the data prediction x̂₀ at this step
    const m0 = Float64Array.from(sample, (x, j) => predict(this.c.predictionType, modelOutput[j], x, s0.alpha, s0.sigma)[0]);
    const lowerFinal = i === n - 1 && (this.c.lowerOrderFinal && n < 15 || this.c.finalSigmasType === "zero");
    const firstOrder = this.previous === null || lowerFinal;
    const h = t.lambda - s0.lambda;
    const prevSample = new Float32Array(sample.length);
    if (firstOrder) {
      for (let j = 0; j < sample.length; j++) prevSample[j] = (t.sigma / s0.sigma) * sample[j] - t.alpha * Math.expm1(-h) * m0[j];
    } else {
      const s1 = DPMSolverPP2M.vp(this.sig[i - 1]);
      const r0 = (s0.lambda - s1.lambda) / h;
      for (let j = 0; j < sample.length; j++) {
        const d1 = (m0[j] - this.previous![j]) / r0;
        prevSample[j] = (t.sigma / s0.sigma) * sample[j] - t.alpha * Math.expm1(-h) * m0[j] - 0.5 * t.alpha * Math.expm1(-h) * d1;
      }
    }
    this.previous = m0;
    return { prevSample, predOriginalSample: Float32Array.from(m0) };
  }
  addNoise(x0: Arr, noise: Arr, timestep: number): Float32Array {
    const { alpha, sigma } = DPMSolverPP2M.vp(this.sig[this.timesteps.indexOf(timestep)]);
    return map(x0.length, (j) => alpha * x0[j] + sigma * noise[j]);
  }
}

export function DPMSolverMultistepScheduler(config: Config): DPMSolverPP2M {
  return new DPMSolverPP2M(config);
}
