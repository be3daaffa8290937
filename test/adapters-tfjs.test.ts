/**
 * The tfjs adapter itself (adapters/tfjs/index.ts): typed errors, float32 rounding on upload, several tfjs
 * backends in one process, counter-based randn, dispose/close, the tfjs-wasm clamp workaround, and the
 * unavailable backends. The BACKEND- clauses are in test/conformance-backend-tfjs.test.ts.
 */
import { describe, expect, test } from "vitest";
import { createBackend } from "../adapters/index.ts";
import { createTfjsBackend, streamSeed, type TfjsTensor } from "../adapters/tfjs/index.ts";
import type { Backend } from "../adapters/contract.ts";
import { ConfigError, DeviceError, ShapeError, UnavailableError } from "../reference/errors.ts";
import { randomMlp } from "../reference/models/mlp.ts";

const cpu = (await createTfjsBackend("cpu")) as Backend<TfjsTensor>;
const wasm = (await createTfjsBackend("wasm")) as Backend<TfjsTensor>;
const tfOf = (b: Backend<TfjsTensor>) => (b as unknown as { tf: typeof import("@tensorflow/tfjs") }).tf;

describe("tfjs backends: names, dtype, creation", () => {
  test("names and dtype", () => {
    expect(cpu.name).toBe("tfjs-cpu");
    expect(wasm.name).toBe("tfjs-wasm");
    expect(cpu.dtype).toBe("float32");
    expect(wasm.dtype).toBe("float32");
  });

  test("createBackend (adapters/index.ts) builds them by name", async () => {
    expect((await createBackend("tfjs-cpu")).name).toBe("tfjs-cpu");
    expect((await createBackend("tfjs-wasm")).name).toBe("tfjs-wasm");
  });

  test("an unknown kind is a ConfigError naming the allowed kinds", async () => {
    await expect(createTfjsBackend("metal" as never)).rejects.toThrow(ConfigError);
    await expect(createTfjsBackend("metal" as never)).rejects.toThrow(/cpu, wasm, webgpu, node/);
  });

  test("tfjs-webgpu: no adapter here → UnavailableError within seconds (or a working backend on a GPU machine)", async () => {
    const t0 = performance.now();
    try {
      const b = await createTfjsBackend("webgpu");
      expect(b.name).toBe("tfjs-webgpu");
    } catch (e) {
      expect(e).toBeInstanceOf(UnavailableError);
      expect((e as UnavailableError).message).toMatch(/backend "tfjs-webgpu" is unavailable: /);
    }
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  test("tfjs-webgpu (where an adapter exists): a WebGPU error tfjs swallows surfaces as a DeviceError, and a 16-term combine is right", async (t) => {
    const b = await createTfjsBackend("webgpu").catch(() => null);
    if (!b) return t.skip();
    const tf = await import("@tensorflow/tfjs");
    // tfjs-webgpu's own AddN of 9 inputs binds 10 storage buffers (the default limit is 8): Dawn rejects the
    // pipeline and tfjs returns stale memory without an error.
    const r = tf.addN(Array.from({ length: 9 }, () => tf.ones([4])));
    await r.data();
    await expect(b.fromHost([1], [1])).rejects.toThrow(DeviceError);
    await expect(b.fromHost([1], [1])).resolves.toBeDefined(); // reported once, then forgotten
    const terms = await Promise.all(Array.from({ length: 16 }, (_, i) => b.fromHost([i, 1], [2])));
    expect(Array.from(await b.toHost(await b.combine(terms, terms.map(() => 1))))).toEqual([120, 16]);
  });

  test("tfjs-node: not installed → UnavailableError with the install command", async () => {
    let err: unknown;
    try {
      await createTfjsBackend("node");
    } catch (e) {
      err = e;
    }
    if (err === undefined) return; // the user has @tensorflow/tfjs-node: nothing to check here
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).reason).toMatch(/not installed \(optional peer dependency\): npm install @tensorflow\/tfjs-node|did not load/);
  });
});

describe("transfer and typed errors", () => {
  test("Float64 input is rounded to float32 on upload; toHost widens exactly", async () => {
    for (const b of [cpu, wasm]) {
      const x = await b.fromHost([1 / 3, 0.1, 1e-300, 1e39, -0], [5]);
      const y = await b.toHost(x);
      expect([...y]).toEqual([Math.fround(1 / 3), Math.fround(0.1), 0, Infinity, -0]);
      expect(Object.is(y[4], -0)).toBe(true);
    }
  });

  test("a data length that does not match the shape is a ShapeError", async () => {
    await expect(cpu.fromHost([1, 2, 3], [2, 2])).rejects.toThrow(ShapeError);
    await expect(cpu.fromHost([1, 2], [2, 0])).rejects.toThrow(ShapeError);
  });

  test("combine: mismatched shapes, term/coefficient counts and non-finite coefficients are typed errors", async () => {
    const a = await cpu.fromHost([1, 2, 3, 4], [2, 2]);
    const b = await cpu.fromHost([1, 2, 3, 4], [4]);
    await expect(cpu.combine([a, b], [1, 1])).rejects.toThrow(ShapeError);
    await expect(cpu.combine([a], [1, 2])).rejects.toThrow(ShapeError);
    await expect(cpu.combine([], [])).rejects.toThrow(ShapeError);
    await expect(cpu.combine([a], [NaN])).rejects.toThrow(ConfigError);
  });

  test("concat/split: wrong trailing shapes and sizes are typed errors", async () => {
    const a = await cpu.fromHost([1, 2, 3, 4], [2, 2]);
    const b = await cpu.fromHost([1, 2, 3], [1, 3]);
    await expect(cpu.concat!([a, b])).rejects.toThrow(ShapeError);
    await expect(cpu.split!(a, [1, 2])).rejects.toThrow(ShapeError);
    await expect(cpu.split!(a, [0, 2])).rejects.toThrow(ConfigError);
  });

  test("threshold and clamp validate their parameters", async () => {
    const a = await cpu.fromHost([1, 2, 3, 4], [2, 2]);
    await expect(cpu.threshold!(a, 0, 1)).rejects.toThrow(/dynamicThresholdingRatio/);
    await expect(cpu.threshold!(a, 0.9, 0)).rejects.toThrow(/sampleMaxValue/);
    await expect(cpu.clamp!(a, 1, -1)).rejects.toThrow(ConfigError);
  });

  test("loadModel: an input of the wrong size is a ShapeError", async () => {
    const den = await cpu.loadModel!(randomMlp(4, 8, 1));
    await expect(Promise.resolve(den.evaluate(await cpu.fromHost([1, 2, 3], [1, 3]), 10))).rejects.toThrow(/MLP input item size/);
  });
});

