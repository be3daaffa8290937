/**
 * POST — the posterior q(xₜ₋₁ | xₜ, x₀) (spec/04-forward.md; article: "Reverse diffusion overview").
 * By Bayes with Gaussian q(xₜ | xₜ₋₁) and q(xₜ₋₁ | x₀):
 *   μ̃ₜ = √ᾱₜ₋₁ βₜ/(1 − ᾱₜ) · x₀ + √αₜ (1 − ᾱₜ₋₁)/(1 − ᾱₜ) · xₜ          (POST-MEAN)
 *   β̃ₜ = (1 − ᾱₜ₋₁)/(1 − ᾱₜ) · βₜ                                        (POST-VARIANCE, "fixed_small")
 * DDPM's "fixed_large" variance uses βₜ instead (Ho et al. 2020, §3.2). ᾱ₋₁ = 1.
 */
import type { Tensor } from "./tensor.ts";
import { assertSameShape, linearCombination } from "./tensor.ts";
import type { Schedule } from "./schedule.ts";
import { require, requireOneOf } from "./errors.ts";

export type VarianceType = "fixed_small" | "fixed_large";

/** ᾱ at index t, with ᾱ₋₁ = 1 (x₀ itself). */
export const alphaBarAt = (s: Schedule, t: number): number => (t < 0 ? 1 : s.alphasCumprod[t]);

/** POST-MEAN: the coefficients [c_x0, c_xt] of μ̃ₜ. */
export function posteriorMeanCoefficients(s: Schedule, t: number): readonly [number, number] {
  require(Number.isInteger(t) && t >= 1 && t < s.betas.length, "timestep", t, `an integer in [1, ${s.betas.length - 1}]`);
  const abar = alphaBarAt(s, t);
  const abarPrev = alphaBarAt(s, t - 1);
  const beta = s.betas[t];
  return [(Math.sqrt(abarPrev) * beta) / (1 - abar), (Math.sqrt(s.alphas[t]) * (1 - abarPrev)) / (1 - abar)];
}

/** POST-MEAN: μ̃ₜ(xₜ, x₀). */
export function posteriorMean(s: Schedule, xt: Tensor, x0: Tensor, t: number): Tensor {
  assertSameShape("posteriorMean x0", xt.shape, x0.shape);
  const [c0, ct] = posteriorMeanCoefficients(s, t);
  return linearCombination([x0, xt], [c0, ct]);
}

/** POST-VARIANCE: β̃ₜ ("fixed_small") or βₜ ("fixed_large"). */
export function posteriorVariance(s: Schedule, t: number, varianceType: VarianceType = "fixed_small"): number {
  requireOneOf("varianceType", varianceType, ["fixed_small", "fixed_large"] as const);
  require(Number.isInteger(t) && t >= 1 && t < s.betas.length, "timestep", t, `an integer in [1, ${s.betas.length - 1}]`);
  if (varianceType === "fixed_large") return s.betas[t];
  return ((1 - alphaBarAt(s, t - 1)) / (1 - alphaBarAt(s, t))) * s.betas[t];
}
