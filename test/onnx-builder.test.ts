/**
 * The ONNX graph builder (adapters/onnx/builder.ts, layers.ts, models.ts): every op helper emits a model
 * that onnxruntime-node loads and runs, with numbers checked against a JavaScript computation. Ops whose
 * form depends on the opset (ReduceMean's axes, …) are run at opsets 17, 18 and 21.
 */
import { describe, expect, test } from "vitest";
import * as ort from "onnxruntime-node";
import { GraphBuilder, decodeModel, i64, MIN_OPSET, MAX_OPSET } from "../adapters/onnx/builder.ts";
import { attention, conv2d, groupNormAct, linear, timestepEmbedding, transpose2d } from "../adapters/onnx/layers.ts";
import { DENOISER_IO, emitCrossAttentionToy, emitGaussianMixtureOracle, emitMlp, interpolatedAlphaBar } from "../adapters/onnx/models.ts";
import { mlpForward, randomMlp, timestepEmbedding as refTimestepEmbedding } from "../reference/models/mlp.ts";
import { mlpErrorBound } from "../conformance/tolerances.ts";
import { GaussianMixture } from "../reference/distributions.ts";
import { epsilonStar } from "../reference/oracle.ts";
import { makeSchedule } from "../reference/schedule.ts";
import { GaussianStream } from "../reference/rng.ts";
import { ConfigError, ShapeError } from "../reference/errors.ts";

type Feed = Float32Array | BigInt64Array | Uint8Array;
type FeedSpec = [data: Feed, dims: number[], type?: "bool"];

async function run(g: GraphBuilder, feeds: Record<string, FeedSpec>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ["cpu"], logSeverityLevel: 3 });
  const t: Record<string, ort.Tensor> = {};
  for (const [k, [data, dims, type]] of Object.entries(feeds)) {
    t[k] = type === "bool" ? new ort.Tensor("bool", data as Uint8Array, dims) : data instanceof Float32Array ? new ort.Tensor("float32", data, dims) : new ort.Tensor("int64", data as BigInt64Array, dims);
  }
  const out = (await s.run(t)) as Record<string, ort.Tensor>;
  await s.release();
  return out;
}

