// Lists the node_modules package folders that `diffspec conformance` and `diffspec bench` load at run
// time (for bench/device/pack.sh): esbuild follows every import from cli/main.ts's two commands,
// and the packages tsx and the native add-ons need are added by name. One folder per line.
import { build } from "esbuild";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const entry = `import "./cli/bench.ts"; import "./cli/conformance.ts"; import "./cli/main.ts";`;
const result = await build({
  stdin: { contents: entry, resolveDir: root, loader: "ts" },
  bundle: true,
  write: false,
  metafile: true,
  platform: "node",
  format: "esm",
  logLevel: "silent",
  // Native or file-reading packages: shipped whole below, not followed.
  external: ["webgpu", "onnxruntime-node", "@napi-rs/canvas", "@huggingface/transformers", "canvas"],
});

/** The package folder (relative to the root) that a bundled input path belongs to. */
function packageDir(input) {
  const i = input.lastIndexOf("node_modules/");
  if (i < 0) return null;
  const rest = input.slice(i + "node_modules/".length).split("/");
  return input.slice(0, i) + "node_modules/" + rest.slice(0, rest[0].startsWith("@") ? 2 : 1).join("/");
}

const dirs = new Set(Object.keys(result.metafile.inputs).map(packageDir).filter(Boolean));
// Loaded at run time by name: the TypeScript loader, the native add-ons and what they require.
for (const name of ["tsx", "esbuild", "@esbuild/linux-x64", "webgpu", "onnxruntime-node", "onnxruntime-common", "@tensorflow/tfjs-backend-wasm"]) {
  dirs.add(`node_modules/${name}`);
}
// onnxruntime-node's own dependencies (it is external above, so esbuild did not follow it).
const ortPkg = JSON.parse(readFileSync(join(root, "node_modules/onnxruntime-node/package.json"), "utf8"));
for (const dep of Object.keys(ortPkg.dependencies ?? {})) if (existsSync(join(root, "node_modules", dep))) dirs.add(`node_modules/${dep}`);
process.stdout.write([...dirs].sort().join("\n") + "\n");
