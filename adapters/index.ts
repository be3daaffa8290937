/**
 * Built-in backends by name, and loading a user's adapter module (`--adapter ./mine.ts`, adapters/load.ts).
 * Each built-in is created lazily; one that cannot run here throws UnavailableError with the reason
 * (a MissingPackageError, naming the install line, when its optional runtime package is absent).
 */
import type { Backend } from "../reference/contract.ts";
import { ConfigError } from "../reference/errors.ts";
import { withOptional } from "../reference/optional.ts";
import { referenceBackend } from "../reference/backend.ts";

export const BUILTIN_BACKENDS = [
  "reference",
  "tfjs-cpu",
  "tfjs-wasm",
  "tfjs-webgpu",
  "tfjs-node",
  "onnxruntime-cpu",
  "onnxruntime-webgpu",
  "onnxruntime-cuda",
  "wasm-simd",
] as const;
export type BuiltinBackendName = (typeof BUILTIN_BACKENDS)[number];

/** Creates a built-in backend; throws UnavailableError when it cannot run on this machine. */
export async function createBackend(name: string): Promise<Backend<any>> {
  if (!(BUILTIN_BACKENDS as readonly string[]).includes(name)) throw new ConfigError("--backend", name, `one of ${BUILTIN_BACKENDS.join(", ")}, or --adapter PATH`);
  if (name === "reference") return referenceBackend;
  if (name.startsWith("tfjs-")) {
    const { createTfjsBackend } = await withOptional(name, () => import("./tfjs/index.ts"));
    return createTfjsBackend(name.slice("tfjs-".length) as "cpu" | "wasm" | "webgpu" | "node");
  }
  if (name === "wasm-simd") {
    const { createWasmBackend } = await import("./wasm/index.ts");
    return createWasmBackend();
  }
  const { createOnnxruntimeBackend } = await withOptional(name, () => import("./onnxruntime/index.ts"));
  return createOnnxruntimeBackend(name.slice("onnxruntime-".length) as "cpu" | "webgpu" | "cuda");
}

export { loadAdapter, adapterShapeProblems, moduleScope, ADAPTER_EXTENSIONS } from "./load.ts";
