/**
 * SAMP-PNDM — pseudo numerical methods for diffusion models (Liu, Ren, Lin & Zhao 2022, "Pseudo
 * Numerical Methods for Diffusion Models on Manifolds", eq. 9–13; spec/07-samplers-ddpm-ddim-pndm.md;
 * article: "Reverse diffusion in practice").
 *
 * The transfer φ(x, ε, t → s) is the DDIM η = 0 step written as
 *   xₛ = √(ᾱₛ/ᾱₜ) xₜ − (ᾱₛ − ᾱₜ) ε / (ᾱₜ √(1 − ᾱₛ) + √(ᾱₜ (1 − ᾱₜ) ᾱₛ))        (eq. 11)
 * and PNDM feeds it a better ε: a Runge–Kutta combination (warm-up, "PRK": ε = (e₁ + 2e₂ + 2e₃ + e₄)/6
 * over the midpoint of each step) for the first three steps, then the linear multistep (Adams–Bashforth,
 * "PLMS") ε = (55eₜ − 59eₜ₋₁ + 37eₜ₋₂ − 9eₜ₋₃)/24. With `skipPrkSteps` the warm-up is diffusers'
 * pseudo improved Euler (one repeated timestep) and lower-order Adams–Bashforth.
 *
 * The call sequence (`timesteps` = `prkTimesteps` ++ `plmsTimesteps`) and each call's transfer
 * (from → to) are fixed by `setTimesteps`; `step` dispatches to `stepPrk` / `stepPlms` by the call
 * counter exactly like diffusers. The midpoints are integers: m = t − ⌊(t − s)/2⌋ (floor division, as
 * Python's `//`; SAMP-PNDM-WARMUP).
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import { ConfigError, StateError, require } from "../errors.ts";
import { epsCoeffs } from "../param.ts";
import type { Schedule } from "../schedule.ts";
import { setTimesteps as spacedTimesteps } from "../timesteps.ts";
import { BASE_DEFAULTS, resolveConfig, type Compat } from "./common.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";
import { alphaBarOr, scheduleOf, validateCommon } from "./ddpm.ts";

export interface PNDMConfig extends Record<string, unknown> {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: typeof BASE_DEFAULTS.betaSchedule;
  trainedBetas?: readonly number[];
  skipPrkSteps: boolean;
  setAlphaToOne: boolean;
  predictionType: PredictionType;
  timestepSpacing: typeof BASE_DEFAULTS.timestepSpacing;
  stepsOffset: number;
  compat: Compat;
}

/** diffusers v0.40.0 PNDMScheduler defaults (set_alpha_to_one = False). */
export const PNDM_DEFAULTS: PNDMConfig = {
  numTrainTimesteps: BASE_DEFAULTS.numTrainTimesteps,
  betaStart: BASE_DEFAULTS.betaStart,
  betaEnd: BASE_DEFAULTS.betaEnd,
  betaSchedule: BASE_DEFAULTS.betaSchedule,
  trainedBetas: undefined,
  skipPrkSteps: false,
  setAlphaToOne: false,
  predictionType: "epsilon",
  timestepSpacing: "leading",
  stepsOffset: 0,
  compat: "math",
};

/** One call of the sequence: the transfer it makes, from ᾱ[from] to ᾱ[to] (to < 0: the final ᾱ). */
export interface PNDMCall {
  readonly kind: "prk" | "plms";
  readonly timestep: number;
  readonly from: number;
  readonly to: number;
}

/** RK4 weights of the four PRK evaluations, and the Adams–Bashforth weights by history length. */
const RK4 = [1 / 6, 1 / 3, 1 / 3, 1 / 6];
export const ADAMS_BASHFORTH: readonly (readonly number[])[] = [[], [1], [3 / 2, -1 / 2], [23 / 12, -16 / 12, 5 / 12], [55 / 24, -59 / 24, 37 / 24, -9 / 24]];

/** SAMP-PNDM-WARMUP: the integer midpoint of a step t → s: t − ⌊(t − s)/2⌋ (Python's `//`). */
export const prkMidpoint = (t: number, s: number): number => t - Math.floor((t - s) / 2);

