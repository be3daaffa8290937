/**
 * Statistical tests used by the conformance suite's statistical properties (DESIGN.md: every
 * statistical property states its test and α, and retries once on a fresh sample).
 *
 * Every test returns `{ statistic, pValue }`; the p-value is two-sided unless the doc says
 * otherwise. Sources are cited per function: NR = Press et al., *Numerical Recipes*, 3rd ed. (2007).
 * All special functions are Float64 and accurate to ≈1e-14 relative or better in the ranges a
 * p-value needs (test/stats.test.ts checks them against values known to many digits).
 */
import { erf } from "./erf.ts";
import { require } from "./errors.ts";
import type { GaussianStream } from "./rng.ts";

export interface TestResult {
  /** The test statistic (z, D, X², r, energy distance, …; named in each function's doc). */
  readonly statistic: number;
  /** P(statistic at least as extreme | H₀). */
  readonly pValue: number;
}

// ---------------------------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------------------------

/** erf(x): W. J. Cody's rational Chebyshev approximation (reference/erf.ts). */
export { erf };

/**
 * erfc(x) = 1 − erf(x), accurate in the far tails too. For |x| < 2: 1 − erf(x) (erfc ≥ 0.0047 there,
 * so the subtraction costs < 3 digits). For x ≥ 2: the Laplace continued fraction
 *   erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
 * (Abramowitz & Stegun 7.1.14), evaluated bottom-up with 120 levels (error < 1e-16 for x ≥ 2).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 2) return x > -2 ? 1 - erf(x) : 2 - erfc(-x);
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Φ((x − μ)/σ), the 𝒩(μ, σ²) CDF: ½ erfc(−z/√2), z = (x − μ)/σ. Accurate in both tails. */
export function normalCdf(x: number, mean = 0, sd = 1): number {
  return 0.5 * erfc(-(x - mean) / (sd * Math.SQRT2));
}

/** Two-sided normal p-value of a z-score: P(|Z| ≥ |z|) = erfc(|z|/√2). */
export const twoSidedNormalP = (z: number): number => erfc(Math.abs(z) / Math.SQRT2);

/**
 * Φ⁻¹(p): P. J. Acklam's rational approximation (2003, rel. error 1.15e-9) refined by one Halley
 * step on Φ(x) − p (which brings it to full Float64 accuracy).
 */
