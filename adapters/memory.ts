/**
 * Memory scopes for backends whose tensors must be freed explicitly (tfjs, WASM, GPU buffers).
 * Samplers never dispose anything: `trackMemory(backend)` records every tensor its primitives
 * return, and `sweep(roots)` disposes the recorded tensors that are no longer reachable from the
 * roots (the scheduler object with its history, the current sample, ...): a per-step mark and sweep.
 */
import type { Backend, BTensor } from "./contract.ts";

export interface TrackedBackend<T extends BTensor> extends Backend<T> {
  /** Disposes every tensor created through this backend since the last sweep that `roots` do not reach. Returns how many. */
  sweep(roots: readonly unknown[]): number;
  /** Starts tracking a tensor created elsewhere (e.g. a model output). */
  adopt(t: T): T;
  /** Stops tracking `t` (the caller owns it now; it is never swept). */
  keep(t: T): T;
  /** Tensors currently tracked. */
  readonly liveCount: number;
}

const PRIMITIVES_RETURNING_TENSORS = ["fromHost", "combine", "randn", "clamp", "threshold", "concat", "split"] as const;

/** Is `v` a backend tensor? (an object with a shape array, not a plain array of numbers). */
const isTensor = (v: unknown): boolean => !!v && typeof v === "object" && Array.isArray((v as BTensor).shape);

/** Every tensor reachable from `roots` through object fields, arrays, Maps and Sets. */
export function reachableTensors(roots: readonly unknown[], maxDepth = 6): Set<unknown> {
  const seen = new Set<unknown>();
  const out = new Set<unknown>();
  const visit = (v: unknown, depth: number): void => {
    if (!v || typeof v !== "object" || seen.has(v) || depth > maxDepth) return;
    seen.add(v);
    if (isTensor(v)) {
      out.add(v);
      // A lazy linear form (adapters/fused.ts) keeps its value alive, or its leaves while it has none
      // (a materialised form is never expanded into its leaves again).
      if ("leaves" in v) {
        const value = (v as { value?: unknown }).value;
        visit(value !== undefined ? value : (v as { leaves: unknown }).leaves, depth + 1);
      }
      return;
    }
    if (ArrayBuffer.isView(v)) return;
    // A backend (a scheduler's `backend` field) owns no sampler state: do not walk its allocator.
    if (typeof (v as { combine?: unknown }).combine === "function" && typeof (v as { fromHost?: unknown }).fromHost === "function") return;
    if (v instanceof Map) { for (const x of v.values()) visit(x, depth + 1); return; }
    if (v instanceof Set || Array.isArray(v)) { for (const x of v) visit(x, depth + 1); return; }
    for (const k of Object.keys(v)) visit((v as Record<string, unknown>)[k], depth + 1);
  };
  roots.forEach((r) => visit(r, 0));
  return out;
}

export function trackMemory<T extends BTensor>(base: Backend<T>): TrackedBackend<T> {
  const live = new Set<T>();
  const record = (r: unknown): unknown => {
    if (Array.isArray(r)) r.forEach(record);
    else if (isTensor(r)) live.add(r as T);
    return r;
  };
  const wrapped = bindAll(base);
  for (const name of PRIMITIVES_RETURNING_TENSORS) {
    const f = base[name] as ((...a: unknown[]) => unknown) | undefined;
    if (!f) continue;
    wrapped[name] = (...args: unknown[]) => {
      const r = f.apply(base, args);
      return r instanceof Promise ? r.then(record) : record(r);
    };
  }
  wrapped.sweep = (roots: readonly unknown[]): number => {
    if (!base.dispose) { live.clear(); return 0; }
    const keep = reachableTensors(roots);
    let n = 0;
    for (const t of live) if (!keep.has(t)) { base.dispose(t); live.delete(t); n++; }
    return n;
  };
  wrapped.keep = (t: T): T => { live.delete(t); return t; };
  wrapped.adopt = (t: T): T => { live.add(t); return t; };
  Object.defineProperty(wrapped, "liveCount", { get: () => live.size });
  return wrapped as unknown as TrackedBackend<T>;
}

/** A plain object with the backend's fields and its methods bound to it (own and inherited). */
export function bindAll<B extends object>(base: B): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let o: object | null = base; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === "constructor" || k in out) continue;
      const v = (base as Record<string, unknown>)[k];
      out[k] = typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(base) : v;
    }
  }
  return out;
}

export const isTracked = <T extends BTensor>(b: Backend<T>): b is TrackedBackend<T> => typeof (b as Partial<TrackedBackend<T>>).sweep === "function";
