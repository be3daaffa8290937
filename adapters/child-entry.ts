/**
 * Where a forked child's entry module is, and the Node options that run it. From the sources (a clone) the
 * entry is NAME.ts under tsx's ESM loader; from the installed package it is the built NAME.js and needs no
 * loader. Used by the conformance supervisor (conformance/isolation/) and the trainer's gradient workers
 * (glyffuser/train-parallel.ts).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The entry `name` (without extension) beside the module at `moduleUrl` (its import.meta.url), and its execArgv. */
export function childEntry(moduleUrl: string, name: string): { readonly path: string; readonly execArgv: readonly string[] } {
  const file = fileURLToPath(moduleUrl);
  const fromSources = file.endsWith(".ts");
  return {
    path: join(dirname(file), `${name}${fromSources ? ".ts" : ".js"}`),
    execArgv: fromSources ? ["--import", pathToFileURL(createRequire(moduleUrl).resolve("tsx/esm")).href] : [],
  };
}