export function normalQuantile(p: number): number {
  require(p > 0 && p < 1, "p", p, "a probability in (0, 1)");
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  let x: number;
  if (p < lo || p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(p < lo ? p : 1 - p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    if (p > 1 - lo) x = -x;
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  // Halley: e = Φ(x) − p, u = e·√(2π)·e^{x²/2}, x ← x − u/(1 + x·u/2).
  const e = p < 0.5 ? normalCdf(x) - p : -(normalCdf(-x) - (1 - p));
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** log Γ(x) for x > 0: Lanczos approximation, g = 7, 9 coefficients (Godfrey; rel. error ≈ 1e-15). */
export function logGamma(x: number): number {
  require(x > 0, "x", x, "a number > 0");
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let s = c[0];
  for (let i = 1; i < g + 2; i++) s += c[i] / (z + i);
  const t = z + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/**
 * The regularized upper incomplete gamma Q(a, x) = Γ(a, x)/Γ(a) (NR §6.2 `gammq`): the series
 * P(a, x) = e^{−x} x^a/Γ(a) Σₙ xⁿ/(a(a+1)…(a+n)) for x < a + 1, else the Legendre continued
 * fraction Q(a, x) = e^{−x} x^a/Γ(a) · 1/(x + 1 − a − 1·(1 − a)/(x + 3 − a − …)) by modified Lentz.
 */
export function regularizedGammaQ(a: number, x: number): number {
  require(a > 0, "a", a, "a number > 0");
  require(x >= 0, "x", x, "a number ≥ 0");
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  const logPrefix = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return 1 - sum * Math.exp(logPrefix);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(logPrefix) * h;
}

/** The χ²_k survival function P(χ²_k ≥ x) = Q(k/2, x/2). */
export const chiSquareSf = (x: number, df: number): number => regularizedGammaQ(df / 2, Math.max(x, 0) / 2);

/**
 * The Kolmogorov distribution's survival function Q_KS(λ) = P(K > λ) (NR eq. 14.3.7):
 *   Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}                       (λ ≥ 1, fast convergence)
 *   Q_KS(λ) = 1 − (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)}             (λ < 1, the Jacobi-theta dual)
 */
export function kolmogorovSf(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1) {
    let s = 0;
    for (let j = 1; j <= 20; j++) s += Math.exp(-((2 * j - 1) ** 2) * Math.PI * Math.PI / (8 * lambda * lambda));
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * s));
  }
  let s = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    s += j % 2 === 1 ? term : -term;
    if (term < 1e-18) break;
  }
  return Math.min(1, Math.max(0, 2 * s));
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

function requireSamples(what: string, n: number, min: number): void {
  require(n >= min, what, `${n} values`, `at least ${min} values`);
}

/**
 * One-sample Kolmogorov–Smirnov test against a continuous CDF F. Statistic
 *   D = maxᵢ max(i/n − F(x₍ᵢ₎), F(x₍ᵢ₎) − (i−1)/n),
 * p-value Q_KS((√n + 0.12 + 0.11/√n)·D): the Kolmogorov asymptotic law with Stephens' (1970)
 * small-n correction (NR eq. 14.3.18; accurate for n ≥ 5 or so).
 */
export function ksTest(samples: ArrayLike<number>, cdf: (x: number) => number): TestResult {
  const n = samples.length;
  requireSamples("samples", n, 5);
  const xs = Float64Array.from(samples).sort();
  let D = 0;
  for (let i = 0; i < n; i++) {
    const F = cdf(xs[i]);
    D = Math.max(D, (i + 1) / n - F, F - i / n);
  }
  const sn = Math.sqrt(n);
  return { statistic: D, pValue: kolmogorovSf((sn + 0.12 + 0.11 / sn) * D) };
}

/** KS test of samples against 𝒩(mean, variance) (known parameters, not fitted: that would be Lilliefors). */
export function ksTestNormal(samples: ArrayLike<number>, mean = 0, variance = 1): TestResult {
  require(variance > 0, "variance", variance, "a number > 0");
  const sd = Math.sqrt(variance);
  return ksTest(samples, (x) => normalCdf(x, mean, sd));
}

/**
 * Two-sample Kolmogorov–Smirnov test: D = sup |F̂ₓ − F̂ᵧ|, p = Q_KS((√nₑ + 0.12 + 0.11/√nₑ)·D)
 * with nₑ = nm/(n + m) (NR §14.3.3). Ties are handled by advancing both samples together.
 */
export function ksTwoSample(x: ArrayLike<number>, y: ArrayLike<number>): TestResult {
  requireSamples("x", x.length, 5);
  requireSamples("y", y.length, 5);
  const a = Float64Array.from(x).sort();
  const b = Float64Array.from(y).sort();
  let i = 0;
  let j = 0;
  let D = 0;
  while (i < a.length && j < b.length) {
    const v = Math.min(a[i], b[j]);
    while (i < a.length && a[i] === v) i++;
    while (j < b.length && b[j] === v) j++;
    D = Math.max(D, Math.abs(i / a.length - j / b.length));
  }
  const ne = Math.sqrt((a.length * b.length) / (a.length + b.length));
  return { statistic: D, pValue: kolmogorovSf((ne + 0.12 + 0.11 / ne) * D) };
}

/**
 * z-test of a mean: z = (x̄ − μ)/√(σ²/n), two-sided p = erfc(|z|/√2). `variance` is the known
 * population variance σ²; when omitted the unbiased sample variance is used (large-n approximation).
 */
export function zTestMean(samples: ArrayLike<number>, mean: number, variance?: number): TestResult {
  const n = samples.length;
  requireSamples("samples", n, 2);
  let m = 0;
  for (let i = 0; i < n; i++) m += samples[i];
  m /= n;
  let v = variance;
  if (v === undefined) {
    v = 0;
    for (let i = 0; i < n; i++) v += (samples[i] - m) ** 2;
    v /= n - 1;
  }
  require(v > 0, "variance", v, "a number > 0");
  const z = (m - mean) / Math.sqrt(v / n);
  return { statistic: z, pValue: twoSidedNormalP(z) };
}

/**
 * Test of a variance σ² by the normal approximation of the sample variance (CLT; e.g. Casella &
 * Berger, ex. 5.8). With the mean μ known: σ̂² = Σ(x − μ)²/n, Var(σ̂²) = (μ₄ − σ⁴)/n. With the mean
 * unknown: s² = Σ(x − x̄)²/(n − 1), Var(s²) = (μ₄ − σ⁴(n − 3)/(n − 1))/n.
 * μ₄ is the fourth central moment: 3σ⁴ for Gaussian data (the default), else pass `fourthMoment`.
 * Statistic z = (σ̂² − σ²)/√Var, two-sided normal p-value. Good for n ≳ 100.
 */
export function varianceTest(samples: ArrayLike<number>, variance: number, opts: { mean?: number; fourthMoment?: number } = {}): TestResult {
  const n = samples.length;
  requireSamples("samples", n, 4);
  require(variance > 0, "variance", variance, "a number > 0");
  const mu4 = opts.fourthMoment ?? 3 * variance * variance;
  let est: number;
  let varOfEst: number;
  if (opts.mean !== undefined) {
    est = 0;
    for (let i = 0; i < n; i++) est += (samples[i] - opts.mean) ** 2;
    est /= n;
    varOfEst = (mu4 - variance * variance) / n;
  } else {
    let m = 0;
    for (let i = 0; i < n; i++) m += samples[i];
    m /= n;
    est = 0;
    for (let i = 0; i < n; i++) est += (samples[i] - m) ** 2;
    est /= n - 1;
    varOfEst = (mu4 - (variance * variance * (n - 3)) / (n - 1)) / n;
  }
  const z = (est - variance) / Math.sqrt(varOfEst);
  return { statistic: z, pValue: twoSidedNormalP(z) };
}

/**
 * The sample size n at which `varianceTest` with the mean known (Gaussian data, Var σ̂² = 2σ⁴/n) detects a
 * relative change δ of the variance (true σ² = (1 + δ)σ₀²) at two-sided level α with probability ≥ `power`.
 * Under the alternative σ̂² ≈ 𝒩((1 + δ)σ₀², 2(1 + δ)²σ₀⁴/n), so the power is
 * Φ((δ√(n/2) − z_{1−α/2}) / (1 + δ)) (ignoring the far tail), and n = 2((z_{1−α/2} + (1 + δ)·z_power)/δ)².
 */
export function varianceTestSampleSize(delta: number, alpha: number, power: number): number {
  require(delta > 0, "delta", delta, "a relative change > 0");
  require(alpha > 0 && alpha < 1, "alpha", alpha, "a level in (0, 1)");
  require(power > 0 && power < 1, "power", power, "a probability in (0, 1)");
  return Math.ceil(2 * ((normalQuantile(1 - alpha / 2) + (1 + delta) * normalQuantile(power)) / delta) ** 2);
}

/** The power of `varianceTest` (mean known, Gaussian) against a relative variance change δ at n samples and level α (see varianceTestSampleSize). */
export function varianceTestPower(delta: number, alpha: number, n: number): number {
  return normalCdf((Math.abs(delta) * Math.sqrt(n / 2) - normalQuantile(1 - alpha / 2)) / (1 + delta));
}

/** The Pearson sample correlation r = Σ(x − x̄)(y − ȳ)/√(Σ(x − x̄)² Σ(y − ȳ)²). */
export function pearsonCorrelation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  require(x.length === y.length, "y", `${y.length} values`, `as many values as x (${x.length})`);
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Test of H₀: ρ = rho0 (default 0, independence) by Fisher's z-transform: atanh(r) is ≈ 𝒩(atanh ρ,
 * 1/(n − 3)) for bivariate-normal data (Fisher 1915; NR eq. 14.5.6). Statistic r; p two-sided.
 * Under independence of non-normal data √n·r → 𝒩(0, 1) as well, so ρ₀ = 0 is valid for any
 * finite-variance data at large n.
 */
