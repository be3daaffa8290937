/**
 * The wasm-simd backend (adapters/wasm): its kernels bit for bit against a JavaScript emulation of the
 * same float32/float64 operation order (so the SIMD lanes and the scalar tail agree for every length,
 * including lengths not divisible by 4 or 8), within the tolerance table against the Float64 reference,
 * the allocator (reuse, growth, disposal), and memory that stays bounded over 1000-step runs through
 * fused + trackMemory with runPipeline's per-step sweep. Plus a smoke run of bench/sampler-overhead.ts.
 */
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { createWasmBackend, createFusedWasmBackend, sweepingFused, MAX_TERMS, type WasmBackend, type WasmTensor } from "../adapters/wasm/index.ts";
import { kernelModuleText } from "../adapters/wasm/kernels.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import { tolerance } from "../conformance/tolerances.ts";
import { GaussianStream } from "../reference/rng.ts";
import { dynamicThreshold, quantileSorted } from "../reference/threshold.ts";
import { linearCombination } from "../reference/tensor.ts";
import { StateError, ConfigError, ShapeError } from "../reference/errors.ts";
import { createScheduler } from "../reference/samplers/index.ts";
import { backendNoise, runPipeline } from "../reference/samplers/scheduler.ts";
import type { Denoiser } from "../adapters/contract.ts";
import type { LinearForm } from "../adapters/fused.ts";
import { missingCases, OVERHEAD_CASES, runSamplerOverheadBench } from "../bench/sampler-overhead.ts";

const f32 = Math.fround;
const wasm = await createWasmBackend();
const wasm64 = await createWasmBackend({ combine: "f64" });

/** Lengths around the 8-float SIMD body and the scalar tail. */
const arbLength = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 60, max: 300 }), fc.constantFrom(1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1023));
const arbCoeff = fc.oneof(fc.constant(0), fc.constant(1), fc.constant(-1), fc.double({ min: -10, max: 10, noNaN: true }), fc.double({ min: -1e-3, max: 1e-3, noNaN: true }));

function data(seed: number, n: number, subnormals = true): Float64Array {
  const g = new GaussianStream(`wasm-test/${seed}`);
  return Float64Array.from({ length: n }, () => {
    const r = g.uniform();
    if (subnormals && r < 0.05) return (g.uniform() < 0.5 ? -1 : 1) * 1e-41;
    if (r < 0.1) return 0;
    return g.normal() * 10 ** (4 * g.uniform() - 2);
  });
}

/**
 * What the f32 kernel computes: ((c₀·x₀) + c₁·x₁) + …, every coefficient, product and sum rounded to float32.
 * (Beyond MAX_TERMS the backend continues from the stored partial sum with coefficient 1, which is exact.)
 */
function emulateF32(xs: readonly Float64Array[], cs: readonly number[]): Float64Array {
  const live = cs.map((c, k) => [c, k] as const).filter(([c]) => c !== 0);
  return Float64Array.from({ length: xs[0].length }, (_, i) => {
    if (live.length === 0) return 0;
    let acc = f32(f32(live[0][0]) * f32(xs[live[0][1]][i]));
    for (let j = 1; j < live.length; j++) acc = f32(acc + f32(f32(live[j][0]) * f32(xs[live[j][1]][i])));
    return acc;
  });
}

/** What the f64 kernel computes for ≤ MAX_TERMS live terms: Σ cⱼ·xⱼ in Float64 (in order), rounded once. */
function emulateF64(xs: readonly Float64Array[], cs: readonly number[]): Float64Array {
  const live = cs.map((c, k) => [c, k] as const).filter(([c]) => c !== 0);
  return Float64Array.from({ length: xs[0].length }, (_, i) => {
    if (live.length === 0) return 0;
    let acc = live[0][0] * f32(xs[live[0][1]][i]);
    for (let j = 1; j < live.length; j++) acc += live[j][0] * f32(xs[live[j][1]][i]);
    return f32(acc);
  });
}

