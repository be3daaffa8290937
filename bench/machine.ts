/** What ran the benchmark: machine, runtime and package versions (for the JSON report). */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import os from "node:os";
import { fileURLToPath } from "node:url";

export interface MachineInfo {
  os: string;
  release: string;
  arch: string;
  cpuModel: string;
  cores: number;
  totalMemoryGB: number;
  node: string;
  v8: string;
  /** os.loadavg() when the run started and ended: other processes on the machine disturb timings. */
  loadAverageAtStart?: number[];
  loadAverageAtEnd?: number[];
}

export interface PackageInfo {
  name: string;
  version: string;
  commit?: string;
  dirty?: boolean;
  /** Declared dependency → installed version (node_modules), "missing" when not installed. */
  dependencies: Record<string, string>;
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpuModel: cpus[0]?.model?.trim() ?? "unknown",
    cores: cpus.length,
    totalMemoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
  };
}

/** The installed version of a package, read from its package.json (resolution from the repository root). */
export function installedVersion(name: string): string {
  const req = createRequire(join(REPO_ROOT, "package.json"));
  try {
    return (JSON.parse(readFileSync(req.resolve(`${name}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    // Packages whose exports hide package.json: look in node_modules directly.
    const p = join(REPO_ROOT, "node_modules", name, "package.json");
    return existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as { version: string }).version : "missing";
  }
}

export function packageInfo(): PackageInfo {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { name: string; version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
  const names = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
  const dependencies: Record<string, string> = {};
  for (const n of [...new Set(names)].sort()) dependencies[n] = installedVersion(n);
  const out: PackageInfo = { name: pkg.name, version: pkg.version, dependencies };
  try {
    out.commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    out.dirty = execFileSync("git", ["status", "--porcelain"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim().length > 0;
  } catch {
    // Not a git checkout (a tarball): no commit.
  }
  return out;
}
