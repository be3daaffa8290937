/**
 * BACKEND-RANDN — a backend's own counter-based noise, tested as samplers use it (spec/10-backends.md):
 * 1-D draws (determinism, moments, KS, neighbouring streams), batched draws (items neither identical nor
 * correlated), exact distinctness over a grid of (seed, index) pairs up to 2³¹ apart, and a variance test
 * whose power is derived, not hoped for.
 *
 * Statistical properties test at α = 1e-3 and reject only when two independent samples both reject
 * (conformance/check.ts `statisticalTest`: false-failure rate α² = 1e-6 per property).
 */
import fc from "fast-check";
import type { Backend, BTensor } from "../../adapters/contract.ts";
import type { PropertyContext, PropertyDef } from "../registry.ts";
import { checkProperty, PropertyFailure, statisticalTest } from "../check.ts";
import { SAMPLE_SCALE } from "../profiles.ts";
import { bonferroni, ksTestNormal, pearsonCorrelationTest, varianceTest, varianceTestSampleSize, zTestMean } from "../../reference/stats.ts";
import type { Shape } from "../../reference/tensor.ts";
import { size } from "../../reference/tensor.ts";
import { GaussianStream } from "../../reference/rng.ts";

type B = Backend<BTensor>;

const ALPHA = 1e-3;
const shapeText = (s: Shape): string => `[${s.join(", ")}]`;

/** Sample size of one statistical draw: 20 000 per profile unit (KS detects a sup-distance 0.014 at α = 1e-3). */
const randnSize = (ctx: PropertyContext): number => 20_000 * SAMPLE_SCALE[ctx.profile];

/**
 * The variance test's sample size: a 2 % change of the variance (either way) is detected at α = 1e-3 with
 * power ≥ 0.99 for the whole retried test (both samples must reject, so each needs power ≥ √0.99 ≈ 0.995):
 * n = 2((z_{1−α/2} + 1.02·z_{0.995})/0.02)² = 175 054 (reference/stats.ts varianceTestSampleSize).
 */
export const VARIANCE_DELTA = 0.02;
export const VARIANCE_POWER = 0.99;
export const varianceSampleSize = (): number => varianceTestSampleSize(VARIANCE_DELTA, ALPHA, Math.sqrt(VARIANCE_POWER));

/** Far-apart offsets of the distinctness grid: neighbours and the counter widths where a port truncates (8, 16, 24, 31 bits). */
export const GRID_OFFSETS: readonly number[] = [0, 1, 2 ** 8, 2 ** 16, 2 ** 24, 2 ** 31];
/** A run of this many equal consecutive values shared by two draws (or two places in one) is a stream collision. */
const COLLISION_RUN = 4;

const release = (b: B, ...ts: (BTensor | undefined)[]): void => {
  for (const t of ts) if (t) b.dispose?.(t);
};

function expectShape(what: string, t: BTensor, shape: Shape): void {
  if (!t || !Array.isArray(t.shape) && !ArrayBuffer.isView(t.shape)) throw new Error(`${what}: the backend returned ${t === undefined ? "undefined" : "an object without a shape"}`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`${what}: shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`);
}

/** randn(shape, seed, index) read back, with its shape and finiteness checked. */
async function drawShaped(b: B, shape: Shape, seed: number, index: number): Promise<Float64Array> {
  const what = `randn(${shapeText(shape)}, ${seed}, ${index})`;
  const t = await b.randn!(shape, seed, index);
  expectShape(what, t, shape);
  const v = await b.toHost(t);
  release(b, t);
  if (v.length !== size(shape)) throw new PropertyFailure(`${what} returned ${v.length} values, expected ${size(shape)}`);
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new PropertyFailure(`${what} holds a non-finite value ${v[i]} at index ${i}`);
  return v;
}

const draw = (b: B, n: number, seed: number, index: number): Promise<Float64Array> => drawShaped(b, [n], seed, index);

/** A (seed, index) pair for one statistical draw, chosen from the test's own stream (never a hand-picked seed). */
const streamId = (g: GaussianStream): [number, number] => [g.int(2 ** 31), g.int(10_000)];

