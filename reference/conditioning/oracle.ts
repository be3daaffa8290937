/**
 * COND-ORACLE-* — the exact noise predictor for class-conditional Gaussian-mixture data
 * (spec/11-conditioning.md; article: "Conditioning", the p(x, y) slices).
 *
 * Data: x₀ ~ Σₖ πₖ 𝒩(μₖ, sₖ²I) where every component carries a class label yₖ. Conditioning on y keeps
 * the components labelled y (the slice p(x | y) of p(x, y), renormalised), so every conditional noised
 * marginal q(xₜ | y) is again a mixture and
 *   ε*(xₜ | y) = −σₜ ∇ log q(xₜ | y)                                   (COND-ORACLE-EPS)
 *   ε*(xₜ)     = Σ_y q(y | xₜ) ε*(xₜ | y),  q(y | xₜ) = π_y q(xₜ | y)/q(xₜ)   (COND-ORACLE-MARGINAL)
 *
 * Conditioning convention of the oracle Denoiser (one-hot "token embeddings"): `cond.embeddings` is
 * [B, 1, K], row b one-hot over `classes` (the mixture's distinct labels, ascending): class
 * classes[k] ↦ e_k. An all-zero row, a mask entry 0, or no `cond` at all is the null condition: the
 * unconditional ε*. Anything else is a ConfigError.
 */
import type { Backend, BTensor, Conditioning, Denoiser, PredictionType } from "../contract.ts";
import { GaussianMixture, logSumExp } from "../distributions.ts";
import { ConfigError, ShapeError, require, requireFinite } from "../errors.ts";
import { epsilonStar, epsilonStarPoint, noisedLogPdf } from "../oracle.ts";
import type { Schedule } from "../schedule.ts";
import type { Tensor } from "../tensor.ts";

/** The mixture's distinct class labels, ascending; ConfigError if a component has none. */
export function mixtureClasses(data: GaussianMixture): number[] {
  data.components.forEach((c, k) => require(c.label !== undefined, `components[${k}].label`, c.label, "a class label (conditional oracles need every component labelled)"));
  return [...new Set(data.components.map((c) => c.label as number))].sort((a, b) => a - b);
}

/** COND-ORACLE-EPS on a batch: ε*(xₜ | y) = −σₜ ∇ log q(xₜ | y), the oracle of the sub-mixture labelled y. */
export function conditionalEpsilonStar(data: GaussianMixture, label: number, x: Tensor, alpha: number, sigma: number): Tensor {
  return epsilonStar(data.conditional(label), x, alpha, sigma);
}

/** COND-ORACLE-MARGINAL: q(y | xₜ) for each of `mixtureClasses(data)`, in that order. */
export function classPosterior(data: GaussianMixture, x: ArrayLike<number>, alpha: number, sigma: number): Float64Array {
  const classes = mixtureClasses(data);
  const logs = classes.map((y) => {
    const sub = data.components.filter((c) => c.label === y);
    return Math.log(sub.reduce((s, c) => s + c.weight, 0)) + noisedLogPdf(new GaussianMixture(sub), x, alpha, sigma);
  });
  const z = logSumExp(logs);
  return Float64Array.from(logs, (l) => Math.exp(l - z));
}

/** The class of each data component region: argmax_y p(y | x) under the clean data (a Bayes classifier). */
export function bayesClass(data: GaussianMixture, x: ArrayLike<number>): number {
  const classes = mixtureClasses(data);
  const post = classPosterior(data, x, 1, 0);
  let best = 0;
  for (let k = 1; k < post.length; k++) if (post[k] > post[best]) best = k;
  return classes[best];
}

/** The noise level (αₜ, σₜ) a Denoiser's `timestep` stands for. */
export type NoiseLevel = (timestep: number) => { alpha: number; sigma: number };

/**
 * A discrete schedule's noise level at a (possibly fractional) training timestep: exact at integers,
 * log σ interpolated linearly between neighbours (k-diffusion's DiscreteSchedule.t_to_sigma).
 */
export function scheduleNoiseLevel(schedule: Pick<Schedule, "sigmas">): NoiseLevel {
  const N = schedule.sigmas.length;
  return (t) => {
    requireFinite("timestep", t);
    require(t >= 0 && t <= N - 1, "timestep", t, `a number in [0, ${N - 1}]`);
    const lo = Math.floor(t);
    const hi = Math.min(lo + 1, N - 1);
    const f = t - lo;
    const s = f === 0 ? schedule.sigmas[lo] : Math.exp((1 - f) * Math.log(schedule.sigmas[lo]) + f * Math.log(schedule.sigmas[hi]));
    return { alpha: 1 / Math.sqrt(1 + s * s), sigma: s / Math.sqrt(1 + s * s) };
  };
}

