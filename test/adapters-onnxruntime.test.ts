/**
 * The onnxruntime backends (adapters/onnxruntime/index.ts): primitives against the reference within the
 * bounds of conformance/tolerances.ts, session caching, loadOnnxDenoiser's validation, close(), and the
 * providers that need a GPU (here: UnavailableError within seconds; on a GPU machine: a smoke test).
 * The shared BACKEND- properties run in test/conformance-backend-onnxruntime.test.ts.
 */
import { afterAll, describe, expect, test } from "vitest";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBackend } from "../adapters/index.ts";
import { createOnnxruntimeBackend, loadOnnxDenoiser, OnnxruntimeBackend, type OrtTensor } from "../adapters/onnxruntime/index.ts";
import { referenceBackend as R } from "../adapters/reference/index.ts";
import { GraphBuilder } from "../adapters/onnx/builder.ts";
import { emitCrossAttentionToy, emitGaussianMixtureOracle, emitMlp, interpolatedAlphaBar } from "../adapters/onnx/models.ts";
import { mlpErrorBound, tolerance } from "../conformance/tolerances.ts";
import { GaussianStream } from "../reference/rng.ts";
import { GaussianMixture } from "../reference/distributions.ts";
import { epsilonStar } from "../reference/oracle.ts";
import { makeSchedule } from "../reference/schedule.ts";
import { mlpForward, randomMlp } from "../reference/models/mlp.ts";
import { dynamicThreshold } from "../reference/threshold.ts";
import { linearCombination, size } from "../reference/tensor.ts";
import { ConfigError, InputFileError, ShapeError, StateError, UnavailableError } from "../reference/errors.ts";

const cpu = await createOnnxruntimeBackend("cpu");
afterAll(() => cpu.close());

const normals = (n: number, seed: string, scale = 1) => Float64Array.from(new GaussianStream(seed).normals(n), (v) => v * scale);
const f32 = (a: ArrayLike<number>) => Float64Array.from(a, Math.fround);

