/** adapters/onnx/float16.ts: float16 compute behind a float32 interface. */
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { toFloat16, toHalfBits } from "../adapters/onnx/float16.ts";
import { decodeModel, ELEM_TYPE } from "../adapters/onnx/builder.ts";
import { emitUNetOnnx } from "../glyffuser/unet-onnx.ts";
import { GLYFFUSER_SMALL_CONFIG } from "../glyffuser/unet.ts";
import { createOnnxruntimeBackend, loadOnnxDenoiser } from "../adapters/onnxruntime/index.ts";
import { GaussianStream } from "../reference/rng.ts";
import { maxAbsDiff } from "../reference/tensor.ts";

/** The value of float16 bits (exact). */
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

describe("toHalfBits: IEEE float32 → float16, round to nearest even", () => {
  test("known values", () => {
    const cases: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [2 ** -14, 0x0400], [0, 0], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [-10000, 0xf0e2]];
    for (const [v, h] of cases) expect(toHalfBits(v), `${v}`).toBe(h);
    expect(halfValue(toHalfBits(NaN))).toBeNaN();
  });

  test("property: the result is a nearest float16 of the float32 value, ties to even", () => {
    fc.assert(
      fc.property(fc.float({ min: -70000, max: 70000, noNaN: true }), (v) => {
        const h = toHalfBits(v);
        const got = halfValue(h);
        if (Math.abs(v) >= 65520) return got === Math.sign(v) * Infinity;
        // Same sign as v; the neighbours in magnitude are no closer, and a tie went to the even one.
        const m = h & 0x7fff;
        for (const mm of [m - 1, m + 1]) {
          if (mm < 0 || mm > 0x7bff) continue;
          const n = halfValue((h & 0x8000) | mm);
          if (Math.abs(n - v) < Math.abs(got - v)) return false;
          if (Math.abs(n - v) === Math.abs(got - v) && m & 1) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe("toFloat16 on the U-Net", () => {
  const config = { ...GLYFFUSER_SMALL_CONFIG, sampleSize: 16, selfAttention: true, attentionLevels: [true, true, true] };

  test("float32 interface, float16 weights, the timestep embedding kept in float32", () => {
    const m = decodeModel(toFloat16(emitUNetOnnx(config, "random", 7)));
    const g = m.graph!;
    for (const v of [...g.input!, ...g.output!]) expect(v.type?.tensorType?.elemType, v.name!).toBe(ELEM_TYPE.float32);
    const init = new Map(g.initializer!.map((t) => [t.name!, t.dataType]));
    expect(init.get("conv_in.weight")).toBe(ELEM_TYPE.float16);
    expect(init.get("time_embedding/freqs")).toBe(ELEM_TYPE.float32);
    const sin = g.node!.find((n) => n.opType === "Sin")!;
    expect(sin.name).toMatch(/^time_embedding\//);
    // The embedding enters the float16 part through one Cast.
    expect(g.node!.some((n) => n.opType === "Cast" && n.input![0] === "time_embedding/Concat")).toBe(true);
  });

  test("onnxruntime-cpu: the float16 U-Net's output is within float16 rounding of the float32 one", async () => {
    const cpu = await createOnnxruntimeBackend("cpu");
    const run = async (bytes: Uint8Array): Promise<Float64Array> => {
      const den = await loadOnnxDenoiser(cpu, bytes, { predictionType: "epsilon" });
      const gs = new GaussianStream("f16");
      const x = await cpu.fromHost(gs.normals(2 * 256), [2, 1, 16, 16]);
      const cond = { embeddings: await cpu.fromHost(gs.normals(2 * 16 * 64), [2, 16, 64]), mask: await cpu.fromHost(new Float64Array(32).fill(1), [2, 16]) };
      return cpu.toHost(await den.evaluate(x, 500, cond));
    };
    const want = await run(emitUNetOnnx(config, "random", 7));
    const got = await run(emitUNetOnnx(config, "random", 7, { precision: "fp16" }));
    const scale = Math.max(...want.map(Math.abs));
    const rel = maxAbsDiff(want, got) / scale;
    expect(rel).toBeGreaterThan(0); // it really computed in float16
    expect(rel).toBeLessThan(1e-2); // measured 1.2e-3
    await cpu.close?.();
  }, 60_000);
});