const sameBits = (got: ArrayLike<number>, want: ArrayLike<number>): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!(Object.is(got[i], want[i]) || (got[i] === 0 && want[i] === 0))) expect.fail(`element ${i}: got ${got[i]}, expected ${want[i]}`);
};

describe("kernels", () => {
  test("the module is generated text with combine for 1 … MAX_TERMS terms in both modes (assembled at start-up)", () => {
    const text = kernelModuleText();
    for (let k = 1; k <= MAX_TERMS; k++) {
      expect(text).toContain(`"combine_f32_${k}"`);
      expect(text).toContain(`"combine_f64_${k}"`);
    }
    expect(text).toContain("f32x4.mul");
  });

  test("combine (f32) equals the float32 emulation bit for bit, for every length and up to 12 terms (chunked)", async () => {
    await fc.assert(
      fc.asyncProperty(arbLength, fc.array(arbCoeff, { minLength: 1, maxLength: 12 }), fc.nat(1e6), async (n, cs, seed) => {
        const xs = cs.map((_, k) => data(seed + k, n));
        const ts = xs.map((x) => wasm.fromHost(x, [n]));
        const out = wasm.combine(ts, cs);
        sameBits(wasm.toHost(out), emulateF32(xs, cs));
        [...ts, out].forEach((t) => wasm.dispose(t));
      }),
      { numRuns: 150, seed: 1 },
    );
  });

  test("combine (f64 mode) equals Float64 accumulation rounded once, bit for bit", async () => {
    await fc.assert(
      fc.asyncProperty(arbLength, fc.array(arbCoeff, { minLength: 1, maxLength: MAX_TERMS }), fc.nat(1e6), async (n, cs, seed) => {
        const xs = cs.map((_, k) => data(seed + k, n));
        const ts = xs.map((x) => wasm64.fromHost(x, [n]));
        const out = wasm64.combine(ts, cs);
        sameBits(wasm64.toHost(out), emulateF64(xs, cs));
        [...ts, out].forEach((t) => wasm64.dispose(t));
      }),
      { numRuns: 100, seed: 2 },
    );
  });

  test("combine in both modes is within the float32 combine row of conformance/tolerances.ts against the reference", () => {
    for (const b of [wasm, wasm64]) {
      for (const [n, cs] of [[1037, [0.9995, -0.0316, 0.0224]], [5, [1, -1]], [64, [3, -2, 1e-3, 7, -0.5, 2, 1, 1, -4, 0.25]]] as const) {
        const xs = cs.map((_, k) => data(100 + k, n, false));
        const got = b.toHost(b.combine(xs.map((x) => b.fromHost(x, [n])), cs));
        const want = linearCombination(xs.map((x) => ({ shape: [n], data: x })), cs).data;
        for (let i = 0; i < n; i++) {
          const mag = xs.reduce((s, x, k) => s + Math.abs(cs[k] * x[i]), 0);
          const { atol } = tolerance("float32", "combine", { terms: cs.length, magnitude: mag, coeffAbsSum: cs.reduce((s, c) => s + Math.abs(c), 0) });
          expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(atol);
        }
      }
    }
  });

  test("zero coefficients are skipped (0·∞ is not NaN), all-zero gives zeros", () => {
    const x = wasm.fromHost([Infinity, 1, -Infinity, 2, 3], [5]);
    const y = wasm.fromHost([1, 2, 3, 4, 5], [5]);
    expect(Array.from(wasm.toHost(wasm.combine([x, y], [0, 2])))).toEqual([2, 4, 6, 8, 10]);
    expect(Array.from(wasm.toHost(wasm.combine([x, y], [0, -0])))).toEqual([0, 0, 0, 0, 0]);
  });

  test("clamp equals the float32 emulation; NaN stays NaN; NaN bounds give NaN as Math.max/min do", () => {
    for (const n of [1, 3, 8, 13, 100]) {
      const x = data(7 + n, n);
      x[0] = NaN;
      const t = wasm.fromHost(x, [n]);
      for (const [lo, hi] of [[-1, 1], [-0.1, 0.3], [0.5, 0.5], [-1e-3, 1e3]]) {
        const want = Float64Array.from(x, (v) => Math.min(Math.max(f32(v), f32(lo)), f32(hi)));
        sameBits(wasm.toHost(wasm.clamp(t, lo, hi)), want);
      }
      expect(Array.from(wasm.toHost(wasm.clamp(t, NaN, 1))).every(Number.isNaN)).toBe(true);
    }
  });

  test("threshold: the quantile is the reference's (radix select = full sort), outputs bit for bit clamp(x, −s, s)/s in float32", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), arbLength, fc.nat(1e6), fc.oneof(fc.constant(0.995), fc.constant(1), fc.constant(0.5), fc.double({ min: 0.01, max: 1, noNaN: true })), fc.oneof(fc.constant(1), fc.double({ min: 1, max: 20, noNaN: true })), fc.boolean(), async (B, per, seed, ratio, maxValue, ties) => {
        const x = data(seed, B * per);
        if (ties) for (let i = 0; i < x.length; i += 2) x[i] = 2.5; // many equal values: one bin holds them all
        const t = wasm.fromHost(x, [B, per]);
        const held = wasm.toHost(t);
        const got = wasm.toHost(wasm.threshold(t, ratio, maxValue));
        const want = new Float64Array(B * per);
        for (let b = 0; b < B; b++) {
          const item = held.subarray(b * per, (b + 1) * per);
          const s = f32(Math.min(Math.max(quantileSorted(Float64Array.from(item, Math.abs).sort(), ratio), 1), maxValue));
          for (let i = 0; i < per; i++) want[b * per + i] = f32(Math.min(Math.max(item[i], -s), s) / s);
        }
        sameBits(got, want);
        const ref = dynamicThreshold({ shape: [B, per], data: held }, ratio, maxValue).data;
        for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThanOrEqual(tolerance("float32", "threshold").atol);
      }),
      { numRuns: 80, seed: 3 },
    );
  });

  test("threshold validates its arguments like the reference", () => {
    const t = wasm.fromHost([1, 2, 3, 4], [2, 2]);
    expect(() => wasm.threshold(t, 0, 1)).toThrow(ConfigError);
    expect(() => wasm.threshold(t, 0.9, -1)).toThrow(ConfigError);
  });

  test("randn is the reference backend's NOISE-PHILOX stream within 2⁻²⁰(1 + |z|) (float32 ln, sin, cos), at any shape, seed and index", () => {
    const cases = [[[3], 1, 2], [[2, 3, 5], 7, 0], [[1000], 123, 45], [[17], -5, 9], [[4, 33], 2 ** 31 + 5, 2 ** 40 + 3], [[65536], 0, 2 ** 31]] as const;
    for (const [shape, seed, index] of cases) {
      const want = referenceBackend.randn(shape, seed, index).data;
      const got = wasm.toHost(wasm.randn(shape, seed, index));
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
      expect(worst, `randn([${shape}], ${seed}, ${index})`).toBeLessThanOrEqual(2 ** -20);
    }
  });

  test("fromHost rounds to float32 (the Float64Array SIMD path and the small path), toHost widens exactly", () => {
    for (const n of [5, 63, 64, 65, 200]) {
      const x = data(n, n);
      const edge = [0, -0, 1e-45, -3e-44, 1.1754942e-38, 3.4028235e38, 3.5e38, -1e39, NaN, 1 + 2 ** -30, 1 / 3, Math.PI];
      edge.forEach((v, i) => { if (i < n) x[i] = v; });
      const back = wasm.toHost(wasm.fromHost(x, [n]));
      sameBits(back, x.map(f32));
      sameBits(wasm.toHost(wasm.fromHost(Array.from(x), [n])), x.map(f32));
    }
    expect(() => wasm.fromHost([1, 2, 3], [2, 2])).toThrow(ShapeError);
  });

  test("concat and split move values exactly and check shapes", () => {
    const a = wasm.fromHost(data(1, 6), [2, 3]);
    const b = wasm.fromHost(data(2, 3), [1, 3]);
    const c = wasm.concat([a, b]);
    expect(c.shape).toEqual([3, 3]);
    sameBits(wasm.toHost(c), [...wasm.toHost(a), ...wasm.toHost(b)]);
    const [p, q] = wasm.split(c, [1, 2]);
    expect(q.shape).toEqual([2, 3]);
    sameBits([...wasm.toHost(p), ...wasm.toHost(q)], wasm.toHost(c));
    expect(() => wasm.concat([a, wasm.fromHost([1, 2], [1, 2])])).toThrow(ShapeError);
    expect(() => wasm.split(c, [1, 1])).toThrow(ShapeError);
  });
});

