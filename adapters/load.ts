/**
 * Loading a user's adapter module (`--adapter PATH`): .ts, .mts, .cts, .js, .mjs or .cjs, in an ES
 * module or CommonJS scope or with no package.json above it. The file loaded is exactly the one named.
 * TypeScript goes through tsx (a dependency of diffspec), whose ES module and CommonJS hooks are both
 * registered on first use, so a .ts file in a CommonJS scope loads too. This is the one function that
 * loads adapters: the CLI and anything that runs an adapter elsewhere (a worker, a child process) call it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Backend } from "../reference/contract.ts";
import { InputFileError } from "../reference/errors.ts";
import { importFile } from "./import-file.mjs";

export const ADAPTER_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"] as const;
const TYPESCRIPT = new Set([".ts", ".mts", ".cts"]);

/**
 * Loads a user's adapter module. It must export `backend` (a Backend object) or `createBackend()`
 * (sync or async) returning one, or a default export (or CommonJS `module.exports`) that is either.
 */
export async function loadAdapter(path: string): Promise<Backend<any>> {
  const { mod, tried } = await importUserModule(path, "adapter");
  const candidate = pick(mod) ?? pick(mod.default as Record<string, unknown> | undefined) ?? mod.default;
  let backend: unknown;
  try {
    backend = typeof candidate === "function" ? await (candidate as () => unknown)() : candidate;
  } catch (e) {
    throw new InputFileError(path, `the adapter's createBackend() threw: ${(e as Error).message}`);
  }
  const problems = adapterShapeProblems(backend);
  if (problems.length) {
    const names = Object.keys(mod).join(", ") || "nothing";
    throw new InputFileError(path, `the adapter does not export a Backend: ${problems.join("; ")}. It was loaded as ${tried} and exports ${names}. Export \`backend\` or \`createBackend()\` (see adapters/README.md)`);
  }
  return backend as Backend<any>;
}

/**
 * Imports a user's module file exactly as named (an adapter, or a scheduler port: `what` names it in
 * errors), TypeScript through tsx; returns its namespace and how it was loaded.
 */
export async function importUserModule(path: string, what: string): Promise<{ mod: Record<string, unknown>; tried: string }> {
  const file = resolve(path);
  const ext = extname(file);
  const a = /^[aeiou]/.test(what) ? "an" : "a";
  if (!(ADAPTER_EXTENSIONS as readonly string[]).includes(ext)) throw new InputFileError(path, `${a} ${what} must be a module file ending in ${ADAPTER_EXTENSIONS.join(", ")}; got "${ext || "no extension"}"`);
  if (!existsSync(file) || !statSync(file).isFile()) throw new InputFileError(path, `no such file (looked for exactly ${file}; diffspec does not substitute another extension)`);
  const scope = moduleScope(file);
  const tried = `${file} as ${scope.format}${TYPESCRIPT.has(ext) ? " TypeScript (through tsx)" : ""} — ${scope.why}`;
  try {
    if (TYPESCRIPT.has(ext)) await registerTypeScript();
    return { mod: await importFile(pathToFileURL(file).href), tried };
  } catch (e) {
    throw new InputFileError(path, `the ${what} module did not load. Tried: ${tried}. Error: ${(e as Error).message.split("\n")[0].replace(/\.$/, "")}. ${loadHint(e, scope.format)}`);
  }
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

/** `backend` or `createBackend` of a module namespace (or CommonJS exports object), if present. */
function pick(m: Record<string, unknown> | undefined): unknown {
  if (!m || (typeof m !== "object" && typeof m !== "function")) return undefined;
  return m.backend ?? m.createBackend;
}

interface Scope {
  readonly format: "ES module" | "CommonJS";
  readonly why: string;
}

/** How Node (and tsx) will treat `file`: by its extension, else by the nearest package.json's "type". */
export function moduleScope(file: string): Scope {
  const ext = extname(file);
  if (ext === ".mjs" || ext === ".mts") return { format: "ES module", why: `the extension ${ext} makes it one` };
  if (ext === ".cjs" || ext === ".cts") return { format: "CommonJS", why: `the extension ${ext} makes it one` };
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      let type: unknown;
      try {
        type = (JSON.parse(readFileSync(pj, "utf8")) as { type?: unknown }).type;
      } catch {
        type = undefined;
      }
      return type === "module" ? { format: "ES module", why: `${pj} has "type": "module"` } : { format: "CommonJS", why: `${pj} has ${type === undefined ? 'no "type"' : `"type": ${JSON.stringify(type)}`}` };
    }
    if (dirname(dir) === dir) return { format: "CommonJS", why: "no package.json above it (Node's default)" };
  }
}

/** A line saying how to fix a load error, from its kind. */
function loadHint(e: unknown, format: Scope["format"]): string {
  const err = e as { code?: string; message?: string };
  const msg = err?.message ?? "";
  if (err?.code === "ERR_MODULE_NOT_FOUND" || err?.code === "MODULE_NOT_FOUND") return "Fix: the adapter imports a module that cannot be found from its folder: install that package in the adapter's project (diffspec's own modules are imported as `diffspec`, `diffspec/contract`, `diffspec/errors`, …) or correct the relative path.";
  if (/Cannot use import statement outside a module|Unexpected token 'export'|ERR_REQUIRE_ESM|Cannot require\(\) ES Module .* in a cycle/.test(msg + (err?.code ?? "")) && format === "CommonJS") return 'Fix: the file uses ES module syntax in a CommonJS scope: rename it to .mjs (.mts), or add "type": "module" to its package.json.';
  if (/(require|exports|module) is not defined in ES module scope/.test(msg)) return "Fix: the file uses CommonJS (require/module.exports) in an ES module scope: rename it to .cjs (.cts), or use import/export.";
  return "Fix: correct the error above; running the file alone (`node FILE`, or `npx tsx FILE` for TypeScript) shows its full stack.";
}

let typescriptHooks: Promise<void> | undefined;

/** Registers tsx's ES module and CommonJS hooks once per process (so .ts loads in either scope). */
function registerTypeScript(): Promise<void> {
  return (typescriptHooks ??= (async () => {
    const esm = await import("tsx/esm/api");
    if (!esmHooksInstalled()) esm.register();
    const cjs = await import("tsx/cjs/api");
    cjs.register();
  })());
}

/** Whether tsx's ES module hooks are already active (diffspec's own TypeScript sources run through them in a clone). */
function esmHooksInstalled(): boolean {
  return import.meta.url.endsWith(".ts");
}
