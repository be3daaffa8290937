/**
 * What the WebGPU backends share about WebGPU itself: its default limits, the one way to reach a
 * `navigator.gpu` in Node, and the default adapter as tfjs-webgpu and onnxruntime's WebGPU provider see it.
 *
 * - A kernel binds each input and output as a storage buffer, at most WEBGPU_DEFAULT_STORAGE_BUFFERS per
 *   shader stage by default; neither tfjs-webgpu's AddN nor onnxruntime's Split splits itself past it (tfjs
 *   then returns stale memory, onnxruntime fails), so callers reduce in groups ({@link reduceInGroups}).
 * - No kernel can bind a buffer past maxStorageBufferBindingSize (WEBGPU_DEFAULT_BINDING_BYTES unless the
 *   adapter allows more; tfjs and onnxruntime both request the adapter's maximum). Past it onnxruntime
 *   returns garbage without an error (glyffuser/unet.ts, AttentionPlan).
 */
import { UnavailableError } from "../reference/errors.ts";
import { withOptional } from "../reference/optional.ts";

/** WebGPU's default maxStorageBuffersPerShaderStage: inputs + outputs one kernel may bind. */
export const WEBGPU_DEFAULT_STORAGE_BUFFERS = 8;
/** WebGPU's default maxStorageBufferBindingSize, bytes. */
export const WEBGPU_DEFAULT_BINDING_BYTES = 2 ** 27;

/**
 * Combines `items` with `f` in groups of at most `arity`, level by level, into one (a tree of calls):
 * Σ of many tensors as AddNs, a Concat of many values as Concats, each binding ≤ arity inputs.
 */
export function reduceInGroups<T>(items: readonly T[], arity: number, f: (group: T[]) => T): T {
  let level = [...items];
  while (level.length > 1) {
    const next: T[] = [];
    for (let i = 0; i < level.length; i += arity) {
      const group = level.slice(i, i + arity);
      next.push(group.length === 1 ? group[0] : f(group));
    }
    level = next;
  }
  return level[0];
}

export interface GpuAdapter {
  readonly limits: { readonly maxStorageBufferBindingSize: number };
  readonly info?: { readonly vendor?: string; readonly architecture?: string; readonly description?: string };
}
export interface Gpu {
  requestAdapter(): Promise<GpuAdapter | null>;
}

/** `navigator.gpu`, installed from the `webgpu` package (Dawn for Node) when the process has none. */
export async function navigatorGpu(who: string): Promise<Gpu> {
  const g = globalThis as unknown as { navigator?: { gpu?: Gpu } };
  if (!g.navigator?.gpu) {
    let dawn: { create: (flags: string[]) => Gpu; globals: Record<string, unknown> };
    try {
      dawn = (await withOptional(who, () => import("webgpu"))) as unknown as typeof dawn;
    } catch (e) {
      if (e instanceof UnavailableError) throw e;
      throw new UnavailableError(who, `the \`webgpu\` package (Dawn for Node) did not load: ${(e as Error).message}`);
    }
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    if (!g.navigator) Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
    else Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true, writable: true });
  }
  return g.navigator!.gpu!;
}

/** "vendor architecture description" of an adapter, for reports. */
export function describeAdapter(adapter: GpuAdapter): string {
  const i = adapter.info;
  return (i ? [i.vendor, i.architecture, i.description].filter(Boolean).join(" ") : "") || "WebGPU adapter";
}

export interface WebgpuAdapterInfo {
  readonly description: string;
  readonly maxStorageBufferBindingSize: number;
}

let cached: Promise<WebgpuAdapterInfo | null> | undefined;

/** The default adapter's description and binding limit, read once per process; null without an adapter. */
export function webgpuAdapterInfo(): Promise<WebgpuAdapterInfo | null> {
  return (cached ??= navigatorGpu("webgpu")
    .then((gpu) => gpu.requestAdapter())
    .then((a) => (a ? { description: describeAdapter(a), maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize } : null))
    .catch(() => null));
}

export async function webgpuMaxBindingBytes(): Promise<number | null> {
  return (await webgpuAdapterInfo())?.maxStorageBufferBindingSize ?? null;
}
