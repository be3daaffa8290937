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
import type { AttentionPlan, UNetConfig, UNetOps, UNetWeights } from "./unet.ts";
import { attentionQueryChunk, unetForward } from "./unet.ts";
import { ConfigError } from "../reference/errors.ts";

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;

export interface TfjsOpsOptions {
  /** Use the im2col convolution (default: when the active backend has no Conv2DBackpropFilter kernel and gradients are needed). */
  readonly im2col?: boolean;
  /** With im2col: also compute the forward pass as im2col (default false: native tf.conv2d forward, im2col only in the gradient). */
  readonly im2colForward?: boolean;
  /** Matrix products with the explicit-transpose gradient ({@link fastMatMul}); default: with im2col. */
  readonly fastMatMul?: boolean;
  /**
   * How attention is evaluated (glyffuser/unet.ts AttentionPlan): "matmul" only (tfjs has no fused kernel),
   * optionally in query chunks under a score budget; each chunk's scores are freed before the next (inference only:
   * a gradient would keep them).
   */
  readonly attention?: AttentionPlan;
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
  // Backends without the conv filter gradient are the ones (wasm) whose transposed matMuls are slow.
  const fast = o.fastMatMul ?? im2col;
  const mm = (a: Tensor, b: Tensor): Tensor => (fast ? fastMatMul(tf, a, b) : tf.matMul(a, b));
  const linear2d = (x: Tensor, w: Tensor, b?: Tensor): Tensor => {
    const y = mm(x, tf.transpose(w));
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
      if (!o.im2colForward) return fastGradConv(tf, x, w, b, { k, s, p, Ho, Wo, outChannels: c.outChannels });
      const patches = im2colPatches(tf, x, { k, s, p, Ho, Wo });
      const wm = tf.reshape(tf.transpose(w, [2, 3, 1, 0]), [k * k * C, c.outChannels]); // row (ky·k + kx)·C + i
      return tf.reshape(tf.add(mm(patches, wm), b), [B, Ho, Wo, c.outChannels]);
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
    addChannelVector: (x, v) => tf.add(x, tf.reshape(v, [v.shape[0], 1, 1, v.shape[1]!])),
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
      if (o.attention?.impl === "fused") throw new ConfigError("tfjs U-Net attention", "fused", '"matmul" (tfjs has no fused attention kernel)');
      const dh = c.dim / c.heads;
      const heads = (x: Tensor) => tf.transpose(tf.reshape(x, [x.shape[0], x.shape[1]!, c.heads, dh]), [0, 2, 1, 3]);
      const kt = tf.transpose(tf.reshape(k, [k.shape[0], k.shape[1]!, c.heads, dh]), [0, 2, 3, 1]); // [B, h, dh, Lk]
      const vh = heads(v);
      const bias = c.mask ? tf.reshape(tf.mul(tf.sub(1, c.mask), -10000), [c.mask.shape[0], 1, 1, c.mask.shape[1]!]) : undefined;
      const attend = (qc: Tensor): Tensor => {
        const scores = tf.mul(mm(qc, kt), 1 / Math.sqrt(dh)); // [B, h, Lq, Lk]
        return mm(tf.softmax(bias ? tf.add(scores, bias) : scores, -1), vh); // [B, h, Lq, dh]
      };
      const qh = heads(q);
      const chunk = attentionQueryChunk(o.attention, { ...c, queryLength: q.shape[1]!, keyLength: k.shape[1]! });
      const out = chunk === undefined ? attend(qh) : tf.concat(chunkStarts(q.shape[1]!, chunk).map(([s, n]) => tf.tidy(() => attend(tf.slice(qh, [0, 0, s, 0], [-1, -1, n, -1])))), 2);
      return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [q.shape[0], q.shape[1]!, c.dim]);
    },
    maskedMean(x, mask) {
      if (!mask) return tf.mean(x, 1);
      return tf.div(tf.sum(tf.mul(x, tf.expandDims(mask, 2)), 1), tf.sum(mask, 1, true));
    },
  };
}

/** im2col patches of NHWC x: [B·Ho·Wo, k²·C], column (ky·k + kx)·C + i. */
function im2colPatches(tf: TF, x: Tensor, g: { k: number; s: number; p: number; Ho: number; Wo: number }): Tensor {
  const [B, , , C] = x.shape as [number, number, number, number];
  const { k, s, p, Ho, Wo } = g;
  const xp = p > 0 ? zeroPad(tf, x, p) : x;
  const cols: Tensor[] = [];
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) {
      if (s === 1) cols.push(tf.slice(xp, [0, ky, kx, 0], [B, Ho, Wo, C]));
      else {
        const sl = tf.slice(xp, [0, ky, kx, 0], [B, s * Ho, s * Wo, C]);
        cols.push(tf.reshape(tf.slice(tf.reshape(sl, [B, Ho, s, Wo, s, C]), [0, 0, 0, 0, 0, 0], [B, Ho, 1, Wo, 1, C]), [B, Ho, Wo, C]));
      }
    }
  }
  return tf.reshape(tf.concat(cols, 3), [B * Ho * Wo, k * k * C]);
}

/** Swaps the last two axes. */
const swapLast = (tf: TF, t: Tensor): Tensor => tf.transpose(t, [...Array(t.rank - 2).keys(), t.rank - 1, t.rank - 2]);

