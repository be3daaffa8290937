/**
 * Sub-graph helpers built on GraphBuilder: the layers diffusion networks are made of. Each is a
 * plain function (builder, input names, weights) → output name, so bigger blocks (a U-Net ResNet
 * block, a cross-attention block) are written by composing them:
 *
 *   function resnetBlock(g, x, temb, w) {
 *     let h = conv3x3(g, silu(groupNorm(x)), …);   // see test/onnx-builder.test.ts for a worked example
 *     …
 *   }
 *
 * Weights are given in PyTorch's layouts (Linear: [out, in]; Conv2d: [out, in/groups, kH, kW]) as
 * Float32Array, and stored as initializers named `<scope>/<name>`.
 */
import { attr, type GraphBuilder } from "./builder.ts";
import { ShapeError } from "../../reference/errors.ts";

/** A torch.nn.Linear's parameters: weight [out, in] row-major, optional bias [out]. */
export interface LinearWeights {
  readonly weight: Float32Array;
  readonly bias?: Float32Array;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  return t;
}

/** y = x Wᵀ + b over the last axis of x ([…, in] → […, out]): MatMul with the pre-transposed weight, then Add. */
export function linear(g: GraphBuilder, x: string, w: LinearWeights, name = "linear"): string {
  if (w.weight.length !== w.inFeatures * w.outFeatures) throw new ShapeError(`${name} weight`, w.weight.length, `${w.outFeatures}·${w.inFeatures} values ([out, in])`);
  if (w.bias && w.bias.length !== w.outFeatures) throw new ShapeError(`${name} bias`, w.bias.length, `${w.outFeatures} values`);
  return g.scope(name, () => {
    const wt = g.constant(transpose2d(w.weight, w.outFeatures, w.inFeatures), [w.inFeatures, w.outFeatures], "weight_t");
    const y = g.matMul(x, wt);
    return w.bias ? g.add(y, g.constant(w.bias, [w.outFeatures], "bias")) : y;
  });
}

export interface TimestepEmbeddingOptions {
  /** Put cos before sin (diffusers' flip_sin_to_cos; the glyffuser's UNet2DConditionModel uses true). Default false (MODEL-TIME-EMBED). */
  readonly flipSinToCos?: boolean;
  /** diffusers' downscale_freq_shift: fⱼ = maxPeriod^(−j/(half − shift)). Default 0. */
  readonly downscaleFreqShift?: number;
  /** Default 10000. */
  readonly maxPeriod?: number;
}

/**
 * MODEL-TIME-EMBED as a sub-graph: t (scalar, [1] or [T]) → [T′, width] with rows
 * [sin(t·fⱼ), cos(t·fⱼ)], fⱼ = maxPeriod^(−j/(half − shift)), j < half = width/2 (T′ = 1 for a scalar/[1]).
 * The frequencies are computed in Float64 on the host and stored as float32; the angle t·fⱼ is
 * formed in float32, so its absolute error is ≈ |t|·fⱼ·2⁻²³ (≈ 1.2·10⁻⁴ at t = 1000, j = 0): the
 * main source of difference from the Float64 reference in models that use it.
 */
export function timestepEmbedding(g: GraphBuilder, t: string, width: number, o: TimestepEmbeddingOptions = {}): string {
  if (!Number.isInteger(width) || width < 2 || width % 2) throw new ShapeError("timestep embedding width", width, "an even integer ≥ 2");
  const half = width / 2;
  const shift = o.downscaleFreqShift ?? 0;
  const maxPeriod = o.maxPeriod ?? 10000;
  const freqs = Float32Array.from({ length: half }, (_, j) => Math.exp((-Math.log(maxPeriod) * j) / (half - shift)));
  return g.scope("time_embedding", () => {
    const angle = g.mul(g.reshape(g.cast(t, "float32"), [-1, 1]), g.constant(freqs, [1, half], "freqs")); // [T′, half]
    const s = g.sin(angle);
    const c = g.cos(angle);
    return g.concat(o.flipSinToCos ? [c, s] : [s, c], 1);
  });
}

/**
 * Multi-head scaled dot-product attention (torch's nn.MultiheadAttention core, diffusers' Attention
 * processor): q [B, Lq, dim], k and v [B, Lk, dim] (already projected) → [B, Lq, dim].
 * `mask` (optional, [B, Lk], 1 = keep, 0 = drop) adds −10⁴·(1 − mask) to the scores, as diffusers does.
 */
