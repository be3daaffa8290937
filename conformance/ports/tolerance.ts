/**
 * Tolerances of a port against the Float64 reference, by the port's declared dtype (u = its unit
 * roundoff: float32 2⁻²⁴, float64 2⁻⁵³). A port computes its schedule and coefficients in its own
 * arithmetic, so the bounds are those of the whole computation, not of one primitive:
 * - ᾱ (`schedule`): each factor (1 − βₜ) carries at most two roundings (β and the subtraction) and the
 *   product N more: 3N·u relative, doubled → rtol 8N·u (N = numTrainTimesteps).
 * - σ of the VE view: σ² = 1/ᾱ − 1, so |δσ| ≤ |δᾱ|/(2σᾱ²) ≤ 8N·u·(1 + σ²)/(2σ) → atol 8N·u·(1 + σ²)/σ.
 * - one step (`step`): x̂₀ divides by √ᾱₜ, whose relative error is ≤ 4N·u, and every coefficient of a
 *   k-term combination is a product of such factors; 2¹⁴ ≥ 16·N for N ≤ 1000 covers that with the
 *   roundings of the combination itself: atol 2¹⁴·u·scale, scale = max(1, |x|, |model output|, |x̂₀|,
 *   |reference result|) at that step. float32: 9.8e-4·scale; float64: 1.8e-12·scale.
 * - a whole trajectory of n steps (`trajectory`): errors of the n steps add (each step is a contraction
 *   towards the data for the samplers checked here): n times the step bound.
 * A wrong coefficient changes a result by O(1)·scale, orders of magnitude above every bound.
 */
import { UNIT_ROUNDOFF } from "../tolerances.ts";
import type { PortDType } from "../../reference/samplers/port.ts";

export const STEP_FACTOR = 2 ** 14;

export const scheduleRtol = (dtype: PortDType, numTrainTimesteps: number): number => 8 * numTrainTimesteps * UNIT_ROUNDOFF[dtype];

export const sigmaAtol = (dtype: PortDType, numTrainTimesteps: number, sigma: number): number =>
  sigma === 0 ? 8 * numTrainTimesteps * UNIT_ROUNDOFF[dtype] : (scheduleRtol(dtype, numTrainTimesteps) * (1 + sigma * sigma)) / sigma;

export const stepAtol = (dtype: PortDType, scale: number, steps = 1): number => steps * STEP_FACTOR * UNIT_ROUNDOFF[dtype] * Math.max(1, scale);

export function maxAbs(...arrays: (ArrayLike<number> | undefined)[]): number {
  let m = 0;
  for (const a of arrays) if (a) for (let i = 0; i < a.length; i++) if (Math.abs(a[i]) > m) m = Math.abs(a[i]);
  return m;
}
