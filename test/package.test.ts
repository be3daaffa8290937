/**
 * diffspec as a dependency (issue 13's done-when). Packs this repository (`npm pack`, whose prepack
 * builds dist/), installs the tarball into two fresh projects — CommonJS (what `npm init -y` makes) and
 * ES module — offline from the npm cache that `npm ci` filled, and shows from there:
 * - the install needs no flag, no .npmrc and no download (only `--offline`, so the test never touches
 *   the network), and node_modules stays small: the heavy runtimes are optional peers, not installed;
 * - `npx diffspec conformance` (the full default run) passes;
 * - a .ts adapter in the CommonJS project and a .js adapter in the ES module project pass (a clause
 *   subset: the full run of an adapter is what test/cli-conformance.test.ts and the backend tests do);
 * - `tsc --strict` type-checks a typed adapter and every public entry point against the installed
 *   package under nodenext and bundler resolution, with no @types package installed;
 * - a backend whose optional runtime is absent names the package and its install line, and a command
 *   that rewrites the clone's spec/ says it needs a clone.
 * The projects get a lockfile derived from this repository's (the versions `npm ci` installed, with
 * their registry tarball URLs), so the offline install needs only the tarballs `npm ci` cached. If the
 * cache lacks one, every test here is skipped with the npm error as the reason.
 * Figures (tarball size and files, install time, node_modules size, phase times) are printed.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

const REPO = resolve(".");
const TSC = join(REPO, "node_modules", "typescript", "bin", "tsc");
const MAX_INSTALL_BYTES = 50 * 1024 * 1024; // the goal for a consumer's node_modules
const tmp = mkdtempSync(join(tmpdir(), "diffspec-package-"));
const cjs = join(tmp, "cjs-project");
const esm = join(tmp, "esm-project");
const figures: string[] = [];
let skipReason: string | undefined;

interface LockEntry {
  version: string;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): SpawnSyncReturns<string> {
  // npm_config_* from the vitest run (`npm test`) must not leak into the consumer's npm.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
  return spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: timeoutMs, env: { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" } });
}

function timed<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const out = f();
  figures.push(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

/** Bytes of the files under `dir` (each inode once, links not followed). */
function treeBytes(dir: string, seen = new Set<number>()): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name));
    if (st.isDirectory()) total += treeBytes(join(dir, name), seen);
    else if (st.isFile() && !seen.has(st.ino)) {
      seen.add(st.ino);
      total += st.size;
    }
  }
  return total;
}

/** The consumer's lockfile: diffspec from the tarball, its dependency closure from this repository's lock. */
function consumerLock(tgz: string, root: Record<string, unknown>, registry: string): object {
  const repoLock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
  const strip = ({ dev, peer, devOptional, ...rest }: LockEntry): LockEntry => rest;
  const packages: Record<string, LockEntry> = {};
  const todo = Object.keys(pkg.dependencies);
  const seen = new Set<string>();
  while (todo.length) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const e = repoLock.packages[`node_modules/${name}`];
    if (!e) throw new Error(`package-lock.json has no node_modules/${name}`);
    packages[`node_modules/${name}`] = { resolved: `${registry}${name}/-/${name.split("/").pop()}-${e.version}.tgz`, ...strip(e) };
    todo.push(...Object.keys({ ...e.dependencies, ...e.optionalDependencies }));
  }
  const file = `file:${basename(tgz)}`;
  packages["node_modules/diffspec"] = {
    version: pkg.version,
    resolved: file,
    integrity: `sha512-${createHash("sha512").update(readFileSync(tgz)).digest("base64")}`,
    license: pkg.license,
    dependencies: pkg.dependencies,
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
    bin: pkg.bin,
    engines: pkg.engines,
  };
  return { name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages: { "": { name: root.name, version: root.version, dependencies: root.dependencies }, ...packages } };
}

function makeProject(dir: string, tgz: string, type: "commonjs" | "module", registry: string): SpawnSyncReturns<string> {
  mkdirSync(dir);
  copyFileSync(tgz, join(dir, basename(tgz)));
  const root = { name: basename(dir), version: "1.0.0", private: true, type, dependencies: { diffspec: `file:${basename(tgz)}` } };
  writeFileSync(join(dir, "package.json"), JSON.stringify(root, null, 2));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify(consumerLock(tgz, root, registry), null, 2));
  return run("npm", ["ci", "--offline"], dir);
}

const diffspec = (dir: string, ...args: string[]) => run("npx", ["--no-install", "diffspec", ...args], dir, 300_000);
const lastLine = (s: string) => s.trim().split("\n").at(-1) ?? "";