function within(what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: (i: number) => { rtol: number; atol: number }): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const { rtol, atol } = bound(i);
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= atol + rtol * Math.abs(want[i]))) throw new Error(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (|diff| ${err.toExponential(3)} > ${(atol + rtol * Math.abs(want[i])).toExponential(3)})`);
  }
}

describe("onnxruntime-cpu primitives", () => {
  test("createBackend names it onnxruntime-cpu, float32; transfer rounds to float32 exactly", async () => {
    const b = await createBackend("onnxruntime-cpu");
    expect(b.name).toBe("onnxruntime-cpu");
    expect(b.dtype).toBe("float32");
    const x = [0, -0, 1 / 3, 1e-40, -3.4028234663852886e38, Math.PI, 1e39];
    const back = await b.toHost(await b.fromHost(x, [7]));
    expect(Array.from(back)).toEqual(x.map(Math.fround));
    expect(Object.is(back[1], -0)).toBe(true);
    await expect(b.fromHost([1, 2, 3], [2, 2])).rejects.toThrow(ShapeError);
    await b.close?.();
  });

  test("combine of k = 1 … 6 terms on 16×1×128×128 and on a small tensor, within the COMBINE row", async () => {
    for (const shape of [[16, 1, 128, 128], [2, 3]]) {
      const n = size(shape);
      for (let k = 1; k <= 6; k++) {
        const xs = Array.from({ length: k }, (_, i) => normals(n, `c${k}/${i}`, 10 ** (i - 2)));
        const cs = Array.from({ length: k }, (_, i) => [0.9995, -0.0316, 1.7, -200, 1e-3, 3][i]);
        const ts = await Promise.all(xs.map((x) => cpu.fromHost(x, shape)));
        const out = await cpu.combine(ts, cs);
        expect(out.shape).toEqual(shape);
        const got = await cpu.toHost(out);
        const want = linearCombination(xs.map((data) => ({ shape, data })), cs).data;
        const cAbs = cs.reduce((s, c) => s + Math.abs(c), 0);
        within(`combine k=${k} ${shape}`, got, want, (i) => tolerance("float32", "combine", { terms: k, coeffAbsSum: cAbs, magnitude: xs.reduce((s, x, j) => s + Math.abs(cs[j] * x[i]), 0) }));
      }
    }
  });

  test("one session per k, reused for every shape and rank; zero coefficients are dropped like the reference", async () => {
    const b = await createOnnxruntimeBackend("cpu");
    const x = await b.fromHost([1, 2, 3, 4], [4]);
    const y = await b.fromHost([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    await b.combine([x, x], [1, 2]);
    await b.combine([y, y], [1, 2]);
    await b.combine([await b.fromHost([5], [1]), await b.fromHost([6], [1])], [1, 1]);
    expect(b.sessionCount).toBe(1);
    await b.combine([y, y, y], [1, 2, 3]);
    expect(b.sessionCount).toBe(2);
    // 0·∞ must not make NaN: the reference skips zero-coefficient terms.
    const inf = await b.fromHost([Infinity, NaN, 1, 2], [4]);
    expect(Array.from(await b.toHost(await b.combine([inf, x], [0, 0.5])))).toEqual([0.5, 1, 1.5, 2]);
    expect(Array.from(await b.toHost(await b.combine([inf, x], [0, 0])))).toEqual([0, 0, 0, 0]);
    await expect(b.combine([x, y], [1, 1])).rejects.toThrow(ShapeError);
    await expect(b.combine([x], [1, 1])).rejects.toThrow(ShapeError);
    await b.close();
  });

  test("clamp and threshold (16 × 16384, ratio 0.995 and others) match the reference within their rows", async () => {
    const shape = [16, 1, 128, 128];
    const x = normals(size(shape), "thr", 2);
    const t = await cpu.fromHost(x, shape);
    const stored = await cpu.toHost(t);
    within("clamp", await cpu.toHost(await cpu.clamp(t, -1, 1)), R.clamp({ shape, data: x }, -1, 1).data, () => tolerance("float32", "clamp"));
    for (const [ratio, maxValue] of [[0.995, 1.5], [0.5, 10], [1, 3], [1e-4, 1]]) {
      const got = await cpu.toHost(await cpu.threshold(t, ratio, maxValue));
      within(`threshold ${ratio}`, got, dynamicThreshold({ shape, data: stored }, ratio, maxValue).data, () => tolerance("float32", "threshold"));
    }
    await expect(cpu.threshold(t, 0, 1)).rejects.toThrow(ConfigError);
    await expect(cpu.threshold(t, 0.9, 0)).rejects.toThrow(ConfigError);
  });

  test("concat / split move values exactly; split checks its sizes", async () => {
    const a = await cpu.fromHost(normals(6, "a"), [1, 2, 3]);
    const b = await cpu.fromHost(normals(12, "b"), [2, 2, 3]);
    const c = await cpu.concat([a, b, a]);
    expect(c.shape).toEqual([4, 2, 3]);
    const all = await cpu.toHost(c);
    expect(Array.from(all)).toEqual([...f32(normals(6, "a")), ...f32(normals(12, "b")), ...f32(normals(6, "a"))]);
    const parts = await cpu.split(c, [3, 1]);
    expect(parts.map((p) => p.shape)).toEqual([[3, 2, 3], [1, 2, 3]]);
    expect(Array.from(await cpu.toHost(parts[1]))).toEqual(Array.from(f32(normals(6, "a"))));
    await expect(cpu.split(c, [3, 2])).rejects.toThrow(ShapeError);
    await expect(cpu.concat([a, await cpu.fromHost([1, 2], [1, 2])])).rejects.toThrow(ShapeError);
  });

  test("randn(seed, index) is the reference stream rounded to float32, deterministic", async () => {
    const a = await cpu.toHost(await cpu.randn([3, 5], 42, 7));
    expect(Array.from(a)).toEqual(Array.from(f32(R.randn([3, 5], 42, 7).data)));
    expect(Array.from(await cpu.toHost(await cpu.randn([3, 5], 42, 7)))).toEqual(Array.from(a));
    expect(Array.from(await cpu.toHost(await cpu.randn([3, 5], 42, 8)))).not.toEqual(Array.from(a));
  });

  test("tensors of another backend instance are refused; close() releases sessions and ends the backend", async () => {
    const b = await createOnnxruntimeBackend("cpu");
    const mine = await b.fromHost([1], [1]);
    await b.combine([mine], [2]);
    expect(b.sessionCount).toBe(1);
    await expect(cpu.combine([mine as OrtTensor], [1])).rejects.toThrow(ConfigError);
    await b.close();
    expect(b.sessionCount).toBe(0);
    await expect(b.fromHost([1], [1])).rejects.toThrow(StateError);
    await expect(b.combine([mine], [1])).rejects.toThrow(StateError);
    await b.close(); // idempotent
  });
});

describe("models on onnxruntime-cpu", () => {
  test("loadModel(MLP) = mlpForward within the MODEL row, for [B, D] and [B, C, H, W] samples", async () => {
    const spec = randomMlp(8, 16, "ort-mlp", "sample", 8);
    const den = await cpu.loadModel(spec);
    expect(den.predictionType).toBe("sample");
    for (const shape of [[3, 8], [2, 2, 2, 2]]) {
      const x = normals(size(shape), `mx${shape}`);
      const t = await cpu.fromHost(x, shape);
      for (const step of [0, 250.5, 999]) {
        const got = await cpu.toHost(await den.evaluate(t, step));
        const xs = f32(x);
        const bound = mlpErrorBound(spec, xs, shape[0], step, "float32");
        within(`MLP ${shape} t=${step}`, got, mlpForward(spec, { shape, data: xs }, step).data, (i) => tolerance("float32", "model", { bound: bound[i] }));
      }
    }
    await expect(den.evaluate(await cpu.fromHost(normals(6, "bad"), [2, 3]), 1)).rejects.toThrow(ShapeError);
  });

  test("loadOnnxDenoiser runs an ONNX file (the Gaussian-mixture oracle) and validates shapes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "diffspec-onnx-"));
    try {
      const g = new GaussianStream("ld-mix");
      const mix = new GaussianMixture([0, 1].map((k) => ({ mean: Float64Array.from(g.normals(4)), std: 0.2 + k * 0.3, weight: 1 })));
      const ac = makeSchedule().alphasCumprod;
      const path = join(dir, "oracle.onnx");
      await writeFile(path, emitGaussianMixtureOracle(mix, ac, { itemShape: [1, 2, 2] }));
      const den = await loadOnnxDenoiser(cpu, path, { predictionType: "epsilon" });
      expect(den.io.sample.shape).toEqual(["batch", 1, 2, 2]);
      const x = normals(3 * 4, "ld-x");
      const t = await cpu.fromHost(x, [3, 1, 2, 2]);
      const got = await cpu.toHost(await den.evaluate(t, 500));
      const abar = interpolatedAlphaBar(ac, 500);
      within("oracle", got, epsilonStar(mix, { shape: [3, 4], data: f32(x) }, Math.sqrt(abar), Math.sqrt(1 - abar)).data, () => ({ rtol: 1e-4, atol: 1e-5 }));
      await expect(den.evaluate(await cpu.fromHost(x, [3, 4]), 500)).rejects.toThrow(/declared input shape/);
      await expect(den.evaluate(t, 500, { embeddings: t })).rejects.toThrow(ConfigError);
      await expect(loadOnnxDenoiser(cpu, join(dir, "missing.onnx"), { predictionType: "epsilon" })).rejects.toThrow(InputFileError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("loadOnnxDenoiser feeds encoder_hidden_states and needs it when the model has it", async () => {
    const den = await loadOnnxDenoiser(cpu, emitCrossAttentionToy(6, 4), { predictionType: "v_prediction" });
    const x = await cpu.fromHost(normals(12, "xa"), [2, 6]);
    const e = await cpu.fromHost(normals(24, "ea"), [2, 3, 4]);
    const out = await den.evaluate(x, 10, { embeddings: e });
    expect(out.shape).toEqual([2, 6]);
    await expect(den.evaluate(x, 10)).rejects.toThrow(/encoder_hidden_states/);
    await expect(den.evaluate(x, 10, { embeddings: await cpu.fromHost(normals(12, "eb"), [1, 3, 4]) })).rejects.toThrow(ShapeError);
  });

  test("loadOnnxDenoiser: typed errors that name the expected interface", async () => {
    const wrongNames = new GraphBuilder();
    wrongNames.output(wrongNames.identity(wrongNames.input("x", "float32", ["n", 4])), "y");
    await expect(loadOnnxDenoiser(cpu, wrongNames.toBytes(), { predictionType: "epsilon" })).rejects.toThrow(/no input `sample`.*no input `timestep`.*cannot feed: `x`.*Expected inputs `sample`/);
    const intT = new GraphBuilder();
    const s = intT.input("sample", "float32", ["batch", 2]);
    const tt = intT.input("timestep", "int64", [1]);
    intT.output(intT.mul(s, intT.cast(tt, "float32")), "out_sample");
    const den = await loadOnnxDenoiser(cpu, intT.toBytes(), { predictionType: "epsilon" });
    const x = await cpu.fromHost([1, 2, 3, 4], [2, 2]);
    expect(Array.from(await cpu.toHost(await den.evaluate(x, 3)))).toEqual([3, 6, 9, 12]);
    await expect(den.evaluate(x, 2.5)).rejects.toThrow(/integer/);
    await expect(loadOnnxDenoiser(cpu, new Uint8Array([8, 1, 2]), { predictionType: "epsilon" })).rejects.toThrow(InputFileError);
    await expect(loadOnnxDenoiser(cpu, emitMlp(randomMlp(2, 4, 1)), { predictionType: "x0" as never })).rejects.toThrow(ConfigError);
    await expect(loadOnnxDenoiser(R as never, emitMlp(randomMlp(2, 4, 1)), { predictionType: "epsilon" })).rejects.toThrow(ConfigError);
  });
});

describe("GPU providers", () => {
  // Here (no GPU): UnavailableError within a few seconds. On a GPU machine with the provider: a smoke test.
  for (const provider of ["webgpu", "cuda"] as const) {
    test(`onnxruntime-${provider}: UnavailableError quickly, or working primitives where the provider runs`, async () => {
      const t0 = performance.now();
      const r = await createBackend(`onnxruntime-${provider}`).then((b) => b as OnnxruntimeBackend, (e: unknown) => e);
      const ms = performance.now() - t0;
      if (r instanceof UnavailableError) {
        expect(r.backend).toBe(`onnxruntime-${provider}`);
        expect(r.reason.length).toBeGreaterThan(20);
        expect(ms).toBeLessThan(15_000);
        console.log(`onnxruntime-${provider} unavailable after ${ms.toFixed(0)} ms: ${r.reason}`);
        // The verdict is cached per process: asking again costs no second probe.
        const t1 = performance.now();
        await expect(createBackend(`onnxruntime-${provider}`)).rejects.toThrow(UnavailableError);
        expect(performance.now() - t1).toBeLessThan(1_000);
        return;
      }
      if (!(r instanceof OnnxruntimeBackend)) throw r;
      try {
        const shape = [4, 1, 8, 8];
        const xs = [normals(256, "g1"), normals(256, "g2")];
        const ts = await Promise.all(xs.map((x) => r.fromHost(x, shape)));
        if (provider === "webgpu") expect(ts[0].value.location).toBe("gpu-buffer");
        const out = await r.combine(ts, [0.5, -2]);
        const want = linearCombination(xs.map((data) => ({ shape, data })), [0.5, -2]).data;
        within(`${provider} combine`, await r.toHost(out), want, (i) => tolerance("float32", "combine", { terms: 2, coeffAbsSum: 2.5, magnitude: 0.5 * Math.abs(xs[0][i]) + 2 * Math.abs(xs[1][i]) }));
        const th = await r.toHost(await r.threshold(ts[0], 0.9, 1.5));
        within(`${provider} threshold`, th, dynamicThreshold({ shape, data: f32(xs[0]) }, 0.9, 1.5).data, () => tolerance("float32", "threshold"));
        const [p, q] = await r.split(await r.concat([ts[0], ts[1]]), [4, 4]);
        expect(Array.from(await r.toHost(q))).toEqual(Array.from(f32(xs[1])));
        expect(Array.from(await r.toHost(p))).toEqual(Array.from(f32(xs[0])));
        const spec = randomMlp(64, 32, "gpu-mlp");
        const den = await r.loadModel(spec);
        const got = await r.toHost(await den.evaluate(ts[0], 321));
        const bound = mlpErrorBound(spec, f32(xs[0]), 4, 321, "float32");
        within(`${provider} MLP`, got, mlpForward(spec, { shape, data: f32(xs[0]) }, 321).data, (i) => tolerance("float32", "model", { bound: bound[i] }));
      } finally {
        await r.close();
      }
    }, 60_000);
  }
});

describe("per-call overhead (reported, loosely bounded)", () => {
  test("combine: 16×1×128×128 and [2, 3], k = 2 and 4", async () => {
    const lines: string[] = [];
    for (const shape of [[16, 1, 128, 128], [2, 3]]) {
      const n = size(shape);
      for (const k of [2, 4]) {
        const ts = await Promise.all(Array.from({ length: k }, (_, i) => cpu.fromHost(normals(n, `p${i}`), shape)));
        const cs = Array.from({ length: k }, (_, i) => 0.5 + i);
        for (let i = 0; i < 5; i++) await cpu.combine(ts, cs);
        const reps = n > 1000 ? 40 : 400;
        const t0 = performance.now();
        for (let i = 0; i < reps; i++) await cpu.combine(ts, cs);
        const us = ((performance.now() - t0) / reps) * 1000;
        lines.push(`onnxruntime-cpu combine k=${k} [${shape.join("×")}]: ${us.toFixed(1)} µs/call`);
        expect(us).toBeLessThan(n > 1000 ? 50_000 : 5_000);
      }
    }
    console.log(lines.join("\n"));
  }, 60_000);
});
