/**
 * PARAM-THRESHOLD — dynamic thresholding of the x₀ prediction (Saharia et al. 2022, Imagen §2.3;
 * diffusers `_threshold_sample`). Per batch item: s = clamp(quantile(|x₀|, ratio), 1, maxValue),
 * then x₀ ← clamp(x₀, −s, s) / s. The quantile interpolates linearly (torch.quantile's default).
 */
import type { Tensor } from "./tensor.ts";
import { requireFinite, require } from "./errors.ts";

/** Linear-interpolation quantile of sorted values (numpy/torch "linear" method). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

export function dynamicThreshold(x0: Tensor, ratio: number, maxValue: number): Tensor {
  require(ratio > 0 && ratio <= 1, "dynamicThresholdingRatio", ratio, "a number in (0, 1]");
  requireFinite("sampleMaxValue", maxValue);
  // diffusers clamps s into [1, maxValue]; with maxValue < 1 that is maxValue itself (torch.clamp's max wins).
  require(maxValue > 0, "sampleMaxValue", maxValue, "a number > 0");
  const B = x0.shape[0];
  const per = x0.data.length / B;
  const out = new Float64Array(x0.data.length);
  for (let b = 0; b < B; b++) {
    const item = x0.data.subarray(b * per, (b + 1) * per);
    const s = Math.min(Math.max(quantileSorted(Float64Array.from(item, Math.abs).sort(), ratio), 1), maxValue);
    for (let i = 0; i < per; i++) out[b * per + i] = Math.min(Math.max(item[i], -s), s) / s;
  }
  return { shape: [...x0.shape], data: out };
}
