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

/**
 * The k-th smallest (0-based) of `a` by Hoare's selection (quickselect, median-of-three pivot), in expected
 * O(n): afterwards a[0..k−1] ≤ a[k] ≤ a[k+1..] (a is reordered). `a` must hold no NaN.
 */
export function selectKth(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const x = a[lo];
    const y = a[(lo + hi) >>> 1];
    const z = a[hi];
    const pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break; // a[j+1 … i−1] all equal the pivot
  }
  return a[k];
}

/**
 * The linear-interpolation quantile of `values` (numpy/torch "linear"), from the two order statistics it
 * needs — by selection, not a full sort: the same two values `quantileSorted` reads from the sorted array.
 * Reorders `values`. NaNs sort last (as Float64Array.prototype.sort): then the full sort is used.
 */
export function quantileBySelection(values: Float64Array, q: number): number {
  if (values.some(Number.isNaN)) return quantileSorted(values.sort(), q);
  const pos = (values.length - 1) * q;
  const lo = Math.floor(pos);
  const vLo = selectKth(values, lo);
  let vHi = vLo;
  if (lo + 1 < values.length) {
    vHi = values[lo + 1];
    for (let i = lo + 2; i < values.length; i++) if (values[i] < vHi) vHi = values[i];
  }
  return vLo + (pos - lo) * (vHi - vLo);
}

export function dynamicThreshold(x0: Tensor, ratio: number, maxValue: number): Tensor {
  require(ratio > 0 && ratio <= 1, "dynamicThresholdingRatio", ratio, "a number in (0, 1]");
  requireFinite("sampleMaxValue", maxValue);
  // diffusers clamps s into [1, maxValue]; with maxValue < 1 that is maxValue itself (torch.clamp's max wins).
  require(maxValue > 0, "sampleMaxValue", maxValue, "a number > 0");
  const B = x0.shape[0];
  const per = x0.data.length / B;
  const out = new Float64Array(x0.data.length);
  const abs = new Float64Array(per);
  for (let b = 0; b < B; b++) {
    const item = x0.data.subarray(b * per, (b + 1) * per);
    for (let i = 0; i < per; i++) abs[i] = Math.abs(item[i]);
    const s = Math.min(Math.max(quantileBySelection(abs, ratio), 1), maxValue);
    for (let i = 0; i < per; i++) out[b * per + i] = Math.min(Math.max(item[i], -s), s) / s;
  }
  return { shape: [...x0.shape], data: out };
}
