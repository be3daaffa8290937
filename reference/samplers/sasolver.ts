/**
 * SAMP-SA-SOLVER — stochastic Adams predictor–corrector: diffusers' SASolverScheduler (Xue et al. 2023,
 * "SA-Solver: Stochastic Adams Solver for Fast Sampling of Diffusion Models", §4, eq. 14–17)
 * (spec/07-samplers-flow-lcm-edm.md).
 *
 * SA-Solver integrates the family of reverse SDEs with stochasticity τ(t) ≥ 0 (τ = 0: the probability-flow
 * ODE; τ = 1: the reverse diffusion SDE) in λ = log(α/σ). With the data prediction x̂₀ (algorithmType
 * "data_prediction"), one step s → t, h = λ_t − λ_s, c = 1 + τ², is exactly
 *   x_t = e^{−τ²h}·(σ_t/σ_s)·x_s + c·σ_t·e^{−τ²λ_t} ∫_{λ_s}^{λ_t} e^{cλ} x̂₀(λ) dλ + σ_t√(1 − e^{−2τ²h})·ξ,
 * and the solver replaces x̂₀(λ) by the Lagrange polynomial through the last p model outputs (the
 * SA-Predictor, a stochastic Adams–Bashforth method) and, after the next model evaluation, re-takes the same
 * step with the polynomial through the new output and the c − 1 before it (the SA-Corrector, Adams–Moulton),
 * reusing the predictor's ξ. The integrals ∫ e^{cλ} λ^k dλ are closed forms. Default τ(t) = 1 for
 * 200 ≤ t ≤ 800, else 0. Noise is drawn on every step. The σ schedule is the multistep solvers' (multistep.ts),
 * ending at the smallest train σ (or, with Karras σ's, at the last Karras σ again: a final step of length 0).
 */
import type { Backend, BTensor } from "../contract.ts";
import { require, requireOneOf } from "../errors.ts";
import type { TimestepSpacing } from "../timesteps.ts";
import { resolveConfig } from "./common.ts";
import {
  MULTISTEP_COMMON_DEFAULTS, StepCounter, clippedSteps, convertModelOutput, drawNoise, inferenceSchedule, requireInert,
  requireSteps, sigmaSpacingOf, trainSchedule, vp, type MultistepCommonConfig, type SigmaSpacing, type TrainSchedule, type VP,
} from "./multistep.ts";
import type { Scheduler, StepOptions, StepOutput } from "./scheduler.ts";

const NAME = "SASolverScheduler";

export type SASolverConfig = Omit<MultistepCommonConfig, "solverOrder"> & {
  predictorOrder: number;
  correctorOrder: number;
  /** τ(t) for a timestep t; null = the default (1 on [200, 800], else 0). */
  tauFunc: ((t: number) => number) | null;
  algorithmType: "data_prediction" | "noise_prediction";
  lambdaMinClipped: number;
  varianceType: "learned" | "learned_range" | null;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
};

/** diffusers v0.40.0 SASolverScheduler defaults. */
export const SASOLVER_DEFAULTS: SASolverConfig = {
  ...MULTISTEP_COMMON_DEFAULTS,
  predictorOrder: 2,
  correctorOrder: 2,
  tauFunc: null,
  algorithmType: "data_prediction",
  lowerOrderFinal: true,
  lambdaMinClipped: -Infinity,
  varianceType: null,
  timestepSpacing: "linspace",
  stepsOffset: 0,
};

/** SAMP-SA-SOLVER: the default stochasticity τ(t): 1 in the middle of the schedule (200 ≤ t ≤ 800), 0 at both ends. */
export const defaultTau = (t: number): number => (t >= 200 && t <= 800 ? 1 : 0);

// ─── the closed-form integrals ───────────────────────────────────────────────────────────────────

/**
 * SAMP-SA-SOLVER: ∫_a^b e^{cλ} λ^k dλ for k = 0 … 3 and c > 0, as diffusers evaluates it:
 * e^{cb}·(P_k(cb) − P_k(ca)·e^{−c(b−a)})/c^{k+1}, with ∫ e^u u^k du = e^u·P_k(u),
 * P₀ = 1, P₁ = u − 1, P₂ = u² − 2u + 2, P₃ = u³ − 3u² + 6u − 6.
 */
export function expPositiveMoment(k: number, a: number, b: number, c: number): number {
  const P = [(u: number) => 1, (u: number) => u - 1, (u: number) => u * u - 2 * u + 2, (u: number) => u ** 3 - 3 * u * u + 6 * u - 6][k];
  const [ca, cb] = [c * a, c * b];
  return (Math.exp(cb) * (P(cb) - P(ca) * Math.exp(-(cb - ca)))) / c ** (k + 1);
}