describe("several tfjs backends in one process", () => {
  test("cpu and wasm interleave: each call runs on its own tfjs backend and gives the same result", async () => {
    const tf = tfOf(cpu);
    const data = Array.from({ length: 12 }, (_, i) => Math.sin(i) * 3);
    const xs = await Promise.all([cpu, wasm].map((b) => b.fromHost(data, [3, 4])));
    // Interleaved, concurrent calls.
    const [rc, rw] = await Promise.all([cpu.combine([xs[0], xs[0]], [0.5, -2]), wasm.combine([xs[1], xs[1]], [0.5, -2])]);
    expect([...(await cpu.toHost(rc))]).toEqual([...(await wasm.toHost(rw))]);
    await cpu.clamp!(xs[0], -1, 1);
    expect(tf.getBackend()).toBe("cpu");
    await wasm.clamp!(xs[1], -1, 1);
    expect(tf.getBackend()).toBe("wasm");
  });

  test("a tensor made by one tfjs backend can be used by another (tfjs moves it)", async () => {
    const x = await cpu.fromHost([1, 2, 3], [3]);
    const y = await wasm.combine([x], [2]);
    expect([...(await wasm.toHost(y))]).toEqual([2, 4, 6]);
  });
});

describe("randn", () => {
  test("counter-based: the same (seed, index) gives the same tensor, on every tfjs backend and in any order", async () => {
    const a = await cpu.toHost(await cpu.randn!([64], 7, 3));
    await cpu.randn!([64], 7, 2);
    const b = await cpu.toHost(await cpu.randn!([64], 7, 3));
    const c = await wasm.toHost(await wasm.randn!([64], 7, 3));
    expect([...b]).toEqual([...a]);
    expect([...c]).toEqual([...a]);
    const d = await cpu.toHost(await cpu.randn!([64], 7, 4));
    expect([...d]).not.toEqual([...a]);
  });

  test("seed 0 is a seed like any other (tf.randomNormal treats 0 as 'unseeded'; streamSeed never returns 0)", async () => {
    const a = await cpu.toHost(await cpu.randn!([16], 0, 0));
    const b = await cpu.toHost(await cpu.randn!([16], 0, 0));
    expect([...a]).toEqual([...b]);
    const seeds = new Set<number>();
    for (let s = 0; s < 50; s++) for (let i = 0; i < 50; i++) seeds.add(streamSeed(s, i));
    expect(seeds.size).toBe(2500);
    expect(seeds.has(0)).toBe(false);
    for (const s of seeds) expect(Number.isSafeInteger(s)).toBe(true);
  });
});

describe("memory", () => {
  test("dispose frees a tensor; memoryBytes reports tf.memory()", async () => {
    const tf = tfOf(cpu);
    const before = tf.memory().numTensors;
    const x = await cpu.fromHost(new Float64Array(1000), [10, 100]);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(await cpu.memoryBytes!()).toBeGreaterThanOrEqual(4000);
    cpu.dispose!(x);
    expect(tf.memory().numTensors).toBe(before);
  });

  test("combine, threshold and the model leave no intermediate tensors behind", async () => {
    const tf = tfOf(cpu);
    const x = await cpu.fromHost([1, -2, 3, 4, 5, -6], [2, 3]);
    const den = await cpu.loadModel!(randomMlp(3, 8, 2));
    const before = tf.memory().numTensors;
    const outs = [await cpu.combine([x, x, x], [1, 2, 3]), await cpu.threshold!(x, 0.9, 2), await den.evaluate(x, 500)];
    expect(tf.memory().numTensors).toBe(before + outs.length);
  });

  test("close frees loaded models; a closed backend refuses further work", async () => {
    const b = await createTfjsBackend("cpu");
    const tf = tfOf(b as Backend<TfjsTensor>);
    const before = tf.memory().numTensors;
    await b.loadModel!(randomMlp(3, 8, 3));
    expect(tf.memory().numTensors).toBe(before + 6);
    await b.close!();
    expect(tf.memory().numTensors).toBe(before);
    await expect(b.fromHost([1], [1])).rejects.toThrow(/closed/);
  });
});

describe("tfjs-wasm clamp regression", () => {
  test("bounds that differ in Float64 but round to one float32 value clamp correctly (XNNPACK rejects min = max)", async () => {
    for (const b of [cpu, wasm]) {
      const x = await b.fromHost([-3, -0.2, 0.7, 4], [4]);
      expect([...(await b.toHost(await b.clamp!(x, 0.5, 0.50000001)))]).toEqual([0.5, 0.5, 0.5, 0.5]);
      const t = await b.threshold!(x, 1, 1 + 2 ** -52);
      expect([...(await b.toHost(t))]).toEqual([-1, Math.fround(-0.2) / 1, Math.fround(0.7), 1].map(Math.fround));
    }
  });
});
