#!/usr/bin/env node
// Builds the published package (run by `npm pack` / `npm publish` through "prepack"): tsc emits .js
// for the sources into dist/ (tsconfig.build.json; relative .ts imports are rewritten to .js) and .d.ts
// for the public entry points (tsconfig.types.json: the reference layer and the modules that package.json
// "exports" names), then the files the code reads at run time are copied beside it, at the same relative
// places: the golden vectors (conformance, `fixtures verify`), the embedded text encoder, and the one
// hand-written JavaScript module. A clone runs the TypeScript sources directly and needs no build.
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const COPIED = ["fixtures/diffusers", "fixtures/text-encoder", "adapters/import-file.mjs", "adapters/import-file.d.mts"];

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
for (const project of ["tsconfig.build.json", "tsconfig.types.json"]) {
  const run = spawnSync(process.execPath, [tsc, "-p", join(root, project)], { stdio: "inherit" });
  if (run.status !== 0) {
    process.stderr.write(`build: tsc -p ${project} failed (exit ${run.status})\n`);
    process.exit(1);
  }
}
// tsc rewrites `./x.ts` to `./x.js` in the emitted JavaScript but not in declarations: do it there too,
// so the types resolve under every moduleResolution a consumer may use.
for (const f of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
  if (!f.endsWith(".d.ts")) continue;
  const text = readFileSync(join(dist, f), "utf8");
  writeFileSync(join(dist, f), text.replace(/((?:from|import)\s*\(?\s*"\.{1,2}\/[^"]*?)\.([mc]?)ts"/g, '$1.$2js"'));
}
for (const p of COPIED) cpSync(join(root, p), join(dist, p), { recursive: true });
process.stderr.write(`build: dist/ written (.js, .d.ts of the entry points, ${COPIED.join(", ")})\n`);