beforeAll(() => {
  const pack = timed("npm pack (build + pack)", () => run("npm", ["pack", "--json", "--pack-destination", tmp], REPO, 300_000));
  expect(pack.status, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string; size: number; unpackedSize: number; entryCount: number }[];
  figures.push(`tarball: ${(info.size / 1e6).toFixed(2)} MB, ${info.entryCount} files, ${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked`);
  const tgz = join(tmp, info.filename);
  // The registry npm ci fetched from: its tarball URLs are the cache keys.
  const registry = run("npm", ["config", "get", "registry"], REPO).stdout.trim().replace(/\/?$/, "/");
  const first = timed("npm ci --offline (CommonJS project)", () => makeProject(cjs, tgz, "commonjs", registry));
  if (first.status !== 0 && /ENOTCACHED|only-if-cached/.test(first.stderr)) {
    skipReason = `the npm cache lacks a package diffspec depends on (run \`npm ci\` first): ${first.stderr.split("\n").find((l) => /ENOTCACHED|only-if-cached/.test(l) && /request/.test(l)) ?? first.stderr.trim()}`;
    return;
  }
  expect(first.status, first.stderr).toBe(0);
  const second = timed("npm ci --offline (ES module project)", () => makeProject(esm, tgz, "module", registry));
  expect(second.status, second.stderr).toBe(0);
  figures.push(`node_modules: ${(treeBytes(join(cjs, "node_modules")) / 1e6).toFixed(1)} MB (${readdirSync(join(cjs, "node_modules")).filter((n) => !n.startsWith(".")).length} top-level entries)`);
}, 600_000);

afterAll(() => {
  process.stdout.write(`diffspec as a dependency:\n  ${figures.join("\n  ")}\n`);
  rmSync(tmp, { recursive: true, force: true });
});

describe("diffspec installed from its tarball", () => {
  test("installs with no flag, no .npmrc, no install script; the heavy runtimes are not installed; node_modules ≤ 50 MB", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    for (const dir of [cjs, esm]) expect(existsSync(join(dir, ".npmrc"))).toBe(false);
    for (const heavy of ["@tensorflow/tfjs", "onnxruntime-node", "webgpu", "@huggingface/transformers", "@napi-rs/canvas", "vega", "mathjs"]) {
      expect(existsSync(join(cjs, "node_modules", heavy)), heavy).toBe(false);
    }
    expect(treeBytes(join(cjs, "node_modules"))).toBeLessThanOrEqual(MAX_INSTALL_BYTES);
    const pkg = JSON.parse(readFileSync(join(cjs, "node_modules", "diffspec", "package.json"), "utf8"));
    expect(pkg.scripts?.install ?? pkg.scripts?.postinstall ?? pkg.scripts?.preinstall).toBeUndefined();
  });

  test("`npx diffspec conformance` (the full default run) passes", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const r = timed("npx diffspec conformance (full default run)", () => diffspec(cjs, "conformance"));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^\d+ passed, 0 failed$/);
  }, 300_000);

  test("a .ts adapter in a CommonJS project passes (the repository's float32 example, importing diffspec)", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const source = readFileSync(join(REPO, "adapters", "examples", "float32-array.ts"), "utf8")
      .replace('"../contract.ts"', '"diffspec/contract"')
      .replace('"../../reference/rng.ts"', '"diffspec/rng"')
      .replace('"../../reference/errors.ts"', '"diffspec"');
    expect(source).not.toMatch(/from "\.\.?\//);
    writeFileSync(join(cjs, "float32-array.ts"), source);
    copyFileSync(join(REPO, "adapters", "examples", "skips.txt"), join(cjs, "skips.txt"));
    const r = timed("adapter .ts in the CommonJS project", () => diffspec(cjs, "conformance", "--adapter", "./float32-array.ts", "--skips", "skips.txt", "--clause", "BACKEND-", "--clause", "SAMP-DDIM"));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/backend float32-array/);
    // skips.txt: BACKEND-THRESHOLD's one property and BACKEND-MODEL's two (mlp-matches-reference, sampling-loop-finite-and-matching).
    expect(lastLine(r.stdout)).toMatch(/^\d+ passed, 0 failed, 3 skipped$/);
  }, 300_000);

  test("a .js adapter in an ES module project passes", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    writeFileSync(join(esm, "float64-array.js"), JS_ADAPTER);
    const r = timed("adapter .js in the ES module project", () => diffspec(esm, "conformance", "--adapter", "./float64-array.js", "--clause", "BACKEND-TRANSFER", "--clause", "BACKEND-COMBINE", "--clause", "BACKEND-RANDN", "--clause", "BACKEND-CLAMP"));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/backend float64-array-js/);
    expect(lastLine(r.stdout)).toMatch(/^\d+ passed, 0 failed$/);
  }, 300_000);

  test("tsc --strict type-checks a typed adapter and every entry point, under nodenext and bundler resolution, with no @types installed", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    expect(existsSync(join(cjs, "node_modules", "@types"))).toBe(false);
    const check = (dir: string, options: Record<string, string>) => {
      writeFileSync(join(dir, "entry-points.ts"), ENTRY_POINTS);
      if (!existsSync(join(dir, "float32-array.ts"))) copyFileSync(join(cjs, "float32-array.ts"), join(dir, "float32-array.ts"));
      const compilerOptions = { strict: true, noEmit: true, target: "es2022", lib: ["es2023"], types: [], ...options };
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["float32-array.ts", "entry-points.ts"] }));
      const r = run(process.execPath, [TSC, "-p", "."], dir);
      expect(r.status, `${options.moduleResolution}: ${r.stdout}${r.stderr}`).toBe(0);
    };
    timed("tsc --strict (nodenext, CommonJS project)", () => check(cjs, { module: "nodenext", moduleResolution: "nodenext" }));
    timed("tsc --strict (bundler, ES module project)", () => check(esm, { module: "preserve", moduleResolution: "bundler" }));
  }, 120_000);

  test("a backend whose optional runtime is absent names the package and its install line; a clone-only command says so", (ctx) => {
    if (skipReason) return ctx.skip(skipReason);
    const r = diffspec(cjs, "conformance", "--backend", "tfjs-wasm", "--clause", "BACKEND-TRANSFER");
    expect(r.stdout + r.stderr).toMatch(/needs the optional package @tensorflow\/tfjs, which is not installed; install it with: npm install @tensorflow\/tfjs @tensorflow\/tfjs-backend-wasm/);
    const clone = diffspec(cjs, "spec-index");
    expect(clone.status).toBe(2);
    expect(clone.stderr).toMatch(/the installed package does not include; run it in a clone/);
  }, 120_000);
});

