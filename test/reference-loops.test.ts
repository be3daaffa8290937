/**
 * The reference's plain loops (reference/tensor.ts linearCombination and clampTensor, reference/threshold.ts
 * quantileBySelection) give exactly the numbers of their one-line definitions: the term-order sum, the
 * Math.min/Math.max clamp, the quantile of the fully sorted values.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { clampTensor, linearCombination } from "../reference/tensor.ts";
import { quantileBySelection, quantileSorted, selectKth } from "../reference/threshold.ts";

const values = (maxLength: number) =>
  fc.array(fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(0, -0, 1, -1, 2.5, Infinity, -Infinity)), { minLength: 1, maxLength });

describe("reference loops", () => {
  test("linearCombination is Σₖ cₖ·tₖ summed in term order from 0, zero coefficients skipped, across block boundaries", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 6 }), fc.integer(), (n, coeffs, seed) => {
        const terms = coeffs.map((_, k) => ({ shape: [n], data: Float64Array.from({ length: n }, (_, i) => Math.sin(seed + 7 * k + i * 0.37) * 10 ** ((i % 7) - 3)) }));
        const got = linearCombination(terms, coeffs).data;
        for (let i = 0; i < n; i++) {
          let s = 0;
          coeffs.forEach((c, k) => { if (c !== 0) s += c * terms[k].data[i]; });
          if (!Object.is(got[i], s)) throw new Error(`element ${i}: ${got[i]} vs ${s}`);
        }
      }),
      { numRuns: 30, seed: 18 },
    );
  });

  test("clampTensor is Math.min(Math.max(x, lo), hi)", () => {
    fc.assert(
      fc.property(values(50), fc.double({ min: -3, max: 0, noNaN: true }), fc.double({ min: 0, max: 3, noNaN: true }), (xs, lo, hi) => {
        const got = clampTensor({ shape: [xs.length], data: Float64Array.from(xs) }, lo, hi).data;
        xs.forEach((x, i) => expect(Object.is(got[i], Math.min(Math.max(x, lo), hi))).toBe(true));
      }),
      { numRuns: 100, seed: 18 },
    );
  });

  test("quantileBySelection equals the quantile of the sorted values (ties, infinities, NaN, every q)", () => {
    fc.assert(
      fc.property(values(300), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), (xs, q, withNaN) => {
        const a = Float64Array.from(withNaN ? [...xs, NaN] : xs);
        const want = quantileSorted(a.slice().sort(), q);
        expect(Object.is(quantileBySelection(a.slice(), q), want) || (Number.isNaN(want) && Number.isNaN(quantileBySelection(a.slice(), q)))).toBe(true);
      }),
      { numRuns: 300, seed: 18 },
    );
  });

  test("selectKth leaves a[k] in its sorted place with smaller values before it and larger after", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 200 }), fc.nat(), (xs, r) => {
        const a = Float64Array.from(xs);
        const k = r % a.length;
        const v = selectKth(a, k);
        expect(v).toBe(Float64Array.from(xs).sort()[k]);
        for (let i = 0; i < k; i++) expect(a[i]).toBeLessThanOrEqual(v);
        for (let i = k + 1; i < a.length; i++) expect(a[i]).toBeGreaterThanOrEqual(v);
      }),
      { numRuns: 300, seed: 18 },
    );
  });
});