export function attention(g: GraphBuilder, q: string, k: string, v: string, o: { heads: number; dim: number; mask?: string; queryLength?: number; queryChunk?: number }): string {
  const { heads, dim } = o;
  if (dim % heads) throw new ShapeError("attention dim", dim, `a multiple of heads (${heads})`);
  const dh = dim / heads;
  return g.scope("attention", () => {
    const split = (x: string) => g.transpose(g.reshape(x, [0, 0, heads, dh]), [0, 2, 1, 3]); // [B, h, L, dh]
    const qh = split(q);
    const kt = g.transpose(g.reshape(k, [0, 0, heads, dh]), [0, 2, 3, 1]); // [B, h, dh, Lk]
    const vh = split(v);
    const bias = o.mask ? g.unsqueeze(g.mul(g.sub(g.scalar(1, "one"), g.cast(o.mask, "float32")), g.scalar(-10000, "neg_big")), [1, 2]) : undefined; // [B, 1, 1, Lk]
    const attend = (qc: string): string => {
      const scores = g.mul(g.matMul(qc, kt), g.scalar(1 / Math.sqrt(dh), "scale")); // [B, h, Lq, Lk]
      return g.matMul(g.softmax(bias ? g.add(scores, bias) : scores, -1), vh); // [B, h, Lq, dh]
    };
    // Query chunking: the [B, h, Lq, Lk] score matrix of self-attention at high resolution does not fit in memory
    // (128² tokens, batch 16, 8 heads: 137 GB in float32); chunks of `queryChunk` queries give the same result.
    const { queryLength: L, queryChunk: C } = o;
    const chunked = L !== undefined && C !== undefined && L > C;
    const sizes = chunked ? Array.from({ length: Math.ceil(L / C) }, (_, i) => Math.min(C, L - i * C)) : [];
    const out = chunked ? g.concat(g.split(qh, sizes, 2).map(attend), 2) : attend(qh);
    return g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, dim]);
  });
}

/**
 * The same attention as {@link attention} through onnxruntime's fused kernel, com.microsoft
 * MultiHeadAttention (num_heads, scale 1/√dh): the runtime never materialises the scores. The mask is
 * given as its `attention_bias` input, −10⁴·(1 − mask) expanded to [B, 1, Lq, Lk] (small: masks occur in
 * cross-attention, Lk = text tokens), since the WebGPU provider has no `key_padding_mask`. A contrib op:
 * onnxruntime runs it (CPU, WebGPU, CUDA providers), other ONNX runtimes may not.
 */
export function fusedAttention(g: GraphBuilder, q: string, k: string, v: string, o: { heads: number; dim: number; mask?: string }): string {
  if (o.dim % o.heads) throw new ShapeError("attention dim", o.dim, `a multiple of heads (${o.heads})`);
  g.useDomain("com.microsoft", 1);
  return g.scope("fused_attention", () => {
    let inputs = [q, k, v];
    if (o.mask) {
      const bias = g.unsqueeze(g.mul(g.sub(g.scalar(1, "one"), g.cast(o.mask, "float32")), g.scalar(-10000, "neg_big")), [1, 2]); // [B, 1, 1, Lk]
      const shape = g.concat([g.shape(o.mask, { start: 0, end: 1 }), g.ints([1], "one_head"), g.shape(q, { start: 1, end: 2 }), g.shape(o.mask, { start: 1, end: 2 })], 0);
      inputs = [q, k, v, "", "", g.expand(bias, shape)];
    }
    return g.node("MultiHeadAttention", inputs, { domain: "com.microsoft", attrs: { num_heads: attr.int(o.heads) } })[0];
  });
}

/** A torch.nn.Conv2d's parameters: weight [out, in/groups, kH, kW], optional bias [out]. */
export interface Conv2dWeights {
  readonly weight: Float32Array;
  readonly bias?: Float32Array;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly padding?: number;
  readonly groups?: number;
}

/** 2-D convolution, NCHW, square kernel (torch.nn.Conv2d). */
export function conv2d(g: GraphBuilder, x: string, w: Conv2dWeights, name = "conv"): string {
  const groups = w.groups ?? 1;
  const expected = w.outChannels * (w.inChannels / groups) * w.kernel * w.kernel;
  if (w.weight.length !== expected) throw new ShapeError(`${name} weight`, w.weight.length, `${expected} values ([out, in/groups, k, k])`);
  return g.scope(name, () => {
    const wt = g.constant(w.weight, [w.outChannels, w.inChannels / groups, w.kernel, w.kernel], "weight");
    const b = w.bias ? g.constant(w.bias, [w.outChannels], "bias") : undefined;
    const p = w.padding ?? 0;
    const s = w.stride ?? 1;
    return g.conv(x, wt, b, { pads: [p, p, p, p], strides: [s, s], group: groups, kernelShape: [w.kernel, w.kernel] });
  });
}

/** torch.nn.GroupNorm with affine parameters gamma/beta [C], then optionally SiLU (the U-Net's "norm → act"). */
export function groupNormAct(g: GraphBuilder, x: string, p: { gamma: Float32Array; beta: Float32Array; groups: number; epsilon?: number; silu?: boolean }, name = "norm"): string {
  const C = p.gamma.length;
  return g.scope(name, () => {
    const y = g.groupNorm(x, g.constant(p.gamma, [C], "gamma"), g.constant(p.beta, [C], "beta"), { groups: p.groups, channels: C, epsilon: p.epsilon });
    return p.silu === false ? y : g.silu(y);
  });
}