/**
 * The first run of ≥ COLLISION_RUN equal consecutive values shared by two draws (or by two positions of one
 * draw), or null. Values are compared exactly; a chance coincidence of 4 consecutive normals is impossible
 * in practice (each matching value has probability ≲ 2⁻²⁰ even in float32).
 */
export function findCollision(draws: readonly { label: string; data: Float64Array }[]): string | null {
  const seen = new Map<number, [number, number][]>();
  for (let d = 0; d < draws.length; d++) {
    const x = draws[d].data;
    for (let p = 0; p + COLLISION_RUN <= x.length; p++) {
      const earlier = seen.get(x[p]);
      if (earlier) {
        for (const [d2, p2] of earlier) {
          const y = draws[d2].data;
          let k = 1;
          while (k < COLLISION_RUN && p2 + k < y.length && Object.is(x[p + k], y[p2 + k])) k++;
          if (k === COLLISION_RUN) return `${draws[d].label} at element ${p} repeats ${draws[d2].label} at element ${p2} (${COLLISION_RUN}+ equal consecutive values, e.g. ${x[p]})`;
        }
        earlier.push([d, p]);
      } else seen.set(x[p], [[d, p]]);
    }
  }
  return null;
}

/** Batch items of a draw: B items and their size. */
const BATCH: Shape = [4, 1, 64, 64];

