/**
 * Unit tests of reference/stats.ts against values known to many digits (scipy 1.x outputs, closed
 * forms, and 50-digit mathjs BigNumber series), plus calibration: under H₀ each test's p-values
 * are uniform (checked on fixed seeds, so these tests are deterministic).
 */
import { describe, expect, it } from "vitest";
import { all, create } from "mathjs";
import {
  binomialTest,
  bonferroni,
  chiSquareSf,
  chiSquareTest,
  energyDistance,
  energyPermutationTest,
  erfc,
  kolmogorovSf,
  ksTest,
  ksTestNormal,
  ksTwoSample,
  logGamma,
  meanAndVariance,
  normalCdf,
  normalQuantile,
  pearsonCorrelation,
  pearsonCorrelationTest,
  regularizedGammaQ,
  twoSidedNormalP,
  varianceTest,
  zTestMean,
} from "../reference/stats.ts";
import { GaussianStream } from "../reference/rng.ts";
import { ConfigError } from "../reference/errors.ts";

const close = (a: number, b: number, rtol: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(rtol * Math.abs(b));

/** erfc(x) to 50 digits: 1 − (2/√π) Σₙ (−1)ⁿ x^{2n+1}/(n!(2n+1)) (the Maclaurin series, fine for x ≤ 6 at 80 digits). */
function erfcBig(x: number): number {
  const M = create(all, { number: "BigNumber", precision: 80 });
  const bx = M.bignumber(x);
  const x2 = M.multiply(bx, bx) as any;
  let term: any = bx; // (−1)ⁿ x^{2n+1}/n!
  let sum: any = M.bignumber(0);
  for (let n = 0; n < 400; n++) {
    sum = M.add(sum, M.divide(term, 2 * n + 1));
    term = M.divide(M.multiply(M.unaryMinus(term), x2), n + 1);
  }
  const twoOverSqrtPi = M.divide(2, M.sqrt(M.pi as any));
  return Number(M.subtract(1, M.multiply(twoOverSqrtPi, sum)));
}

describe("special functions", () => {
  it("erfc matches a 80-digit BigNumber series to 1e-13 relative, tails included", () => {
    for (const x of [-3, -1, -0.3, 0, 0.2, 0.5, 1, 1.5, 1.999, 2, 2.001, 3, 4, 5, 6]) close(erfc(x), erfcBig(x), 1e-13);
  });

  it("normalCdf matches scipy.stats.norm.cdf", () => {
    close(normalCdf(-1), 0.15865525393145707, 1e-15);
    close(normalCdf(1.959963984540054), 0.975, 1e-15);
    close(normalCdf(-3), 0.0013498980316300946, 1e-13);
    close(normalCdf(-5), 2.866515718791939e-7, 1e-13);
    close(normalCdf(-10), 7.619853024160527e-24, 1e-13);
    close(normalCdf(3, 1, 2), normalCdf(1), 1e-15);
    expect(normalCdf(0)).toBe(0.5);
  });

  it("normalQuantile inverts normalCdf and matches scipy.stats.norm.ppf", () => {
    close(normalQuantile(0.975), 1.959963984540054, 1e-14);
    close(normalQuantile(0.3), -0.5244005127080407, 1e-14);
    for (const p of [1e-12, 1e-5, 0.01, 0.02425, 0.2, 0.5 + 1e-9, 0.9, 0.999]) close(normalCdf(normalQuantile(p)), p, 1e-13);
    expect(() => normalQuantile(0)).toThrow(ConfigError);
  });

  it("logGamma matches log((n−1)!) and log √π", () => {
    close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-15);
    close(logGamma(10), Math.log(362880), 1e-15);
    expect(Math.abs(logGamma(1))).toBeLessThan(1e-15);
    close(logGamma(101), 363.73937555556347, 1e-14); // log(100!)
    close(logGamma(0.1), 2.252712651734206, 1e-14); // scipy.special.gammaln(0.1)
  });

  it("the χ² survival function matches closed forms and scipy's 95 % quantiles", () => {
    for (const x of [0.01, 0.5, 1, 3, 10, 40]) {
      close(chiSquareSf(x, 2), Math.exp(-x / 2), 1e-14); // k = 2: e^{−x/2}
      close(chiSquareSf(x, 1), erfc(Math.sqrt(x / 2)), 1e-12); // k = 1: erfc(√(x/2))
    }
    close(chiSquareSf(3.841458820694124, 1), 0.05, 1e-13);
    close(chiSquareSf(11.070497693516351, 5), 0.05, 1e-13);
    close(chiSquareSf(18.307038053275146, 10), 0.05, 1e-13);
    close(chiSquareSf(124.34211340400407, 100), 0.05, 1e-12);
    close(regularizedGammaQ(3, 2), Math.exp(-2) * (1 + 2 + 2), 1e-14); // Q(n, x) = e^{−x} Σ_{k<n} x^k/k!
  });

  it("the Kolmogorov survival function matches scipy.special.kolmogorov, continuous across its two series", () => {
    close(kolmogorovSf(1), 0.26999967167735456, 1e-14);
    close(kolmogorovSf(0.5), 0.9639452436648751, 1e-14);
    close(kolmogorovSf(1.3580986393225507), 0.05, 1e-12); // scipy.special.kolmogi(0.05)
    close(kolmogorovSf(2), 0.0006709252557796953, 1e-12);
    close(kolmogorovSf(1 - 1e-12), kolmogorovSf(1), 1e-10);
    expect(kolmogorovSf(0)).toBe(1);
  });
});

