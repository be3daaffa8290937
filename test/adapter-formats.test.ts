/**
 * adapters/load.ts: an adapter loads in every module format (.ts .mts .cts .js .mjs .cjs) from an
 * ES module scope, a CommonJS scope and a folder with no package.json; the file loaded is exactly the
 * one named (never a neighbouring .ts for a .js); a load error says what was tried and how to fix it.
 * The loads run in one child process started the way bin/diffspec.mjs starts (tsx registered), since
 * vitest's own module loader is not the one a user's adapter meets. test/package.test.ts repeats the
 * CommonJS .ts and ESM .js cases from the installed package.
 */
import { describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { moduleScope } from "../adapters/load.ts";

const FORMATS = ["ts", "mts", "cts", "js", "mjs", "cjs"] as const;
const SCOPES = { esm: '{ "type": "module" }', cjs: '{ "type": "commonjs" }', none: undefined } as const;

/** A minimal Float64 backend; `name` tells which file was loaded. TypeScript files carry annotations. */
function adapterSource(format: (typeof FORMATS)[number], scope: keyof typeof SCOPES, name: string): string {
  const ts = format.endsWith("ts");
  const a = (t: string) => (ts ? `: ${t}` : "");
  const body = `{ name: "${name}", dtype: "float64", fromHost: (d${a("ArrayLike<number>")}, shape${a("readonly number[]")}) => ({ shape, d: Float64Array.from(d) }), toHost: (t${a("any")}) => t.d, combine: (ts${a("any[]")}, cs${a("readonly number[]")}) => ({ shape: ts[0].shape, d: ts[0].d.map((_${a("number")}, i${a("number")}) => ts.reduce((s${a("number")}, x${a("any")}, k${a("number")}) => s + cs[k] * x.d[i], 0)) }) }`;
  const commonjs = format === "cjs" || (format === "js" && scope !== "esm");
  return commonjs ? `exports.backend = ${body};\n` : `export const backend = ${body};\n`;
}

const root = mkdtempSync(join(tmpdir(), "diffspec-formats-"));
const hasPackageJsonAbove = ((): boolean => {
  for (let d = root; dirname(d) !== d; d = dirname(d)) if (existsSync(join(d, "package.json"))) return true;
  return existsSync("/package.json");
})();
const cases: { file: string; name: string }[] = [];
for (const [scope, pj] of Object.entries(SCOPES) as [keyof typeof SCOPES, string | undefined][]) {
  const dir = join(root, scope);
  mkdirSync(dir);
  if (pj) writeFileSync(join(dir, "package.json"), pj);
  for (const f of FORMATS) {
    const name = `${scope}-${f}`;
    writeFileSync(join(dir, `adapter.${f}`), adapterSource(f, scope, name));
    cases.push({ file: join(dir, `adapter.${f}`), name });
  }
}
// Traps: a .js that does not exist beside a .ts that does (every adapter.js above has an adapter.ts
// beside it); syntax of the wrong module system; an import of a package that is not installed.
writeFileSync(join(root, "esm", "lonely.ts"), adapterSource("ts", "esm", "lonely-ts"));
writeFileSync(join(root, "cjs", "esm-syntax.cjs"), 'import { readFileSync } from "node:fs";\nexports.backend = {};\n');
writeFileSync(join(root, "esm", "missing-dependency.mjs"), 'import "diffspec-no-such-package";\nexport const backend = {};\n');
writeFileSync(join(root, "esm", "cjs-syntax.js"), "module.exports = { backend: {} };\n");

/** Loads each path in one child process (tsx registered, as bin/diffspec.mjs does); one JSON line per path. */
function loadAll(paths: string[]): { path: string; name?: string; error?: string }[] {
  const script = `
    import { register } from "tsx/esm/api";
    register();
    const { loadAdapter } = await import(${JSON.stringify(resolve("adapters/load.ts"))});
    for (const path of ${JSON.stringify(paths)}) {
      try { console.log(JSON.stringify({ path, name: (await loadAdapter(path)).name })); }
      catch (e) { console.log(JSON.stringify({ path, error: e.message })); }
    }`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l));
}

describe("loadAdapter (adapters/load.ts)", () => {
  const results = loadAll([...cases.map((c) => c.file), join(root, "esm", "lonely.js"), join(root, "esm", "adapter"), join(root, "cjs", "esm-syntax.cjs"), join(root, "esm", "cjs-syntax.js"), join(root, "esm", "missing-dependency.mjs")]);
  const byPath = new Map(results.map((r) => [r.path, r]));

  test.each(cases)("loads $name exactly", ({ file, name }) => {
    expect(byPath.get(file)).toEqual({ path: file, name });
  });

  test("a .js that does not exist is not replaced by the .ts beside it", () => {
    expect(byPath.get(join(root, "esm", "lonely.js"))?.error).toMatch(/no such file \(looked for exactly .*lonely\.js; diffspec does not substitute another extension\)/);
  });

  test("a path without a module extension is refused, naming the allowed ones", () => {
    expect(byPath.get(join(root, "esm", "adapter"))?.error).toMatch(/ending in \.ts, \.mts, \.cts, \.js, \.mjs, \.cjs/);
  });

  test("a load error says what was tried (file, format, why) and how to fix it", () => {
    const esmInCjs = byPath.get(join(root, "cjs", "esm-syntax.cjs"))?.error ?? "";
    expect(esmInCjs).toMatch(/did not load\. Tried: .*esm-syntax\.cjs as CommonJS — the extension \.cjs makes it one/);
    expect(esmInCjs).toMatch(/Fix: the file uses ES module syntax in a CommonJS scope: rename it to \.mjs/);
    const cjsInEsm = byPath.get(join(root, "esm", "cjs-syntax.js"))?.error ?? "";
    expect(cjsInEsm).toMatch(/does not export a Backend: expected an object, got undefined\. It was loaded as .*cjs-syntax\.js as ES module — .*package\.json has "type": "module" and exports /);
    expect(byPath.get(join(root, "esm", "missing-dependency.mjs"))?.error).toMatch(/Fix: the adapter imports a module that cannot be found from its folder: install that package/);
  });

  test("the module format follows the extension, then the nearest package.json", () => {
    expect(moduleScope(join(root, "cjs", "a.mts")).format).toBe("ES module");
    expect(moduleScope(join(root, "esm", "a.cts")).format).toBe("CommonJS");
    expect(moduleScope(join(root, "esm", "a.ts")).format).toBe("ES module");
    expect(moduleScope(join(root, "cjs", "a.js")).format).toBe("CommonJS");
    if (!hasPackageJsonAbove) expect(moduleScope(join(root, "none", "a.ts"))).toEqual({ format: "CommonJS", why: "no package.json above it (Node's default)" });
  });
});
