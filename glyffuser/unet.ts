/**
 * The glyffuser's noise predictor: a small conditional U-Net (spec/13-glyffuser.md), defined ONCE as a
 * function over an abstract ops interface ({@link UNetOps}) with three implementations:
 *
 *  - glyffuser/unet-tfjs.ts: tfjs ops (differentiable; training, and inference on any tfjs backend);
 *  - glyffuser/unet-onnx.ts: ONNX-builder ops (emit nodes; inference on onnxruntime-node);
 *  - {@link unetParamShapes} here: a recorder that only collects the parameter names and shapes.
 *
 * The architecture follows diffusers' UNet2DConditionModel (the glyffuser's model), simplified:
 *
 *   t ─ sinusoid(C₀, flip_sin_to_cos) ─ Linear(C₀→4C₀) ─ SiLU ─ Linear(4C₀→4C₀) = temb
 *   x ─ conv_in 3×3 ─┬─ down level 0: [ResNet (+ Transformer)] × L, Downsample (conv 3×3 stride 2)
 *                    ├─ …                                     (every output kept as a skip)
 *                    ├─ down level K−1 (no Downsample)
 *                    ├─ mid: ResNet, Transformer, ResNet
 *                    ├─ up level K−1 … 0: [concat skip, ResNet (+ Transformer)] × (L+1), Upsample (nearest 2×, conv 3×3)
 *                    └─ GroupNorm ─ SiLU ─ conv_out 3×3 → ε̂
 *
 *   ResNet(x, temb):  h = conv₁(SiLU(GN(x))) + Linear(SiLU(temb)) (per channel);  h = conv₂(SiLU(GN(h)));
 *                     out = h + (x, or a 1×1 conv of x when the channel count changes)
 *   Transformer(x, ctx, mask):  r = x;  h = Linear_in(tokens(GN(x)));
 *                     [h += SelfAttn(LN(h))];  h += CrossAttn(LN(h), ctx, mask);  h += FF(LN(h));
 *                     out = image(Linear_out(h)) + r          (FF = GEGLU, width ffMult·C, as diffusers)
 *
 * Cross-attention keys and values come from the text encoder's token embeddings [B, n, d]
 * (d = `crossAttentionDim`); padded tokens are masked out with the encoder's mask (scores −10⁴·(1 − mask),
 * as diffusers). Parameters live in one map name → {data: Float32Array, shape} in PyTorch layouts
 * (Conv2d [out, in, k, k], Linear [out, in]), shared by every implementation.
 */
import { ConfigError, require, requirePositiveInt } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";

/** The architecture. */
export interface UNetConfig {
  /** Image side (square). */
  readonly sampleSize: number;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Channels of each resolution level, highest resolution first (diffusers `block_out_channels`). */
  readonly blockChannels: readonly number[];
  /** ResNet blocks per down level (up levels have one more). */
  readonly layersPerBlock: number;
  /** Per level: whether its blocks carry a Transformer (cross-attention) after each ResNet. */
  readonly attentionLevels: readonly boolean[];
  /** Transformer in the middle block. */
  readonly midAttention: boolean;
  /** Width d of the text encoder's token embeddings (diffusers `cross_attention_dim`). */
  readonly crossAttentionDim: number;
  /** Attention heads (each level's channels must be divisible by it). */
  readonly heads: number;
  /** GroupNorm groups (each level's channels must be divisible by it). */
  readonly groups: number;
  /** Self-attention in each Transformer, before the cross-attention (diffusers' BasicTransformerBlock has it). */
  readonly selfAttention: boolean;
  /** GEGLU feed-forward width multiplier (0 = no feed-forward). */
  readonly ffMult: number;
  /** Text tokens n the model is trained with (the encoder's maxLength); documentation and ONNX input shape. */
  readonly tokens: number;
  /**
   * Also add the prompt's pooled embedding to the timestep embedding (default false): the mean of the unmasked
   * token embeddings through a two-layer MLP (`add_embedding.linear_1/2`, as diffusers' TimestepEmbedding),
   * added to temb so that every ResNet sees the prompt — the way class-conditional U-Nets (ADM) and Imagen's
   * pooled text embedding condition, beside the cross-attention. See spec/13-glyffuser.md, "Model".
   */
  readonly textTimeEmbedding?: boolean;
}

