/**
 * DATA — images and batches as flat row-major Float64 vectors with a shape.
 * Clause DATA-LAYOUT: element [b, c, h, w] of a tensor of shape [B, C, H, W] is
 * data[((b·C + c)·H + h)·W + w]. Values live in [-1, 1] (the article's convention;
 * the glyffuser stored pixels in [0, 1], see `toUnitRange` / `fromUnitRange`).
 */
import { NonFiniteError, ShapeError } from "./errors.ts";

export type Shape = readonly number[];

export interface Tensor {
  readonly shape: Shape;
  readonly data: Float64Array;
}

/** Number of elements of a shape. Throws ShapeError unless every dimension is a positive integer. */
export function size(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d <= 0) throw new ShapeError("shape", [...shape], "a list of positive integers");
    n *= d;
  }
  return n;
}

/** A tensor over `data` (copied into a Float64Array) with `shape`. DATA-LAYOUT. */
export function tensor(data: ArrayLike<number>, shape: Shape): Tensor {
  const n = size(shape);
  if (data.length !== n) throw new ShapeError("data length", data.length, `${n} (the product of shape [${shape.join(", ")}])`);
  return { shape: [...shape], data: data instanceof Float64Array ? data.slice() : Float64Array.from(data) };
}

export function zeros(shape: Shape): Tensor {
  return { shape: [...shape], data: new Float64Array(size(shape)) };
}

export function full(shape: Shape, value: number): Tensor {
  return { shape: [...shape], data: new Float64Array(size(shape)).fill(value) };
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertSameShape(what: string, a: Shape, b: Shape): void {
  if (!sameShape(a, b)) throw new ShapeError(what, [...b], `shape [${a.join(", ")}]`);
}

/** Throws NonFiniteError naming `what` at the first NaN or ±∞. */
export function assertFinite(what: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new NonFiniteError(what, i, data[i]);
  }
}

/** Elements per block of `linearCombination`: a block of the output (16 KiB) stays in L1 while every term is added to it. */
const COMBINE_BLOCK = 2048;

/**
 * Σₖ cₖ·tₖ, elementwise. The one tensor operation every sampler is built from (DESIGN.md).
 * Each element is summed in term order from 0 (0 + c₀t₀ + c₁t₁ + …; a term with cₖ = 0 is skipped, so
 * 0·∞ never makes a NaN); one output array, filled block by block, one pass over each input.
 */
export function linearCombination(terms: readonly Tensor[], coeffs: readonly number[]): Tensor {
  if (terms.length === 0 || terms.length !== coeffs.length) {
    throw new ShapeError("linearCombination", terms.length, `as many terms as coefficients (${coeffs.length}), at least one`);
  }
  for (let k = 1; k < terms.length; k++) assertSameShape(`linearCombination term ${k}`, terms[0].shape, terms[k].shape);
  const out = zeros(terms[0].shape);
  const y = out.data;
  for (let start = 0; start < y.length; start += COMBINE_BLOCK) {
    const end = Math.min(start + COMBINE_BLOCK, y.length);
    for (let k = 0; k < terms.length; k++) {
      const c = coeffs[k];
      if (c === 0) continue;
      const x = terms[k].data;
      for (let i = start; i < end; i++) y[i] += c * x[i];
    }
  }
  return out;
}

export const add = (a: Tensor, b: Tensor): Tensor => linearCombination([a, b], [1, 1]);
export const sub = (a: Tensor, b: Tensor): Tensor => linearCombination([a, b], [1, -1]);
export const scale = (a: Tensor, c: number): Tensor => linearCombination([a], [c]);

/** BACKEND-CLAMP (the reference backend): min(max(x, lo), hi) elementwise (NaN stays NaN, as Math.min/Math.max). */
export function clampTensor(t: Tensor, lo: number, hi: number): Tensor {
  const x = t.data;
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = Math.min(Math.max(x[i], lo), hi);
  return { shape: [...t.shape], data: y };
}

export function map(t: Tensor, f: (v: number, i: number) => number): Tensor {
  return { shape: [...t.shape], data: t.data.map(f) };
}

/** Batch dimension helpers (DATA-BATCH): a batch is the leading axis. */
export function batchSize(t: Tensor): number {
  return t.shape[0];
}

export function concatBatch(ts: readonly Tensor[]): Tensor {
  if (ts.length === 0) throw new ShapeError("concatBatch", 0, "at least one tensor");
  const rest = ts[0].shape.slice(1);
  ts.forEach((t, k) => assertSameShape(`concatBatch item ${k} (all but the batch axis)`, rest, t.shape.slice(1)));
  const shape = [ts.reduce((s, t) => s + t.shape[0], 0), ...rest];
  const data = new Float64Array(size(shape));
  let o = 0;
  for (const t of ts) { data.set(t.data, o); o += t.data.length; }
  return { shape, data };
}

export function splitBatch(t: Tensor, sizes: readonly number[]): Tensor[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== t.shape[0]) throw new ShapeError("splitBatch sizes", [...sizes], `sizes summing to the batch size ${t.shape[0]}`);
  const per = t.data.length / t.shape[0];
  const out: Tensor[] = [];
  let o = 0;
  for (const n of sizes) {
    out.push({ shape: [n, ...t.shape.slice(1)], data: t.data.slice(o * per, (o + n) * per) });
    o += n;
  }
  return out;
}

/** Item b of a batch as a tensor of shape [1, ...]. */
export function batchItem(t: Tensor, b: number): Tensor {
  const per = t.data.length / t.shape[0];
  return { shape: [1, ...t.shape.slice(1)], data: t.data.slice(b * per, (b + 1) * per) };
}

/** DATA-RANGE: [0, 1] pixels (the glyffuser's storage) to the model's [-1, 1]. */
export const fromUnitRange = (t: Tensor): Tensor => map(t, (v) => 2 * v - 1);
/** DATA-RANGE: the model's [-1, 1] back to [0, 1]. */
export const toUnitRange = (t: Tensor): Tensor => map(t, (v) => (v + 1) / 2);

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