export function pearsonCorrelationTest(x: ArrayLike<number>, y: ArrayLike<number>, rho0 = 0): TestResult {
  requireSamples("x", x.length, 10);
  const r = pearsonCorrelation(x, y);
  const z = (Math.atanh(Math.min(Math.max(r, -1 + 1e-16), 1 - 1e-16)) - Math.atanh(rho0)) * Math.sqrt(x.length - 3);
  return { statistic: r, pValue: twoSidedNormalP(z) };
}

/**
 * Pearson's χ² goodness-of-fit test: X² = Σᵢ (Oᵢ − Eᵢ)²/Eᵢ with k − 1 − ddof degrees of freedom,
 * p = Q((k − 1 − ddof)/2, X²/2) (NR §14.3.1). `expected` are counts (same total as `observed`) or
 * probabilities (scaled to the observed total). Valid when every Eᵢ ≳ 5.
 */
export function chiSquareTest(observed: ArrayLike<number>, expected: ArrayLike<number>, ddof = 0): TestResult {
  const k = observed.length;
  require(expected.length === k, "expected", `${expected.length} bins`, `as many bins as observed (${k})`);
  require(k - 1 - ddof >= 1, "ddof", ddof, `< ${k - 1} (at least one degree of freedom)`);
  let nObs = 0;
  let nExp = 0;
  for (let i = 0; i < k; i++) { nObs += observed[i]; nExp += expected[i]; }
  require(nExp > 0, "expected", nExp, "a positive total");
  const scale = nObs / nExp;
  let x2 = 0;
  for (let i = 0; i < k; i++) {
    const e = expected[i] * scale;
    require(e > 0, `expected[${i}]`, expected[i], "a positive count or probability");
    x2 += (observed[i] - e) ** 2 / e;
  }
  return { statistic: x2, pValue: chiSquareSf(x2, k - 1 - ddof) };
}

