/** Query-chunked attention (memory-bounded, for the glyffuser-size U-Net at 128²) gives the same output as one pass. */
import { expect, test } from "vitest";
import { emitUNetOnnx } from "../glyffuser/unet-onnx.ts";
import { GLYFFUSER_SMALL_CONFIG } from "../glyffuser/unet.ts";
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
