import { emitUNetOnnx } from "./glyffuser/unet-onnx.ts";
import { GLYFFUSER_SMALL_CONFIG } from "./glyffuser/unet.ts";
import { createOnnxruntimeBackend, loadOnnxDenoiser } from "./adapters/onnxruntime/index.ts";
import { GaussianStream } from "./reference/rng.ts";
import { maxAbsDiff } from "./reference/tensor.ts";
const config = { ...GLYFFUSER_SMALL_CONFIG, sampleSize: 16, selfAttention: true, attentionLevels: [true, true, true] };
const cpu = await createOnnxruntimeBackend("cpu");
const run = async (backend: any, bytes: Uint8Array) => {
  const den = await loadOnnxDenoiser(backend, bytes, { predictionType: "epsilon" });
  const g = new GaussianStream("f16");
  const x = await backend.fromHost(g.normals(2 * 256), [2, 1, 16, 16]);
  const cond = { embeddings: await backend.fromHost(g.normals(2 * 16 * 64), [2, 16, 64]), mask: await backend.fromHost(new Float64Array(32).fill(1), [2, 16]) };
  return backend.toHost(await den.evaluate(x, 500, cond));
};
const want = await run(cpu, emitUNetOnnx(config, "random", 7));
const scale = Math.max(...want.map(Math.abs));
for (const [name, b] of [["cpu", cpu], ["webgpu", await createOnnxruntimeBackend("webgpu").catch(() => null)]] as const) {
  if (!b) continue;
  for (const attention of [undefined, { impl: "fused" as const }]) {
    try { const got = await run(b, emitUNetOnnx(config, "random", 7, { precision: "fp16", attention })); console.log(name, attention?.impl ?? "matmul", "fp16 rel err", (maxAbsDiff(want, got) / scale).toExponential(2)); }
    catch (e) { console.log(name, attention?.impl ?? "matmul", "FAILED", String((e as Error).message).slice(0, 300)); }
  }
}
