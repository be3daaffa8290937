/**
 * PARAM — what a network predicts, and the exact conversions between the choices
 * (spec/05-parameterisation.md; article: "Reverse diffusion in practice").
 * With xₜ = αₜ x₀ + σₜ ε (αₜ = √ᾱₜ, σₜ = √(1 − ᾱₜ), αₜ² + σₜ² = 1):
 *   ε-prediction:  x₀ = (xₜ − σₜ ε)/αₜ
 *   x₀-prediction: ε  = (xₜ − αₜ x₀)/σₜ
 *   v-prediction:  v = αₜ ε − σₜ x₀, so x₀ = αₜ xₜ − σₜ v and ε = σₜ xₜ + αₜ v   (Salimans & Ho 2022)
 *   score:         ∇ log q(xₜ) = −ε/σₜ
 * Each conversion is a linear combination [c_sample, c_model] of (xₜ, model output), which is how
 * samplers apply it on any backend.
 */
import type { PredictionType } from "./contract.ts";
import type { Tensor } from "./tensor.ts";
import { linearCombination } from "./tensor.ts";

export type Coeffs = readonly [number, number];

/** PARAM-TO-X0: coefficients of (xₜ, output) giving x₀. */
export function x0Coeffs(predictionType: PredictionType, alpha: number, sigma: number): Coeffs {
  if (predictionType === "epsilon") return [1 / alpha, -sigma / alpha];
  if (predictionType === "sample") return [0, 1];
  return [alpha, -sigma];
}

/** PARAM-TO-EPS: coefficients of (xₜ, output) giving ε. */
export function epsCoeffs(predictionType: PredictionType, alpha: number, sigma: number): Coeffs {
  if (predictionType === "epsilon") return [0, 1];
  if (predictionType === "sample") return [1 / sigma, -alpha / sigma];
  return [sigma, alpha];
}

/** PARAM-TO-V: coefficients of (xₜ, output) giving v. */
export function vCoeffs(predictionType: PredictionType, alpha: number, sigma: number): Coeffs {
  if (predictionType === "v_prediction") return [0, 1];
  const [ex, eo] = epsCoeffs(predictionType, alpha, sigma);
  const [xx, xo] = x0Coeffs(predictionType, alpha, sigma);
  return [alpha * ex - sigma * xx, alpha * eo - sigma * xo];
}

const apply = (c: Coeffs, xt: Tensor, out: Tensor): Tensor => linearCombination([xt, out], c);

export const predictX0 = (p: PredictionType, xt: Tensor, out: Tensor, alpha: number, sigma: number): Tensor => apply(x0Coeffs(p, alpha, sigma), xt, out);
export const predictEps = (p: PredictionType, xt: Tensor, out: Tensor, alpha: number, sigma: number): Tensor => apply(epsCoeffs(p, alpha, sigma), xt, out);
export const predictV = (p: PredictionType, xt: Tensor, out: Tensor, alpha: number, sigma: number): Tensor => apply(vCoeffs(p, alpha, sigma), xt, out);

/** PARAM-SCORE: ∇ log q(xₜ) = −ε/σₜ. */
export const scoreFromEps = (eps: Tensor, sigma: number): Tensor => linearCombination([eps], [-1 / sigma]);
/** PARAM-SCORE: ε = −σₜ ∇ log q(xₜ). */
export const epsFromScore = (score: Tensor, sigma: number): Tensor => linearCombination([score], [-sigma]);

/** The model output of `target` type that corresponds to a given (x₀, ε) pair at (α, σ). */
export function targetFor(p: PredictionType, x0: Tensor, eps: Tensor, alpha: number, sigma: number): Tensor {
  if (p === "epsilon") return eps;
  if (p === "sample") return x0;
  return linearCombination([eps, x0], [alpha, -sigma]);
}

/**
 * PARAM-SCALE-INPUT: σ-parameterised samplers (Euler, Heun, LMS, k-diffusion) keep x̃ = xₜ/αₜ = x₀ + σ ε
 * with σ = √((1 − ᾱ)/ᾱ); the network was trained on xₜ, so its input is x̃/√(σ² + 1).
 */
export const scaleModelInputFactor = (sigma: number): number => 1 / Math.sqrt(sigma * sigma + 1);