describe("allocator", () => {
  test("a disposed block is reused by the next tensor of its size; dispose is idempotent; use after dispose throws", async () => {
    const b = await createWasmBackend({ initialBytes: 65536 });
    const t1 = b.fromHost(new Float64Array(1000), [1000]);
    const p1 = t1.ptr;
    b.dispose(t1);
    b.dispose(t1);
    expect(b.stats().liveTensors).toBe(0);
    const t2 = b.fromHost(new Float64Array(1000), [1000]);
    expect(t2.ptr).toBe(p1);
    const t3 = b.fromHost(new Float64Array(1000), [10, 100]);
    expect(t3.ptr).not.toBe(p1);
    expect(b.stats().reused).toBeGreaterThanOrEqual(1);
    expect(() => b.toHost(t1)).toThrow(StateError);
    expect(() => wasm.combine([t2], [1])).toThrow(ConfigError); // another backend's tensor
    expect(b.memoryBytes()).toBe(b.stats().liveBytes);
  });

  test("blocks are 64-byte aligned; the memory grows past its initial size and values survive the growth", async () => {
    const b = await createWasmBackend({ initialBytes: 65536 });
    const ts: WasmTensor[] = [];
    const xs: Float64Array[] = [];
    for (let k = 0; k < 40; k++) {
      xs.push(data(k, 1001));
      ts.push(b.fromHost(xs[k], [7, 11, 13]));
      expect(ts[k].ptr % 64).toBe(0);
    }
    expect(b.stats().memoryBytes).toBeGreaterThan(65536);
    ts.forEach((t, k) => sameBits(b.toHost(t), xs[k].map(f32)));
    sameBits(b.toHost(b.combine([ts[0], ts[39]], [1, 1])), emulateF32([xs[0], xs[39]], [1, 1]));
  });
});

