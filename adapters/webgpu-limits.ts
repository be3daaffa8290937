/**
 * The WebGPU adapter's storage-buffer binding limit (maxStorageBufferBindingSize): no kernel can bind a
 * larger tensor. tfjs-webgpu and onnxruntime's WebGPU provider both request their device with the
 * adapter's maximum, so this is the largest tensor either can use; past it onnxruntime returns garbage
 * without an error (glyffuser/unet.ts, AttentionPlan). Read once per process through `navigator.gpu`
 * (installed by the tfjs-webgpu adapter) or the `webgpu` package (Dawn). null when there is no adapter.
 */
let cached: Promise<number | null> | undefined;

export function webgpuMaxBindingBytes(): Promise<number | null> {
  return (cached ??= probe());
}

async function probe(): Promise<number | null> {
  try {
    type Gpu = { requestAdapter(): Promise<{ limits: { maxStorageBufferBindingSize: number } } | null> };
    let gpu = (globalThis as unknown as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
    if (!gpu) {
      const dawn = (await import("webgpu")) as unknown as { create: (flags: string[]) => Gpu; globals: Record<string, unknown> };
      Object.assign(globalThis, dawn.globals);
      gpu = dawn.create([]);
    }
    const adapter = await gpu.requestAdapter();
    return adapter ? adapter.limits.maxStorageBufferBindingSize : null;
  } catch {
    return null;
  }
}