/**
 * a·b (batched over leading axes) whose gradient uses explicit transposes and plain matMuls: tfjs's own
 * gradient calls matMul with transposeA/transposeB, which tfjs-wasm runs ~10× slower than a transpose
 * followed by an untransposed matMul. ∂a = ∂y·bᵀ, ∂b = aᵀ·∂y.
 */
export function fastMatMul(tf: TF, a: Tensor, b: Tensor): Tensor {
  const f = tf.customGrad((...args: unknown[]) => {
    const [aa, bb] = args as [Tensor, Tensor];
    const save = args[2] as (ts: Tensor[]) => void;
    save([aa, bb]);
    return {
      value: tf.matMul(aa, bb),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sa, sb] = saved;
        let db = tf.matMul(swapLast(tf, sa), dy);
        // A rank-2 b used with a batched a (a weight shared across the batch): sum over the batch.
        if (sb.rank < db.rank) db = tf.sum(db, [...Array(db.rank - sb.rank).keys()]);
        return [tf.matMul(dy, swapLast(tf, sb)), db];
      },
    };
  });
  return (f as unknown as (a: Tensor, b: Tensor) => Tensor)(a, b);
}

/**
 * Conv2d (NHWC input, PyTorch-layout weight [O, I, k, k]) with a hand-written gradient made of forward
 * convolutions only, for backends without Conv2DBackpropFilter (tfjs-wasm, whose Conv2DBackpropInput is
 * also ~10× slower than its XNNPACK Conv2D):
 *   ∂x = conv(dilate_s(∂y), W rotated 180° with in/out swapped), padded k−1−p before and what makes H after;
 *   ∂W[ky, kx, i, o] = Σ_{b,h,w} xpad[b, s·h + ky, s·w + kx, i] ∂y[b, h, w, o]: a convolution of xpad with
 *   the batch as channels ([C, H+2p, W+2p, B]) by ∂y as the filter ([Ho, Wo, B, O], dilation s);
 *   ∂b = Σ ∂y.
 */
function fastGradConv(tf: TF, x: Tensor, w: Tensor, b: Tensor, g: { k: number; s: number; p: number; Ho: number; Wo: number; outChannels: number }): Tensor {
  const { k, s, p, Ho, Wo, outChannels: O } = g;
  const f = tf.customGrad((...args: unknown[]) => {
    const [xx, ww, bb] = args as [tfjs.Tensor4D, tfjs.Tensor4D, tfjs.Tensor1D];
    const save = args[3] as (ts: Tensor[]) => void;
    const filt = tf.transpose(ww, [2, 3, 1, 0]) as tfjs.Tensor4D; // [k, k, I, O]
    const value = tf.add(tf.conv2d(xx, filt, [s, s], [[0, 0], [p, p], [p, p], [0, 0]]), bb);
    save([xx, filt]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sf] = saved as [tfjs.Tensor4D, tfjs.Tensor4D];
        const [B, H, W, C] = sx.shape;
        // ∂x
        let dyd = dy as tfjs.Tensor4D;
        if (s > 1) {
          const d6 = tf.reshape(dy, [B, Ho, 1, Wo, 1, O]);
          const a = tf.concat([d6, tf.zeros([B, Ho, 1, Wo, s - 1, O])], 4);
          dyd = tf.reshape(tf.concat([a, tf.zeros([B, Ho, s - 1, Wo, s, O])], 2), [B, s * Ho, s * Wo, O]);
        }
        const lo = k - 1 - p;
        const hiH = H - s * Ho + k - 1 - lo;
        const hiW = W - s * Wo + k - 1 - lo;
        const rot = tf.transpose(tf.reverse(sf, [0, 1]), [0, 1, 3, 2]) as tfjs.Tensor4D; // [k, k, O, I]
        const dx = tf.conv2d(dyd, rot, 1, [[0, 0], [lo, hiH], [lo, hiW], [0, 0]]);
        // ∂W
        const xp = p > 0 ? zeroPad(tf, sx, p) : sx;
        const xc = tf.transpose(xp, [3, 1, 2, 0]) as tfjs.Tensor4D; // [C, H+2p, W+2p, B]
        const dyf = tf.transpose(dy, [1, 2, 0, 3]) as tfjs.Tensor4D; // [Ho, Wo, B, O]
        let dW = tf.conv2d(xc, dyf, 1, "valid", "NHWC", [s, s]); // [C, ≥k, ≥k, O]
        if (dW.shape[1] !== k || dW.shape[2] !== k) dW = tf.slice(dW, [0, 0, 0, 0], [C, k, k, O]);
        const dWt = tf.transpose(dW, [3, 0, 1, 2]); // → [O, I, k, k]
        return [dx, dWt, tf.sum(tf.reshape(dy, [-1, O]), 0)];
      },
    };
  });
  return (f as unknown as (a: Tensor, b: Tensor, c: Tensor) => Tensor)(x, w, b);
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

/** [start, length] of consecutive chunks of at most `chunk` over 0…n − 1. */
function chunkStarts(n: number, chunk: number): [number, number][] {
  return Array.from({ length: Math.ceil(n / chunk) }, (_, i) => [i * chunk, Math.min(chunk, n - i * chunk)]);
}
