/**
 * FWD — the forward (noising) process (spec/04-forward.md; article: "The forward process").
 *   one step:     q(xₜ | xₜ₋₁) = 𝒩(√(1 − βₜ) xₜ₋₁, βₜ I)                         (FWD-STEP)
 *   closed form:  q(xₜ | x₀)   = 𝒩(√ᾱₜ x₀, (1 − ᾱₜ) I),  xₜ = √ᾱₜ x₀ + √(1 − ᾱₜ) ε   (FWD-MARGINAL, `addNoise`)
 * The chain of one-step kernels has the law of the closed form (FWD-CHAIN): means multiply,
 * variances add as 1 − ᾱₜ = (1 − ᾱₜ₋₁)(1 − βₜ) + βₜ.
 * Index convention (diffusers): t = 0 … N−1, and ᾱ of index t includes β₀ … βₜ.
 */
import type { Tensor } from "./tensor.ts";
import { assertSameShape, linearCombination } from "./tensor.ts";
import type { Schedule } from "./schedule.ts";
import { require } from "./errors.ts";

function checkIndex(s: Schedule, t: number, what = "timestep"): void {
  const N = s.betas.length;
  require(Number.isInteger(t) && t >= 0 && t < N, what, t, `an integer in [0, ${N - 1}]`);
}

/** FWD-STEP: xₜ = √(1 − βₜ) xₜ₋₁ + √βₜ ε. */
export function forwardStep(s: Schedule, xPrev: Tensor, t: number, eps: Tensor): Tensor {
  checkIndex(s, t);
  assertSameShape("forwardStep noise", xPrev.shape, eps.shape);
  return linearCombination([xPrev, eps], [Math.sqrt(1 - s.betas[t]), Math.sqrt(s.betas[t])]);
}

/** FWD-MARGINAL (diffusers `add_noise`): xₜ = √ᾱₜ x₀ + √(1 − ᾱₜ) ε. */
export function addNoise(s: Schedule, x0: Tensor, eps: Tensor, t: number): Tensor {
  checkIndex(s, t);
  assertSameShape("addNoise noise", x0.shape, eps.shape);
  const abar = s.alphasCumprod[t];
  return linearCombination([x0, eps], [Math.sqrt(abar), Math.sqrt(1 - abar)]);
}

/** FWD-MARGINAL: mean coefficient and variance of q(xₜ | x₀). */
export function marginalCoefficients(s: Schedule, t: number): { mean: number; variance: number } {
  checkIndex(s, t);
  return { mean: Math.sqrt(s.alphasCumprod[t]), variance: 1 - s.alphasCumprod[t] };
}

/**
 * FWD-CHAIN: the law of running the one-step kernel from index 0 to t, composed analytically:
 * mean coefficient Πₛ √(1 − βₛ), variance vₜ = (1 − βₜ) vₜ₋₁ + βₜ with v₋₁ = 0.
 */
export function chainCoefficients(s: Schedule, t: number): { mean: number; variance: number } {
  checkIndex(s, t);
  let mean = 1;
  let variance = 0;
  for (let k = 0; k <= t; k++) {
    mean *= Math.sqrt(1 - s.betas[k]);
    variance = (1 - s.betas[k]) * variance + s.betas[k];
  }
  return { mean, variance };
}

/** FWD-VELOCITY (diffusers `get_velocity`): v = √ᾱₜ ε − √(1 − ᾱₜ) x₀. */
export function getVelocity(s: Schedule, x0: Tensor, eps: Tensor, t: number): Tensor {
  checkIndex(s, t);
  const abar = s.alphasCumprod[t];
  return linearCombination([eps, x0], [Math.sqrt(abar), -Math.sqrt(1 - abar)]);
}