/** log of the Binomial(n, p) pmf at k: log C(n, k) + k log p + (n − k) log(1 − p). */
function binomialLogPmf(k: number, n: number, p: number): number {
  const logC = logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
  const a = k === 0 ? 0 : k * Math.log(p);
  const b = n - k === 0 ? 0 : (n - k) * Math.log1p(-p);
  return logC + a + b;
}

/**
 * Exact two-sided binomial test of k successes in n trials with success probability p: the sum of
 * P(X = i) over all i with P(X = i) ≤ P(X = k)·(1 + 1e-7) (the "minimum-likelihood" two-sided
 * p-value; scipy.stats.binomtest's default). Statistic k/n.
 */
export function binomialTest(k: number, n: number, p: number): TestResult {
  require(Number.isInteger(n) && n >= 1, "n", n, "a positive integer");
  require(Number.isInteger(k) && k >= 0 && k <= n, "k", k, `an integer in [0, ${n}]`);
  require(p > 0 && p < 1, "p", p, "a probability in (0, 1)");
  const ref = binomialLogPmf(k, n, p) + Math.log1p(1e-7);
  let pv = 0;
  for (let i = 0; i <= n; i++) {
    const l = binomialLogPmf(i, n, p);
    if (l <= ref) pv += Math.exp(l);
  }
  return { statistic: k / n, pValue: Math.min(1, pv) };
}

/** Euclidean distance between two D-dimensional points. */
function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** The pooled distance matrix of x ∪ y (row-major, size N×N, N = n + m). */
function pooledDistances(x: readonly ArrayLike<number>[], y: readonly ArrayLike<number>[]): { d: Float64Array; N: number } {
  const pts = [...x, ...y];
  const N = pts.length;
  const D = pts[0].length;
  pts.forEach((p, i) => require(p.length === D, `point ${i}`, `${p.length} coordinates`, `${D} coordinates, like the first point`));
  const d = new Float64Array(N * N);
  for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) d[i * N + j] = d[j * N + i] = dist(pts[i], pts[j]);
  return { d, N };
}

