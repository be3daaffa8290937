/**
 * Built-in backends by name, and loading a user's adapter module (`--adapter ./mine.ts`, adapters/load.ts).
 * Each built-in is created lazily; one that cannot run here throws UnavailableError with the reason
 * (a MissingPackageError, naming the install line, when its optional runtime package is absent).
 */
import type { Backend } from "../reference/contract.ts";
import { ConfigError, DiffspecError, InputFileError } from "../reference/errors.ts";
import { withOptional } from "../reference/optional.ts";
import { referenceBackend } from "../reference/backend.ts";
import { loadAdapter } from "./load.ts";

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

/** Which backend a run tests: a built-in by name, or a user's adapter module by path. Serialisable (it crosses to the supervised process). */
export type BackendSpec = { kind: "builtin"; name: string } | { kind: "adapter"; path: string };

/**
 * Opens the backend a spec names (createBackend or loadAdapter). A plain Error thrown while creating it
 * (an adapter's `createBackend()` that throws, a built-in that fails to initialise) becomes an
 * InputFileError / ConfigError naming the backend and the error, so the CLI prints one clear line.
 * UnavailableError passes through (the run reports the backend unavailable).
 */
export async function openBackend(spec: BackendSpec): Promise<Backend<any>> {
  try {
    return spec.kind === "adapter" ? await loadAdapter(spec.path) : await createBackend(spec.name);
  } catch (e) {
    if (e instanceof DiffspecError) throw e;
    const what = `${(e as Error)?.name ?? "Error"}: ${(e as Error)?.message ?? String(e)}`;
    if (spec.kind === "adapter") throw new InputFileError(spec.path, `the adapter's backend could not be created: ${what}`);
    throw new ConfigError("--backend", spec.name, `a backend that initialises on this machine; creating it threw ${what}`);
  }
}

/** The command-line words that choose a backend (for replay commands). */
export const backendArgOf = (spec: BackendSpec): string => (spec.kind === "adapter" ? `--adapter ${spec.path}` : `--backend ${spec.name}`);