const f = (n: number, seed: string, scale = 1): Float32Array => Float32Array.from(new GaussianStream(seed).normals(n), (v) => v * scale);
const num = (t: ort.Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** |got − want| ≤ atol + rtol·|want| elementwise. */
function close(got: ArrayLike<number>, want: ArrayLike<number>, rtol = 2e-6, atol = 1e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= atol + rtol * Math.abs(want[i]))) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (|diff| ${err.toExponential(3)})`);
  }
}

/** erf to ~1e-12 (series / continued fraction), for the Erf and GELU checks. */
function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 60; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  let cf = 0;
  for (let n = 60; n >= 1; n--) cf = n / 2 / (t + cf);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + cf));
}

// ─── unary and binary elementwise ops ───────────────────────────────────────────────────────────

const X = Float32Array.from([-2.5, -1.25, -0.5, 0, 0.3, 0.75, 1.5, 3]);
const POS = Float32Array.from([0.1, 0.5, 1, 2, 3.5, 7, 10, 100]);
const sig = (v: number) => 1 / (1 + Math.exp(-v));

const UNARY: [string, (g: GraphBuilder, x: string) => string, (v: number) => number, Float32Array][] = [
  ["Abs", (g, x) => g.abs(x), Math.abs, X],
  ["Neg", (g, x) => g.neg(x), (v) => -v, X],
  ["Exp", (g, x) => g.exp(x), Math.exp, X],
  ["Log", (g, x) => g.log(x), Math.log, POS],
  ["Sqrt", (g, x) => g.sqrt(x), Math.sqrt, POS],
  ["Sin", (g, x) => g.sin(x), Math.sin, X],
  ["Cos", (g, x) => g.cos(x), Math.cos, X],
  ["Tanh", (g, x) => g.tanh(x), Math.tanh, X],
  ["Erf", (g, x) => g.erf(x), erf, X],
  ["Sigmoid", (g, x) => g.sigmoid(x), sig, X],
  ["Relu", (g, x) => g.relu(x), (v) => Math.max(v, 0), X],
  ["Identity", (g, x) => g.identity(x), (v) => v, X],
  ["SiLU (Mul·Sigmoid)", (g, x) => g.silu(x), (v) => v * sig(v), X],
  ["GELU (Erf)", (g, x) => g.gelu(x), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)), X],
  ["Clip", (g, x) => g.clip(x, -1, 0.5), (v) => Math.min(Math.max(v, -1), 0.5), X],
  ["Clip (min only)", (g, x) => g.clip(x, 0, null), (v) => Math.max(v, 0), X],
  ["Floor (node())", (g, x) => g.node("Floor", [x])[0], Math.floor, X],
  ["Cast float→int64→float", (g, x) => g.cast(g.cast(x, "int64"), "float32"), Math.trunc, X],
];

const A = f(6, "a");
const Bv = Float32Array.from([0.5, -2, 3]);
const BINARY: [string, (g: GraphBuilder, a: string, b: string) => string, (a: number, b: number) => number][] = [
  ["Add", (g, a, b) => g.add(a, b), (a, b) => a + b],
  ["Sub", (g, a, b) => g.sub(a, b), (a, b) => a - b],
  ["Mul", (g, a, b) => g.mul(a, b), (a, b) => a * b],
  ["Div", (g, a, b) => g.div(a, b), (a, b) => a / b],
  ["Pow", (g, a, b) => g.pow(g.abs(a), b), (a, b) => Math.abs(a) ** b],
  ["Min", (g, a, b) => g.min(a, b), Math.min],
  ["Max", (g, a, b) => g.max(a, b), Math.max],
  ["Where(Less)", (g, a, b) => g.where(g.less(a, b), a, b), (a, b) => (a < b ? a : b)],
  ["Where(Greater)", (g, a, b) => g.where(g.greater(a, b), a, b), (a, b) => (a > b ? a : b)],
  ["Where(Equal)", (g, a, b) => g.where(g.equal(g.relu(a), a), a, b), (a, b) => (Math.max(a, 0) === a ? a : b)],
];

describe.each([17, 18, 21])("opset %i", (opset) => {
  test.each(UNARY)("%s", async (_name, build, ref, data) => {
    const g = new GraphBuilder({ opset });
    g.output(build(g, g.input("x", "float32", [2, 4])), "y");
    const out = await run(g, { x: [data, [2, 4]] });
    close(num(out.y), Array.from(data, (v) => ref(v)), 3e-6, 2e-7);
    expect(out.y.dims).toEqual([2, 4]);
  });

  test.each(BINARY)("%s with broadcasting [2, 3] ∘ [3]", async (_name, build, ref) => {
    const g = new GraphBuilder({ opset });
    g.output(build(g, g.input("a", "float32", [2, 3]), g.input("b", "float32", [3])), "y");
    const out = await run(g, { a: [A, [2, 3]], b: [Bv, [3]] });
    close(num(out.y), Array.from(A, (v, i) => ref(v, Bv[i % 3])), 3e-6, 1e-7);
  });

  test("ReduceMean / ReduceSum / ReduceMax over axes, keepdims on and off", async () => {
    const x = f(24, "reduce");
    const g = new GraphBuilder({ opset });
    const xi = g.input("x", "float32", [2, 3, 4]);
    g.output(g.reduceMean(xi, [2]), "mean");
    g.output(g.reduceSum(xi, [0, 2], false), "sum");
    g.output(g.reduceMax(xi, [1], false), "max");
    const out = await run(g, { x: [x, [2, 3, 4]] });
    const at = (b: number, c: number, w: number) => x[(b * 3 + c) * 4 + w];
    const mean: number[] = [];
    for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) mean.push([0, 1, 2, 3].reduce((s, w) => s + at(b, c, w), 0) / 4);
    expect(out.mean.dims).toEqual([2, 3, 1]);
    close(num(out.mean), mean);
    expect(out.sum.dims).toEqual([3]);
    close(num(out.sum), [0, 1, 2].map((c) => [0, 1].reduce((s, b) => s + [0, 1, 2, 3].reduce((t, w) => t + at(b, c, w), 0), 0)));
    expect(out.max.dims).toEqual([2, 4]);
    close(num(out.max), [0, 1].flatMap((b) => [0, 1, 2, 3].map((w) => Math.max(at(b, 0, w), at(b, 1, w), at(b, 2, w)))), 0, 0);
  });

  test("Split with sizes, Concat, Slice, Gather, Shape", async () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    const g = new GraphBuilder({ opset });
    const xi = g.input("x", "float32", [6, 2]);
    const [p, q] = g.split(xi, [2, 4], 0);
    g.output(p, "p");
    g.output(g.concat([q, p], 0), "qp");
    g.output(g.slice(xi, [1, 1], [5, 2], [0, 1], [2, 1]), "sl");
    g.output(g.gather(xi, [5, 0], 0), "rows");
    g.output(g.gather(xi, 1, 1), "col1");
    g.output(g.shape(xi), "shape", "int64");
    const out = await run(g, { x: [x, [6, 2]] });
    expect(num(out.p)).toEqual([0, 1, 2, 3]);
    expect(out.qp.dims).toEqual([6, 2]);
    expect(num(out.qp)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3]);
    expect(num(out.sl)).toEqual([3, 7]);
    expect(num(out.rows)).toEqual([10, 11, 0, 1]);
    expect(out.col1.dims).toEqual([6]);
    expect(num(out.col1)).toEqual([1, 3, 5, 7, 9, 11]);
    expect(num(out.shape)).toEqual([6, 2]);
  });

  test("groupNorm decomposition equals torch.nn.GroupNorm (JS), and opset 21's GroupNormalization where available", async () => {
    const [N, C, H, W, G] = [2, 6, 3, 2, 3];
    const x = f(N * C * H * W, "gn", 2);
    const gamma = f(C, "gamma");
    const beta = f(C, "beta");
    const g = new GraphBuilder({ opset });
    const xi = g.input("x", "float32", [N, C, H, W]);
    const s = g.constant(gamma, [C]);
    const b = g.constant(beta, [C]);
    g.output(g.groupNorm(xi, s, b, { groups: G, channels: C }), "y");
    if (opset >= 21) g.output(g.groupNorm(xi, s, b, { groups: G, channels: C, native: true }), "native");
    const out = await run(g, { x: [x, [N, C, H, W]] });
    const want = new Float64Array(x.length);
    const per = (C / G) * H * W;
    for (let n = 0; n < N; n++) for (let gi = 0; gi < G; gi++) {
      const o = (n * G + gi) * per;
      let m = 0;
      for (let i = 0; i < per; i++) m += x[o + i] / per;
      let v = 0;
      for (let i = 0; i < per; i++) v += (x[o + i] - m) ** 2 / per;
      for (let i = 0; i < per; i++) {
        const c = gi * (C / G) + Math.floor(i / (H * W));
        want[o + i] = ((x[o + i] - m) / Math.sqrt(v + 1e-5)) * gamma[c] + beta[c];
      }
    }
    close(num(out.y), want, 1e-5, 1e-5);
    if (opset >= 21) close(num(out.native), want, 1e-5, 1e-5);
  });
});

// ─── shape and layout ops ───────────────────────────────────────────────────────────────────────

describe("layout ops", () => {
  test("Reshape (0 and −1), Flatten, Transpose, Unsqueeze, Squeeze, Expand", async () => {
    const x = Float32Array.from({ length: 24 }, (_, i) => i);
    const g = new GraphBuilder();
    const xi = g.input("x", "float32", ["n", 3, 4]);
    g.output(g.reshape(xi, [0, -1]), "r");
    g.output(g.flatten(xi, 2), "fl");
    g.output(g.transpose(xi, [2, 0, 1]), "tr");
    g.output(g.unsqueeze(xi, [1, 4]), "us");
    g.output(g.squeeze(g.unsqueeze(xi, [0]), [0]), "sq");
    g.output(g.expand(g.floats([1, 2, 3]), [2, 3]), "ex");
    const out = await run(g, { x: [x, [2, 3, 4]] });
    expect(out.r.dims).toEqual([2, 12]);
    expect(out.fl.dims).toEqual([6, 4]);
    expect(out.tr.dims).toEqual([4, 2, 3]);
    const tr = num(out.tr);
    for (let w = 0; w < 4; w++) for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) expect(tr[(w * 2 + n) * 3 + c]).toBe(x[(n * 3 + c) * 4 + w]);
    expect(out.us.dims).toEqual([2, 1, 3, 4, 1]);
    expect(out.sq.dims).toEqual([2, 3, 4]);
    expect(num(out.ex)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  test("ConstantOfShape and Resize (nearest 2×)", async () => {
    const x = Float32Array.from([1, 2, 3, 4]);
    const g = new GraphBuilder();
    const xi = g.input("x", "float32", [1, 1, 2, 2]);
    g.output(g.constantOfShape(g.shape(xi), 0.25), "c");
    g.output(g.resizeNearest(xi, [1, 1, 2, 2]), "up");
    const out = await run(g, { x: [x, [1, 1, 2, 2]] });
    expect(num(out.c)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(out.up.dims).toEqual([1, 1, 4, 4]);
    expect(num(out.up)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  test("TopK largest and smallest, sorted", async () => {
    const x = Float32Array.from([3, -1, 4, 1, -5, 9, 2, 6]);
    const g = new GraphBuilder();
    const xi = g.input("x", "float32", [2, 4]);
    const [v, i] = g.topK(xi, 2, { axis: 1 });
    const [s] = g.topK(xi, g.ints([3]), { axis: 1, largest: false });
    g.output(v, "v");
    g.output(i, "i", "int64");
    g.output(s, "s");
    const out = await run(g, { x: [x, [2, 4]] });
    expect(num(out.v)).toEqual([4, 3, 9, 6]);
    expect(num(out.i)).toEqual([2, 0, 1, 3]);
    expect(num(out.s)).toEqual([-1, 1, 3, -5, 2, 6]);
  });

  test("Softmax along an axis", async () => {
    const x = f(6, "softmax", 3);
    const g = new GraphBuilder();
    g.output(g.softmax(g.input("x", "float32", [2, 3]), 1), "y");
    const out = await run(g, { x: [x, [2, 3]] });
    const want = [0, 1].flatMap((r) => {
      const row = Array.from(x.subarray(r * 3, r * 3 + 3));
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    });
    close(num(out.y), want);
  });

  test("bool inputs and Where", async () => {
    const g = new GraphBuilder();
    const c = g.input("c", "bool", [3]);
    g.output(g.where(c, g.floats([1, 2, 3]), g.floats([-1, -2, -3])), "y");
    const out = await run(g, { c: [Uint8Array.of(1, 0, 1), [3], "bool"] });
    expect(num(out.y)).toEqual([1, -2, 3]);
  });
});

// ─── linear algebra ─────────────────────────────────────────────────────────────────────────────

function matmulJs(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * m + j];
    out.push(s);
  }
  return out;
}

describe("linear algebra", () => {
  test("MatMul (2-D and batched 3-D)", async () => {
    const a = f(2 * 3 * 4, "ma");
    const b = f(4 * 5, "mb");
    const g = new GraphBuilder();
    g.output(g.matMul(g.input("a", "float32", [2, 3, 4]), g.input("b", "float32", [4, 5])), "y");
    const out = await run(g, { a: [a, [2, 3, 4]], b: [b, [4, 5]] });
    expect(out.y.dims).toEqual([2, 3, 5]);
    close(num(out.y), matmulJs(a, b, 6, 4, 5), 1e-5, 1e-6);
  });

  test("Gemm with transB, alpha, beta and bias", async () => {
    const a = f(3 * 4, "ga");
    const bt = f(5 * 4, "gb"); // [5, 4], used transposed
    const c = f(5, "gc");
    const g = new GraphBuilder();
    g.output(g.gemm(g.input("a", "float32", [3, 4]), g.constant(bt, [5, 4]), g.constant(c, [5]), { transB: true, alpha: 0.5, beta: 2 }), "y");
    const out = await run(g, { a: [a, [3, 4]] });
    const ab = matmulJs(a, transpose2d(bt, 5, 4), 3, 4, 5);
    close(num(out.y), ab.map((v, i) => 0.5 * v + 2 * c[i % 5]), 1e-5, 1e-6);
  });

  test("Conv (3×3, padding 1, stride 1 and 2, groups) = direct convolution", async () => {
    const [N, C, H, W, M] = [1, 2, 5, 4, 4];
    const x = f(N * C * H * W, "cx");
    for (const [stride, groups] of [[1, 1], [2, 1], [1, 2]]) {
      const w = f(M * (C / groups) * 9, `cw${stride}${groups}`, 0.5);
      const bias = f(M, "cb");
      const g = new GraphBuilder();
      g.output(conv2d(g, g.input("x", "float32", [N, C, H, W]), { weight: w, bias, inChannels: C, outChannels: M, kernel: 3, padding: 1, stride, groups }), "y");
      const out = await run(g, { x: [x, [N, C, H, W]] });
      const Ho = Math.floor((H + 2 - 3) / stride) + 1;
      const Wo = Math.floor((W + 2 - 3) / stride) + 1;
      expect(out.y.dims).toEqual([N, M, Ho, Wo]);
      const want: number[] = [];
      const cin = C / groups;
      for (let m = 0; m < M; m++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) {
        let s = bias[m];
        const g0 = Math.floor(m / (M / groups)) * cin;
        for (let c = 0; c < cin; c++) for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) {
          const y = i * stride + di - 1;
          const xx = j * stride + dj - 1;
          if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
          s += w[((m * cin + c) * 3 + di) * 3 + dj] * x[((g0 + c) * H + y) * W + xx];
        }
        want.push(s);
      }
      close(num(out.y), want, 1e-5, 1e-5);
    }
  });

  test("LayerNormalization over the last axis", async () => {
    const x = f(8, "ln", 3);
    const g = new GraphBuilder();
    g.output(g.layerNorm(g.input("x", "float32", [2, 4]), g.floats([1, 2, 1, 0.5]), g.floats([0, 0, 1, 0])), "y");
    const out = await run(g, { x: [x, [2, 4]] });
    const want = [0, 1].flatMap((r) => {
      const row = Array.from(x.subarray(r * 4, r * 4 + 4));
      const m = row.reduce((a, b) => a + b, 0) / 4;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
      return row.map((q, i) => ((q - m) / Math.sqrt(v + 1e-5)) * [1, 2, 1, 0.5][i] + [0, 0, 1, 0][i]);
    });
    close(num(out.y), want, 1e-5, 1e-5);
  });
});

// ─── sub-graph helpers (layers.ts) ──────────────────────────────────────────────────────────────

describe("layers", () => {
  test("linear = x Wᵀ + b on [B, L, in]", async () => {
    const x = f(2 * 3 * 4, "lx");
    const w = f(5 * 4, "lw");
    const b = f(5, "lb");
    const g = new GraphBuilder();
    g.output(linear(g, g.input("x", "float32", [2, 3, 4]), { weight: w, bias: b, inFeatures: 4, outFeatures: 5 }), "y");
    const out = await run(g, { x: [x, [2, 3, 4]] });
    close(num(out.y), matmulJs(x, transpose2d(w, 5, 4), 6, 4, 5).map((v, i) => v + b[i % 5]), 1e-5, 1e-6);
    expect(() => linear(new GraphBuilder(), "x", { weight: w, inFeatures: 3, outFeatures: 5 })).toThrow(ShapeError);
  });

  test("timestepEmbedding = the reference MODEL-TIME-EMBED (and the flipped diffusers variant)", async () => {
    const g = new GraphBuilder();
    const t = g.input("t", "float32", [1]);
    g.output(timestepEmbedding(g, t, 16), "e");
    g.output(timestepEmbedding(g, t, 8, { flipSinToCos: true }), "flipped");
    for (const tv of [0, 1, 37.5, 999]) {
      const out = await run(g, { t: [Float32Array.of(tv), [1]] });
      expect(out.e.dims).toEqual([1, 16]);
      // Angle t·fⱼ formed in float32: |error| ≲ 2·|t|·2⁻²⁴ (see timestepEmbedding's doc).
      close(num(out.e), refTimestepEmbedding(tv, 16), 0, 3 * tv * 2 ** -24 + 3e-7);
      const ref8 = refTimestepEmbedding(tv, 8);
      close(num(out.flipped), [...ref8.slice(4), ...ref8.slice(0, 4)], 0, 3 * tv * 2 ** -24 + 3e-7);
    }
    expect(() => timestepEmbedding(g, t, 7)).toThrow(ShapeError);
  });

  test("attention (2 heads, with and without a key mask) = softmax(QKᵀ/√d)V per head", async () => {
    const [B, Lq, Lk, dim, heads] = [2, 3, 4, 4, 2];
    const q = f(B * Lq * dim, "q");
    const k = f(B * Lk * dim, "k");
    const v = f(B * Lk * dim, "v");
    const mask = Float32Array.from([1, 1, 0, 1, 1, 0, 0, 0]);
    const g = new GraphBuilder();
    const qi = g.input("q", "float32", [B, Lq, dim]);
    const ki = g.input("k", "float32", [B, Lk, dim]);
    const vi = g.input("v", "float32", [B, Lk, dim]);
    const mi = g.input("mask", "float32", [B, Lk]);
    g.output(attention(g, qi, ki, vi, { heads, dim }), "y");
    g.output(attention(g, qi, ki, vi, { heads, dim, mask: mi }), "ym");
    const out = await run(g, { q: [q, [B, Lq, dim]], k: [k, [B, Lk, dim]], v: [v, [B, Lk, dim]], mask: [mask, [B, Lk]] });
    const dh = dim / heads;
    const ref = (useMask: boolean) => {
      const y = new Float64Array(B * Lq * dim);
      for (let b = 0; b < B; b++) for (let h = 0; h < heads; h++) for (let i = 0; i < Lq; i++) {
        const s = Array.from({ length: Lk }, (_, j) => {
          let d = 0;
          for (let c = 0; c < dh; c++) d += q[(b * Lq + i) * dim + h * dh + c] * k[(b * Lk + j) * dim + h * dh + c];
          return d / Math.sqrt(dh) + (useMask ? -10000 * (1 - mask[b * Lk + j]) : 0);
        });
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a2, b2) => a2 + b2, 0);
        for (let c = 0; c < dh; c++) y[(b * Lq + i) * dim + h * dh + c] = e.reduce((acc, ej, j) => acc + (ej / z) * v[(b * Lk + j) * dim + h * dh + c], 0);
      }
      return y;
    };
    close(num(out.y), ref(false), 1e-5, 1e-6);
    close(num(out.ym), ref(true), 1e-5, 1e-6);
    expect(() => attention(new GraphBuilder(), "q", "k", "v", { heads: 3, dim: 4 })).toThrow(ShapeError);
  });

  test("groupNormAct (GroupNorm → SiLU) composes; scopes keep names unique", async () => {
    const [N, C, H, W] = [1, 4, 2, 2];
    const x = f(N * C * H * W, "gna");
    const gamma = Float32Array.from([1, 1, 1, 1]);
    const beta = new Float32Array(4);
    const g = new GraphBuilder();
    const xi = g.input("x", "float32", [N, C, H, W]);
    const a = g.scope("block1", () => groupNormAct(g, xi, { gamma, beta, groups: 2 }));
    const b = g.scope("block1", () => groupNormAct(g, a, { gamma, beta, groups: 2, silu: false }));
    g.output(b, "y");
    const model = decodeModel(g.toBytes());
    const names = model.graph!.initializer!.map((i) => i.name!);
    expect(new Set(names).size).toBe(names.length);
    expect(names.some((n) => n.startsWith("block1/norm/"))).toBe(true);
    const out = await run(g, { x: [x, [N, C, H, W]] });
    // The second norm (no activation) normalises each group of the first's output: mean 0, variance ≈ 1.
    const y = num(out.y);
    for (let gi = 0; gi < 2; gi++) {
      const part = y.slice(gi * 8, gi * 8 + 8);
      const m = part.reduce((s, v) => s + v, 0) / 8;
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(part.reduce((s, v) => s + (v - m) ** 2, 0) / 8).toBeCloseTo(1, 3);
    }
  });
});

// ─── the builder itself ─────────────────────────────────────────────────────────────────────────

describe("builder", () => {
  test("emits ModelProto with the opset, IR version, symbolic dims and unknown-rank inputs", () => {
    const g = new GraphBuilder({ opset: 18, name: "t", doc: "hello" });
    const x = g.input("x", "float32", ["batch", 3]);
    const y = g.input("y", "float32", null);
    g.output(g.add(x, y), "z");
    const m = decodeModel(g.toBytes());
    expect(Number(m.irVersion)).toBe(9);
    expect(Number(m.opsetImport![0].version)).toBe(18);
    expect(m.docString).toBe("hello");
    expect(m.graph!.input![0].type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(["batch", 3]);
    expect(m.graph!.input![1].type!.tensorType!.shape).toBeFalsy();
    expect(g.stats.ops).toEqual(["Add", "Identity"]);
  });

  test("typed errors: bad opset, unknown input name, duplicate name, constant size, no outputs", () => {
    expect(() => new GraphBuilder({ opset: MIN_OPSET - 1 })).toThrow(ConfigError);
    expect(() => new GraphBuilder({ opset: MAX_OPSET + 1 })).toThrow(ConfigError);
    const g = new GraphBuilder();
    g.input("x", "float32", [1]);
    expect(() => g.add("x", "nope")).toThrow(/nope/);
    expect(() => g.input("x", "float32", [1])).toThrow(ConfigError);
    expect(() => g.constant(new Float32Array(3), [2, 2])).toThrow(ShapeError);
    expect(() => new GraphBuilder().toModel()).toThrow(ConfigError);
    expect(() => new GraphBuilder({ opset: 18 }).groupNorm("x", "s", "b", { groups: 1, channels: 1, native: true })).toThrow(ConfigError);
  });

  test("int64 initializers round-trip (i64 helper)", async () => {
    const g = new GraphBuilder();
    const x = g.input("x", "int64", [3]);
    g.output(g.add(x, g.constant(i64([10, -20, 2 ** 40]), [3])), "y", "int64");
    const out = await run(g, { x: [BigInt64Array.of(1n, 2n, 3n), [3]] });
    expect(Array.from(out.y.data as BigInt64Array)).toEqual([11n, -18n, BigInt(2 ** 40) + 3n]);
  });
});

// ─── the suite's models (models.ts) ─────────────────────────────────────────────────────────────

describe("models", () => {
  test("emitMlp = mlpForward within the BACKEND-MODEL bound, for item shapes [D] and [C, H, W], timestep [1] and scalar", async () => {
    const spec = randomMlp(12, 24, "onnx-mlp", "v_prediction", 8);
    for (const [itemShape, timestepShape] of [[[12], [1]], [[3, 2, 2], []]] as const) {
      const s = await ort.InferenceSession.create(emitMlp(spec, { itemShape, timestepShape }), { logSeverityLevel: 3 });
      expect(s.inputNames).toEqual([DENOISER_IO.sample, DENOISER_IO.timestep]);
      expect(s.outputNames).toEqual([DENOISER_IO.output]);
      const x = f(3 * 12, "mlp-x");
      for (const t of [0, 17, 500.25, 999]) {
        const out = (await s.run({ sample: new ort.Tensor("float32", x, [3, ...itemShape]), timestep: new ort.Tensor("float32", Float32Array.of(t), [...timestepShape]) })).model_output as ort.Tensor;
        expect(out.dims).toEqual([3, ...itemShape]);
        const xs = Float64Array.from(x);
        const want = mlpForward(spec, { shape: [3, ...itemShape], data: xs }, t).data;
        const bound = mlpErrorBound(spec, xs, 3, t, "float32");
        const got = num(out);
        got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(2 * bound[i]));
      }
      await s.release();
    }
    expect(() => emitMlp(spec, { itemShape: [5, 2] })).toThrow(ShapeError);
  });

  test("emitGaussianMixtureOracle = epsilonStar at integer and fractional timesteps", async () => {
    const g = new GaussianStream("oracle-mix");
    const mix = new GaussianMixture([0, 1, 2].map((k) => ({ mean: Float64Array.from(g.normals(6), (v) => 0.8 * v), std: [0.3, 0.1, 0][k], weight: 1 + k })));
    const ac = makeSchedule().alphasCumprod;
    const s = await ort.InferenceSession.create(emitGaussianMixtureOracle(mix, ac, { itemShape: [1, 2, 3] }), { logSeverityLevel: 3 });
    const x = Float32Array.from(g.normals(4 * 6));
    for (const t of [1, 100, 420.5, 999]) {
      const out = (await s.run({ sample: new ort.Tensor("float32", x, [4, 1, 2, 3]), timestep: new ort.Tensor("float32", Float32Array.of(t), [1]) })).model_output as ort.Tensor;
      expect(out.dims).toEqual([4, 1, 2, 3]);
      const abar = interpolatedAlphaBar(ac, t);
      const want = epsilonStar(mix, { shape: [4, 6], data: Float64Array.from(x) }, Math.sqrt(abar), Math.sqrt(1 - abar)).data;
      // float32 throughout: responsibilities are softmax of logits ~‖x − αμ‖²/(2v) (≤ 10⁴ at small t), so
      // compare at the scale of |x|/σ with a float32-sized tolerance.
      const scaleT = Math.max(...Array.from(x, Math.abs)) / Math.sqrt(1 - abar);
      close(num(out), want, 0, 2e-4 * scaleT);
    }
    await s.release();
  });

  test("emitCrossAttentionToy: an encoder_hidden_states input that changes the output", async () => {
    const s = await ort.InferenceSession.create(emitCrossAttentionToy(6, 4), { logSeverityLevel: 3 });
    expect(s.inputNames).toEqual([DENOISER_IO.sample, DENOISER_IO.timestep, DENOISER_IO.encoderHiddenStates]);
    const x = new ort.Tensor("float32", f(12, "xa"), [2, 6]);
    const t = new ort.Tensor("float32", Float32Array.of(10), [1]);
    const a = (await s.run({ sample: x, timestep: t, encoder_hidden_states: new ort.Tensor("float32", f(2 * 3 * 4, "c1"), [2, 3, 4]) })).model_output as ort.Tensor;
    const b = (await s.run({ sample: x, timestep: t, encoder_hidden_states: new ort.Tensor("float32", f(2 * 3 * 4, "c2"), [2, 3, 4]) })).model_output as ort.Tensor;
    expect(a.dims).toEqual([2, 6]);
    expect(num(a).every(Number.isFinite)).toBe(true);
    expect(num(a)).not.toEqual(num(b));
    await s.release();
  });
});
