/**
 * The default WebGPU adapter as tfjs-webgpu and onnxruntime's WebGPU provider see it: its description (for
 * reports: a software adapter's timings are a CPU's) and its storage-buffer binding limit
 * (maxStorageBufferBindingSize), the largest tensor any kernel can bind. Both libraries request their device
 * with the adapter's maximum; past it onnxruntime returns garbage without an error (glyffuser/unet.ts,
 * AttentionPlan). Read once per process through `navigator.gpu` (installed by the tfjs-webgpu adapter) or
 * the `webgpu` package (Dawn). null when there is no adapter.
 */
export interface WebgpuAdapterInfo {
  readonly description: string;
  readonly maxStorageBufferBindingSize: number;
}

let cached: Promise<WebgpuAdapterInfo | null> | undefined;

export function webgpuAdapterInfo(): Promise<WebgpuAdapterInfo | null> {
  return (cached ??= probe());
}

export async function webgpuMaxBindingBytes(): Promise<number | null> {
  return (await webgpuAdapterInfo())?.maxStorageBufferBindingSize ?? null;
}

type Adapter = { limits: { maxStorageBufferBindingSize: number }; info?: { vendor?: string; architecture?: string; description?: string } };

async function probe(): Promise<WebgpuAdapterInfo | null> {
  try {
    type Gpu = { requestAdapter(): Promise<Adapter | null> };
    let gpu = (globalThis as unknown as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
    if (!gpu) {
      const dawn = (await import("webgpu")) as unknown as { create: (flags: string[]) => Gpu; globals: Record<string, unknown> };
      Object.assign(globalThis, dawn.globals);
      gpu = dawn.create([]);
    }
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const i = adapter.info;
    const description = i ? [i.vendor, i.architecture, i.description].filter(Boolean).join(" ") : "";
    return { description: description || "WebGPU adapter", maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize };
  } catch {
    return null;
  }
}
