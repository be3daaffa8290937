/**
 * CFG — classifier-free guidance (spec/12-guidance.md; article: "Classifier-free guidance";
 * Ho & Salimans 2022).
 *
 * One network is trained both with the condition and, with probability p_drop, with the null condition
 * (CFG-DROPOUT), so it predicts ε(xₜ | y) and ε(xₜ) = ε(xₜ | ∅). At sampling time
 *   ε̂ = ε_u + w (ε_c − ε_u) = (1 − w) ε_u + w ε_c                    (CFG-COMBINE)
 * w = 0 is unconditional, w = 1 conditional, w > 1 extrapolates away from the unconditional prediction.
 * With the exact oracle ε̂ = −σₜ ∇ log[q(xₜ)^{1−w} q(xₜ | y)^w] at every noise level (CFG-TILT), and
 * ε_c − ε_u = −σₜ ∇ log q(y | xₜ): guidance follows an implicit classifier (CFG-IMPLICIT-CLASSIFIER).
 * Guidance is applied to the raw model output of any predictionType: each conversion is an affine map
 * with coefficients that sum to one across the two passes, so it commutes (CFG-PARAM-COMMUTE).
 *
 * Guidance rescale (Lin et al. 2023, §3.4; diffusers `rescale_noise_cfg`), per batch item b, with std
 * over all non-batch axes:  x_b = φ · ε̂_b · std(ε_c,b)/std(ε̂_b) + (1 − φ) · ε̂_b   (CFG-RESCALE).
 */
import type { Backend, BTensor, Conditioning, Denoiser } from "./contract.ts";
import { MissingPrimitiveError, ShapeError, require, requireFinite } from "./errors.ts";
import type { GaussianStream } from "./rng.ts";
import type { Tensor } from "./tensor.ts";
import { assertSameShape, linearCombination, sameShape } from "./tensor.ts";

/** CFG-COMBINE: the coefficients of (ε_u, ε_c). Exact at the endpoints: w = 0 → [1, 0], w = 1 → [0, 1]. */
export function cfgCoefficients(w: number): [number, number] {
  requireFinite("guidanceScale", w);
  return [1 - w, w];
}

/** CFG-COMBINE: ε̂ = ε_u + w (ε_c − ε_u), computed as (1 − w) ε_u + w ε_c. */
export function classifierFreeGuidance(epsUncond: Tensor, epsCond: Tensor, w: number): Tensor {
  assertSameShape("classifier-free guidance: conditional prediction", epsUncond.shape, epsCond.shape);
  return linearCombination([epsUncond, epsCond], cfgCoefficients(w));
}

function checkPhi(phi: number): number {
  requireFinite("guidanceRescale", phi);
  require(phi >= 0 && phi <= 1, "guidanceRescale", phi, "a number in [0, 1] (0 = no rescale; Lin et al. use 0.7)");
  return phi;
}

/** Population standard deviation of a slice (the ratio of two stds is the same with Bessel's correction). */
function std(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m += a[i];
  m /= a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i] - m) ** 2;
  return Math.sqrt(v / a.length);
}

/**
 * CFG-RESCALE: rescale the guided prediction so each item's std matches the conditional one, then mix
 * with weight φ. An item whose guided prediction is constant (std 0) is left as it is.
 */
export function rescaleGuidance(guided: Tensor, cond: Tensor, phi: number): Tensor {
  checkPhi(phi);
  assertSameShape("guidance rescale: conditional prediction", guided.shape, cond.shape);
  const B = guided.shape[0];
  const per = guided.data.length / B;
  const out = Float64Array.from(guided.data);
  if (phi === 0) return { shape: [...guided.shape], data: out };
  for (let b = 0; b < B; b++) {
    const g = guided.data.subarray(b * per, (b + 1) * per);
    const sg = std(g);
    if (sg === 0) continue;
    const f = phi * (std(cond.data.subarray(b * per, (b + 1) * per)) / sg) + (1 - phi);
    for (let i = 0; i < per; i++) out[b * per + i] = f * g[i];
  }
  return { shape: [...guided.shape], data: out };
}

