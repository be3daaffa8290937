/**
 * LOSS — the training objective (spec/05-parameterisation.md; article: "Training: predict the noise").
 *   L(θ) = E_{x₀, t, ε} ‖ε − ε_θ(√ᾱₜ x₀ + √(1 − ᾱₜ) ε, t)‖²                 (LOSS-EPS, Ho et al. 2020 eq. 14)
 * Optional min-SNR-γ weighting (Hang et al. 2023): w(t) = min(SNR(t), γ)/SNR(t) for ε-prediction.
 * The minimiser over all functions is ε*(xₜ, t) = E[ε | xₜ] (LOSS-MINIMISER, SCORE-EQUIVALENCE).
 */
import type { Tensor } from "./tensor.ts";
import { assertSameShape, batchItem } from "./tensor.ts";
import type { Schedule } from "./schedule.ts";
import { addNoise } from "./forward.ts";
import type { GaussianStream } from "./rng.ts";
import { require } from "./errors.ts";

/** Per-item mean squared error between two batches [B, ...]. */
export function perItemMse(a: Tensor, b: Tensor): Float64Array {
  assertSameShape("mse", a.shape, b.shape);
  const B = a.shape[0];
  const per = a.data.length / B;
  const out = new Float64Array(B);
  for (let i = 0; i < a.data.length; i++) out[Math.floor(i / per)] += (a.data[i] - b.data[i]) ** 2 / per;
  return out;
}

/**
 * LOSS-MIN-SNR: w(t) = min(SNR, γ)/SNR with SNR = ᾱ/(1 − ᾱ). γ = ∞ gives the plain loss. Written as
 * 1 when SNR ≤ γ, else γ/SNR: the same value, and the limit 1 (not 0/0) at a zero-SNR terminal step.
 */
export function minSnrWeight(s: Schedule, t: number, gamma: number): number {
  require(gamma > 0, "minSnrGamma", gamma, "a number > 0 (Infinity for no weighting)");
  const snr = s.alphasCumprod[t] / (1 - s.alphasCumprod[t]);
  return snr <= gamma ? 1 : gamma / snr;
}

/** One training example of the data path (LOSS-DATA-PATH): x₀, t, ε → xₜ. */
export interface TrainingExample {
  readonly x0: Tensor;
  readonly t: number;
  readonly eps: Tensor;
  readonly xt: Tensor;
}

/** LOSS-DATA-PATH: draw t uniformly in [0, N−1] and ε ~ 𝒩(0, I), then noise x₀ in closed form. */
export function trainingExample(s: Schedule, x0: Tensor, stream: GaussianStream): TrainingExample {
  const t = stream.int(s.betas.length);
  const eps = stream.randn(x0.shape);
  return { x0, t, eps, xt: addNoise(s, x0, eps, t) };
}

/**
 * LOSS-EPS: the mean over a batch of (optionally min-SNR-weighted) ‖ε − ε_θ(xₜ, t)‖²/D, each batch
 * item at its own random timestep.
 */
export function epsilonLoss(
  s: Schedule,
  x0: Tensor,
  predict: (xt: Tensor, t: number) => Tensor,
  stream: GaussianStream,
  minSnrGamma = Infinity,
): number {
  let total = 0;
  const B = x0.shape[0];
  for (let b = 0; b < B; b++) {
    const ex = trainingExample(s, batchItem(x0, b), stream);
    const w = Number.isFinite(minSnrGamma) ? minSnrWeight(s, ex.t, minSnrGamma) : 1;
    total += w * perItemMse(predict(ex.xt, ex.t), ex.eps)[0];
  }
  return total / B;
}
