/**
 * Fusion by deferred linear combination (DESIGN.md's "one fused kernel per step").
 *
 * Samplers are written step by step (x̂₀ = a·x + b·ε, then x' = c·x̂₀ + d·ε, …). Each `combine` here
 * returns a *linear form* Σ cᵢ·leafᵢ over tensors that exist on the base backend; forms compose on
 * the host in Float64, and a form is materialised by ONE base `combine` only when something needs
 * its values (the model, a clamp, a read-back). So a DDIM or Euler step costs one pass over memory,
 * and intermediate results nobody reads (e.g. `predOriginalSample`) cost nothing.
 */
import type { Backend, BTensor, Conditioning, Denoiser } from "./contract.ts";
import type { Shape } from "../reference/tensor.ts";
import { sameShape } from "../reference/tensor.ts";
import { ShapeError, MissingPrimitiveError } from "../reference/errors.ts";
import type { ModelSpec } from "../reference/models/mlp.ts";

/** A lazily evaluated tensor: Σ coeffs[i]·leaves[i], materialised at most once. */
export class LinearForm<T extends BTensor> implements BTensor {
  value?: T;
  /** Set when this form is c·F for an unmaterialised form F (see `materialize`). */
  scaledFrom?: readonly [LinearForm<T>, number];
  constructor(
    readonly shape: Shape,
    public leaves: readonly T[],
    public coeffs: readonly number[],
  ) {}
}

/** Forms over more leaves than this are materialised right away (one pass reads every leaf). */
export const MAX_LEAVES = 6;

export interface FusedBackend<T extends BTensor> extends Backend<LinearForm<T>> {
  readonly base: Backend<T>;
  /** Wraps a base tensor as a form. */
  leaf(t: T): LinearForm<T>;
  /** The base tensor holding a form's values (one base combine, cached). */
  materialize(x: LinearForm<T>): Promise<T>;
  /** A denoiser over base tensors, usable with fused tensors. */
  wrapDenoiser(d: Denoiser<T>): Denoiser<LinearForm<T>>;
}

export function fused<T extends BTensor>(base: Backend<T>): FusedBackend<T> {
  const leaf = (t: T): LinearForm<T> => { const f = new LinearForm(t.shape, [t], [1]); f.value = t; return f; };

  /**
   * One base `combine`, cached. When x = c·F (e.g. the scaled model input of a sample F that is itself
   * still a form), F is rebased on x's value as F = (1/c)·x: later steps then read one tensor instead of
   * F's growing list of leaves (one extra rounding on low-precision backends).
   */
  async function materialize(x: LinearForm<T>): Promise<T> {
    if (x.value === undefined) x.value = (await base.combine(x.leaves, x.coeffs)) as T;
    const parent = x.scaledFrom;
    if (parent && parent[0].value === undefined && parent[0].leaves.length > 1) {
      parent[0].leaves = [x.value];
      parent[0].coeffs = [1 / parent[1]];
    }
    x.scaledFrom = undefined;
    return x.value;
  }
  const all = (xs: readonly LinearForm<T>[]): Promise<T[]> => Promise.all(xs.map(materialize));
  const need = <K extends keyof Backend<T>>(k: K): NonNullable<Backend<T>[K]> => {
    const f = base[k];
    if (typeof f !== "function") throw new MissingPrimitiveError(String(k), base.name);
    return (f as (...a: unknown[]) => unknown).bind(base) as NonNullable<Backend<T>[K]>;
  };

  const backend: FusedBackend<T> = {
    name: base.name,
    dtype: base.dtype,
    base,
    leaf,
    materialize,
    async fromHost(data, shape) { return leaf(await base.fromHost(data, shape)); },
    async toHost(x) { return base.toHost(await materialize(x)); },
    /** Composes forms on the host: Σₖ cₖ (Σᵢ aₖᵢ leafᵢ) = Σᵢ (Σₖ cₖ aₖᵢ) leafᵢ. */
    async combine(terms, coeffs) {
      if (terms.length === 0 || terms.length !== coeffs.length) throw new ShapeError("combine", terms.length, `as many terms as coefficients (${coeffs.length}), at least one`);
      const acc = new Map<T, number>();
      terms.forEach((term, k) => {
        if (!sameShape(term.shape, terms[0].shape)) throw new ShapeError(`combine term ${k}`, [...term.shape], `shape [${terms[0].shape.join(", ")}]`);
        const [leaves, cs] = term.value !== undefined ? [[term.value], [1]] : [term.leaves, term.coeffs];
        leaves.forEach((l, i) => acc.set(l, (acc.get(l) ?? 0) + coeffs[k] * cs[i]));
      });
      for (const [l, c] of acc) if (c === 0) acc.delete(l);
      if (acc.size === 0) acc.set(terms[0].value ?? terms[0].leaves[0], 0);
      const form = new LinearForm(terms[0].shape, [...acc.keys()], [...acc.values()]);
      if (terms.length === 1 && terms[0].value === undefined && coeffs[0] !== 0) form.scaledFrom = [terms[0], coeffs[0]];
      if (acc.size > MAX_LEAVES) await materialize(form);
      return form;
    },
    async randn(shape, seed, index) { return leaf(await need("randn")(shape, seed, index)); },
    async clamp(x, lo, hi) { return leaf(await need("clamp")(await materialize(x), lo, hi)); },
    async threshold(x, r, m) { return leaf(await need("threshold")(await materialize(x), r, m)); },
    async concat(xs) { return leaf(await need("concat")(await all(xs))); },
    async split(x, sizes) { return (await need("split")(await materialize(x), sizes)).map(leaf); },
    dispose(x) { if (x.value !== undefined) base.dispose?.(x.value); },
    close: base.close ? () => base.close!() : undefined,
    memoryBytes: base.memoryBytes ? () => base.memoryBytes!() : undefined,
    async loadModel(spec: ModelSpec) { return backend.wrapDenoiser(await need("loadModel")(spec)); },
    wrapDenoiser(d) {
      return {
        predictionType: d.predictionType,
        async evaluate(x, t, cond?: Conditioning<LinearForm<T>>) {
          const c = cond && { embeddings: await materialize(cond.embeddings), mask: cond.mask && (await materialize(cond.mask)) };
          return leaf(await d.evaluate(await materialize(x), t, c));
        },
      };
    },
  };
  if (!base.randn) delete (backend as Partial<FusedBackend<T>>).randn;
  for (const k of ["clamp", "threshold", "concat", "split", "loadModel"] as const) if (!base[k]) delete (backend as Partial<FusedBackend<T>>)[k];
  return backend;
}
