/**
 * NOISE-STREAM, NOISE-NORMAL, NOISE-INDEPENDENT, NOISE-UNIFORM, NOISE-FINITE, NOISE-RECORDED, NOISE-PHILOX
 * (spec/01-distributions.md). They check the reference generator (reference/rng.ts), so their scope
 * is "spec"; a backend's own generator is checked by BACKEND-RANDN (spec/10-backends.md).
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, statisticalTest } from "../check.ts";
import { GaussianStream, RecordedNoise, childStream } from "../../reference/rng.ts";
import { ConfigError, ShapeError, StateError } from "../../reference/errors.ts";
import { bonferroni, chiSquareTest, energyPermutationTest, ksTest, ksTestNormal, pearsonCorrelationTest, twoSidedNormalP, zTestMean } from "../../reference/stats.ts";
import { expectTypedError, sampleSize } from "./distributions.ts";
import { philox4x32, philoxKey, philoxNormals } from "../../reference/philox.ts";

/** Random123's known-answer vectors for Philox4x32-10 (tests/kat_vectors): counter, key → output. */
const PHILOX_KAT: readonly [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

const seedArb = fc.oneof(fc.integer(), fc.string({ maxLength: 12 }));
/** √(−2 ln 2⁻⁵³): the largest radius Box–Muller can produce from u₁ ∈ [2⁻⁵³, 1]. */
const MAX_RADIUS = Math.sqrt(-2 * Math.log(2 ** -53));

export const properties = defineProperties([
  {
    clause: "NOISE-STREAM",
    name: "same-seed-same-stream",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(seedArb, fc.array(fc.constantFrom("normal", "uniform", "open", "int", "randn"), { minLength: 1, maxLength: 40 }), (seed, ops) => {
          // Any interleaving of calls replays bit for bit from the seed.
          const a = new GaussianStream(seed);
          const b = new GaussianStream(seed);
          const draw = (g: GaussianStream, op: string): number[] =>
            op === "normal" ? [g.normal()] : op === "uniform" ? [g.uniform()] : op === "open" ? [g.uniformOpenAtZero()] : op === "int" ? [g.int(7)] : Array.from(g.randn([2, 3]).data);
          for (const op of ops) {
            const x = draw(a, op);
            const y = draw(b, op);
            expect(x.every((v, i) => Object.is(v, y[i])), `${op}: [${x}] vs [${y}]`);
          }
        }),
      ),
  },
  {
    clause: "NOISE-STREAM",
    name: "different-seeds-give-different-streams",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(seedArb, seedArb, (s1, s2) => {
          fc.pre(String(s1) !== String(s2));
          const a = new GaussianStream(s1).normals(8);
          const b = new GaussianStream(s2).normals(8);
          expect(a.some((v, i) => v !== b[i]), `seeds ${JSON.stringify(s1)} and ${JSON.stringify(s2)} give the same 8 normals`);
        }),
      ),
  },
  {
    clause: "NOISE-STREAM",
    name: "child-streams-are-deterministic-and-distinct",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(seedArb, fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 8 }), (seed, n1, n2) => {
          const a = childStream(seed, n1).normals(4);
          expect(a.every((v, i) => v === childStream(seed, n1).normals(4)[i]), "a child stream does not replay");
          expect(new GaussianStream(seed).normals(4).some((v, i) => v !== a[i]), "a child stream equals its parent");
          if (n1 !== n2) expect(childStream(seed, n2).normals(4).some((v, i) => v !== a[i]), `children "${n1}" and "${n2}" coincide`);
        }),
      ),
  },
  {
    clause: "NOISE-NORMAL",
    name: "moments-are-standard-normal",
    scope: "spec",
    kind: "statistical",
    // z-tests of E z = 0 (Var 1), E z² = 1 (Var 2) and E z⁴ = 3 (Var E z⁸ − 9 = 96), Bonferroni over 3, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "NOISE-NORMAL moments-are-standard-normal", 0.01, (s) => {
        const n = sampleSize(ctx, 20000);
        const z = s.normals(n);
        let m1 = 0;
        let m2 = 0;
        let m4 = 0;
        for (const v of z) { m1 += v; m2 += v * v; m4 += v ** 4; }
        const sn = Math.sqrt(n);
        return bonferroni([twoSidedNormalP((m1 / n) * sn), twoSidedNormalP(((m2 / n - 1) * sn) / Math.SQRT2), twoSidedNormalP(((m4 / n - 3) * sn) / Math.sqrt(96))]);
      }),
  },
  {
    clause: "NOISE-NORMAL",
    name: "ks-test-against-standard-normal",
    scope: "spec",
    kind: "statistical",
    // One-sample Kolmogorov–Smirnov test against 𝒩(0, 1), α = 0.01.
    run: (ctx) => statisticalTest(ctx, "NOISE-NORMAL ks-test-against-standard-normal", 0.01, (s) => ksTestNormal(s.normals(sampleSize(ctx, 5000))).pValue),
  },
  {
    clause: "NOISE-NORMAL",
    name: "box-muller-pairs-have-chi-square-radius-and-uniform-angle",
    scope: "spec",
    kind: "statistical",
    // For consecutive pairs (z₂ₖ, z₂ₖ₊₁): r² ~ χ²₂ (CDF 1 − e^{−r²/2}) and the angle ~ U(−π, π]; KS tests, Bonferroni over 2, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "NOISE-NORMAL box-muller-pairs-have-chi-square-radius-and-uniform-angle", 0.01, (s) => {
        const n = sampleSize(ctx, 3000);
        const z = s.normals(2 * n);
        const r2 = Array.from({ length: n }, (_, k) => z[2 * k] ** 2 + z[2 * k + 1] ** 2);
        const angle = Array.from({ length: n }, (_, k) => Math.atan2(z[2 * k + 1], z[2 * k]));
        return bonferroni([ksTest(r2, (x) => 1 - Math.exp(-x / 2)).pValue, ksTest(angle, (a) => (a + Math.PI) / (2 * Math.PI)).pValue]);
      }),
  },
  {
    clause: "NOISE-INDEPENDENT",
    name: "two-streams-are-uncorrelated",
    scope: "spec",
    kind: "statistical",
    // Pearson correlation of paired draws of two seeds (Fisher z), values and squares, Bonferroni over 2, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "NOISE-INDEPENDENT two-streams-are-uncorrelated", 0.01, (s) => {
        const n = sampleSize(ctx, 5000);
        const other = new GaussianStream(`${s.seed}/other`);
        const a = s.normals(n);
        const b = other.normals(n);
        return bonferroni([pearsonCorrelationTest(a, b).pValue, pearsonCorrelationTest(a.map((v) => v * v), b.map((v) => v * v)).pValue]);
      }),
  },
  {
    clause: "NOISE-INDEPENDENT",
    name: "consecutive-draws-are-uncorrelated",
    scope: "spec",
    kind: "statistical",
    // Lag-1 and lag-2 Pearson correlation of one stream, values and squares (the squares see a broken
    // Box–Muller pairing that linear correlation misses), Bonferroni over 4, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "NOISE-INDEPENDENT consecutive-draws-are-uncorrelated", 0.01, (s) => {
        const n = sampleSize(ctx, 5000);
        const z = s.normals(n + 2);
        const sq = z.map((v) => v * v);
        const lag = (a: Float64Array, k: number) => pearsonCorrelationTest(a.subarray(0, n), a.subarray(k, n + k)).pValue;
        return bonferroni([lag(z, 1), lag(z, 2), lag(sq, 1), lag(sq, 2)]);
      }),
  },
  {
    clause: "NOISE-INDEPENDENT",
    name: "consecutive-pairs-have-the-product-law",
    scope: "spec",
    kind: "statistical",
    // Energy-distance permutation test (199 permutations) between consecutive pairs (z₂ₖ, z₂ₖ₊₁) of one
    // stream and pairs taken from two different streams, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "NOISE-INDEPENDENT consecutive-pairs-have-the-product-law", 0.01, (s) => {
        const n = sampleSize(ctx, 150);
        const z = s.normals(2 * n);
        const u = new GaussianStream(`${s.seed}/u`);
        const w = new GaussianStream(`${s.seed}/w`);
        const pairs = Array.from({ length: n }, (_, k) => [z[2 * k], z[2 * k + 1]]);
        const independent = Array.from({ length: n }, () => [u.normal(), w.normal()]);
        return energyPermutationTest(pairs, independent, new GaussianStream(`${s.seed}/perm`), 199).pValue;
      }),
  },
  {
    clause: "NOISE-UNIFORM",
    name: "uniforms-and-integers-stay-in-range",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(seedArb, fc.integer({ min: 1, max: 1000 }), (seed, k) => {
          const g = new GaussianStream(seed);
          for (let i = 0; i < 200; i++) {
            const u = g.uniform();
            const o = g.uniformOpenAtZero();
            const j = g.int(k);
            expect(u >= 0 && u < 1, `uniform() = ${u} outside [0, 1)`);
            expect(o > 0 && o <= 1, `uniformOpenAtZero() = ${o} outside (0, 1]`);
            expect(Number.isInteger(j) && j >= 0 && j < k, `int(${k}) = ${j}`);
          }
        }),
      ),
  },
  {
    clause: "NOISE-UNIFORM",
    name: "uniforms-pass-ks-and-integers-pass-chi-square",
    scope: "spec",
    kind: "statistical",
    // KS of uniform() against U(0, 1) and χ² of int(10) counts (9 df), Bonferroni over 2, α = 0.01.
    run: (ctx) =>
      statisticalTest(ctx, "NOISE-UNIFORM uniforms-pass-ks-and-integers-pass-chi-square", 0.01, (s) => {
        const n = sampleSize(ctx, 5000);
        const u = Array.from({ length: n }, () => s.uniform());
        const counts = new Array(10).fill(0);
        for (let i = 0; i < n; i++) counts[s.int(10)]++;
        return bonferroni([ksTest(u, (x) => Math.min(Math.max(x, 0), 1)).pValue, chiSquareTest(counts, new Array(10).fill(1)).pValue]);
      }),
  },
  {
    clause: "NOISE-FINITE",
    name: "draws-are-finite-and-bounded",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(seedArb, (seed) => {
          const t = new GaussianStream(seed).randn([4, 250]);
          expect(t.data.length === 1000, "randn([4, 250]) has the wrong size");
          const bad = t.data.findIndex((v) => !Number.isFinite(v) || Math.abs(v) > MAX_RADIUS);
          expect(bad < 0, `draw ${bad} = ${t.data[bad]} is not finite or exceeds the Box–Muller bound ${MAX_RADIUS}`);
        }),
      ),
  },
  {
    clause: "NOISE-FINITE",
    name: "many-draws-never-nan-or-infinite",
    scope: "spec",
    kind: "example",
    run: (ctx) => {
      const n = sampleSize(ctx, 200_000);
      const z = new GaussianStream(`${ctx.seed}/NOISE-FINITE`).normals(n);
      let maxAbs = 0;
      for (let i = 0; i < n; i++) {
        expect(Number.isFinite(z[i]), `draw ${i} = ${z[i]}`);
        maxAbs = Math.max(maxAbs, Math.abs(z[i]));
      }
      expect(maxAbs <= MAX_RADIUS, `max |z| = ${maxAbs} > ${MAX_RADIUS}`);
    },
  },
  {
    clause: "NOISE-RECORDED",
    name: "replays-arrays-in-order",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(fc.array(fc.double({ noNaN: true }), { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 5 }), (arrays) => {
          const r = new RecordedNoise(arrays);
          arrays.forEach((a, k) => {
            const t = r.randn([2, 3]);
            expect(t.shape.join() === "2,3" && a.every((v, i) => Object.is(v, t.data[i])), `draw ${k} differs from the recording`);
          });
          expect(r.used === arrays.length, `used = ${r.used}`);
          expectTypedError("draw past the end", () => r.randn([2, 3]), StateError);
        }),
      ),
  },
  {
    clause: "NOISE-RECORDED",
    name: "mis-sized-draw-is-shape-error",
    scope: "spec",
    kind: "example",
    run: () => expectTypedError("5 values for shape [2, 3]", () => new RecordedNoise([[1, 2, 3, 4, 5]]).randn([2, 3]), ShapeError, "recorded noise 0"),
  },
  {
    clause: "NOISE-NORMAL",
    name: "randn-tensor-mean-is-zero",
    scope: "spec",
    kind: "statistical",
    // z-test of the mean of randn tensors (shape [8, 64]) with known variance 1, α = 0.01: randn uses the same stream as normal().
    run: (ctx) =>
      statisticalTest(ctx, "NOISE-NORMAL randn-tensor-mean-is-zero", 0.01, (s) => zTestMean(s.randn([8 * sampleSize(ctx, 10), 64]).data, 0, 1).pValue),
  },
  {
    clause: "NOISE-PHILOX",
    name: "known-answer-vectors",
    scope: "spec",
    kind: "example",
    run: () => {
      for (const [ctr, key, want] of PHILOX_KAT) {
        const got = Array.from(philox4x32(ctr, key));
        expect(got.every((v, i) => v === want[i]), `philox4x32-10(ctr [${ctr.map((v) => v.toString(16))}], key [${key.map((v) => v.toString(16))}]) = [${got.map((v) => v.toString(16))}], Random123 says [${want.map((v) => v.toString(16))}]`);
      }
    },
  },
  {
    clause: "NOISE-PHILOX",
    name: "box-muller-of-the-block-words",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.maxSafeInteger(), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat(40), (seed, index, j) => {
          const z = philoxNormals(4 * j + 4, seed, index);
          const x = philox4x32([j, 0, index >>> 0, Math.floor(index / 2 ** 32) >>> 0], philoxKey(seed));
          for (const p of [0, 2]) {
            const r = Math.sqrt(-2 * Math.log(((x[p] >>> 8) + 1) * 2 ** -24));
            const theta = 2 * Math.PI * ((x[p + 1] >>> 8) * 2 ** -24);
            expect(z[4 * j + p] === r * Math.cos(theta) && z[4 * j + p + 1] === r * Math.sin(theta), `elements ${4 * j + p}, ${4 * j + p + 1} of (seed ${seed}, index ${index}) are not Box–Muller of block ${j}'s words`);
          }
        }),
      ),
  },
  {
    clause: "NOISE-PHILOX",
    name: "finite-bounded-and-prefix-stable",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.nat(2 ** 40), fc.integer({ min: 1, max: 300 }), (seed, index, n) => {
          const long = philoxNormals(n + 7, seed, index);
          const short = philoxNormals(n, seed, index);
          const bound = Math.sqrt(48 * Math.LN2);
          expect(short.every((v, i) => Object.is(v, long[i])), `the first ${n} of ${n + 7} normals differ from a draw of ${n}`);
          expect(long.every((v) => Number.isFinite(v) && Math.abs(v) <= bound), `a draw is not finite or exceeds √(48 ln 2)`);
          expectTypedError("a fractional seed", () => philoxNormals(2, seed + 0.5, index), ConfigError);
          expectTypedError("a negative index", () => philoxNormals(2, seed, -1 - index), ConfigError);
        }),
      ),
  },
]);
