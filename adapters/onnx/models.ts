/**
 * ONNX emitters for the suite's own models (BACKEND-MODEL) and for the small "fused step" graphs the
 * onnxruntime backend runs its primitives with (BACKEND-COMBINE, -CLAMP, -THRESHOLD, -BATCH).
 *
 * Denoisers follow the common ONNX noise-predictor interface (diffusers' exported UNets):
 *   inputs  sample [batch, …item] float32, timestep [1] (or scalar) float32, optional encoder_hidden_states [batch, tokens, dim]
 *   output  model_output, the shape of sample.
 */
import { GraphBuilder, type ElemType } from "./builder.ts";
import { attention, linear, timestepEmbedding } from "./layers.ts";
import type { MlpModelSpec } from "../../reference/models/mlp.ts";
import type { GaussianMixture } from "../../reference/distributions.ts";
import { ShapeError, require } from "../../reference/errors.ts";

/** The names of the noise-predictor interface. */
export const DENOISER_IO = {
  sample: "sample",
  timestep: "timestep",
  encoderHiddenStates: "encoder_hidden_states",
  encoderAttentionMask: "encoder_attention_mask",
  output: "model_output",
} as const;

export interface DenoiserEmitOptions {
  /** Shape of one batch item; its product must be the model's flattened size. Default [dim]. */
  readonly itemShape?: readonly number[];
  /** Declared shape of the timestep input: [1] (default) or [] (a scalar). The graph accepts [B] too. */
  readonly timestepShape?: readonly [] | readonly [1];
  /**
   * Adds an `encoder_hidden_states` [batch, tokens, dim] input (the conditioning interface). The MLP does
   * not read it (the reference MLP is unconditional); with `crossAttention` it is attended to.
   */
  readonly conditioning?: { readonly dim: number; readonly tokens?: number | string };
  readonly opset?: number;
}

function declareDenoiserInputs(g: GraphBuilder, dim: number, o: DenoiserEmitOptions): { sample: string; timestep: string; cond?: string } {
  const itemShape = o.itemShape ?? [dim];
  const n = itemShape.reduce((a, b) => a * b, 1);
  if (n !== dim || itemShape.some((d) => !Number.isInteger(d) || d <= 0)) throw new ShapeError("itemShape", [...itemShape], `positive integers whose product is the model's dim ${dim}`);
  const sample = g.input(DENOISER_IO.sample, "float32", ["batch", ...itemShape]);
  const timestep = g.input(DENOISER_IO.timestep, "float32", o.timestepShape ? [...o.timestepShape] : [1]);
  const cond = o.conditioning ? g.input(DENOISER_IO.encoderHiddenStates, "float32", ["batch", o.conditioning.tokens ?? "tokens", o.conditioning.dim]) : undefined;
  return { sample, timestep, cond };
}

/**
 * The reference MLP (reference/models/mlp.ts) as ONNX, the same math as `mlpForward`:
 *   x = reshape(sample, [B, D]);  e = timestepEmbedding(t) broadcast to [B, E]
 *   h₁ = SiLU([x, e] W₁ᵀ + b₁);  h₂ = SiLU(h₁ W₂ᵀ + b₂);  out = reshape(h₂ W₃ᵀ + b₃, shape(sample))
 */
export function emitMlp(spec: MlpModelSpec, o: DenoiserEmitOptions = {}): Uint8Array {
  require(spec.kind === "mlp", "spec.kind", spec.kind, '"mlp"');
  const { dim: D, hidden: H, timeEmbedDim: E } = spec;
  const { w1, b1, w2, b2, w3, b3 } = spec.weights;
  const g = new GraphBuilder({ opset: o.opset, name: "diffspec_mlp", doc: `diffspec MLP noise predictor (dim ${D}, hidden ${H}, time embedding ${E}, predictionType ${spec.predictionType})` });
  const { sample, timestep } = declareDenoiserInputs(g, D, o);
  const x = g.reshape(sample, [0, -1]); // [B, D]
  const e = timestepEmbedding(g, timestep, E); // [1, E]
  const batchE = g.concat([g.shape(sample, { start: 0, end: 1 }), g.ints([E], "E")], 0);
  const input = g.concat([x, g.expand(e, batchE)], 1); // [B, D+E]
  const h1 = g.silu(linear(g, input, { weight: w1, bias: b1, inFeatures: D + E, outFeatures: H }, "fc1"));
  const h2 = g.silu(linear(g, h1, { weight: w2, bias: b2, inFeatures: H, outFeatures: H }, "fc2"));
  const out = linear(g, h2, { weight: w3, bias: b3, inFeatures: H, outFeatures: D }, "fc3");
  g.output(g.reshape(out, g.shape(sample)), DENOISER_IO.output, "float32", ["batch", ...(o.itemShape ?? [D])]);
  return g.toBytes();
}

