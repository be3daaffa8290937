/**
 * The arithmetic of one U-Net pass: floating-point operations (a multiply-add counts 2) of its
 * convolutions, linear layers and attention products, found by running the architecture (glyffuser/unet.ts
 * `unetForward`) over shapes. The benchmark divides it by a measured pass to give the throughput reached,
 * and by a device's peak to give the least time any implementation can take (bench/README.md, GPU goals).
 * Normalisations, activations, softmax and additions are not counted (they are memory-bound, O(values)).
 */
import { unetForward, validateUNetConfig, type UNetConfig, type UNetOps } from "./unet.ts";

type Shape = readonly number[];

export interface UNetFlops {
  /** All counted operations. */
  readonly total: number;
  readonly conv: number;
  readonly linear: number;
  /** The two attention products, QKᵀ and (softmax)·V, over every attention layer. */
  readonly attention: number;
  /** Of `attention`, the self-attention at the highest resolution (sampleSize² tokens). */
  readonly attentionTopLevel: number;
}

const prod = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/** The operations of one forward pass of `c` on a batch of `batch` images (text context of `c.tokens` tokens). */
export function unetFlops(c: UNetConfig, batch: number): UNetFlops {
  validateUNetConfig(c);
  const f = { conv: 0, linear: 0, attention: 0, attentionTopLevel: 0 };
  const topTokens = c.sampleSize * c.sampleSize;
  const ops: UNetOps<Shape> = {
    conv2d([B, C, H, W], _name, o) {
      const s = o.stride ?? 1;
      const p = o.padding ?? 0;
      const Ho = Math.floor((H + 2 * p - o.kernel) / s) + 1;
      const Wo = Math.floor((W + 2 * p - o.kernel) / s) + 1;
      f.conv += 2 * B * o.outChannels * Ho * Wo * C * o.kernel * o.kernel;
      return [B, o.outChannels, Ho, Wo];
    },
    groupNorm: (x) => x,
    layerNorm: (x) => x,
    linear(x, _name, o) {
      f.linear += 2 * (prod(x) / o.inFeatures) * o.inFeatures * o.outFeatures;
      return [...x.slice(0, -1), o.outFeatures];
    },
    silu: (x) => x,
    gelu: (x) => x,
    add: (a) => a,
    mul: (a) => a,
    addChannelVector: (x) => x,
    concatChannels: ([B, Ca, H, W], [, Cb]) => [B, Ca + Cb, H, W],
    upsample2x: ([B, C, H, W]) => [B, C, 2 * H, 2 * W],
    timestepEmbedding: (t, width) => [t[0], width],
    toTokens: ([B, C, H, W]) => [B, H * W, C],
    fromTokens: ([B, , C], g) => [B, g.channels, g.height, g.width].map((v, i) => (i === 1 ? C : v)),
    chunk2: (x) => [[...x.slice(0, -1), x[x.length - 1] / 2], [...x.slice(0, -1), x[x.length - 1] / 2]],
    attention(q, k) {
      const [B, Lq, D] = q;
      const Lk = k[1];
      const flops = 2 * 2 * B * Lq * Lk * D;
      f.attention += flops;
      if (Lq === topTokens && Lk === topTokens) f.attentionTopLevel += flops;
      return q;
    },
    maskedMean: ([B, , F]) => [B, F],
  };
  unetForward(ops, c, { sample: [batch, c.inChannels, c.sampleSize, c.sampleSize], timestep: [1], context: [batch, c.tokens, c.crossAttentionDim], mask: [batch, c.tokens] });
  return { total: f.conv + f.linear + f.attention, ...f };
}