/**
 * The trained, committed glyffuser of this repository: 32×32, three levels (32², 16², 8²), cross-attention
 * at 16² and 8² and in the middle, over the embedded text encoder (d = 64, n = 16). Sized so that a few
 * thousand AdamW steps fit in ~30 minutes of tfjs-wasm on two CPU cores (see spec/13-glyffuser.md).
 */
export const GLYFFUSER_SMALL_CONFIG: UNetConfig = {
  sampleSize: 32,
  inChannels: 1,
  outChannels: 1,
  blockChannels: [16, 32, 64],
  layersPerBlock: 1,
  attentionLevels: [false, true, true],
  midAttention: true,
  crossAttentionDim: 64,
  heads: 4,
  groups: 8,
  selfAttention: false,
  ffMult: 2,
  tokens: 16,
  textTimeEmbedding: true,
};

/**
 * A glyffuser-SIZED U-Net (for timing, with random weights): diffusers UNet2DConditionModel-like, 128²,
 * block channels 128/256/512/512, two layers per block, cross-attention (width 512) at the three
 * highest-resolution levels and in the middle, self-attention and GEGLU feed-forward in every Transformer.
 */
export const GLYFFUSER_FULL_CONFIG: UNetConfig = {
  sampleSize: 128,
  inChannels: 1,
  outChannels: 1,
  blockChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  attentionLevels: [true, true, true, false],
  midAttention: true,
  crossAttentionDim: 512,
  heads: 8,
  groups: 32,
  selfAttention: true,
  ffMult: 4,
  tokens: 77,
};

/** Checks a config; ConfigError naming the field and what is allowed. */
export function validateUNetConfig(c: UNetConfig): UNetConfig {
  for (const f of ["sampleSize", "inChannels", "outChannels", "layersPerBlock", "crossAttentionDim", "heads", "groups", "tokens"] as const) requirePositiveInt(`unet.${f}`, c[f]);
  require(Array.isArray(c.blockChannels) && c.blockChannels.length >= 1, "unet.blockChannels", c.blockChannels, "a non-empty list of channel counts");
  require(Array.isArray(c.attentionLevels) && c.attentionLevels.length === c.blockChannels.length, "unet.attentionLevels", c.attentionLevels, `one boolean per level (${c.blockChannels.length})`);
  c.blockChannels.forEach((ch, i) => {
    requirePositiveInt(`unet.blockChannels[${i}]`, ch);
    require(ch % c.groups === 0, `unet.blockChannels[${i}]`, ch, `a multiple of groups (${c.groups})`);
    require(ch % c.heads === 0, `unet.blockChannels[${i}]`, ch, `a multiple of heads (${c.heads})`);
  });
  require(c.blockChannels[0] % 2 === 0, "unet.blockChannels[0]", c.blockChannels[0], "an even number (the sinusoidal embedding width)");
  const f = 2 ** (c.blockChannels.length - 1);
  require(c.sampleSize % f === 0, "unet.sampleSize", c.sampleSize, `a multiple of ${f} (one halving per level)`);
  require(Number.isInteger(c.ffMult) && c.ffMult >= 0, "unet.ffMult", c.ffMult, "an integer ≥ 0");
  require(c.textTimeEmbedding === undefined || typeof c.textTimeEmbedding === "boolean", "unet.textTimeEmbedding", c.textTimeEmbedding, "true, false or absent (= false)");
  return c;
}

// ─── the ops interface ──────────────────────────────────────────────────────────────────────────

/**
 * What the U-Net is made of. `X` is an implementation's value handle (a tfjs tensor, an ONNX value name,
 * a shape). Images are [B, C, H, W] in meaning (an implementation may store them NHWC); token sequences
 * are [B, L, C]. Parameters are looked up by name: `<name>.weight`, `<name>.bias` (PyTorch layouts).
 */
