/**
 * COND-ATTN-* — multi-head scaled dot-product cross-attention, as the glyffuser's U-Net (diffusers'
 * UNet2DConditionModel, `Attention` with `cross_attention_dim`) injects the text into image features
 * (spec/11-conditioning.md; article: "Conditioning").
 *
 * Queries come from image features x [B, Lq, dq] (a feature map [B, C, H, W] becomes Lq = H·W tokens of
 * width C, see `imageToTokens`), keys and values from the token embeddings c [B, n, dc]:
 *   Q = x Wq, K = c Wk, V = c Wv                       (Wq: [dq, dm], Wk, Wv: [dc, dm])
 *   Aₕ = softmax(Qₕ Kₕᵀ / (√dₕ · T) + log mask)        (per head h, dₕ = dm / heads, temperature T = 1)
 *   out = concatₕ(Aₕ Vₕ) Wo + bo                        (Wo: [dm, dq], bo: [dq], optional)
 * Weights are stored [in, out] (y = x W); torch.nn.Linear stores the transpose. There is no residual,
 * normalisation or dropout here: those belong to the transformer block around it.
 *
 * Mask [B, n]: 1 = attend, 0 = padding. A masked key gets weight exactly 0 (its score is never
 * exponentiated). Every batch item must have at least one unmasked token: a fully masked item is a
 * ConfigError (diffusers would return NaN with a −∞ bias, or uniform weights with its finite −∞
 * stand-in; both are silent). The null condition always keeps one token (encoder.ts).
 */
import { ConfigError, ShapeError, requireFinite, requirePositiveInt } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import { assertFinite } from "../tensor.ts";

/** The four projections of one attention layer (`to_q`, `to_k`, `to_v`, `to_out[0]`), transposed to [in, out]. */
export interface AttentionParams {
  readonly wq: Tensor;
  readonly wk: Tensor;
  readonly wv: Tensor;
  readonly wo: Tensor;
  /** Output bias [dq] (diffusers' to_out has one); absent = 0. */
  readonly bo?: Tensor;
}

interface Dims {
  B: number;
  Lq: number;
  dq: number;
  n: number;
  dc: number;
  dm: number;
  dh: number;
  heads: number;
}

/** COND-INPUT-ERRORS: validates shapes, mask and finiteness; returns the dimensions. */
export function checkAttention(x: Tensor, context: Tensor, p: AttentionParams, heads: number, mask?: Tensor, temperature = 1): Dims {
  if (x.shape.length !== 3) throw new ShapeError("cross-attention queries x", [...x.shape], "rank 3 [batch, queries, width]");
  if (context.shape.length !== 3) throw new ShapeError("cross-attention context", [...context.shape], "rank 3 [batch, tokens, embedding width]");
  const [B, Lq, dq] = x.shape;
  const [Bc, n, dc] = context.shape;
  if (Bc !== B) throw new ShapeError("cross-attention context batch", Bc, `the batch of the queries (${B})`);
  const mat = (name: string, t: Tensor, rows: number, rowsWhat: string, cols?: number): number => {
    if (t.shape.length !== 2) throw new ShapeError(name, [...t.shape], "rank 2 [in, out]");
    if (t.shape[0] !== rows) throw new ShapeError(`${name} rows`, t.shape[0], `${rows} (${rowsWhat})`);
    if (cols !== undefined && t.shape[1] !== cols) throw new ShapeError(`${name} columns`, t.shape[1], `${cols} (the attention width of wq)`);
    return t.shape[1];
  };
  const dm = mat("wq", p.wq, dq, "the width of the image features x");
  mat("wk", p.wk, dc, "the embedding width of the context: the text encoder's d must equal the attention's cross_attention_dim", dm);
  mat("wv", p.wv, dc, "the embedding width of the context: the text encoder's d must equal the attention's cross_attention_dim", dm);
  mat("wo", p.wo, dm, "the attention width of wq", dq);
  if (p.bo && (p.bo.shape.length !== 1 || p.bo.shape[0] !== dq)) throw new ShapeError("bo", [...p.bo.shape], `[${dq}] (the width of x)`);
  requirePositiveInt("heads", heads);
  if (dm % heads !== 0) throw new ConfigError("heads", heads, `a divisor of the attention width ${dm}`);
  requireFinite("temperature", temperature);
  if (!(temperature > 0)) throw new ConfigError("temperature", temperature, "a finite number > 0");
  if (mask) {
    if (mask.shape.length !== 2 || mask.shape[0] !== B || mask.shape[1] !== n) throw new ShapeError("cross-attention mask", [...mask.shape], `[${B}, ${n}] (batch × context tokens)`);
    for (let b = 0; b < B; b++) {
      let any = false;
      for (let j = 0; j < n; j++) {
        const m = mask.data[b * n + j];
        if (m !== 0 && m !== 1) throw new ConfigError(`mask[${b}, ${j}]`, m, "0 (padding) or 1 (token)");
        any ||= m === 1;
      }
      if (!any) throw new ConfigError(`mask[${b}]`, "all zeros", "at least one unmasked token per batch item (for no condition use the null condition, which keeps one token)");
    }
  }
  assertFinite("cross-attention queries x", x.data);
  assertFinite("cross-attention context", context.data);
  for (const k of ["wq", "wk", "wv", "wo", "bo"] as const) if (p[k]) assertFinite(k, p[k]!.data);
  return { B, Lq, dq, n, dc, dm, dh: dm / heads, heads };
}