/** Every public entry point, used with types, as a consumer would. */
const ENTRY_POINTS = `import { type Backend, type BTensor, referenceBackend, GaussianStream, ConfigError, MissingPackageError } from "diffspec";
import type { DType, Denoiser } from "diffspec/contract";
import { UnavailableError } from "diffspec/errors";
import { createScheduler } from "diffspec/samplers";
import { PORT_PROTOCOL_VERSION, type SchedulerPortModule } from "diffspec/scheduler-port";
import { makeSchedule } from "diffspec/reference/schedule";
import { createBackend, loadAdapter, BUILTIN_BACKENDS } from "diffspec/adapters";
import { loadAllProperties, selectProperties } from "diffspec/runner";
import { registerProperties } from "diffspec/vitest";
const b: Backend<BTensor> = referenceBackend;
const d: DType = b.dtype;
const e: Error = new ConfigError("x", 1, "y");
export const used = [d, e, createScheduler, makeSchedule, createBackend, loadAdapter, BUILTIN_BACKENDS, loadAllProperties, selectProperties, registerProperties, GaussianStream, MissingPackageError, UnavailableError];
export type D = Denoiser;
export type P = SchedulerPortModule;
export const protocolVersion: number = PORT_PROTOCOL_VERSION;
`;

/** A plain-JavaScript Float64 backend in an ES module project: tensors are { shape, data: Float64Array }. */
const JS_ADAPTER = `import { GaussianStream, ShapeError } from "diffspec";

const count = (shape) => shape.reduce((a, b) => a * b, 1);

/** @type {import("diffspec").Backend<{ shape: readonly number[], data: Float64Array }>} */
export const backend = {
  name: "float64-array-js",
  dtype: "float64",
  fromHost(data, shape) {
    if (data.length !== count(shape)) throw new ShapeError("fromHost data length", data.length, String(count(shape)));
    return { shape: [...shape], data: Float64Array.from(data) };
  },
  toHost: (t) => Float64Array.from(t.data),
  combine(terms, coeffs) {
    const out = new Float64Array(terms[0].data.length);
    terms.forEach((t, k) => { for (let i = 0; i < out.length; i++) out[i] += coeffs[k] * t.data[i]; });
    return { shape: [...terms[0].shape], data: out };
  },
  randn: (shape, seed, index) => ({ shape: [...shape], data: Float64Array.from(new GaussianStream(\`\${seed}:\${index}\`).normals(count(shape))) }),
  clamp: (t, lo, hi) => ({ shape: [...t.shape], data: t.data.map((v) => Math.min(Math.max(v, lo), hi)) }),
};
`;