export interface UNetOps<X> {
  /** Conv2d, square kernel, zero padding `padding`, stride 1 or 2. */
  conv2d(x: X, name: string, o: { inChannels: number; outChannels: number; kernel: number; stride?: number; padding?: number }): X;
  /** GroupNorm over an image (ε = 1e-5 unless given), affine. */
  groupNorm(x: X, name: string, o: { channels: number; groups: number; epsilon?: number }): X;
  /** LayerNorm over the last axis of tokens (ε = 1e-5), affine. */
  layerNorm(x: X, name: string, o: { dim: number }): X;
  /** Linear over the last axis of [B, F] or [B, L, F]. */
  linear(x: X, name: string, o: { inFeatures: number; outFeatures: number; bias?: boolean }): X;
  silu(x: X): X;
  /** GELU, exact (erf) form. */
  gelu(x: X): X;
  add(a: X, b: X): X;
  mul(a: X, b: X): X;
  /** Image [B, C, H, W] plus a per-item channel vector [B or 1, C]. */
  addChannelVector(x: X, v: X): X;
  /** Concatenate two images along the channel axis. */
  concatChannels(a: X, b: X): X;
  /** Nearest-neighbour 2× upsampling of an image. */
  upsample2x(x: X): X;
  /** Sinusoidal embedding of the timestep(s) [B or 1] → [B or 1, width]: [cos(t fⱼ), sin(t fⱼ)], fⱼ = 10000^(−j/(width/2)). */
  timestepEmbedding(t: X, width: number): X;
  /** Image [B, C, H, W] → tokens [B, H·W, C] (row-major positions). */
  toTokens(x: X, o: { channels: number; height: number; width: number }): X;
  /** Tokens [B, H·W, C] → image [B, C, H, W]. */
  fromTokens(x: X, o: { channels: number; height: number; width: number }): X;
  /** Split the last axis into two equal halves. */
  chunk2(x: X, o: { dim: number }): [X, X];
  /** Multi-head scaled dot-product attention on projected q [B, Lq, dim], k, v [B, Lk, dim]; mask [B, Lk] (1 = keep) adds −10⁴·(1 − mask). */
  attention(q: X, k: X, v: X, o: { heads: number; dim: number; mask?: X; queryLength?: number; keyLength?: number }): X;
  /** Mean of tokens [B, L, F] over the positions the mask [B, L] keeps (all when omitted) → [B, F]. */
  maskedMean(x: X, mask: X | undefined, o: { dim: number }): X;
}

/**
 * How the ops evaluate attention; every plan computes softmax(QKᵀ/√d)V, up to rounding.
 * - "matmul": explicit [B, h, Lq, Lk] score tensors. With `maxScoreBytes` (and the `batch` it is for),
 *   queries are taken in chunks so that no float32 score tensor exceeds it: at 128² a self-attention score
 *   tensor is [16, 8, 16384, 16384] = 137 GB at batch 16, and a WebGPU kernel cannot even bind a buffer larger
 *   than the adapter's maxStorageBufferBindingSize (128 MiB by default) — onnxruntime's WebGPU provider then
 *   returns garbage without an error (measured: |error| 4·10³ at 8 × 4096² scores on a software adapter).
 * - "fused": the runtime's fused attention kernel (onnxruntime's com.microsoft MultiHeadAttention), which does
 *   not materialise the scores. Measured on onnxruntime's WebGPU provider (software adapter): 8× faster than
 *   "matmul" at 4096 tokens but |error| ≈ 1e-3 against float32 (the CPU provider's kernel: 7e-7); through the
 *   small U-Net, 9·10⁻³ of the output's scale (test/onnx-attention-chunks.test.ts).
 */
export interface AttentionPlan {
  readonly impl: "matmul" | "fused";
  readonly maxScoreBytes?: number;
  readonly batch?: number;
}

/** Queries per chunk under `plan` for one attention call (undefined: no chunking needed). */
export function attentionQueryChunk(plan: AttentionPlan | undefined, o: { heads: number; queryLength?: number; keyLength?: number }): number | undefined {
  if (!plan || plan.impl !== "matmul" || plan.maxScoreBytes === undefined || o.queryLength === undefined || o.keyLength === undefined) return undefined;
  require(Number.isInteger(plan.batch) && plan.batch! >= 1, "attention plan batch", plan.batch, "a positive integer (the batch the score budget is for)");
  require(plan.maxScoreBytes > 0, "attention plan maxScoreBytes", plan.maxScoreBytes, "a positive number of bytes");
  const bytesPerQuery = 4 * plan.batch! * o.heads * o.keyLength;
  const chunk = Math.max(1, Math.floor(plan.maxScoreBytes / bytesPerQuery));
  return chunk >= o.queryLength ? undefined : chunk;
}

