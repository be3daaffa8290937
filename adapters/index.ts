/**
 * Built-in backends by name, and loading a user's adapter module (`--adapter ./mine.ts`).
 * Each built-in is created lazily; one that cannot run here throws UnavailableError with the reason.
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import type { Backend } from "./contract.ts";
import { ConfigError, InputFileError } from "../reference/errors.ts";
import { referenceBackend } from "./reference/index.ts";

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
    const { createTfjsBackend } = await import("./tfjs/index.ts");
    return createTfjsBackend(name.slice("tfjs-".length) as "cpu" | "wasm" | "webgpu" | "node");
  }
  if (name === "wasm-simd") {
    const { createWasmBackend } = await import("./wasm/index.ts");
    return createWasmBackend();
  }
  const { createOnnxruntimeBackend } = await import("./onnxruntime/index.ts");
  return createOnnxruntimeBackend(name.slice("onnxruntime-".length) as "cpu" | "webgpu" | "cuda");
}

/**
 * Loads a user's adapter module (.ts or .js). It must export `backend` (a Backend object) or
 * `createBackend()` (sync or async) returning one, or a default export that is either.
 */
export async function loadAdapter(path: string): Promise<Backend<any>> {
  const url = pathToFileURL(resolve(path)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new InputFileError(path, `the adapter module did not load: ${(e as Error).message}`);
  }
  const candidate = mod.backend ?? mod.createBackend ?? mod.default;
  const backend = typeof candidate === "function" ? await (candidate as () => unknown)() : candidate;
  const problems = adapterShapeProblems(backend);
  if (problems.length) throw new InputFileError(path, `the adapter does not export a Backend: ${problems.join("; ")}. Export \`backend\` or \`createBackend()\` (see adapters/README.md)`);
  return backend as Backend<any>;
}

/** What is wrong with an object claimed to be a Backend (empty when nothing). */
export function adapterShapeProblems(b: unknown): string[] {
  if (!b || typeof b !== "object") return [`expected an object, got ${b === null ? "null" : typeof b}`];
  const o = b as Record<string, unknown>;
  const out: string[] = [];
  if (typeof o.name !== "string" || !o.name) out.push("`name` must be a non-empty string");
  if (!["float64", "float32", "float16"].includes(o.dtype as string)) out.push('`dtype` must be "float64", "float32" or "float16"');
  for (const f of ["fromHost", "toHost", "combine"]) if (typeof o[f] !== "function") out.push(`\`${f}\` must be a function`);
  for (const f of ["randn", "clamp", "threshold", "concat", "split", "dispose", "close"]) if (f in o && typeof o[f] !== "function") out.push(`\`${f}\`, when present, must be a function`);
  return out;
}