describe("tests on known inputs", () => {
  it("ksTest: D of five evenly placed points against U(0, 1) is 0.1", () => {
    const r = ksTest([0.1, 0.3, 0.5, 0.7, 0.9], (x) => x);
    close(r.statistic, 0.1, 1e-15);
    close(r.pValue, kolmogorovSf((Math.sqrt(5) + 0.12 + 0.11 / Math.sqrt(5)) * 0.1), 1e-15);
    expect(r.pValue).toBeGreaterThan(0.99);
  });

  it("zTestMean: z = (x̄ − μ)/√(σ²/n) and p = erfc(|z|/√2)", () => {
    const r = zTestMean([1, 2, 3, 4, 5], 2, 2.5);
    close(r.statistic, Math.SQRT2, 1e-15);
    close(r.pValue, 0.15729920705028513, 1e-14); // erfc(1)
    close(zTestMean([1, 2, 3, 4, 5], 2).statistic, Math.SQRT2, 1e-15); // sample variance 2.5
    close(twoSidedNormalP(1.959963984540054), 0.05, 1e-13);
  });

  it("varianceTest: the stated normal approximation", () => {
    const xs = [1, -1, 2, -2, 0.5, -0.5, 3, -3];
    const est = xs.reduce((s, x) => s + x * x, 0) / xs.length;
    const r = varianceTest(xs, 2, { mean: 0 });
    close(r.statistic, (est - 2) / Math.sqrt((3 * 4 - 4) / xs.length), 1e-14);
    const { variance } = meanAndVariance(xs);
    const r2 = varianceTest(xs, 2);
    close(r2.statistic, (variance - 2) / Math.sqrt((12 - (4 * 5) / 7) / 8), 1e-14);
  });

  it("pearsonCorrelation: r = √0.6 on a textbook example; ±1 on lines", () => {
    close(pearsonCorrelation([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]), Math.sqrt(0.6), 1e-15);
    const x = Array.from({ length: 20 }, (_, i) => i);
    close(pearsonCorrelation(x, x.map((v) => 3 - 2 * v)), -1, 1e-15);
    expect(pearsonCorrelationTest(x, x.map((v) => 2 * v + 1)).pValue).toBeLessThan(1e-10);
  });

  it("chiSquareTest: scipy.stats.chisquare([10, 20, 30]) = (10, e^{−5})", () => {
    const r = chiSquareTest([10, 20, 30], [1, 1, 1]);
    close(r.statistic, 10, 1e-15);
    close(r.pValue, 0.006737946999085467, 1e-14);
    expect(() => chiSquareTest([1, 2], [1, 2, 3])).toThrow(ConfigError);
  });

  it("binomialTest: exact two-sided p-values", () => {
    close(binomialTest(3, 10, 0.5).pValue, 352 / 1024, 1e-14);
    close(binomialTest(0, 10, 0.5).pValue, 2 / 1024, 1e-14);
    // k = 2, n = 8, p = 0.3: the outcomes no more likely than P(2) (brute force with exact binomials)
    const C = [1, 8, 28, 56, 70, 56, 28, 8, 1];
    const pmf = C.map((c, i) => c * 0.3 ** i * 0.7 ** (8 - i));
    const expected = pmf.filter((q) => q <= pmf[2] * (1 + 1e-7)).reduce((a, b) => a + b, 0);
    close(binomialTest(2, 8, 0.3).pValue, expected, 1e-13);
  });

  it("energyDistance: closed-form small cases", () => {
    close(energyDistance([[0]], [[1]]), 2, 1e-15);
    close(energyDistance([[0, 0]], [[3, 4]]), 10, 1e-15);
    expect(energyDistance([[0], [1]], [[0], [1]])).toBe(0);
    // x = {0, 2}, y = {1}: 2·1 − (0 + 2 + 2 + 0)/4 − 0 = 1
    close(energyDistance([[0], [2]], [[1]]), 1, 1e-15);
  });

  it("energyPermutationTest: p = 1/(R + 1) for well-separated samples", () => {
    const s = new GaussianStream("stats-test/energy");
    const x = Array.from({ length: 20 }, () => [s.normal(), s.normal()]);
    const y = Array.from({ length: 20 }, () => [10 + s.normal(), s.normal()]);
    expect(energyPermutationTest(x, y, s, 99).pValue).toBe(1 / 100);
  });

  it("bonferroni", () => {
    expect(bonferroni([0.01, 0.5, 0.2])).toBeCloseTo(0.03, 15);
    expect(bonferroni([0.9, 0.5])).toBe(1);
  });
});