/** The inputs of one forward pass. */
export interface UNetInputs<X> {
  /** Noisy sample [B, inChannels, S, S]. */
  readonly sample: X;
  /** Timesteps [B] or [1]. */
  readonly timestep: X;
  /** Token embeddings [B, n, crossAttentionDim]. */
  readonly context: X;
  /** Padding mask [B, n] (1 = token); omitted = attend to every token. */
  readonly mask?: X;
}

/** The U-Net forward pass over `ops`: ε̂ [B, outChannels, S, S]. The one definition of the architecture. */
export function unetForward<X>(ops: UNetOps<X>, c: UNetConfig, inp: UNetInputs<X>): X {
  const C0 = c.blockChannels[0];
  const T = 4 * C0;
  const K = c.blockChannels.length;

  let temb = ops.timestepEmbedding(inp.timestep, C0);
  temb = ops.linear(ops.silu(ops.linear(temb, "time_embedding.linear_1", { inFeatures: C0, outFeatures: T })), "time_embedding.linear_2", { inFeatures: T, outFeatures: T });
  if (c.textTimeEmbedding) {
    const d = c.crossAttentionDim;
    const pooled = ops.maskedMean(inp.context, inp.mask, { dim: d });
    temb = ops.add(temb, ops.linear(ops.silu(ops.linear(pooled, "add_embedding.linear_1", { inFeatures: d, outFeatures: T })), "add_embedding.linear_2", { inFeatures: T, outFeatures: T }));
  }
  const tembAct = ops.silu(temb);

  const resnet = (x: X, name: string, cin: number, cout: number): X => {
    let h = ops.silu(ops.groupNorm(x, `${name}.norm1`, { channels: cin, groups: c.groups }));
    h = ops.conv2d(h, `${name}.conv1`, { inChannels: cin, outChannels: cout, kernel: 3, padding: 1 });
    h = ops.addChannelVector(h, ops.linear(tembAct, `${name}.time_emb_proj`, { inFeatures: T, outFeatures: cout }));
    h = ops.silu(ops.groupNorm(h, `${name}.norm2`, { channels: cout, groups: c.groups }));
    h = ops.conv2d(h, `${name}.conv2`, { inChannels: cout, outChannels: cout, kernel: 3, padding: 1 });
    const shortcut = cin === cout ? x : ops.conv2d(x, `${name}.conv_shortcut`, { inChannels: cin, outChannels: cout, kernel: 1 });
    return ops.add(shortcut, h);
  };

  const transformer = (x: X, name: string, ch: number, side: number): X => {
    const geo = { channels: ch, height: side, width: side };
    let h = ops.toTokens(ops.groupNorm(x, `${name}.norm`, { channels: ch, groups: c.groups, epsilon: 1e-6 }), geo);
    h = ops.linear(h, `${name}.proj_in`, { inFeatures: ch, outFeatures: ch });
    const attn = (q: X, kv: X, kvDim: number, an: string, mask?: X): X => {
      const Q = ops.linear(q, `${an}.to_q`, { inFeatures: ch, outFeatures: ch, bias: false });
      const Kx = ops.linear(kv, `${an}.to_k`, { inFeatures: kvDim, outFeatures: ch, bias: false });
      const V = ops.linear(kv, `${an}.to_v`, { inFeatures: kvDim, outFeatures: ch, bias: false });
      const keyLength = kv === q ? side * side : c.tokens;
      return ops.linear(ops.attention(Q, Kx, V, { heads: c.heads, dim: ch, mask, queryLength: side * side, keyLength }), `${an}.to_out`, { inFeatures: ch, outFeatures: ch });
    };
    if (c.selfAttention) {
      const n1 = ops.layerNorm(h, `${name}.norm1`, { dim: ch });
      h = ops.add(h, attn(n1, n1, ch, `${name}.attn1`));
    }
    h = ops.add(h, attn(ops.layerNorm(h, `${name}.norm2`, { dim: ch }), inp.context, c.crossAttentionDim, `${name}.attn2`, inp.mask));
    if (c.ffMult > 0) {
      const inner = c.ffMult * ch;
      const n3 = ops.layerNorm(h, `${name}.norm3`, { dim: ch });
      const [a, gate] = ops.chunk2(ops.linear(n3, `${name}.ff.proj`, { inFeatures: ch, outFeatures: 2 * inner }), { dim: 2 * inner });
      h = ops.add(h, ops.linear(ops.mul(a, ops.gelu(gate)), `${name}.ff.out`, { inFeatures: inner, outFeatures: ch }));
    }
    h = ops.linear(h, `${name}.proj_out`, { inFeatures: ch, outFeatures: ch });
    return ops.add(ops.fromTokens(h, geo), x);
  };

  let h = ops.conv2d(inp.sample, "conv_in", { inChannels: c.inChannels, outChannels: C0, kernel: 3, padding: 1 });
  const skips: { x: X; ch: number }[] = [{ x: h, ch: C0 }];
  let ch = C0;
  let side = c.sampleSize;
  for (let l = 0; l < K; l++) {
    const out = c.blockChannels[l];
    for (let j = 0; j < c.layersPerBlock; j++) {
      h = resnet(h, `down.${l}.resnets.${j}`, ch, out);
      ch = out;
      if (c.attentionLevels[l]) h = transformer(h, `down.${l}.attentions.${j}`, ch, side);
      skips.push({ x: h, ch });
    }
    if (l < K - 1) {
      h = ops.conv2d(h, `down.${l}.downsample`, { inChannels: ch, outChannels: ch, kernel: 3, stride: 2, padding: 1 });
      side /= 2;
      skips.push({ x: h, ch });
    }
  }
  h = resnet(h, "mid.resnets.0", ch, ch);
  if (c.midAttention) h = transformer(h, "mid.attentions.0", ch, side);
  h = resnet(h, "mid.resnets.1", ch, ch);
  for (let l = K - 1; l >= 0; l--) {
    const out = c.blockChannels[l];
    for (let j = 0; j <= c.layersPerBlock; j++) {
      const skip = skips.pop()!;
      h = resnet(ops.concatChannels(h, skip.x), `up.${l}.resnets.${j}`, ch + skip.ch, out);
      ch = out;
      if (c.attentionLevels[l]) h = transformer(h, `up.${l}.attentions.${j}`, ch, side);
    }
    if (l > 0) {
      h = ops.conv2d(ops.upsample2x(h), `up.${l}.upsample`, { inChannels: ch, outChannels: ch, kernel: 3, padding: 1 });
      side *= 2;
    }
  }
  h = ops.silu(ops.groupNorm(h, "conv_norm_out", { channels: ch, groups: c.groups }));
  return ops.conv2d(h, "conv_out", { inChannels: ch, outChannels: c.outChannels, kernel: 3, padding: 1 });
}