/**
 * ᾱ at a (possibly fractional) timestep t of a table ᾱ₀ … ᾱ_{N−1}, as the ONNX oracle computes it:
 * linear interpolation between the neighbouring integer indices, t clamped to [0, N − 1].
 * For integer t this is exactly alphasCumprod[t].
 */
export function interpolatedAlphaBar(table: ArrayLike<number>, t: number): number {
  const tc = Math.min(Math.max(t, 0), table.length - 1);
  const lo = Math.floor(tc);
  const hi = Math.min(lo + 1, table.length - 1);
  return table[lo] + (tc - lo) * (table[hi] - table[lo]);
}

/**
 * ORACLE-EPS as an ONNX noise predictor: ε*(xₜ) = σ Σₖ rₖ (xₜ − αμₖ)/vₖ for Gaussian-mixture data
 * (reference/oracle.ts), with α = √ᾱ(t), σ = √(1 − ᾱ(t)), ᾱ(t) = interpolatedAlphaBar(alphasCumprod, t),
 * vₖ = α²sₖ² + σ², rₖ = softmax over k of (log πₖ − ‖xₜ − αμₖ‖²/(2vₖ) − (D/2) log vₖ).
 * Computed as out = xₜ·Σₖ wₖ − α·(w M), wₖ = rₖσ/vₖ, M the [K, D] means. Memory: B·K·D floats.
 */
export function emitGaussianMixtureOracle(mixture: GaussianMixture, alphasCumprod: ArrayLike<number>, o: DenoiserEmitOptions = {}): Uint8Array {
  require(alphasCumprod.length >= 1, "alphasCumprod", alphasCumprod.length, "at least one value");
  const D = mixture.dim;
  const K = mixture.components.length;
  const N = alphasCumprod.length;
  const g = new GraphBuilder({ opset: o.opset, name: "diffspec_gmm_oracle", doc: `diffspec Gaussian-mixture oracle ε* (D ${D}, K ${K}, ${N} train timesteps)` });
  const { sample, timestep } = declareDenoiserInputs(g, D, o);
  const means = new Float32Array(K * D);
  mixture.components.forEach((c, k) => means.set(c.mean, k * D));
  const M = g.constant(means, [K, D], "means");
  const s2 = g.floats(mixture.components.map((c) => c.std * c.std), "std2"); // [K]
  const logPi = g.floats(mixture.components.map((c) => Math.log(c.weight)), "log_weight"); // [K]

  // ᾱ(t) by linear interpolation in the table.
  const table = g.floats(Float32Array.from(alphasCumprod), "alphas_cumprod");
  const t = g.clip(g.reshape(g.cast(timestep, "float32"), [1]), 0, N - 1); // [1]
  const loF = g.node("Floor", [t])[0];
  const lo = g.cast(loF, "int64");
  const hi = g.min(g.add(lo, g.ints([1], "one_i")), g.ints([N - 1], "last_i"));
  const aLo = g.gather(table, lo);
  const aHi = g.gather(table, hi);
  const abar = g.add(aLo, g.mul(g.sub(t, loF), g.sub(aHi, aLo))); // [1]
  const alpha = g.sqrt(abar);
  const sigma = g.sqrt(g.sub(g.scalar(1, "one"), abar));

  const x = g.reshape(sample, [0, -1]); // [B, D]
  const v = g.add(g.mul(g.mul(alpha, alpha), s2), g.mul(sigma, sigma)); // [K]
  const diff = g.sub(g.unsqueeze(x, [1]), g.unsqueeze(g.mul(M, alpha), [0])); // [B, K, D]
  const d2 = g.reduceSum(g.mul(diff, diff), [2], false); // [B, K]
  const logits = g.sub(g.sub(logPi, g.div(d2, g.mul(v, g.scalar(2, "two")))), g.mul(g.log(v), g.scalar(D / 2, "half_dim")));
  const w = g.div(g.mul(g.softmax(logits, 1), sigma), v); // [B, K]
  const out = g.sub(g.mul(x, g.reduceSum(w, [1], true)), g.mul(g.matMul(w, M), alpha)); // [B, D]
  g.output(g.reshape(out, g.shape(sample)), DENOISER_IO.output, "float32", ["batch", ...(o.itemShape ?? [D])]);
  return g.toBytes();
}