/** Not named `properties`: the runner loads every module of this folder, and these are part of backend.ts's list. */
export const randnProperties: PropertyDef[] = [
  {
    clause: "BACKEND-RANDN",
    name: "deterministic-finite-and-shaped",
    scope: "backend",
    kind: "property",
    needs: ["randn"],
    async run(ctx) {
      const b = ctx.backend as B;
      const arb = fc.record({ shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), index: fc.nat(100_000) });
      await checkProperty(
        ctx,
        fc.asyncProperty(arb, async ({ shape, seed, index }) => {
          const a = await drawShaped(b, shape, seed, index);
          const c = await drawShaped(b, shape, seed, index);
          for (let i = 0; i < a.length; i++) {
            if (!Object.is(a[i], c[i])) throw new Error(`not deterministic: two draws of (seed ${seed}, index ${index}) differ at element ${i}: ${a[i]} vs ${c[i]}`);
          }
        }),
        Math.min(ctx.numRuns, 15),
      );
    },
  },
  {
    clause: "BACKEND-RANDN",
    name: "mean-and-variance",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** z-tests of mean 0 and variance 1 (known-variance normal z, and (x²) mean with Var x² = 2), Bonferroni over 2: α = 1e-3. */
    async run(ctx) {
      const b = ctx.backend as B;
      await statisticalTest(ctx, "BACKEND-RANDN mean-and-variance", ALPHA, async (g) => {
        const x = await draw(b, randnSize(ctx), ...streamId(g));
        return bonferroni([zTestMean(x, 0, 1).pValue, varianceTest(x, 1, { mean: 0 }).pValue]);
      });
    },
  },
  {
    clause: "BACKEND-RANDN",
    name: "variance-detects-2-percent",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /**
     * The variance test (mean 0 known, Var σ̂² = 2/n) at α = 1e-3 on n = varianceSampleSize() = 175 054 draws,
     * split over a batch of 7 (a sampler's shape): a variance off by 2 % either way fails with probability ≥ 0.99.
     */
    async run(ctx) {
      const b = ctx.backend as B;
      const n = varianceSampleSize();
      const per = Math.ceil(n / 7);
      await statisticalTest(ctx, "BACKEND-RANDN variance-detects-2-percent", ALPHA, async (g) => {
        const [seed, index] = streamId(g);
        return varianceTest(await drawShaped(b, [7, per], seed, index), 1, { mean: 0 }).pValue;
      });
    },
  },
  {
    clause: "BACKEND-RANDN",
    name: "ks-normality",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /** One-sample Kolmogorov–Smirnov test against N(0, 1), α = 1e-3. */
    async run(ctx) {
      const b = ctx.backend as B;
      await statisticalTest(ctx, "BACKEND-RANDN ks-normality", ALPHA, async (g) => ksTestNormal(await draw(b, randnSize(ctx), ...streamId(g))).pValue);
    },
  },
  {
    clause: "BACKEND-RANDN",
    name: "independent-streams",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /**
     * Correlation z-tests (Fisher) between (seed, index) and (seed, index + 1), between (seed, index) and
     * (seed + 1, index), and of lag-1 pairs within one draw; Bonferroni over 3: α = 1e-3.
     */
    async run(ctx) {
      const b = ctx.backend as B;
      await statisticalTest(ctx, "BACKEND-RANDN independent-streams", ALPHA, async (g) => {
        const n = randnSize(ctx);
        const [seed, index] = streamId(g);
        const a = await draw(b, n, seed, index);
        const next = await draw(b, n, seed, index + 1);
        const other = await draw(b, n, seed + 1, index);
        return bonferroni([pearsonCorrelationTest(a, next).pValue, pearsonCorrelationTest(a, other).pValue, pearsonCorrelationTest(a.subarray(0, n - 1), a.subarray(1)).pValue]);
      });
    },
  },
  {
    clause: "BACKEND-RANDN",
    name: "batch-items-differ-and-are-uncorrelated",
    scope: "backend",
    kind: "statistical",
    needs: ["randn"],
    /**
     * One draw of shape [4, 1, 64, 64] (a sampler's batch): no two items are equal (exact; a failure at
     * once), and the 6 pairs of items are uncorrelated — Fisher-z tests on values and on squares (a shared
     * radius or scale shows in the squares), Bonferroni over 12, α = 1e-3. At 4 096 values per item the test
     * detects a correlation |ρ| ≥ 0.1 with power ≥ 0.98 (both samples rejecting).
     */
    async run(ctx) {
      const b = ctx.backend as B;
      const [B_, ...item] = BATCH;
      const per = size(item);
      await statisticalTest(ctx, "BACKEND-RANDN batch-items-differ-and-are-uncorrelated", ALPHA, async (g) => {
        const [seed, index] = streamId(g);
        const x = await drawShaped(b, BATCH, seed, index);
        const items = Array.from({ length: B_ }, (_, k) => x.subarray(k * per, (k + 1) * per));
        const sq = items.map((v) => v.map((u) => u * u));
        const ps: number[] = [];
        for (let i = 0; i < B_; i++) {
          for (let j = i + 1; j < B_; j++) {
            if (items[i].every((v, e) => Object.is(v, items[j][e]))) throw new PropertyFailure(`randn(${shapeText(BATCH)}, ${seed}, ${index}): batch items ${i} and ${j} are identical`, ctx.seed);
            ps.push(pearsonCorrelationTest(items[i], items[j]).pValue, pearsonCorrelationTest(sq[i], sq[j]).pValue);
          }
        }
        return bonferroni(ps);
      });
    },
  },
  {
    clause: "BACKEND-RANDN",
    name: "distinct-over-a-seed-index-grid",
    scope: "backend",
    kind: "property",
    needs: ["randn"],
    /**
     * Draws of shape [2, 32] at every (seed + Δs, index + Δi) with Δs, Δi ∈ GRID_OFFSETS (36 draws): no run of
     * 4 equal consecutive values appears twice — not within a draw, not across draws (a counter that wraps at
     * 2⁸, 2¹⁶, 2²⁴ or 2³¹, or a stream key like seed + index, makes two of them coincide, possibly shifted).
     */
    async run(ctx) {
      const b = ctx.backend as B;
      const arb = fc.record({ seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), index: fc.nat(2 ** 20) });
      await checkProperty(
        ctx,
        fc.asyncProperty(arb, async ({ seed, index }) => {
          const draws: { label: string; data: Float64Array }[] = [];
          for (const ds of GRID_OFFSETS) {
            for (const di of GRID_OFFSETS) draws.push({ label: `(seed ${seed + ds}, index ${index + di})`, data: await drawShaped(b, [2, 32], seed + ds, index + di) });
          }
          const hit = findCollision(draws);
          if (hit) throw new Error(`two noise streams collide: ${hit}`);
        }),
        Math.min(ctx.numRuns, 4),
      );
    },
  },
];