/**
 * SAMP-SA-SOLVER (noise prediction): ∫_a^b e^{−λ} λ^k dλ = e^{−b}·(Q_k(a)·e^{b−a} − Q_k(b)),
 * Q₀ = 1, Q₁ = λ + 1, Q₂ = λ² + 2λ + 2, Q₃ = λ³ + 3λ² + 6λ + 6.
 */
export function expNegativeMoment(k: number, a: number, b: number): number {
  const Q = [(l: number) => 1, (l: number) => l + 1, (l: number) => l * l + 2 * l + 2, (l: number) => l ** 3 + 3 * l * l + 6 * l + 6][k];
  return Math.exp(-b) * (Q(a) * Math.exp(b - a) - Q(b));
}

/** The monomial coefficients [c₀, c₁, …] (cₖ of λ^k) of the Lagrange basis polynomial ℓ_i over `nodes`. */
export function lagrangeBasis(i: number, nodes: readonly number[]): number[] {
  let poly = [1];
  nodes.forEach((x, k) => {
    if (k === i) return;
    const d = nodes[i] - x;
    // poly ← poly·(λ − x)/d
    poly = [...poly, 0].map((_, j) => ((j > 0 ? poly[j - 1] : 0) - x * (poly[j] ?? 0)) / d);
  });
  return poly;
}

/**
 * SAMP-SA-SOLVER: the weights bⱼ of the model outputs at `nodes` (λ of m₀, m₁, …) in ∫_a^b w(λ)·Σⱼ ℓⱼ(λ)mⱼ dλ,
 * bⱼ = Σₖ ℓⱼ[k]·∫_a^b w(λ)λ^k dλ, w = e^{cλ} (data prediction) or e^{−λ} (noise prediction).
 */
export function adamsWeights(nodes: readonly number[], a: number, b: number, moment: (k: number) => number): number[] {
  return nodes.map((_, j) => lagrangeBasis(j, nodes).reduce((s, coef, k) => s + coef * moment(k), 0));
}

// ─── the scheduler ───────────────────────────────────────────────────────────────────────────────

/** SAMP-SA-SOLVER: SA-Predictor and SA-Corrector as a diffusers-compatible scheduler. */
export class SASolverScheduler<T extends BTensor> implements Scheduler<T> {
  readonly config: SASolverConfig;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas?: Float64Array;
  private readonly tau: (t: number) => number;
  private readonly sigmaSpacing: SigmaSpacing;
  private readonly train: TrainSchedule;
  private readonly counter = new StepCounter();
  /** Converted model outputs, newest last, at most max(p, c − 1). */
  private outputs: T[] = [];
  private lowerOrderNums = 0;
  /** What the next step's corrector needs: the predictor's start sample, its noise, the corrector order and τ. */
  private last: { sample: T; noise: T; correctorOrder: number; tau: number } | null = null;

  constructor(config: Record<string, unknown>, readonly backend: Backend<T>) {
    const c = resolveConfig(NAME, SASOLVER_DEFAULTS, config);
    requireInert(NAME, c as unknown as Record<string, unknown>);
    for (const k of ["predictorOrder", "correctorOrder"] as const) require(Number.isInteger(c[k]) && c[k] >= 1 && c[k] <= 4, `${NAME}.${k}`, c[k], "1, 2, 3 or 4");
    requireOneOf(`${NAME}.algorithmType`, c.algorithmType, ["data_prediction", "noise_prediction"] as const);
    require(c.tauFunc === null || typeof c.tauFunc === "function", `${NAME}.tauFunc`, c.tauFunc, "null (default τ) or a function of the timestep returning τ ≥ 0");
    require(typeof c.lambdaMinClipped === "number" && !Number.isNaN(c.lambdaMinClipped), `${NAME}.lambdaMinClipped`, c.lambdaMinClipped, "a number (−Infinity for no clipping)");
    this.config = c;
    this.tau = c.tauFunc ?? defaultTau;
    this.sigmaSpacing = sigmaSpacingOf(NAME, c);
    this.train = trainSchedule({ ...c, rescaleBetasZeroSnr: false }, c.compat); // SASolverScheduler has no zero-SNR option
  }

  private get historySize(): number {
    return Math.max(this.config.predictorOrder, this.config.correctorOrder - 1);
  }