/**
 * A tiny conditional denoiser for interface tests: out = x·tanh(t/1000) + Σ_tokens attention(x-projection, cond)
 * — exercises encoder_hidden_states and the attention layer with deterministic small weights.
 * Inputs: sample [B, D], timestep [1], encoder_hidden_states [B, L, C].
 */
export function emitCrossAttentionToy(D: number, C: number, o: DenoiserEmitOptions = {}): Uint8Array {
  const g = new GraphBuilder({ opset: o.opset, name: "diffspec_xattn_toy" });
  const { sample, timestep, cond } = declareDenoiserInputs(g, D, { ...o, conditioning: { dim: C, tokens: o.conditioning?.tokens } });
  const w = (rows: number, cols: number, seed: number) => Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(seed + 0.37 * i) / Math.sqrt(cols));
  const x3 = g.unsqueeze(g.reshape(sample, [0, -1]), [1]); // [B, 1, D]
  const q = linear(g, x3, { weight: w(C, D, 1), inFeatures: D, outFeatures: C }, "to_q"); // [B, 1, C]
  const k = linear(g, cond!, { weight: w(C, C, 2), inFeatures: C, outFeatures: C }, "to_k");
  const v = linear(g, cond!, { weight: w(C, C, 3), inFeatures: C, outFeatures: C }, "to_v");
  const a = attention(g, q, k, v, { heads: C % 2 === 0 ? 2 : 1, dim: C }); // [B, 1, C]
  const back = g.squeeze(linear(g, a, { weight: w(D, C, 4), inFeatures: C, outFeatures: D }, "to_out"), [1]); // [B, D]
  const scale = g.tanh(g.div(g.reshape(timestep, [1]), g.scalar(1000, "t_scale")));
  g.output(g.reshape(g.add(g.mul(g.reshape(sample, [0, -1]), scale), back), g.shape(sample)), DENOISER_IO.output);
  return g.toBytes();
}

// ------------------------------------------------------------------ fused step graphs (backend primitives)

const ANY: null = null; // unknown rank: one session serves every shape and rank

/**
 * BACKEND-COMBINE for k terms: inputs x0 … x{k−1} (float32, any one shape) and the coefficients c0 … c{k−1}
 * (float32 scalars); output y = ((x0·c0 + x1·c1) + x2·c2) + …, evaluated left to right like linearCombination.
 *
 * Each coefficient enters as Clip(1, cᵢ, cᵢ) (= cᵢ exactly: min(max(1, cᵢ), cᵢ)) rather than directly:
 * onnxruntime's WebGPU kernel of Clip reads min/max from host memory (they become shader uniforms), so the
 * coefficients reach the GPU without a host→device copy. Fed directly to Mul, every host scalar costs a
 * synchronous upload inside session.run (measured on an H200: combine k = 2 at 16×1×128×128 in ≈ 135 µs
 * this way, ≈ 400 µs with a [k] coefficient tensor). On the CPU provider the k extra Clips are negligible.
 */
export function emitCombine(k: number, type: ElemType = "float32"): Uint8Array {
  require(Number.isInteger(k) && k >= 1, "k", k, "an integer ≥ 1");
  const g = new GraphBuilder({ name: `combine_${k}` });
  const xs = Array.from({ length: k }, (_, i) => g.input(`x${i}`, type, ANY));
  const cs = Array.from({ length: k }, (_, i) => g.input(`c${i}`, type, []));
  const one = g.constant(type === "float64" ? Float64Array.of(1) : Float32Array.of(1), [], "one");
  let acc = "";
  xs.forEach((x, i) => {
    const term = g.mul(x, g.clip(one, cs[i], cs[i])); // a scalar broadcasts to any shape
    acc = i === 0 ? term : g.add(acc, term);
  });
  g.output(acc, "y", type);
  return g.toBytes();
}

