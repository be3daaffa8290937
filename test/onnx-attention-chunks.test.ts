/** Query-chunked attention (memory-bounded, for the glyffuser-size U-Net at 128²) gives the same output as one pass. */
import { describe, expect, test } from "vitest";
import { emitUNetOnnx } from "../glyffuser/unet-onnx.ts";
import { attentionQueryChunk, GLYFFUSER_SMALL_CONFIG, initUNetWeights, type AttentionPlan } from "../glyffuser/unet.ts";
import { tfjsParams, tfjsUNetForward } from "../glyffuser/unet-tfjs.ts";
import { createTfjsBackend } from "../adapters/tfjs/index.ts";
import type { Backend, BTensor } from "../adapters/contract.ts";
import { ConfigError } from "../reference/errors.ts";
import { createOnnxruntimeBackend } from "../adapters/onnxruntime/index.ts";
import { loadOnnxDenoiser } from "../adapters/onnxruntime/index.ts";
import { GaussianStream } from "../reference/rng.ts";
import { maxAbsDiff } from "../reference/tensor.ts";

test("a U-Net emitted with attentionQueryChunk equals the unchunked one on the same weights", async () => {
  const config = { ...GLYFFUSER_SMALL_CONFIG, selfAttention: true, attentionLevels: [true, true, true] };
  const backend = await createOnnxruntimeBackend("cpu");
  const run = async (bytes: Uint8Array): Promise<Float64Array> => {
    const den = await loadOnnxDenoiser(backend, bytes, { predictionType: "epsilon" });
    const g = new GaussianStream("chunk-test");
    const x = await backend.fromHost(g.normals(2 * 32 * 32), [2, 1, 32, 32]);
    const ctx = await backend.fromHost(g.normals(2 * 16 * 64), [2, 16, 64]);
    const mask = await backend.fromHost(new Float64Array(32).fill(1), [2, 16]);
    return backend.toHost(await den.evaluate(x, 500, { embeddings: ctx, mask }));
  };
  const plain = await run(emitUNetOnnx(config, "random", 7));
  const chunked = await run(emitUNetOnnx(config, "random", 7, { attentionQueryChunk: 300 }));
  expect(plain.length).toBe(2 * 32 * 32);
  expect(maxAbsDiff(plain, chunked)).toBeLessThan(1e-5);
  await backend.close?.();
}, 60_000);