/** CFG-COMBINE then CFG-RESCALE on a backend. The rescale needs per-item stds, so it reads back and runs on the host. */
export async function guideOn<T extends BTensor>(backend: Backend<T>, uncond: T, cond: T, w: number, phi = 0): Promise<T> {
  checkPhi(phi);
  if (!sameShape(uncond.shape, cond.shape)) throw new ShapeError("classifier-free guidance: conditional prediction", [...cond.shape], `shape [${uncond.shape.join(", ")}]`);
  const guided = await backend.combine([uncond, cond], cfgCoefficients(w));
  if (phi === 0) return guided;
  const host = async (t: T): Promise<Tensor> => ({ shape: [...t.shape], data: Float64Array.from(await backend.toHost(t)) });
  const r = rescaleGuidance(await host(guided), await host(cond), phi);
  return backend.fromHost(r.data, r.shape);
}

export interface GuidanceOptions {
  /** Guidance rescale φ ∈ [0, 1] (default 0). */
  phi?: number;
  /**
   * CFG-BATCH: run both passes as one model call on concat([uncond, cond]) along the batch (default:
   * when the backend has concat and split); false = two calls.
   */
  batched?: boolean;
}

function checkNull<T extends BTensor>(cond: Conditioning<T>, nullCond: Conditioning<T>): void {
  if (!sameShape(cond.embeddings.shape, nullCond.embeddings.shape)) {
    throw new ShapeError("null condition embeddings", [...nullCond.embeddings.shape], `the shape of the condition [${cond.embeddings.shape.join(", ")}] (encode it with encodeNull(batch) of the same encoder)`);
  }
  if (cond.mask && nullCond.mask && !sameShape(cond.mask.shape, nullCond.mask.shape)) {
    throw new ShapeError("null condition mask", [...nullCond.mask.shape], `the shape of the condition's mask [${cond.mask.shape.join(", ")}]`);
  }
}

/** A mask of ones [B, n] for an embedding [B, n, d] that has none (so two conditions can be concatenated). */
async function maskOf<T extends BTensor>(backend: Backend<T>, c: Conditioning<T>): Promise<T> {
  if (c.mask) return c.mask;
  const [B, n] = c.embeddings.shape;
  return backend.fromHost(new Float64Array(B * n).fill(1), [B, n]);
}

/**
 * CFG-BATCH: the guided model output at (sample, timestep). Batched: ONE call of `denoiser` on
 * concat([sample, sample]) with concat([nullCond, cond]) (unconditional half first, as diffusers), split
 * back; unbatched: two calls. w = 1 (and w = 0 without rescale) needs one pass only and makes just that call.
 * Like the samplers, it disposes nothing: backends that need freeing use adapters/memory.ts.
 */
export async function guidedPrediction<T extends BTensor>(
  denoiser: Denoiser<T>,
  backend: Backend<T>,
  sample: T,
  timestep: number,
  cond: Conditioning<T>,
  nullCond: Conditioning<T>,
  w: number,
  opts: GuidanceOptions = {},
): Promise<T> {
  const coeffs = cfgCoefficients(w);
  const phi = checkPhi(opts.phi ?? 0);
  checkNull(cond, nullCond);
  if (coeffs[1] === 0 && phi === 0) return denoiser.evaluate(sample, timestep, nullCond);
  if (coeffs[0] === 0) return denoiser.evaluate(sample, timestep, cond);
  const batched = opts.batched ?? (backend.concat !== undefined && backend.split !== undefined);
  let uncondOut: T;
  let condOut: T;
  if (batched) {
    if (!backend.concat) throw new MissingPrimitiveError("concat", backend.name);
    if (!backend.split) throw new MissingPrimitiveError("split", backend.name);
    const B = sample.shape[0];
    const masks = cond.mask || nullCond.mask ? [await maskOf(backend, nullCond), await maskOf(backend, cond)] : undefined;
    const both: Conditioning<T> = {
      embeddings: await backend.concat([nullCond.embeddings, cond.embeddings]),
      mask: masks ? await backend.concat(masks) : undefined,
    };
    const out = await denoiser.evaluate(await backend.concat([sample, sample]), timestep, both);
    if (out.shape[0] !== 2 * B) throw new ShapeError("batched guidance: model output batch", out.shape[0], `${2 * B} (twice the sample batch)`);
    [uncondOut, condOut] = await backend.split(out, [B, B]);
  } else {
    uncondOut = await denoiser.evaluate(sample, timestep, nullCond);
    condOut = await denoiser.evaluate(sample, timestep, cond);
  }
  return guideOn(backend, uncondOut, condOut, w, phi);
}

