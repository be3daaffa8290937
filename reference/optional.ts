/**
 * Optional heavy runtimes. Installing diffspec gives the light core (the reference, the runner, the
 * CLI, fixture verification, `order`, the reference and wasm-simd backends); the GPU/ML runtimes are
 * optional peer dependencies, imported only by the backend or command that needs them. When one is
 * absent, that backend or command fails at once with an UnavailableError naming the package and the
 * line that installs it.
 */
import { UnavailableError } from "./errors.ts";

const ONNX = "npm install onnxruntime-node onnx-proto --onnxruntime-node-install=skip (the flag skips onnxruntime-node's CUDA download; omit it for onnxruntime-cuda)";

/** Each optional package and the install line that brings it (with its companions). */
export const OPTIONAL_PACKAGES: Readonly<Record<string, string>> = {
  "@tensorflow/tfjs": "npm install @tensorflow/tfjs",
  "@tensorflow/tfjs-backend-wasm": "npm install @tensorflow/tfjs @tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-backend-webgpu": "npm install @tensorflow/tfjs @tensorflow/tfjs-backend-webgpu webgpu",
  "@tensorflow/tfjs-node": "npm install @tensorflow/tfjs-node",
  "@tensorflow/tfjs-node-gpu": "npm install @tensorflow/tfjs-node-gpu",
  webgpu: "npm install webgpu",
  "onnxruntime-node": ONNX,
  "onnx-proto": ONNX,
  "@huggingface/transformers": "npm install @huggingface/transformers",
  "@napi-rs/canvas": "npm install @napi-rs/canvas",
  vega: "npm install vega vega-lite",
  "vega-lite": "npm install vega vega-lite",
  "umap-js": "npm install umap-js",
};

/** The install line of a built-in backend that needs more than one optional package. */
export const BACKEND_INSTALL: Readonly<Record<string, string>> = {
  "tfjs-cpu": "npm install @tensorflow/tfjs",
  "tfjs-wasm": "npm install @tensorflow/tfjs @tensorflow/tfjs-backend-wasm",
  "tfjs-webgpu": "npm install @tensorflow/tfjs @tensorflow/tfjs-backend-webgpu webgpu",
  "tfjs-node": "npm install @tensorflow/tfjs @tensorflow/tfjs-node",
  "onnxruntime-cpu": ONNX,
  "onnxruntime-webgpu": ONNX,
  "onnxruntime-cuda": ONNX,
};

/** An optional package that `feature` (a backend or command) needs is not installed. */
export class MissingPackageError extends UnavailableError {
  readonly installLine: string;
  constructor(
    readonly feature: string,
    readonly packageName: string,
  ) {
    const line = BACKEND_INSTALL[feature] ?? OPTIONAL_PACKAGES[packageName] ?? `npm install ${packageName}`;
    super(feature, `it needs the optional package ${packageName}, which is not installed; install it with: ${line}`);
    this.installLine = line;
    this.message = `${feature} is unavailable: ${this.reason}`;
  }
}

/** The optional package whose absence made `e` (a failed import) throw, if that is what happened. */
export function missingOptionalPackage(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown } | null;
  if (!err || (err.code !== "ERR_MODULE_NOT_FOUND" && err.code !== "MODULE_NOT_FOUND") || typeof err.message !== "string") return undefined;
  const named = /Cannot find (?:package|module) '([^']+)'/.exec(err.message)?.[1];
  if (!named) return undefined;
  const pkg = named.startsWith("@") ? named.split("/").slice(0, 2).join("/") : named.split("/")[0];
  return pkg in OPTIONAL_PACKAGES ? pkg : undefined;
}

/**
 * Runs `load`, an import of an optional package or of code that imports one, for `feature` (a backend
 * or command name); a missing optional package becomes a MissingPackageError naming its install line.
 * Write the import literally (`() => import("webgpu")`) so that its types and bundlers still see it.
 */
export async function withOptional<T>(feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const pkg = missingOptionalPackage(e);
    throw pkg ? new MissingPackageError(feature, pkg) : e;
  }
}