describe("attention plans (glyffuser/unet.ts AttentionPlan)", () => {
  const config = { ...GLYFFUSER_SMALL_CONFIG, sampleSize: 16, selfAttention: true, attentionLevels: [true, true, true] };
  /** A budget that makes chunks of `c` queries at the top level (16² tokens, batch 2). */
  const budget = (c: number): AttentionPlan => ({ impl: "matmul", maxScoreBytes: 4 * 2 * config.heads * 256 * c, batch: 2 });
  const inputs = async <T extends BTensor>(backend: Backend<T>) => {
    const g = new GaussianStream("plan-test");
    return {
      x: await backend.fromHost(g.normals(2 * 16 * 16), [2, 1, 16, 16]),
      cond: { embeddings: await backend.fromHost(g.normals(2 * 16 * 64), [2, 16, 64]), mask: await backend.fromHost(Float64Array.from({ length: 32 }, (_, i) => (i % 16 < 12 ? 1 : 0)), [2, 16]) },
    };
  };

  test("attentionQueryChunk keeps every float32 score tensor within the budget, and asks for no chunks when it fits", () => {
    const o = { heads: 8, queryLength: 16384, keyLength: 16384 };
    expect(attentionQueryChunk({ impl: "matmul", maxScoreBytes: 2 ** 27, batch: 16 }, o)).toBe(16); // 16·8·16·16384·4 B = 128 MiB
    expect(attentionQueryChunk({ impl: "matmul", maxScoreBytes: 2 ** 27, batch: 1 }, o)).toBe(256);
    expect(attentionQueryChunk({ impl: "matmul", maxScoreBytes: 2 ** 40, batch: 16 }, o)).toBeUndefined();
    expect(attentionQueryChunk({ impl: "fused" }, o)).toBeUndefined();
    expect(attentionQueryChunk({ impl: "matmul", maxScoreBytes: 1, batch: 1 }, o)).toBe(1);
    expect(() => attentionQueryChunk({ impl: "matmul", maxScoreBytes: 2 ** 27 }, o)).toThrow(ConfigError);
  });

  test("onnxruntime-cpu: a score budget (chunks of 50 queries) and the fused MultiHeadAttention equal plain matmul attention, mask included", async () => {
    const backend = await createOnnxruntimeBackend("cpu");
    const run = async (bytes: Uint8Array): Promise<Float64Array> => {
      const den = await loadOnnxDenoiser(backend, bytes, { predictionType: "epsilon" });
      const { x, cond } = await inputs(backend);
      return backend.toHost(await den.evaluate(x, 500, cond));
    };
    const plain = await run(emitUNetOnnx(config, "random", 7));
    const chunked = await run(emitUNetOnnx(config, "random", 7, { attention: budget(50) }));
    const fused = await run(emitUNetOnnx(config, "random", 7, { attention: { impl: "fused" } }));
    expect(maxAbsDiff(plain, chunked)).toBeLessThan(1e-5);
    expect(maxAbsDiff(plain, fused)).toBeLessThan(1e-4);
    await backend.close?.();
  }, 120_000);

  test("onnxruntime-webgpu (where an adapter exists): chunked and fused attention against the CPU provider", async (t) => {
    const gpu = await createOnnxruntimeBackend("webgpu").catch(() => null);
    if (!gpu) return t.skip();
    const cpu = await createOnnxruntimeBackend("cpu");
    const run = async (backend: typeof cpu, bytes: Uint8Array): Promise<Float64Array> => {
      const den = await loadOnnxDenoiser(backend, bytes, { predictionType: "epsilon" });
      const { x, cond } = await inputs(backend);
      return backend.toHost(await den.evaluate(x, 500, cond));
    };
    const want = await run(cpu, emitUNetOnnx(config, "random", 7));
    const chunked = await run(gpu, emitUNetOnnx(config, "random", 7, { attention: budget(50) }));
    const fused = await run(gpu, emitUNetOnnx(config, "random", 7, { attention: { impl: "fused" } }));
    const scale = Math.max(...want.map(Math.abs));
    console.log(`onnxruntime-webgpu vs cpu, max |diff| / max |output|: chunked ${(maxAbsDiff(want, chunked) / scale).toExponential(2)}, fused ${(maxAbsDiff(want, fused) / scale).toExponential(2)}`);
    expect(maxAbsDiff(want, chunked) / scale).toBeLessThan(1e-4);
    // The WebGPU MultiHeadAttention kernel is not float32-exact: 9.1e-3 of the output scale on llvmpipe (AttentionPlan).
    expect(maxAbsDiff(want, fused) / scale).toBeLessThan(5e-2);
    await Promise.all([gpu.close?.(), cpu.close?.()]);
  }, 120_000);

  test("tfjs-cpu: query chunks under a score budget equal the unchunked U-Net", async () => {
    await createTfjsBackend("cpu"); // activates tfjs-cpu (and silences its first-use notice)
    const tf = await import("@tensorflow/tfjs");
    const w = initUNetWeights(config, 7);
    const params = tfjsParams(tf, w);
    const g = new GaussianStream("plan-test");
    const sample = tf.tensor(Float32Array.from(g.normals(2 * 16 * 16)), [2, 1, 16, 16]);
    const context = tf.tensor(Float32Array.from(g.normals(2 * 16 * 64)), [2, 16, 64]);
    const run = (attention?: AttentionPlan) => tf.tidy(() => tfjsUNetForward(tf, config, params, { sample, timestep: tf.tensor1d([500]), context }, { im2col: false, attention })).dataSync();
    const plain = Float64Array.from(run());
    const chunked = Float64Array.from(run(budget(30)));
    expect(maxAbsDiff(plain, chunked)).toBeLessThan(1e-5);
    expect(() => run({ impl: "fused" })).toThrow(/tfjs has no fused attention/);
  }, 120_000);
});
