/**
 * The U-Net's ops in TensorFlow.js (glyffuser/unet.ts): differentiable, used for training and for
 * inference on any tfjs backend. Images are stored NHWC (tfjs's native layout); the U-Net's inputs and
 * output are NCHW like the ONNX graph and diffusers, so the two implementations take the same arrays.
 *
 * Convolutions: tfjs-backend-wasm has no Conv2DBackpropFilter kernel, so where the active backend lacks
 * it (or `im2col: true`) a convolution is computed as im2col — k² shifted slices of the padded input
 * concatenated along channels, then one matMul with the [k²·in, out] weight — whose gradient needs only
 * Slice/Pad/Concat/MatMul, which every tfjs backend has. Elsewhere tf.conv2d is used.
 */
import type * as tfjs from "@tensorflow/tfjs";
import type { UNetConfig, UNetOps, UNetWeights } from "./unet.ts";
import { unetForward } from "./unet.ts";
import { ConfigError } from "../reference/errors.ts";

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;

export interface TfjsOpsOptions {
  /** Use the im2col convolution (default: when the active backend has no Conv2DBackpropFilter kernel and gradients are needed). */
  readonly im2col?: boolean;
}

/** True when the active tfjs backend can differentiate tf.conv2d with respect to its filter. */
export function hasConvFilterGrad(tf: TF): boolean {
  try {
    return tf.getKernel("Conv2DBackpropFilter", tf.getBackend()) !== undefined;
  } catch {
    return false;
  }
}

/** The ops over tfjs tensors; `param(name)` returns a parameter in its PyTorch layout (a tf.Variable when training). */
export function tfjsUNetOps(tf: TF, param: (name: string) => Tensor, o: TfjsOpsOptions = {}): UNetOps<Tensor> {
  const im2col = o.im2col ?? !hasConvFilterGrad(tf);
  const linear2d = (x: Tensor, w: Tensor, b?: Tensor): Tensor => {
    const y = tf.matMul(x as tfjs.Tensor2D, w as tfjs.Tensor2D, false, true);
    return b ? tf.add(y, b) : y;
  };
  return {
    conv2d(x, name, c) {
      const w = param(`${name}.weight`); // [O, I, k, k]
      const b = param(`${name}.bias`);
      const k = c.kernel;
      const s = c.stride ?? 1;
      const p = c.padding ?? 0;
      const [B, H, W, C] = x.shape as [number, number, number, number];
      if (C !== c.inChannels) throw new ConfigError(`${name} input channels`, C, `${c.inChannels}`);
      const Ho = Math.floor((H + 2 * p - k) / s) + 1;
      const Wo = Math.floor((W + 2 * p - k) / s) + 1;
      if (k === 1 && s === 1 && p === 0) {
        const y = linear2d(tf.reshape(x, [B * H * W, C]), tf.reshape(w, [c.outChannels, C]), b);
        return tf.reshape(y, [B, H, W, c.outChannels]);
      }
      if (!im2col) {
        const f = tf.transpose(w, [2, 3, 1, 0]) as tfjs.Tensor4D; // [k, k, I, O]
        const y = tf.conv2d(x as tfjs.Tensor4D, f, [s, s], p === 0 ? "valid" : [[0, 0], [p, p], [p, p], [0, 0]]);
        return tf.add(y, b);
      }
      const xp = p > 0 ? zeroPad(tf, x, p) : x;
      const cols: Tensor[] = [];
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          if (s === 1) cols.push(tf.slice(xp, [0, ky, kx, 0], [B, Ho, Wo, C]));
          else {
            // rows ky, ky+s, …: a slice of s·Ho rows reshaped to [Ho, s] and the first of each pair kept.
            const sl = tf.slice(xp, [0, ky, kx, 0], [B, s * Ho, s * Wo, C]);
            cols.push(tf.reshape(tf.slice(tf.reshape(sl, [B, Ho, s, Wo, s, C]), [0, 0, 0, 0, 0, 0], [B, Ho, 1, Wo, 1, C]), [B, Ho, Wo, C]));
          }
        }
      }
      const patches = tf.reshape(tf.concat(cols, 3), [B * Ho * Wo, k * k * C]);
      const wm = tf.reshape(tf.transpose(w, [2, 3, 1, 0]), [k * k * C, c.outChannels]); // row (ky·k + kx)·C + i
      return tf.reshape(tf.add(tf.matMul(patches as tfjs.Tensor2D, wm as tfjs.Tensor2D), b), [B, Ho, Wo, c.outChannels]);
    },
    groupNorm(x, name, c) {
      const [B, H, W, C] = x.shape as [number, number, number, number];
      const g = tf.reshape(x, [B, H * W, c.groups, C / c.groups]);
      const { mean, variance } = tf.moments(g, [1, 3], true);
      const n = tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, c.epsilon ?? 1e-5)));
      return tf.add(tf.mul(tf.reshape(n, [B, H, W, C]), param(`${name}.weight`)), param(`${name}.bias`));
    },
    layerNorm(x, name) {
      const { mean, variance } = tf.moments(x, [x.rank - 1], true);
      const n = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
      return tf.add(tf.mul(n, param(`${name}.weight`)), param(`${name}.bias`));
    },
    linear(x, name, c) {
      const w = param(`${name}.weight`);
      const b = c.bias === false ? undefined : param(`${name}.bias`);
      if (x.rank === 2) return linear2d(x, w, b);
      const lead = x.shape.slice(0, -1);
      const y = linear2d(tf.reshape(x, [-1, c.inFeatures]), w, b);
      return tf.reshape(y, [...lead, c.outFeatures]);
    },
    silu: (x) => tf.mul(x, tf.sigmoid(x)),
    gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)),
    add: (a, b) => tf.add(a, b),
    mul: (a, b) => tf.mul(a, b),
    addChannelVector: (x, v) => tf.add(x, tf.reshape(v, [v.shape[0], 1, 1, v.shape[1]])),
    concatChannels: (a, b) => tf.concat([a, b], 3),
    // Nearest-neighbour, source index ⌊dst/2⌋ (alignCorners = halfPixelCenters = false), as ONNX Resize asymmetric/floor.
    upsample2x: (x) => tf.image.resizeNearestNeighbor(x as tfjs.Tensor4D, [2 * x.shape[1]!, 2 * x.shape[2]!], false, false),
    timestepEmbedding(t, width) {
      const half = width / 2;
      const freqs = Float32Array.from({ length: half }, (_, j) => Math.exp((-Math.log(10000) * j) / half));
      const angle = tf.mul(tf.reshape(t, [-1, 1]), tf.tensor2d(freqs, [1, half]));
      return tf.concat([tf.cos(angle), tf.sin(angle)], 1);
    },
    toTokens: (x, g) => tf.reshape(x, [x.shape[0], g.height * g.width, g.channels]),
    fromTokens: (x, g) => tf.reshape(x, [x.shape[0], g.height, g.width, g.channels]),
    chunk2: (x) => tf.split(x, 2, x.rank - 1) as [Tensor, Tensor],
    attention(q, k, v, c) {
      const dh = c.dim / c.heads;
      const heads = (x: Tensor) => tf.transpose(tf.reshape(x, [x.shape[0], x.shape[1], c.heads, dh]), [0, 2, 1, 3]);
      let scores = tf.mul(tf.matMul(heads(q), heads(k), false, true), 1 / Math.sqrt(dh)); // [B, h, Lq, Lk]
      if (c.mask) scores = tf.add(scores, tf.reshape(tf.mul(tf.sub(1, c.mask), -10000), [c.mask.shape[0], 1, 1, c.mask.shape[1]]));
      const out = tf.matMul(tf.softmax(scores, -1), heads(v)); // [B, h, Lq, dh]
      return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [q.shape[0], q.shape[1], c.dim]);
    },
  };
}