/**
 * SAMP-PNDM-WARMUP, compat "math": the call sequence over the visited timesteps τ₀ > … > τₙ₋₁ (τₙ = −1).
 * PRK: w = min(3, n − 1) Runge–Kutta steps τₖ → τₖ₊₁, each evaluating at τₖ, mₖ, mₖ, τₖ₊₁; then PLMS
 * at τ_w … τₙ₋₁. skipPrkSteps: τ₀ (Euler), τ₁ (Heun correction of the same step), then τ₁ … τₙ₋₁.
 */
export function pndmCallsMath(tau: readonly number[], skipPrk: boolean): PNDMCall[] {
  const n = tau.length;
  const next = (k: number): number => (k + 1 < n ? tau[k + 1] : -1);
  const calls: PNDMCall[] = [];
  if (skipPrk) {
    calls.push({ kind: "plms", timestep: tau[0], from: tau[0], to: next(0) });
    if (n > 1) calls.push({ kind: "plms", timestep: tau[1], from: tau[0], to: tau[1] });
    for (let k = 1; k < n; k++) calls.push({ kind: "plms", timestep: tau[k], from: tau[k], to: next(k) });
    return calls;
  }
  const w = Math.min(3, n - 1);
  for (let k = 0; k < w; k++) {
    const m = prkMidpoint(tau[k], tau[k + 1]);
    for (const [timestep, to] of [[tau[k], m], [m, m], [m, tau[k + 1]], [tau[k + 1], tau[k + 1]]]) calls.push({ kind: "prk", timestep, from: tau[k], to });
  }
  for (let k = w; k < n; k++) calls.push({ kind: "plms", timestep: tau[k], from: tau[k], to: next(k) });
  return calls;
}

/**
 * compat "diffusers": diffusers v0.40.0's `set_timesteps` lists and the transfers its `step_prk` /
 * `step_plms` make: every step lands on t − ⌊N/n⌋ (PRK half steps t − ⌊⌊N/n⌋/2⌋), whatever the spacing.
 */
export function pndmCallsDiffusers(tau: readonly number[], N: number, skipPrk: boolean): PNDMCall[] {
  const n = tau.length;
  const ratio = Math.floor(N / n);
  const half = Math.floor(ratio / 2);
  const asc = [...tau].reverse();
  let prk: number[] = [];
  let plms: number[];
  if (skipPrk) {
    plms = [...asc.slice(0, -1), ...asc.slice(-2, -1), ...asc.slice(-1)].reverse();
  } else {
    // np.array(ts[-4:]).repeat(2) + np.tile([0, N//n//2], 4), then [:-1].repeat(2)[1:-1][::-1]
    const withHalves = asc.slice(-4).flatMap((t) => [t, t + half]);
    prk = withHalves.slice(0, -1).flatMap((t) => [t, t]).slice(1, -1).reverse();
    plms = asc.slice(0, -3).reverse();
  }
  const calls: PNDMCall[] = prk.map((t, i) => ({ kind: "prk", timestep: t, from: prk[Math.floor(i / 4) * 4], to: t - (i % 2 ? 0 : half) }));
  plms.forEach((t, j) => {
    const counter = prk.length + j;
    calls.push(counter === 1 ? { kind: "plms", timestep: t, from: t + ratio, to: t } : { kind: "plms", timestep: t, from: t, to: t - ratio });
  });
  return calls;
}