/**
 * CFG-BATCH: a Denoiser that returns the guided output, so any sampler can use guidance unchanged.
 * A `cond` passed to `evaluate` replaces the bound one.
 */
export function guidedDenoiser<T extends BTensor>(
  denoiser: Denoiser<T>,
  backend: Backend<T>,
  cond: Conditioning<T>,
  nullCond: Conditioning<T>,
  w: number,
  phi = 0,
  opts: Omit<GuidanceOptions, "phi"> = {},
): Denoiser<T> {
  cfgCoefficients(w);
  checkPhi(phi);
  checkNull(cond, nullCond);
  return {
    predictionType: denoiser.predictionType,
    evaluate: (sample, timestep, c) => guidedPrediction(denoiser, backend, sample, timestep, c ?? cond, nullCond, w, { ...opts, phi }),
  };
}

/**
 * CFG-DROPOUT (training path): each item's condition is replaced by the null condition independently
 * with probability pDrop (u < pDrop, u ~ U[0, 1) from `stream`). `nullCond` has batch 1 or B. Returns
 * the new conditioning and which items were dropped.
 */
export function dropCondition(
  batchConds: Conditioning<Tensor>,
  nullCond: Conditioning<Tensor>,
  pDrop: number,
  stream: GaussianStream,
): { cond: Conditioning<Tensor>; dropped: boolean[] } {
  requireFinite("pDrop", pDrop);
  require(pDrop >= 0 && pDrop <= 1, "pDrop", pDrop, "a probability in [0, 1] (the glyffuser and Ho & Salimans use 0.1–0.2)");
  const e = batchConds.embeddings;
  const B = e.shape[0];
  const ne = nullCond.embeddings;
  if (!(ne.shape[0] === 1 || ne.shape[0] === B) || !sameShape(ne.shape.slice(1), e.shape.slice(1))) {
    throw new ShapeError("null condition embeddings", [...ne.shape], `[1 or ${B}, ${e.shape.slice(1).join(", ")}]`);
  }
  const per = e.data.length / B;
  const n = e.shape[1];
  if (batchConds.mask && (batchConds.mask.shape.length !== 2 || batchConds.mask.shape[0] !== B || batchConds.mask.shape[1] !== n)) {
    throw new ShapeError("condition mask", [...batchConds.mask.shape], `[${B}, ${n}]`);
  }
  if (nullCond.mask && (nullCond.mask.shape.length !== 2 || nullCond.mask.shape[0] !== ne.shape[0] || nullCond.mask.shape[1] !== n)) {
    throw new ShapeError("null condition mask", [...nullCond.mask.shape], `[${ne.shape[0]}, ${n}]`);
  }
  const dropped = Array.from({ length: B }, () => stream.uniform() < pDrop);
  const emb = Float64Array.from(e.data);
  const hasMask = batchConds.mask !== undefined || nullCond.mask !== undefined;
  const mask = batchConds.mask ? Float64Array.from(batchConds.mask.data) : new Float64Array(B * n).fill(1);
  dropped.forEach((d, b) => {
    if (!d) return;
    const src = ne.shape[0] === 1 ? 0 : b;
    emb.set(ne.data.subarray(src * per, (src + 1) * per), b * per);
    if (nullCond.mask) mask.set(nullCond.mask.data.subarray(src * n, (src + 1) * n), b * n);
    else mask.fill(1, b * n, (b + 1) * n);
  });
  return { cond: { embeddings: { shape: [...e.shape], data: emb }, mask: hasMask ? { shape: [B, n], data: mask } : undefined }, dropped };
}