describe("memory stays bounded over 1000 steps (fused + trackMemory, swept by runPipeline every step)", () => {
  const shape = [2, 1, 8, 8];
  /** A model that makes a fresh tensor on the base backend every call (as a real model would; runPipeline adopts it). */
  const freshModel = (b: WasmBackend): Denoiser<WasmTensor> => ({ predictionType: "epsilon", evaluate: (x) => b.combine([x], [0.1]) });

  for (const [className, config, stochastic] of [
    ["DPMSolverMultistepScheduler", { solverOrder: 3, timestepSpacing: "trailing" }, false],
    ["UniPCMultistepScheduler", { timestepSpacing: "trailing" }, false],
    ["EulerDiscreteScheduler", {}, false],
    ["DDPMScheduler", {}, true],
    ["PNDMScheduler", {}, false],
    ["LMSDiscreteScheduler", {}, false],
  ] as const) {
    test(`${className}: live tensors and the heap stop growing`, async () => {
      const f = await createFusedWasmBackend();
      const scheduler = await createScheduler(className, { ...config }, f);
      scheduler.setTimesteps(1000);
      const den = f.wrapDenoiser(freshModel(f.wasm));
      const x = await f.fromHost(data(5, 128, false), shape);
      const seen: { live: number; heap: number; memory: number }[] = [];
      await runPipeline(scheduler, den, x, {
        checkFinite: false,
        noise: stochastic ? backendNoise(f, 11) : undefined,
        onStep: (i) => { if (i % 50 === 49) { const s = f.wasm.stats(); seen.push({ live: s.liveTensors, heap: s.heapBytes, memory: s.memoryBytes }); } },
      });
      expect(scheduler.timesteps.length).toBeGreaterThanOrEqual(1000);
      // After the first 100 steps nothing grows: the same blocks are reused every step. (The live count
      // cycles for the σ samplers: fused's linear forms collect leaves until MAX_LEAVES, then materialise.)
      const first = seen[1];
      const bound = Math.max(...seen.slice(0, 6).map((q) => q.live));
      expect(bound).toBeLessThanOrEqual(32);
      for (const s of seen.slice(1)) {
        expect(s.heap).toBe(first.heap);
        expect(s.memory).toBe(first.memory);
        expect(s.live).toBeLessThanOrEqual(bound);
      }
      expect(f.wasm.stats().fresh).toBeLessThan(40);
    });
  }

  test("without a sweep the same run would hold every step's tensors (the sweep is what bounds it)", async () => {
    const w = await createWasmBackend();
    const f = sweepingFused(w);
    const scheduler = await createScheduler("EulerDiscreteScheduler", {}, { ...f, sweep: undefined } as never);
    scheduler.setTimesteps(200);
    const x = await f.fromHost(data(5, 128, false), shape);
    await runPipeline(scheduler, f.wrapDenoiser(freshModel(w)), x, { checkFinite: false });
    expect(w.stats().liveTensors).toBeGreaterThan(200);
  });

  test("pinned constants are never swept; an adopted model output is", async () => {
    const f = await createFusedWasmBackend();
    const k = f.pin(await f.fromHost([1, 2, 3], [3]));
    const out = f.adopt(f.leaf(f.wasm.fromHost([4, 5, 6], [3])) as LinearForm<WasmTensor>);
    f.adopt(k);
    expect(f.sweep([])).toBe(1);
    expect(Array.from(await f.toHost(k))).toEqual([1, 2, 3]);
    expect(() => f.wasm.toHost(out.value!)).toThrow(StateError);
  });
});

