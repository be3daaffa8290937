/**
 * The U-Net's ops as ONNX-builder nodes (glyffuser/unet.ts): the same architecture emitted as an ONNX graph
 * for onnxruntime-node (inference), with the common noise-predictor interface of adapters/onnx/models.ts:
 *
 *   inputs  sample [batch, C, S, S] float32, timestep [1] float32,
 *           encoder_hidden_states [batch, tokens, d] float32, encoder_attention_mask [batch, tokens] float32
 *   output  model_output [batch, C_out, S, S]
 *
 * Weights are stored as initializers under their parameter names in PyTorch layout (Linear weights are
 * transposed by a Transpose node, which onnxruntime folds at load time), so {@link weightsFromOnnx} reads
 * them back exactly and any tfjs backend can run the same checkpoint.
 */
import { GraphBuilder, decodeModel } from "../adapters/onnx/builder.ts";
import { attention, fusedAttention, timestepEmbedding } from "../adapters/onnx/layers.ts";
import { DENOISER_IO } from "../adapters/onnx/models.ts";
import { toFloat16 } from "../adapters/onnx/float16.ts";
import { ConfigError, InputFileError } from "../reference/errors.ts";
import { attentionQueryChunk, initUNetWeights, unetForward, unetParamSpecs, validateUNetConfig, weightProblems, type AttentionPlan, type UNetConfig, type UNetOps, type UNetWeights } from "./unet.ts";

/** The ops over value names of a graph under construction. */
export function onnxUNetOps(g: GraphBuilder, weights: UNetWeights, opts: { attentionQueryChunk?: number; attention?: AttentionPlan } = {}): UNetOps<string> {
  const param = (name: string): string => {
    if (g.has(name)) return name;
    const p = weights.get(name);
    if (!p) throw new ConfigError("U-Net parameter", name, "a parameter of the model (weights and config disagree)");
    return g.initializer(name, p.data, p.shape);
  };
  return {
    conv2d(x, name, o) {
      const p = o.padding ?? 0;
      const s = o.stride ?? 1;
      return g.conv(x, param(`${name}.weight`), param(`${name}.bias`), { pads: [p, p, p, p], strides: [s, s], kernelShape: [o.kernel, o.kernel] });
    },
    groupNorm: (x, name, o) => g.groupNorm(x, param(`${name}.weight`), param(`${name}.bias`), { groups: o.groups, channels: o.channels, epsilon: o.epsilon }),
    layerNorm: (x, name) => g.layerNorm(x, param(`${name}.weight`), param(`${name}.bias`), { axis: -1, epsilon: 1e-5 }),
    linear(x, name, o) {
      const y = g.matMul(x, g.transpose(param(`${name}.weight`), [1, 0]));
      return o.bias === false ? y : g.add(y, param(`${name}.bias`));
    },
    silu: (x) => g.silu(x),
    gelu: (x) => g.gelu(x),
    add: (a, b) => g.add(a, b),
    mul: (a, b) => g.mul(a, b),
    addChannelVector: (x, v) => g.add(x, g.reshape(v, [0, 0, 1, 1])),
    concatChannels: (a, b) => g.concat([a, b], 1),
    upsample2x: (x) => g.resizeNearest(x, [1, 1, 2, 2]),
    timestepEmbedding: (t, width) => timestepEmbedding(g, t, width, { flipSinToCos: true }),
    toTokens: (x, o) => g.transpose(g.reshape(x, [0, o.channels, o.height * o.width]), [0, 2, 1]),
    fromTokens: (x, o) => g.reshape(g.transpose(x, [0, 2, 1]), [0, o.channels, o.height, o.width]),
    chunk2: (x, o) => g.split(x, [o.dim / 2, o.dim / 2], -1) as [string, string],
    attention: (q, k, v, o) =>
      opts.attention?.impl === "fused" ? fusedAttention(g, q, k, v, o) : attention(g, q, k, v, { ...o, queryChunk: opts.attentionQueryChunk ?? attentionQueryChunk(opts.attention, o) }),
    maskedMean: (x, mask) => (mask === undefined ? g.reduceMean(x, [1], false) : g.div(g.reduceSum(g.mul(x, g.unsqueeze(mask, [2])), [1], false), g.reduceSum(mask, [1], true))),
  };
}