// ─── parameters ─────────────────────────────────────────────────────────────────────────────────

/** One parameter: Float32 values, row-major, with its PyTorch shape. */
export interface Param {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}
/** Named weights shared by the tfjs and ONNX implementations (insertion order = definition order). */
export type UNetWeights = Map<string, Param>;

/** How a parameter is initialised. */
type InitKind = { kind: "uniform"; fanIn: number } | { kind: "ones" } | { kind: "zeros" };
interface ParamSpec {
  readonly shape: readonly number[];
  readonly init: InitKind;
}

/** A recorder implementation of the ops: runs the architecture once and collects every parameter's name and shape. */
export function unetParamSpecs(c: UNetConfig): Map<string, ParamSpec> {
  validateUNetConfig(c);
  const specs = new Map<string, ParamSpec>();
  const add = (name: string, shape: number[], init: InitKind): void => {
    if (specs.has(name)) throw new ConfigError("parameter name", name, "a name used once (an architecture bug)");
    specs.set(name, { shape, init });
  };
  const nothing = 0;
  const ops: UNetOps<number> = {
    conv2d(_x, name, o) {
      const fanIn = o.inChannels * o.kernel * o.kernel;
      add(`${name}.weight`, [o.outChannels, o.inChannels, o.kernel, o.kernel], { kind: "uniform", fanIn });
      add(`${name}.bias`, [o.outChannels], { kind: "uniform", fanIn });
      return nothing;
    },
    groupNorm(_x, name, o) {
      add(`${name}.weight`, [o.channels], { kind: "ones" });
      add(`${name}.bias`, [o.channels], { kind: "zeros" });
      return nothing;
    },
    layerNorm(_x, name, o) {
      add(`${name}.weight`, [o.dim], { kind: "ones" });
      add(`${name}.bias`, [o.dim], { kind: "zeros" });
      return nothing;
    },
    linear(_x, name, o) {
      add(`${name}.weight`, [o.outFeatures, o.inFeatures], { kind: "uniform", fanIn: o.inFeatures });
      if (o.bias !== false) add(`${name}.bias`, [o.outFeatures], { kind: "uniform", fanIn: o.inFeatures });
      return nothing;
    },
    silu: () => nothing,
    gelu: () => nothing,
    add: () => nothing,
    mul: () => nothing,
    addChannelVector: () => nothing,
    concatChannels: () => nothing,
    upsample2x: () => nothing,
    timestepEmbedding: () => nothing,
    toTokens: () => nothing,
    fromTokens: () => nothing,
    chunk2: () => [nothing, nothing],
    attention: () => nothing,
    maskedMean: () => nothing,
  };
  unetForward(ops, c, { sample: nothing, timestep: nothing, context: nothing, mask: nothing });
  return specs;
}