describe("bench/sampler-overhead.ts", () => {
  test("has a case for every SCHEDULER_CLASSES class and every k-diffusion sampler", () => {
    expect(missingCases()).toEqual([]);
    expect(new Set(OVERHEAD_CASES.map((c) => c.name)).size).toBe(OVERHEAD_CASES.length);
  });

  test("a tiny run returns rows with the overhead, the copy floor and the ratio", async () => {
    // Wall clock: at this tiny shape a copy floor is a few µs, below the resolution of the process CPU clock (it read 0).
    const rows = await runSamplerOverheadBench({ quick: true, only: ["ddim-noclip", "k-dpmpp-2m", "dpmpp-2m-threshold"], backends: ["wasm-simd", "reference"], shape: [2, 1, 16, 16], steps: 4, clock: "wall" });
    expect(rows.length).toBe(6);
    for (const r of rows) {
      expect(r.usPerStep).toBeGreaterThan(0);
      expect(r.copyFloorUs).toBeGreaterThan(0);
      expect(r.ratio).toBeGreaterThan(0);
      expect(r.ratioHot).toBeGreaterThanOrEqual(r.ratio * 0.2);
      expect(r.limit.length).toBeGreaterThan(0);
    }
    const w = rows.find((r) => r.backend === "wasm-simd" && r.sampler === "ddim-noclip")!;
    expect(w.trafficReads! + w.trafficWrites!).toBeLessThanOrEqual(w.floorReads + w.floorWrites);
    expect(w.hostUs).toBeGreaterThan(0);
  }, 120_000);
});