export class PNDMScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: PNDMConfig;
  readonly schedule: Schedule;
  readonly finalAlphaCumprod: number;
  readonly initNoiseSigma = 1;
  /** diffusers' `order` attribute (1); a PRK step costs four calls, see `timesteps`. */
  readonly order = 1;
  /** The PNDM order of the multistep part (diffusers `pndm_order`). */
  readonly pndmOrder = 4;
  private calls: PNDMCall[] = [];
  private prkCount = 0;
  // state, reset by setTimesteps
  private counter = 0;
  private ets: Eps<T>[] = [];
  private rk: Eps<T>[] = [];
  private curSample: T | null = null;

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const c = resolveConfig("PNDMScheduler", PNDM_DEFAULTS, config);
    validateCommon("PNDMScheduler", c, ["skipPrkSteps", "setAlphaToOne"]);
    if (c.compat === "diffusers") {
      require(c.predictionType !== "sample", "PNDMScheduler.predictionType", c.predictionType, 'one of "epsilon", "v_prediction" (diffusers\' PNDM has no "sample"; compat "math" supports it)');
    }
    this.config = c;
    this.schedule = scheduleOf({ ...c, rescaleBetasZeroSnr: false });
    this.finalAlphaCumprod = c.setAlphaToOne ? 1 : this.schedule.alphasCumprod[0];
  }

  get timesteps(): readonly number[] {
    return this.calls.map((k) => k.timestep);
  }
  /** diffusers `prk_timesteps`: the Runge–Kutta warm-up calls. */
  get prkTimesteps(): readonly number[] {
    return this.timesteps.slice(0, this.prkCount);
  }
  /** diffusers `plms_timesteps`: the linear multistep calls. */
  get plmsTimesteps(): readonly number[] {
    return this.timesteps.slice(this.prkCount);
  }
  /** The transfer of every call (for inspection and the conformance suite). */
  get plan(): readonly PNDMCall[] {
    return this.calls;
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const tau = spacedTimesteps(numInferenceSteps, c.numTrainTimesteps, c.timestepSpacing, c.stepsOffset);
    if (c.compat === "diffusers" && !c.skipPrkSteps) {
      require(tau.length >= 4, "PNDMScheduler numInferenceSteps", numInferenceSteps, 'an integer ≥ 4 when skipPrkSteps is false in compat "diffusers" (its PRK warm-up takes the last 4 timesteps; compat "math" allows any n)');
    }
    this.calls = c.compat === "diffusers" ? pndmCallsDiffusers(tau, c.numTrainTimesteps, c.skipPrkSteps) : pndmCallsMath(tau, c.skipPrkSteps);
    this.prkCount = this.calls.filter((k) => k.kind === "prk").length;
    this.counter = 0;
    this.ets = [];
    this.rk = [];
    this.curSample = null;
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  /** diffusers `step`: PRK while warm-up calls remain, PLMS afterwards. */
  async step(modelOutput: T, timestep: number, sample: T, _options?: StepOptions<T>): Promise<StepOutput<T>> {
    return this.counter < this.prkCount ? this.stepPrk(modelOutput, timestep, sample) : this.stepPlms(modelOutput, timestep, sample);
  }

  /** SAMP-PNDM: one Runge–Kutta stage (four per step: εₖ at t, m, m, s; the last applies (e₁ + 2e₂ + 2e₃ + e₄)/6). */
  async stepPrk(modelOutput: T, timestep: number, sample: T): Promise<StepOutput<T>> {
    const call = this.nextCall(timestep, "prk");
    const e = this.intake(modelOutput, sample, call.timestep);
    const stage = this.counter % 4;
    if (stage === 0) {
      this.ets.push(e);
      this.curSample = sample;
      this.rk = [];
    }
    this.rk.push(e);
    const [terms, weights] = stage === 3 ? [this.rk, RK4] : [[e], [1]];
    const prevSample = await this.transfer(this.curSample ?? sample, call, terms, weights);
    this.counter++;
    return { prevSample };
  }

  /** SAMP-PNDM: one linear multistep call (Adams–Bashforth on the stored ε history). */
  async stepPlms(modelOutput: T, timestep: number, sample: T): Promise<StepOutput<T>> {
    if (this.counter < this.prkCount) throw new StateError(`PNDMScheduler.stepPlms: the ${this.prkCount} Runge–Kutta warm-up calls (stepPrk) come first; ${this.counter} done`);
    const call = this.nextCall(timestep, "plms");
    const e = this.intake(modelOutput, sample, call.timestep);
    let base = sample;
    let terms: Eps<T>[];
    let weights: readonly number[];
    if (this.counter !== 1) {
      this.ets = [...this.ets.slice(-3), e];
    }
    if (this.ets.length === 1 && this.counter === 0) {
      [terms, weights] = [[e], [1]];
      this.curSample = sample;
    } else if (this.ets.length === 1 && this.counter === 1) {
      // pseudo improved Euler: redo the first step from its start with the mean of both ε
      [terms, weights] = [[e, this.ets[0]], [1 / 2, 1 / 2]];
      base = this.curSample ?? sample;
      this.curSample = null;
    } else {
      terms = [...this.ets].reverse();
      weights = ADAMS_BASHFORTH[terms.length];
    }
    const prevSample = await this.transfer(base, call, terms, weights);
    this.counter++;
    return { prevSample };
  }

  private nextCall(timestep: number, kind: "prk" | "plms"): PNDMCall {
    if (this.calls.length === 0) throw new StateError("PNDMScheduler.step: call setTimesteps(n) before step()");
    if (this.counter >= this.calls.length) throw new StateError(`PNDMScheduler.step: all ${this.calls.length} calls of the schedule are done; call setTimesteps(n) to sample again`);
    const call = this.calls[this.counter];
    if (call.kind !== kind) throw new StateError(`PNDMScheduler.step${kind === "prk" ? "Prk" : "Plms"}: call ${this.counter} of the schedule is a ${call.kind.toUpperCase()} call`);
    if (timestep !== call.timestep) throw new ConfigError(`PNDMScheduler.step timestep`, timestep, `the schedule's next timestep, ${call.timestep} (call ${this.counter})`);
    return call;
  }

  /**
   * What is stored per evaluation: ε as a linear form in (sample, output), never materialised.
   * "math": ε at the evaluation's own (sample, t) (PARAM-TO-EPS), so combinations are of ε;
   * "diffusers": the raw output, converted once after combining (a deviation for v-prediction).
   */
  private intake(output: T, sample: T, t: number): Eps<T> {
    const p = this.config.predictionType;
    if (this.config.compat === "diffusers" || p === "epsilon") return { sample, output, cSample: 0, cOutput: 1 };
    const abar = this.schedule.alphasCumprod[t];
    const [cSample, cOutput] = epsCoeffs(p, Math.sqrt(abar), Math.sqrt(1 - abar));
    return { sample, output, cSample, cOutput };
  }

  /**
   * SAMP-PNDM: φ(x, Σ wᵢεᵢ, from → to) as one combine. Coefficients are folded on the host in Float64,
   * with the coefficients of one tensor summed (the base sample is usually an evaluation's own sample),
   * so the cancellation in a·x + m·ε happens in Float64, not on the backend.
   */
  private async transfer(x: T, call: PNDMCall, eps: readonly Eps<T>[], weights: readonly number[]): Promise<T> {
    const abarT = this.schedule.alphasCumprod[call.from];
    const abarS = alphaBarOr(this.schedule, call.to, this.finalAlphaCumprod);
    const { sample: a, eps: m } = pndmTransferCoefficients(abarT, abarS);
    let xCoeff = a;
    let outScale = m;
    if (this.config.compat === "diffusers" && this.config.predictionType === "v_prediction") {
      // ε = √ᾱₜ v + √(1 − ᾱₜ) x with the combined v and the base sample (diffusers `_get_prev_sample`)
      xCoeff += m * Math.sqrt(1 - abarT);
      outScale *= Math.sqrt(abarT);
    }
    const terms: T[] = [x];
    const coeffs: number[] = [xCoeff];
    const add = (t: T, c: number): void => {
      if (c === 0) return;
      const k = terms.indexOf(t);
      if (k >= 0) coeffs[k] += c;
      else { terms.push(t); coeffs.push(c); }
    };
    eps.forEach((e, i) => {
      add(e.sample, outScale * weights[i] * e.cSample);
      add(e.output, outScale * weights[i] * e.cOutput);
    });
    return this.backend.combine(terms, coeffs);
  }
}

/** ε of one evaluation as cSample·sample + cOutput·output (PARAM-TO-EPS), kept symbolic. */
interface Eps<T extends BTensor> {
  readonly sample: T;
  readonly output: T;
  readonly cSample: number;
  readonly cOutput: number;
}

/** SAMP-PNDM, eq. 11: φ = a·x + m·ε with a = √(ᾱₛ/ᾱₜ), m = −(ᾱₛ − ᾱₜ)/(ᾱₜ√(1 − ᾱₛ) + √(ᾱₜ(1 − ᾱₜ)ᾱₛ)). */
export function pndmTransferCoefficients(alphaBarT: number, alphaBarPrev: number): { sample: number; eps: number } {
  const denom = alphaBarT * Math.sqrt(1 - alphaBarPrev) + Math.sqrt(alphaBarT * (1 - alphaBarT) * alphaBarPrev);
  return { sample: Math.sqrt(alphaBarPrev / alphaBarT), eps: -(alphaBarPrev - alphaBarT) / denom };
}

export function createPNDMScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): PNDMScheduler<T> {
  return new PNDMScheduler(config, backend);
}
