/**
 * DIST — probability distributions (spec/01-distributions.md; article: "Probability distributions").
 * Isotropic Gaussians and mixtures of them in any dimension D: densities, log-densities, scores,
 * sampling and maximum-likelihood fitting. A point is a Float64Array of length D.
 */
import { require, requireFinite, ShapeError } from "./errors.ts";
import type { GaussianStream } from "./rng.ts";

const LOG_2PI = Math.log(2 * Math.PI);

/** DIST-GAUSSIAN-LOGPDF: log 𝒩(x; μ, s²I) = −‖x − μ‖²/(2s²) − (D/2) log(2πs²). */
export function gaussianLogPdf(x: ArrayLike<number>, mean: ArrayLike<number>, variance: number): number {
  let q = 0;
  for (let i = 0; i < x.length; i++) q += (x[i] - mean[i]) ** 2;
  return -q / (2 * variance) - (x.length / 2) * (LOG_2PI + Math.log(variance));
}

export const gaussianPdf = (x: ArrayLike<number>, mean: ArrayLike<number>, variance: number): number =>
  Math.exp(gaussianLogPdf(x, mean, variance));

/** DIST-GAUSSIAN-SCORE: ∇ₓ log 𝒩(x; μ, s²I) = −(x − μ)/s². */
export function gaussianScore(x: ArrayLike<number>, mean: ArrayLike<number>, variance: number): Float64Array {
  return Float64Array.from(x, (v, i) => -(v - mean[i]) / variance);
}

/** DIST-ML-FIT: the maximum-likelihood mean and (biased, 1/n) variance of scalar samples. */
export function fitGaussian(samples: ArrayLike<number>): { mean: number; variance: number } {
  const n = samples.length;
  require(n > 0, "samples", n, "at least one sample");
  let mean = 0;
  for (let i = 0; i < n; i++) mean += samples[i];
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (samples[i] - mean) ** 2;
  return { mean, variance: variance / n };
}

/** log Σ exp(aᵢ), computed stably. */
export function logSumExp(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, a[i]);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.exp(a[i] - m);
  return m + Math.log(s);
}

/** One isotropic component 𝒩(mean, std²·I), with an optional class label (for conditioning). */
export interface Component {
  readonly mean: Float64Array;
  /** Standard deviation s ≥ 0 (s = 0 is a point mass: the empirical distribution of a dataset). */
  readonly std: number;
  readonly weight: number;
  readonly label?: number;
}

/** DIST-MIXTURE: p(x) = Σₖ πₖ 𝒩(x; μₖ, sₖ²I). Weights are normalised on construction. */
export class GaussianMixture {
  readonly components: readonly Component[];
  readonly dim: number;

  constructor(components: readonly Component[]) {
    require(components.length > 0, "components", components.length, "at least one component");
    const dim = components[0].mean.length;
    let total = 0;
    components.forEach((c, k) => {
      if (c.mean.length !== dim) throw new ShapeError(`component ${k} mean`, c.mean.length, `dimension ${dim}`);
      require(Number.isFinite(c.std) && c.std >= 0, `components[${k}].std`, c.std, "a finite number ≥ 0");
      require(Number.isFinite(c.weight) && c.weight > 0, `components[${k}].weight`, c.weight, "a finite number > 0");
      c.mean.forEach((v, i) => requireFinite(`components[${k}].mean[${i}]`, v));
      total += c.weight;
    });
    this.dim = dim;
    this.components = components.map((c) => ({ ...c, weight: c.weight / total }));
  }

  /** The empirical mixture of a dataset with bandwidth h (the article's KDE view; h = 0: the data itself). */
  static fromData(points: readonly ArrayLike<number>[], bandwidth: number, labels?: readonly number[]): GaussianMixture {
    return new GaussianMixture(points.map((p, k) => ({ mean: Float64Array.from(p), std: bandwidth, weight: 1, label: labels?.[k] })));
  }

  /** The sub-mixture of components labelled `label` (p(x | y)). */
  conditional(label: number): GaussianMixture {
    const parts = this.components.filter((c) => c.label === label);
    require(parts.length > 0, "label", label, `a label present in the mixture (${[...new Set(this.components.map((c) => c.label))].join(", ")})`);
    return new GaussianMixture(parts);
  }

  /** DIST-MIXTURE: log p(x). */
  logPdf(x: ArrayLike<number>): number {
    return logSumExp(this.components.map((c) => Math.log(c.weight) + gaussianLogPdf(x, c.mean, c.std * c.std)));
  }

  /** DIST-MIXTURE-SCORE: ∇ log p(x) = Σₖ rₖ(x)·(−(x − μₖ)/sₖ²), rₖ the responsibilities. Needs every sₖ > 0. */
  score(x: ArrayLike<number>): Float64Array {
    const r = this.responsibilities(x);
    const out = new Float64Array(this.dim);
    this.components.forEach((c, k) => {
      const v = c.std * c.std;
      for (let i = 0; i < this.dim; i++) out[i] -= (r[k] * (x[i] - c.mean[i])) / v;
    });
    return out;
  }

  /** rₖ(x) = πₖ 𝒩(x; μₖ, sₖ²) / p(x). */
  responsibilities(x: ArrayLike<number>): Float64Array {
    const logs = this.components.map((c) => Math.log(c.weight) + gaussianLogPdf(x, c.mean, c.std * c.std));
    const z = logSumExp(logs);
    return Float64Array.from(logs, (l) => Math.exp(l - z));
  }

  /** DIST-SAMPLE: draw one point (component by weight, then Gaussian noise). Returns the point and its component index. */
  sample(stream: GaussianStream): { x: Float64Array; component: number } {
    let u = stream.uniform();
    let k = 0;
    while (k < this.components.length - 1 && u >= this.components[k].weight) u -= this.components[k++].weight;
    const c = this.components[k];
    return { x: Float64Array.from(c.mean, (m) => m + c.std * stream.normal()), component: k };
  }

  sampleMany(n: number, stream: GaussianStream): Float64Array[] {
    return Array.from({ length: n }, () => this.sample(stream).x);
  }

  /** The mixture's mean E[x] and total variance tr Cov(x)/D. */
  moments(): { mean: Float64Array; variance: number } {
    const mean = new Float64Array(this.dim);
    for (const c of this.components) for (let i = 0; i < this.dim; i++) mean[i] += c.weight * c.mean[i];
    let v = 0;
    for (const c of this.components) {
      v += c.weight * c.std * c.std;
      for (let i = 0; i < this.dim; i++) v += (c.weight * (c.mean[i] - mean[i]) ** 2) / this.dim;
    }
    return { mean, variance: v };
  }
}
