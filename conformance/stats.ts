/**
 * Statistical tests used by the statistical properties (each returns a two-sided p-value).
 * Every property that uses one states its α; conformance/check.ts `statisticalTest` rejects only
 * when two independent samples both give p < α.
 *
 * Other engineers add their own tests here (e.g. energy distance); keep each function self-contained.
 */
import { erf } from "mathjs";

/** Φ(z), the standard normal CDF (via erf). */
export function normalCdf(z: number): number {
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  return 0.5 * (1 + (erf(z / Math.SQRT2) as number));
}

/** Two-sided p-value of a standard-normal test statistic: 2·(1 − Φ(|z|)), computed without cancellation. */
export function twoSidedNormalP(z: number): number {
  if (Number.isNaN(z)) return 0;
  return Math.min(1, 2 * normalCdf(-Math.abs(z)));
}

/** z-test that a sample's mean is `mean` when its standard deviation is known to be `std` (N(0,1): 0, 1). */
export function meanZTest(x: ArrayLike<number>, mean = 0, std = 1): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return twoSidedNormalP(((s / x.length - mean) * Math.sqrt(x.length)) / std);
}

/**
 * z-test that a sample of a normal distribution with known mean has variance `variance`:
 * with yᵢ = (xᵢ − mean)², E y = v and Var y = 2v² (normal fourth moment), so
 * z = (ȳ − v)/(v·√(2/n)) is asymptotically N(0, 1).
 */
export function varianceZTest(x: ArrayLike<number>, mean = 0, variance = 1): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - mean) ** 2;
  return twoSidedNormalP((s / x.length - variance) / (variance * Math.sqrt(2 / x.length)));
}

/** The Kolmogorov–Smirnov statistic Dₙ = supₓ |Fₙ(x) − F(x)| of a sample against a continuous CDF F. */
export function ksStatistic(x: ArrayLike<number>, cdf: (v: number) => number): number {
  const s = Float64Array.from(x).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/**
 * The asymptotic Kolmogorov distribution's survival function Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²},
 * evaluated at λ = (√n + 0.12 + 0.11/√n)·Dₙ (Stephens' small-sample correction; Numerical Recipes §14.3).
 */
export function ksPValue(d: number, n: number): number {
  const sn = Math.sqrt(n);
  const lambda = (sn + 0.12 + 0.11 / sn) * d;
  if (lambda < 1e-3) return 1;
  let sum = 0;
  let prev = 0;
  for (let k = 1; k <= 200; k++) {
    const term = 2 * (k % 2 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) <= 1e-12 * Math.abs(sum) || Math.abs(term) <= 1e-300 || Math.abs(term - prev) === 0) break;
    prev = term;
  }
  return Math.min(1, Math.max(0, sum));
}

/** One-sample KS test of normality N(mean, std²) (parameters known, not fitted). */
export function ksNormalTest(x: ArrayLike<number>, mean = 0, std = 1): number {
  return ksPValue(ksStatistic(x, (v) => normalCdf((v - mean) / std)), x.length);
}

/** Pearson's sample correlation of two equally long samples. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}

/**
 * Test of zero correlation between paired samples: under independence √n·r is asymptotically N(0, 1)
 * (Fisher: atanh(r)·√(n − 3) is closer to normal for small n; used here). A degenerate sample (constant) gives p = 0.
 */
export function correlationZTest(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const r = correlation(a, b);
  if (!Number.isFinite(r)) return 0;
  const n = Math.min(a.length, b.length);
  return twoSidedNormalP(Math.atanh(Math.max(-1 + 1e-16, Math.min(1 - 1e-16, r))) * Math.sqrt(n - 3));
}