/** The variance-exploding noise level: the "timestep" is σ itself (k-diffusion), xₜ = x̃/√(1 + σ²). */
export const veNoiseLevel: NoiseLevel = (s) => {
  requireFinite("sigma", s);
  require(s > 0, "sigma", s, "a noise level > 0");
  return { alpha: 1 / Math.sqrt(1 + s * s), sigma: s / Math.sqrt(1 + s * s) };
};

/** The one-hot conditioning [B, 1, K] for class labels `ys` (null = the null condition, a zero row). */
export function classConditioning(classes: readonly number[], ys: readonly (number | null)[]): Conditioning<Tensor> {
  const K = classes.length;
  const data = new Float64Array(ys.length * K);
  ys.forEach((y, b) => {
    if (y === null) return;
    const k = classes.indexOf(y);
    if (k < 0) throw new ConfigError(`ys[${b}]`, y, `a class of the mixture (${classes.join(", ")}) or null`);
    data[b * K + k] = 1;
  });
  return { embeddings: { shape: [ys.length, 1, K], data } };
}

/** Reads a one-hot conditioning back into labels (null = null condition). */
export function conditioningLabels(classes: readonly number[], B: number, cond?: Conditioning<Tensor>): (number | null)[] {
  if (!cond) return Array(B).fill(null);
  const K = classes.length;
  const e = cond.embeddings;
  if (e.shape.length !== 3 || e.shape[0] !== B || e.shape[1] !== 1 || e.shape[2] !== K) {
    throw new ShapeError("class conditioning embeddings", [...e.shape], `[${B}, 1, ${K}] (one-hot over the classes ${classes.join(", ")})`);
  }
  if (cond.mask && (cond.mask.shape.length !== 2 || cond.mask.shape[0] !== B || cond.mask.shape[1] !== 1)) {
    throw new ShapeError("class conditioning mask", [...cond.mask.shape], `[${B}, 1]`);
  }
  return Array.from({ length: B }, (_, b) => {
    if (cond.mask && cond.mask.data[b] === 0) return null;
    const row = e.data.subarray(b * K, (b + 1) * K);
    const ones = row.reduce((n, v) => n + (v === 1 ? 1 : 0), 0);
    const zeros = row.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
    if (zeros === K) return null;
    if (ones !== 1 || zeros !== K - 1) throw new ConfigError(`class conditioning row ${b}`, [...row], "a one-hot row (a class) or all zeros (the null condition)");
    return classes[row.indexOf(1)];
  });
}

/** An oracle Denoiser that takes the class as one-hot conditioning (see the module comment). */
export interface ClassOracle extends Denoiser<Tensor> {
  readonly classes: readonly number[];
  readonly data: GaussianMixture;
  readonly noiseLevel: NoiseLevel;
}

/** COND-ORACLE-MARGINAL, COND-ONESTEP: ε*(xₜ | y) or ε*(xₜ), per batch item, as a Denoiser (predictionType "epsilon"). */
export function classConditionalOracle(data: GaussianMixture, noiseLevel: NoiseLevel): ClassOracle {
  const classes = mixtureClasses(data);
  const parts = new Map(classes.map((y) => [y, data.conditional(y)]));
  return {
    predictionType: "epsilon" as PredictionType,
    classes,
    data,
    noiseLevel,
    evaluate(sample, timestep, cond) {
      const { alpha, sigma } = noiseLevel(timestep);
      const B = sample.shape[0];
      const D = sample.data.length / B;
      if (D !== data.dim) throw new ShapeError("oracle sample item size", D, `the mixture's dimension ${data.dim}`);
      const ys = conditioningLabels(classes, B, cond);
      const out = new Float64Array(sample.data.length);
      for (let b = 0; b < B; b++) {
        const y = ys[b];
        out.set(epsilonStarPoint(y === null ? data : parts.get(y)!, sample.data.subarray(b * D, (b + 1) * D), alpha, sigma), b * D);
      }
      return { shape: [...sample.shape], data: out };
    },
  };
}

/**
 * A host Denoiser run on any backend: reads the sample (and conditioning) back, evaluates on the host
 * in Float64 and uploads the result. How the exact oracle drives a backend's samplers and guidance.
 */
export function onBackend<T extends BTensor>(backend: Backend<T>, denoiser: Denoiser<Tensor>): Denoiser<T> {
  const host = async (t: T): Promise<Tensor> => ({ shape: [...t.shape], data: Float64Array.from(await backend.toHost(t)) });
  return {
    predictionType: denoiser.predictionType,
    async evaluate(sample, timestep, cond) {
      const hc = cond ? { embeddings: await host(cond.embeddings), mask: cond.mask ? await host(cond.mask) : undefined } : undefined;
      const out = await denoiser.evaluate(await host(sample), timestep, hc);
      return backend.fromHost(out.data, out.shape);
    },
  };
}
