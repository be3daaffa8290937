/**
 * NOISE-PHILOX (reference/philox.ts): Philox4x32-10 against the published known-answer vectors of Random123
 * (tests/kat_vectors, the three "philox4x32 10" lines: counter, key → output), and the Box–Muller layer.
 */
import { describe, expect, test } from "vitest";
import { philox4x32, philoxKey, philoxNormals, philoxRandn } from "../reference/philox.ts";
import { ConfigError } from "../reference/errors.ts";

const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

describe("NOISE-PHILOX", () => {
  test("Philox4x32-10 reproduces Random123's known-answer vectors", () => {
    for (const [ctr, key, want] of KAT) expect(Array.from(philox4x32(ctr, key))).toEqual(want);
  });

  test("element 4j + q of draw (seed, index) is Box–Muller of block j's words under key (seed lo, seed hi), counter (j, 0, index lo, index hi)", () => {
    const seed = 2 ** 33 + 7;
    const index = 2 ** 32 + 5;
    const z = philoxNormals(12, seed, index);
    const [k0, k1] = philoxKey(seed);
    expect([k0, k1]).toEqual([7, 2]);
    for (let j = 0; j < 3; j++) {
      const x = philox4x32([j, 0, 5, 1], [k0, k1]);
      for (const p of [0, 2]) {
        const r = Math.sqrt(-2 * Math.log(((x[p] >>> 8) + 1) * 2 ** -24));
        const theta = 2 * Math.PI * (x[p + 1] >>> 8) * 2 ** -24;
        expect(z[4 * j + p]).toBe(r * Math.cos(theta));
        expect(z[4 * j + p + 1]).toBe(r * Math.sin(theta));
      }
    }
  });

  test("a prefix of a longer draw is the shorter draw (elements do not depend on the shape); shapes keep their dims", () => {
    const long = philoxNormals(103, 3, 4);
    expect(Array.from(philoxNormals(10, 3, 4))).toEqual(Array.from(long.subarray(0, 10)));
    expect(philoxRandn([2, 3], 3, 4).shape).toEqual([2, 3]);
  });

  test("draws are finite and within the 24-bit Box–Muller bound √(48 ln 2)", () => {
    const z = philoxNormals(100_000, 11, 0);
    const bound = Math.sqrt(48 * Math.LN2);
    expect(z.every((v) => Number.isFinite(v) && Math.abs(v) <= bound)).toBe(true);
  });

  test("a fractional or unsafe seed or index is a ConfigError", () => {
    expect(() => philoxNormals(4, 1.5, 0)).toThrow(ConfigError);
    expect(() => philoxNormals(4, 1, -1)).toThrow(ConfigError);
    expect(() => philoxNormals(4, 2 ** 53, 0)).toThrow(ConfigError);
  });
});