/**
 * Zero padding of the two spatial axes of NHWC by concatenation (tfjs-backend-wasm 4.22's PadV2 kernel
 * crashes with "table index is out of bounds" on these shapes; Concat's gradient is a Slice).
 */
function zeroPad(tf: TF, x: Tensor, p: number): Tensor {
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const rows = tf.zeros([B, p, W, C]);
  const xr = tf.concat([rows, x, rows], 1);
  const cols = tf.zeros([B, H + 2 * p, p, C]);
  return tf.concat([cols, xr, cols], 2);
}

/** Parameters as tfjs tensors (or variables), by name. */
export type TfjsParams = Map<string, Tensor>;

/** Uploads weights as tfjs tensors (`trainable` → tf.Variable). */
export function tfjsParams(tf: TF, w: UNetWeights, trainable = false): TfjsParams {
  const out: TfjsParams = new Map();
  for (const [name, p] of w) {
    const t = tf.tensor(p.data, [...p.shape], "float32");
    out.set(name, trainable ? tf.variable(t, true, name.replace(/[^A-Za-z0-9_./-]/g, "_")) : t);
    if (trainable) t.dispose();
  }
  return out;
}

/**
 * ε̂ for a batch: sample [B, C, S, S] (NCHW), timestep [B] or [1], context [B, n, d], mask [B, n] → [B, C_out, S, S].
 * Call inside tf.tidy (or tf.variableGrads) to free the intermediates.
 */
export function tfjsUNetForward(tf: TF, c: UNetConfig, params: TfjsParams, inp: { sample: Tensor; timestep: Tensor; context: Tensor; mask?: Tensor }, o: TfjsOpsOptions = {}): Tensor {
  const param = (name: string): Tensor => {
    const p = params.get(name);
    if (!p) throw new ConfigError("U-Net parameter", name, "a parameter of the model (weights and config disagree)");
    return p;
  };
  const ops = tfjsUNetOps(tf, param, o);
  const nhwc = tf.transpose(inp.sample, [0, 2, 3, 1]);
  const out = unetForward(ops, c, { sample: nhwc, timestep: inp.timestep, context: inp.context, mask: inp.mask });
  return tf.transpose(out, [0, 3, 1, 2]);
}