/** [rows, a] · [a, b] for a batch of row blocks: out[r, :] = Σₖ m[r, k] w[k, :]. */
function matmul(m: Float64Array, rows: number, w: Tensor): Float64Array {
  const [a, b] = w.shape;
  const out = new Float64Array(rows * b);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < a; k++) {
      const v = m[r * a + k];
      if (v === 0) continue;
      for (let j = 0; j < b; j++) out[r * b + j] += v * w.data[k * b + j];
    }
  }
  return out;
}

/** COND-ATTN-ROWSUM: the attention matrix A [B, heads, Lq, n]; each row is a softmax (sums to 1; masked entries are 0). */
export function attentionWeights(x: Tensor, context: Tensor, p: AttentionParams, heads: number, mask?: Tensor, temperature = 1): Tensor {
  const d = checkAttention(x, context, p, heads, mask, temperature);
  return scores(d, x, context, p, mask, temperature).A;
}

function scores(d: Dims, x: Tensor, context: Tensor, p: AttentionParams, mask: Tensor | undefined, temperature: number) {
  const { B, Lq, n, dm, dh, heads } = d;
  const Q = matmul(x.data, B * Lq, p.wq);
  const K = matmul(context.data, B * n, p.wk);
  const V = matmul(context.data, B * n, p.wv);
  const A = new Float64Array(B * heads * Lq * n);
  const scale = 1 / (Math.sqrt(dh) * temperature);
  const s = new Float64Array(n);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < Lq; i++) {
        let max = -Infinity;
        for (let j = 0; j < n; j++) {
          if (mask && mask.data[b * n + j] === 0) continue;
          let dot = 0;
          for (let k = 0; k < dh; k++) dot += Q[(b * Lq + i) * dm + h * dh + k] * K[(b * n + j) * dm + h * dh + k];
          s[j] = dot * scale;
          if (s[j] > max) max = s[j];
        }
        const row = ((b * heads + h) * Lq + i) * n;
        let z = 0;
        for (let j = 0; j < n; j++) {
          if (mask && mask.data[b * n + j] === 0) continue;
          z += A[row + j] = Math.exp(s[j] - max);
        }
        for (let j = 0; j < n; j++) A[row + j] /= z;
      }
    }
  }
  return { A: { shape: [B, heads, Lq, n], data: A } as Tensor, V };
}

/**
 * COND-ATTN-MASK, COND-ATTN-PERMUTE: multi-head cross-attention out [B, Lq, dq] of image features x [B, Lq, dq] over token
 * embeddings `context` [B, n, dc] with padding `mask` [B, n]. `temperature` T divides the scores
 * (COND-ATTN-TEMPERATURE: scaling the queries by c is the temperature 1/c).
 */