/** BACKEND-CLAMP: y = min(max(x, lo), hi); lo, hi float32 scalars. */
export function emitClamp(): Uint8Array {
  const g = new GraphBuilder({ name: "clamp" });
  const x = g.input("x", "float32", ANY);
  const lo = g.input("lo", "float32", []);
  const hi = g.input("hi", "float32", []);
  g.output(g.clip(x, lo, hi), "y");
  return g.toBytes();
}

/**
 * BACKEND-THRESHOLD (PARAM-THRESHOLD): per batch item, s = clamp(quantile(|x|, ratio), 1, max_value) with the
 * linear-interpolation quantile, y = clamp(x, −s, s)/s. The host computes from N (item size) and ratio:
 * pos = (N − 1)·ratio, lo = ⌊pos⌋, k = N − lo, i_lo = k − 1, i_hi = max(k − 2, 0), frac = pos − lo.
 * TopK(|x|, k, largest) holds the k largest values in descending order, so sorted[lo] = top[i_lo] and
 * sorted[min(lo + 1, N − 1)] = top[i_hi]; q = top[i_lo] + frac·(top[i_hi] − top[i_lo]).
 */
export function emitThreshold(): Uint8Array {
  const g = new GraphBuilder({ name: "threshold" });
  const x = g.input("x", "float32", ANY);
  const k = g.input("k", "int64", [1]);
  const iLo = g.input("i_lo", "int64", []);
  const iHi = g.input("i_hi", "int64", []);
  const frac = g.input("frac", "float32", []);
  const maxValue = g.input("max_value", "float32", []);
  const flat = g.flatten(x, 1); // [B, N]
  const [top] = g.topK(g.abs(flat), k, { axis: 1, largest: true, sorted: true }); // [B, k]
  const vLo = g.gather(top, iLo, 1); // [B]
  const vHi = g.gather(top, iHi, 1);
  const q = g.add(vLo, g.mul(frac, g.sub(vHi, vLo)));
  const s = g.unsqueeze(g.clip(q, 1, maxValue), [1]); // [B, 1]
  const y = g.div(g.min(g.max(flat, g.neg(s)), s), s);
  g.output(g.reshape(y, g.shape(x)), "y");
  return g.toBytes();
}

/** The host-side numbers emitThreshold's graph takes (see there). */
export function thresholdFeeds(itemSize: number, ratio: number): { k: number; iLo: number; iHi: number; frac: number } {
  const pos = (itemSize - 1) * ratio;
  const lo = Math.floor(pos);
  const k = itemSize - lo;
  return { k, iLo: k - 1, iHi: Math.max(k - 2, 0), frac: pos - lo };
}

/** BACKEND-BATCH: concatenate k tensors along axis 0. */
export function emitConcat(k: number): Uint8Array {
  require(Number.isInteger(k) && k >= 1, "k", k, "an integer ≥ 1");
  const g = new GraphBuilder({ name: `concat_${k}` });
  const xs = Array.from({ length: k }, (_, i) => g.input(`x${i}`, "float32", ANY));
  g.output(g.concat(xs, 0), "y");
  return g.toBytes();
}

/** BACKEND-BATCH: split along axis 0 into n pieces whose sizes are the int64 [n] input `sizes`. */
export function emitSplit(n: number): Uint8Array {
  require(Number.isInteger(n) && n >= 1, "n", n, "an integer ≥ 1");
  const g = new GraphBuilder({ name: `split_${n}` });
  const x = g.input("x", "float32", ANY);
  const sizes = g.input("sizes", "int64", [n]);
  const parts = g.split(x, { name: sizes, count: n }, 0);
  parts.forEach((p, i) => g.output(p, `y${i}`));
  return g.toBytes();
}

/** y = x: moves a tensor between host and device memory (upload/download on the WebGPU provider). */
export function emitIdentity(): Uint8Array {
  const g = new GraphBuilder({ name: "identity" });
  g.output(g.identity(g.input("x", "float32", ANY)), "y");
  return g.toBytes();
}