/**
 * Calibration: under H₀ the fraction of p < 0.1 over R replications is Binomial(R, 0.1) (for the
 * discrete permutation test, at most that). Fixed seeds make this deterministic; the bound 0.1 ± 4 sd
 * is loose enough that a correct test is never near it and a mis-scaled one is.
 */
describe("calibration under H₀ (fixed seeds)", () => {
  const R = 300;
  const bound = (k: number) => {
    const sd = Math.sqrt((R * 0.1 * 0.9));
    expect(k).toBeLessThanOrEqual(R * 0.1 + 4 * sd);
  };
  const lowFraction = (f: (s: GaussianStream) => number, name: string) => {
    let k = 0;
    const ps: number[] = [];
    for (let r = 0; r < R; r++) {
      const p = f(new GaussianStream(`stats-calibration/${name}/${r}`));
      ps.push(p);
      if (p < 0.1) k++;
    }
    return { k, ps };
  };

  it.each([
    ["ksTestNormal", (s: GaussianStream) => ksTestNormal(Array.from(s.normals(50), (z) => 1 + 2 * z), 1, 4).pValue],
    ["ksTwoSample", (s: GaussianStream) => ksTwoSample(s.normals(40), s.normals(60)).pValue],
    ["zTestMean", (s: GaussianStream) => zTestMean(s.normals(30), 0, 1).pValue],
    ["varianceTest", (s: GaussianStream) => varianceTest(s.normals(200), 1).pValue],
    ["pearsonCorrelationTest", (s: GaussianStream) => pearsonCorrelationTest(s.normals(50), s.normals(50)).pValue],
    ["chiSquareTest", (s: GaussianStream) => {
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < 200; i++) counts[s.int(4)]++;
      return chiSquareTest(counts, [1, 1, 1, 1]).pValue;
    }],
  ])("%s gives uniform p-values", (name, f) => {
    const { k, ps } = lowFraction(f, name);
    bound(k);
    expect(k).toBeGreaterThanOrEqual(R * 0.1 - 4 * Math.sqrt(R * 0.09)); // not too conservative either
    expect(ksTest(ps, (p) => Math.min(Math.max(p, 0), 1)).pValue).toBeGreaterThan(1e-4);
  });

  it("energyPermutationTest is valid (P(p < 0.1) ≤ 0.1)", () => {
    const { k } = lowFraction((s) => {
      const x = Array.from({ length: 15 }, () => [s.normal(), s.normal()]);
      const y = Array.from({ length: 15 }, () => [s.normal(), s.normal()]);
      return energyPermutationTest(x, y, s, 39).pValue;
    }, "energy");
    bound(k);
  });

  it("binomialTest is valid (P(p < 0.1) ≤ 0.1)", () => {
    const { k } = lowFraction((s) => {
      let c = 0;
      for (let i = 0; i < 40; i++) if (s.uniform() < 0.3) c++;
      return binomialTest(c, 40, 0.3).pValue;
    }, "binomial");
    bound(k);
  });
});
