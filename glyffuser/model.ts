/**
 * The exported glyffuser: an ONNX graph with its weights (glyffuser/unet-onnx.ts) and a small JSON beside it
 * saying what it is — the U-Net config, the noise schedule it was trained with, the prediction type, the
 * text encoder, and a summary of its training. The JSON carries the ONNX file's SHA-256, so a corrupt or
 * swapped file is an InputFileError naming it rather than silently wrong glyphs.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InputFileError } from "../reference/errors.ts";
import { validateSchedule, type ScheduleConfig } from "../reference/schedule.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import { validateUNetConfig, type UNetConfig, type UNetWeights } from "./unet.ts";
import { emitUNetOnnx, weightsFromOnnx } from "./unet-onnx.ts";

export const MODEL_FORMAT = "diffspec-glyffuser-model";

/** The committed checkpoint. */
export const DEFAULT_MODEL_PATH = fileURLToPath(new URL("../fixtures/glyffuser/glyffuser.json", import.meta.url));

export interface ModelManifest {
  readonly format: typeof MODEL_FORMAT;
  readonly version: 1;
  /** The ONNX file, relative to the manifest. */
  readonly onnx: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly parameters: number;
  readonly unet: UNetConfig;
  readonly schedule: ScheduleConfig;
  readonly predictionType: "epsilon";
  readonly encoder: { readonly name: string; readonly dim: number; readonly maxLength: number };
  /** Which weights were exported ("ema" for the committed model). */
  readonly weights: "ema" | "raw";
  readonly training?: Record<string, unknown>;
}

export interface LoadedModel {
  readonly manifest: ModelManifest;
  readonly manifestPath: string;
  readonly onnxPath: string;
  readonly onnx: Uint8Array;
}

/** Writes `<dir>/<name>.onnx` and `<dir>/<name>.json` atomically (ONNX first, so the JSON never names a missing file). */
export function exportModel(jsonPath: string, m: Omit<ModelManifest, "format" | "version" | "onnx" | "sha256" | "bytes">, weights: UNetWeights): { onnx: string; json: string } {
  const onnxPath = jsonPath.replace(/\.json$/, "") + ".onnx";
  const bytes = emitUNetOnnx(m.unet, weights, 0, { doc: `diffspec glyffuser (${m.weights} weights); see ${basename(jsonPath)}` });
  writeFileAtomic(onnxPath, bytes);
  const manifest: ModelManifest = { format: MODEL_FORMAT, version: 1, onnx: basename(onnxPath), sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length, ...m };
  writeFileAtomic(jsonPath, JSON.stringify(manifest, null, 2) + "\n");
  return { onnx: onnxPath, json: jsonPath };
}

/**
 * Loads a model by its JSON manifest or its ONNX file (the manifest is then the same name with .json).
 * InputFileError naming the file when anything is missing, unreadable, corrupt or inconsistent.
 */
export function loadModel(path: string = DEFAULT_MODEL_PATH): LoadedModel {
  const abs = resolve(path);
  const manifestPath = abs.endsWith(".onnx") ? abs.replace(/\.onnx$/, ".json") : abs;
  if (!existsSync(manifestPath)) throw new InputFileError(manifestPath, abs === manifestPath ? "missing: no glyffuser model manifest here (train one with `diffspec train`, or use the committed fixtures/glyffuser/glyffuser.json)" : `missing: the manifest beside ${path} (a glyffuser model is an .onnx file and its .json)`);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  } catch (e) {
    throw new InputFileError(manifestPath, `not valid JSON (${(e as Error).message})`);
  }
  if (manifest?.format !== MODEL_FORMAT || manifest.version !== 1) throw new InputFileError(manifestPath, `not a glyffuser model manifest (format ${JSON.stringify(manifest?.format)}, version ${JSON.stringify(manifest?.version)}; expected ${MODEL_FORMAT}, 1)`);
  try {
    validateUNetConfig(manifest.unet);
    validateSchedule({ ...manifest.schedule });
  } catch (e) {
    throw new InputFileError(manifestPath, `invalid config: ${(e as Error).message}`);
  }
  // The graph lies beside its manifest: a bare file name, never a path out of the folder (../, /abs, a sub folder).
  if (typeof manifest.onnx !== "string" || !/\.onnx$/i.test(manifest.onnx) || basename(manifest.onnx) !== manifest.onnx || manifest.onnx.includes("\\")) {
    throw new InputFileError(manifestPath, `"onnx" = ${JSON.stringify(manifest.onnx)} is not allowed: a file name ending in .onnx in the manifest's own folder (no folder part)`);
  }
  const onnxPath = join(dirname(manifestPath), manifest.onnx);
  if (!existsSync(onnxPath)) throw new InputFileError(onnxPath, `missing: named by ${manifestPath}`);
  const onnx = new Uint8Array(readFileSync(onnxPath));
  const sha = createHash("sha256").update(onnx).digest("hex");
  if (sha !== manifest.sha256) throw new InputFileError(onnxPath, `corrupt: SHA-256 ${sha.slice(0, 16)}… differs from ${sha.slice(0, 0)}${manifest.sha256?.slice?.(0, 16)}… recorded in ${basename(manifestPath)}`);
  return { manifest, manifestPath, onnxPath, onnx };
}

/** The weights of a loaded model (for the tfjs backends). */
export function modelWeights(m: LoadedModel): UNetWeights {
  return weightsFromOnnx(m.onnx, m.manifest.unet, m.onnxPath);
}