/** Energy distance from a pooled distance matrix and a group assignment (first n of `order` are x). */
function energyFromMatrix(d: Float64Array, N: number, order: Int32Array, n: number): number {
  const m = N - n;
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let a = 0; a < N; a++) {
    const i = order[a];
    const row = i * N;
    for (let b = a + 1; b < N; b++) {
      const v = d[row + order[b]];
      if (a < n) { if (b < n) xx += v; else xy += v; } else yy += v;
    }
  }
  return (2 * xy) / (n * m) - (2 * xx) / (n * n) - (2 * yy) / (m * m);
}

/**
 * Energy distance between two samples of D-dimensional points (Székely & Rizzo 2013, eq. 2.3,
 * V-statistic form): ℰ = 2·mean‖X − Y‖ − mean‖X − X′‖ − mean‖Y − Y′‖ (means over all pairs,
 * diagonal included). ℰ ≥ 0, and its population value is 0 iff the two laws are equal.
 */
export function energyDistance(x: readonly ArrayLike<number>[], y: readonly ArrayLike<number>[]): number {
  requireSamples("x", x.length, 1);
  requireSamples("y", y.length, 1);
  const { d, N } = pooledDistances(x, y);
  return energyFromMatrix(d, N, Int32Array.from({ length: N }, (_, i) => i), x.length);
}

/**
 * Permutation test of equal distributions with the energy statistic (Székely & Rizzo 2004):
 * statistic ℰ·nm/(n + m); p = (1 + #{permutations with statistic ≥ observed})/(1 + R), the
 * labels shuffled R times (Fisher–Yates with `stream`, so the test is reproducible from its seed).
 * The p-value is exact-valid (P(p ≤ α) ≤ α under H₀) for any R. Cost O(R·(n + m)²).
 */
export function energyPermutationTest(
  x: readonly ArrayLike<number>[],
  y: readonly ArrayLike<number>[],
  stream: GaussianStream,
  permutations = 199,
): TestResult {
  requireSamples("x", x.length, 2);
  requireSamples("y", y.length, 2);
  requirePositive("permutations", permutations);
  const { d, N } = pooledDistances(x, y);
  const n = x.length;
  const factor = (n * (N - n)) / N;
  const order = Int32Array.from({ length: N }, (_, i) => i);
  const observed = energyFromMatrix(d, N, order, n) * factor;
  let atLeast = 0;
  for (let r = 0; r < permutations; r++) {
    for (let i = N - 1; i > 0; i--) {
      const j = stream.int(i + 1);
      const t = order[i]; order[i] = order[j]; order[j] = t;
    }
    if (energyFromMatrix(d, N, order, n) * factor >= observed * (1 - 1e-12)) atLeast++;
  }
  return { statistic: observed, pValue: (1 + atLeast) / (1 + permutations) };
}

function requirePositive(field: string, v: number): void {
  require(Number.isInteger(v) && v > 0, field, v, "a positive integer");
}

/**
 * Combines k p-values of tests run together by Bonferroni: min(1, k·minᵢ pᵢ). Valid under any
 * dependence between the tests (the family-wise error rate stays ≤ α).
 */
export function bonferroni(pValues: readonly number[]): number {
  require(pValues.length > 0, "pValues", pValues.length, "at least one p-value");
  return Math.min(1, pValues.length * Math.min(...pValues));
}

/** Sample mean and unbiased sample variance. */
export function meanAndVariance(samples: ArrayLike<number>): { mean: number; variance: number } {
  const n = samples.length;
  requireSamples("samples", n, 2);
  let m = 0;
  for (let i = 0; i < n; i++) m += samples[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (samples[i] - m) ** 2;
  return { mean: m, variance: v / (n - 1) };
}