/** Number of scalar parameters of a config. */
export function countParameters(c: UNetConfig): number {
  let n = 0;
  for (const s of unetParamSpecs(c).values()) n += s.shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * Names of the layers whose weights start at zero in training (`zeroInit`), as in DDPM/ADM's
 * `zero_module`: the second conv of every ResNet, every Transformer's proj_out and conv_out. Each
 * residual branch then starts as the identity, which makes the first steps of training stable.
 */
export function isZeroInitLayer(paramName: string): boolean {
  return /\.conv2\.(weight|bias)$/.test(paramName) || /\.proj_out\.(weight|bias)$/.test(paramName) || /^conv_out\.(weight|bias)$/.test(paramName);
}

/**
 * Fresh weights: PyTorch's default initialisation (Conv2d and Linear weights and biases U(−1/√fan_in,
 * 1/√fan_in), norms γ = 1, β = 0) from a seeded stream. `zeroInit` (training) zeroes the layers of
 * {@link isZeroInitLayer}; without it (tests, timing) every layer is random, so outputs are non-trivial.
 */
export function initUNetWeights(c: UNetConfig, seed: number | string = 0, o: { zeroInit?: boolean } = {}): UNetWeights {
  const stream = new GaussianStream(`unet-init/${seed}`);
  const out: UNetWeights = new Map();
  for (const [name, s] of unetParamSpecs(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (s.init.kind === "ones") data.fill(1);
    else if (s.init.kind === "uniform" && !(o.zeroInit && isZeroInitLayer(name))) {
      const bound = 1 / Math.sqrt(s.init.fanIn);
      for (let i = 0; i < n; i++) data[i] = (2 * stream.uniform() - 1) * bound;
    }
    out.set(name, { data, shape: s.shape });
  }
  return out;
}

/** Checks that `w` holds exactly the parameters of `c` with the right shapes (InputFile-style problems as strings). */
export function weightProblems(c: UNetConfig, w: UNetWeights): string[] {
  const specs = unetParamSpecs(c);
  const problems: string[] = [];
  for (const [name, s] of specs) {
    const p = w.get(name);
    if (!p) problems.push(`missing parameter ${name}`);
    else if (p.shape.length !== s.shape.length || p.shape.some((d, i) => d !== s.shape[i]) || p.data.length !== s.shape.reduce((a, b) => a * b, 1)) {
      problems.push(`parameter ${name} has shape [${p.shape.join(", ")}], expected [${s.shape.join(", ")}]`);
    }
  }
  for (const name of w.keys()) if (!specs.has(name)) problems.push(`unexpected parameter ${name}`);
  return problems;
}