  /** The multistep timesteps and σ's; the final σ is the smallest train σ (Karras: the last Karras σ repeated). */
  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const n = requireSteps(NAME, numInferenceSteps, c.numTrainTimesteps);
    const s = inferenceSchedule({
      n, train: this.train, spacing: c.timestepSpacing, stepsOffset: c.stepsOffset,
      clipped: clippedSteps(this.train.lambdas, c.lambdaMinClipped),
      sigmaSpacing: this.sigmaSpacing, finalSigmasType: "sigma_min", finalFrom: "last", roundKarras: true, compat: c.compat,
    });
    this.timesteps = s.timesteps;
    this.sigmas = s.sigmas;
    this.outputs = [];
    this.lowerOrderNums = 0;
    this.last = null;
    this.counter.reset();
  }

  async scaleModelInput(sample: T): Promise<T> {
    return sample;
  }

  private tauOf(t: number): number {
    const v = this.tau(t);
    require(typeof v === "number" && Number.isFinite(v) && v >= 0, `${NAME}.tauFunc(${t})`, v, "a finite number ≥ 0");
    return v;
  }

  async step(modelOutput: T, timestep: number, sample: T, options?: StepOptions<T>): Promise<StepOutput<T>> {
    const c = this.config;
    const i = this.counter.locate(this.timesteps, timestep, NAME, c.compat);
    const sigmas = this.sigmas as Float64Array;
    const n = this.timesteps.length;
    const dataPred = c.algorithmType === "data_prediction";
    const m = await convertModelOutput(this.backend, c, dataPred, modelOutput, sample, sigmas[i]);
    let x = sample;
    if (i > 0 && this.last) {
      // SA-Corrector: redo the step σᵢ₋₁ → σᵢ with the polynomial through m and the outputs before it.
      const ms = [m, ...[...this.outputs].reverse()].slice(0, this.last.correctorOrder);
      x = await this.adamsStep("corrector", this.last.sample, ms, i - 1, this.last.tau, this.last.noise);
    }
    this.outputs = [...this.outputs, m].slice(-this.historySize);
    const noise = await drawNoise(options, sample.shape, NAME, "SA-Solver");
    const p = c.lowerOrderFinal ? Math.min(c.predictorOrder, n - i) : c.predictorOrder;
    const corr = c.lowerOrderFinal ? Math.min(c.correctorOrder, n - i + 1) : c.correctorOrder;
    const tau = this.tauOf(timestep);
    this.last = { sample: x, noise, correctorOrder: Math.min(corr, this.lowerOrderNums + 2), tau };
    // SA-Predictor: σᵢ → σᵢ₊₁ with the polynomial through the last p outputs.
    const prevSample = await this.adamsStep("predictor", x, [...this.outputs].reverse().slice(0, Math.min(p, this.lowerOrderNums + 1)), i, tau, noise);
    if (this.lowerOrderNums < this.historySize) this.lowerOrderNums++;
    this.counter.advance(i);
    return { prevSample };
  }

  /**
   * One stochastic Adams step from σ_s = sigmas[s] to σ_t = sigmas[s + 1] with the outputs `ms` (newest first) at
   * sigmas[s − k] (predictor) or sigmas[s + 1 − k] (corrector, whose newest output is the one at σ_t). diffusers adds an O(h³) term to the order-2 data-prediction weights (UniPC's
   * B(h) trick); it is kept (it does not change the order).
   */
  private async adamsStep(kind: "predictor" | "corrector", x: T, ms: readonly T[], s: number, tau: number, noise: T): Promise<T> {
    const sigmas = this.sigmas as Float64Array;
    const from: VP = vp(sigmas[s]);
    const to: VP = vp(sigmas[s + 1]);
    const corrector = kind === "corrector";
    const newest = corrector ? s + 1 : s;
    const nodes = ms.map((_, k) => vp(sigmas[newest - k]).lambda);
    const h = to.lambda - from.lambda;
    const c2 = 1 + tau * tau;
    let cx: number;
    let scale: number;
    let cn: number;
    let w: number[];
    if (this.config.algorithmType === "data_prediction") {
      w = adamsWeights(nodes, from.lambda, to.lambda, (k) => expPositiveMoment(k, from.lambda, to.lambda, c2));
      if (ms.length === 2) {
        const bh = corrector
          ? h / 2 - (h * c2 - 1 + Math.exp(-c2 * h)) / (c2 * c2 * h)
          : (h * h / 2 - (h * c2 - 1 + Math.exp(-c2 * h)) / (c2 * c2)) / (from.lambda - vp(sigmas[s - 1]).lambda);
        const extra = Math.exp(c2 * to.lambda) * bh;
        w = [w[0] + extra, w[1] - extra];
      }
      cx = Math.exp(-tau * tau * h) * (to.sigma / from.sigma);
      scale = c2 * to.sigma * Math.exp(-tau * tau * to.lambda);
      cn = to.sigma * Math.sqrt(1 - Math.exp(-2 * tau * tau * h));
    } else {
      w = adamsWeights(nodes, from.lambda, to.lambda, (k) => expNegativeMoment(k, from.lambda, to.lambda));
      cx = to.alpha / from.alpha;
      scale = -c2 * to.alpha;
      cn = tau * to.sigma * Math.sqrt(Math.exp(2 * h) - 1);
    }
    return this.backend.combine([x, ...ms, noise], [cx, ...w.map((v) => scale * v), cn]);
  }
}

export function createSASolverScheduler<T extends BTensor>(config: Record<string, unknown>, backend: Backend<T>): SASolverScheduler<T> {
  return new SASolverScheduler(config, backend);
}