export interface EmitUNetOptions {
  readonly opset?: number;
  /** Stored as the model's doc_string. */
  readonly doc?: string;
  /** Declare the encoder_attention_mask input (default true). */
  readonly mask?: boolean;
  /** Evaluate attention in chunks of this many queries (memory-bounded; same result). Default: no chunking. */
  readonly attentionQueryChunk?: number;
  /** How attention is evaluated (glyffuser/unet.ts AttentionPlan): chunked to a score budget, or fused. */
  readonly attention?: AttentionPlan;
  /** "fp16": compute in float16 behind a float32 interface (adapters/onnx/float16.ts). Default "fp32". */
  readonly precision?: "fp32" | "fp16";
}

/**
 * Emits the U-Net of `config` as ONNX bytes, with `weights` (or seeded random weights: PyTorch's default
 * initialisation, nothing zeroed, for timing a glyffuser-sized model).
 */
export function emitUNetOnnx(config: UNetConfig, weights: UNetWeights | "random", seed: number | string = 0, o: EmitUNetOptions = {}): Uint8Array {
  validateUNetConfig(config);
  const w = weights === "random" ? initUNetWeights(config, seed) : weights;
  const problems = weightProblems(config, w);
  if (problems.length) throw new ConfigError("U-Net weights", `${problems.length} problems`, `weights of this config: ${problems.slice(0, 3).join("; ")}`);
  const g = new GraphBuilder({ opset: o.opset ?? 17, name: "glyffuser_unet", doc: o.doc ?? `diffspec glyffuser U-Net ${JSON.stringify(config)}` });
  const S = config.sampleSize;
  const sample = g.input(DENOISER_IO.sample, "float32", ["batch", config.inChannels, S, S]);
  const timestep = g.input(DENOISER_IO.timestep, "float32", [1]);
  const context = g.input(DENOISER_IO.encoderHiddenStates, "float32", ["batch", "tokens", config.crossAttentionDim]);
  const mask = o.mask === false ? undefined : g.input(DENOISER_IO.encoderAttentionMask, "float32", ["batch", "tokens"]);
  const out = unetForward(onnxUNetOps(g, w, { attentionQueryChunk: o.attentionQueryChunk, attention: o.attention }), config, { sample, timestep, context, mask });
  g.output(out, DENOISER_IO.output, "float32", ["batch", config.outChannels, S, S]);
  return o.precision === "fp16" ? toFloat16(g.toBytes()) : g.toBytes();
}

/** Reads a U-Net's weights back from ONNX bytes emitted by {@link emitUNetOnnx}; InputFileError when they do not fit `config`. */
export function weightsFromOnnx(bytes: Uint8Array, config: UNetConfig, where = "<ONNX model>"): UNetWeights {
  let model;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new InputFileError(where, `not an ONNX model (${(e as Error).message})`);
  }
  const specs = unetParamSpecs(config);
  const out: UNetWeights = new Map();
  for (const init of model.graph?.initializer ?? []) {
    const name = init.name ?? "";
    if (!specs.has(name)) continue;
    const raw = init.rawData as Uint8Array | undefined;
    if (!raw || init.dataType !== 1) throw new InputFileError(where, `initializer ${name} is not raw float32`);
    const copy = Uint8Array.from(raw);
    out.set(name, { data: new Float32Array(copy.buffer, 0, copy.length / 4), shape: (init.dims ?? []).map(Number) });
  }
  const problems = weightProblems(config, out);
  if (problems.length) throw new InputFileError(where, `its weights do not fit the config: ${problems.slice(0, 3).join("; ")}`);
  return out;
}
