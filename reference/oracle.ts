/**
 * ORACLE — the exact noise predictor for Gaussian-mixture data (spec/09-oracle.md; DESIGN.md).
 *
 * With data x₀ ~ Σₖ πₖ 𝒩(μₖ, sₖ²I) and xₜ = αₜ x₀ + σₜ ε (αₜ = √ᾱₜ, σₜ = √(1 − ᾱₜ)), every marginal
 * is again a mixture: q(xₜ) = Σₖ πₖ 𝒩(αₜμₖ, (αₜ²sₖ² + σₜ²) I). So the ideal predictions are closed-form:
 *   ε*(xₜ) = −σₜ ∇ log q(xₜ)                        (ORACLE-EPS, Tweedie / score matching)
 *   x̂₀(xₜ) = E[x₀ | xₜ] = (xₜ − σₜ ε*) / αₜ          (ORACLE-X0)
 * In the variance-exploding view (k-diffusion), x = x₀ + σ ε is the case α = 1.
 */
import { GaussianMixture, gaussianLogPdf, logSumExp } from "./distributions.ts";
import type { Tensor } from "./tensor.ts";
import { ShapeError, require } from "./errors.ts";

/** ORACLE-MARGINAL: the noised marginal q(xₜ) as a mixture. */
export function noisedMixture(data: GaussianMixture, alpha: number, sigma: number): GaussianMixture {
  return new GaussianMixture(
    data.components.map((c) => ({
      mean: c.mean.map((m) => alpha * m),
      std: Math.sqrt(alpha * alpha * c.std * c.std + sigma * sigma),
      weight: c.weight,
      label: c.label,
    })),
  );
}

/** ORACLE-EPS for one point: ε*(x) = −σ ∇ log q(x) = σ Σₖ rₖ (x − αμₖ)/vₖ, vₖ = α²sₖ² + σ². Needs σ > 0. */
export function epsilonStarPoint(data: GaussianMixture, x: ArrayLike<number>, alpha: number, sigma: number): Float64Array {
  require(sigma > 0, "sigma", sigma, "a noise level > 0 (ε* is undefined at σ = 0)");
  const comps = data.components;
  const vars = comps.map((c) => alpha * alpha * c.std * c.std + sigma * sigma);
  const logs = comps.map((c, k) => {
    let q = 0;
    for (let i = 0; i < x.length; i++) q += (x[i] - alpha * c.mean[i]) ** 2;
    return Math.log(c.weight) - q / (2 * vars[k]) - (x.length / 2) * Math.log(vars[k]);
  });
  const z = logSumExp(logs);
  const out = new Float64Array(x.length);
  comps.forEach((c, k) => {
    const w = (Math.exp(logs[k] - z) * sigma) / vars[k];
    if (w === 0) return;
    for (let i = 0; i < x.length; i++) out[i] += w * (x[i] - alpha * c.mean[i]);
  });
  return out;
}

/** ORACLE-X0 for one point: E[x₀ | xₜ = x] = (x − σ ε*)/α. */
export function x0StarPoint(data: GaussianMixture, x: ArrayLike<number>, alpha: number, sigma: number): Float64Array {
  const eps = epsilonStarPoint(data, x, alpha, sigma);
  return Float64Array.from(x, (v, i) => (v - sigma * eps[i]) / alpha);
}

/** ORACLE-EPS on a batch tensor [B, ...] whose items flatten to the mixture's dimension. */
export function epsilonStar(data: GaussianMixture, x: Tensor, alpha: number, sigma: number): Tensor {
  return mapItems(data, x, (p) => epsilonStarPoint(data, p, alpha, sigma));
}

/** ORACLE-X0 on a batch tensor. */
export function x0Star(data: GaussianMixture, x: Tensor, alpha: number, sigma: number): Tensor {
  return mapItems(data, x, (p) => x0StarPoint(data, p, alpha, sigma));
}

/** log q(xₜ) of one point. */
export function noisedLogPdf(data: GaussianMixture, x: ArrayLike<number>, alpha: number, sigma: number): number {
  return logSumExp(data.components.map((c) => Math.log(c.weight) + gaussianLogPdf(x, c.mean.map((m) => alpha * m), alpha * alpha * c.std * c.std + sigma * sigma)));
}

function mapItems(data: GaussianMixture, x: Tensor, f: (p: Float64Array) => Float64Array): Tensor {
  const B = x.shape[0];
  const D = x.data.length / B;
  if (D !== data.dim) throw new ShapeError("oracle input item size", D, `the mixture's dimension ${data.dim}`);
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < B; b++) out.set(f(x.data.subarray(b * D, (b + 1) * D)), b * D);
  return { shape: [...x.shape], data: out };
}

/** αₜ, σₜ of a VP schedule at ᾱ. */
export const vpCoefficients = (alphaBar: number): { alpha: number; sigma: number } => ({ alpha: Math.sqrt(alphaBar), sigma: Math.sqrt(1 - alphaBar) });