export function crossAttention(x: Tensor, context: Tensor, p: AttentionParams, heads: number, mask?: Tensor, temperature = 1): Tensor {
  const d = checkAttention(x, context, p, heads, mask, temperature);
  const { B, Lq, n, dq, dm, dh } = d;
  const { A, V } = scores(d, x, context, p, mask, temperature);
  const O = new Float64Array(B * Lq * dm);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < Lq; i++) {
        const row = ((b * heads + h) * Lq + i) * n;
        for (let j = 0; j < n; j++) {
          const a = A.data[row + j];
          if (a === 0) continue;
          for (let k = 0; k < dh; k++) O[(b * Lq + i) * dm + h * dh + k] += a * V[(b * n + j) * dm + h * dh + k];
        }
      }
    }
  }
  const out = matmul(O, B * Lq, p.wo);
  if (p.bo) for (let r = 0; r < B * Lq; r++) for (let k = 0; k < dq; k++) out[r * dq + k] += p.bo.data[k];
  return { shape: [B, Lq, dq], data: out };
}

/**
 * COND-ATTN-NAIVE: the same function written as the textbook loop, one output element at a time,
 * with nothing precomputed: the oracle `crossAttention` is checked against.
 */
export function crossAttentionNaive(x: Tensor, context: Tensor, p: AttentionParams, heads: number, mask?: Tensor, temperature = 1): Tensor {
  const { B, Lq, dq, n, dc, dm, dh } = checkAttention(x, context, p, heads, mask, temperature);
  const X = (b: number, i: number, k: number) => x.data[(b * Lq + i) * dq + k];
  const C = (b: number, j: number, k: number) => context.data[(b * n + j) * dc + k];
  const W = (w: Tensor, r: number, c: number) => w.data[r * w.shape[1] + c];
  const out = new Float64Array(B * Lq * dq);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Lq; i++) {
      const concat = new Float64Array(dm);
      for (let h = 0; h < heads; h++) {
        const keep = (j: number) => !mask || mask.data[b * n + j] === 1;
        const q = Array.from({ length: dh }, (_, k) => { let s = 0; for (let e = 0; e < dq; e++) s += X(b, i, e) * W(p.wq, e, h * dh + k); return s; });
        const key = (j: number, k: number) => { let s = 0; for (let e = 0; e < dc; e++) s += C(b, j, e) * W(p.wk, e, h * dh + k); return s; };
        const val = (j: number, k: number) => { let s = 0; for (let e = 0; e < dc; e++) s += C(b, j, e) * W(p.wv, e, h * dh + k); return s; };
        const logits = Array.from({ length: n }, (_, j) => { let s = 0; for (let k = 0; k < dh; k++) s += q[k] * key(j, k); return s / Math.sqrt(dh) / temperature; });
        const top = Math.max(...logits.filter((_, j) => keep(j)));
        const e = logits.map((l, j) => (keep(j) ? Math.exp(l - top) : 0));
        const z = e.reduce((a, v) => a + v, 0);
        for (let k = 0; k < dh; k++) for (let j = 0; j < n; j++) concat[h * dh + k] += (e[j] / z) * val(j, k);
      }
      for (let o = 0; o < dq; o++) {
        let s = p.bo ? p.bo.data[o] : 0;
        for (let k = 0; k < dm; k++) s += concat[k] * W(p.wo, k, o);
        out[(b * Lq + i) * dq + o] = s;
      }
    }
  }
  return { shape: [B, Lq, dq], data: out };
}

/** A feature map [B, C, H, W] as H·W query tokens [B, H·W, C] (diffusers' Transformer2DModel reshape). */
export function imageToTokens(t: Tensor): Tensor {
  if (t.shape.length !== 4) throw new ShapeError("feature map", [...t.shape], "rank 4 [B, C, H, W]");
  const [B, C, H, W] = t.shape;
  const out = new Float64Array(t.data.length);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let s = 0; s < H * W; s++) out[(b * H * W + s) * C + c] = t.data[(b * C + c) * H * W + s];
  return { shape: [B, H * W, C], data: out };
}

/** The inverse of `imageToTokens`: [B, H·W, C] back to [B, C, H, W]. */
export function tokensToImage(t: Tensor, H: number, W: number): Tensor {
  if (t.shape.length !== 3 || t.shape[1] !== H * W) throw new ShapeError("query tokens", [...t.shape], `[B, ${H * W}, C] (H·W = ${H}·${W} tokens)`);
  const [B, , C] = t.shape;
  const out = new Float64Array(t.data.length);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let s = 0; s < H * W; s++) out[(b * C + c) * H * W + s] = t.data[(b * H * W + s) * C + c];
  return { shape: [B, C, H, W], data: out };
}
