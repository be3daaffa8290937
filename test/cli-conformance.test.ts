/** End to end: `diffspec conformance` names the right clause for each deliberately broken adapter. */
import { describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const tmp = mkdtempSync(join(tmpdir(), "diffspec-cli-"));

function diffspec(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ["bin/diffspec.mjs", ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Clause IDs whose console line starts with FAIL (MISS lines are primitives the adapter lacks). */
const failing = (out: string): string[] => [...out.matchAll(/^FAIL (\S+)/gm)].map((m) => m[1]);

describe("diffspec conformance --adapter (broken adapters)", () => {
  test("wrong noise distribution fails BACKEND-RANDN only, with a replay command; JSON report written", () => {
    const json = join(tmp, "uniform.json");
    const r = diffspec("conformance", "--adapter", "adapters/examples/broken/uniform-noise.ts", "--clause", "BACKEND-", "--json", json);
    expect(r.code).toBe(1);
    expect(failing(r.out)).toEqual(["BACKEND-RANDN"]);
    expect(r.out).toMatch(/replay: npx diffspec conformance --adapter adapters\/examples\/broken\/uniform-noise\.ts .*--clause BACKEND-RANDN/);
    expect(r.out.trim().split("\n").at(-1)).toMatch(/^\d+ passed, \d+ failed$/);
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.backend).toBe("broken-uniform-noise");
    expect(report.results.find((x: { clause: string; status: string }) => x.clause === "BACKEND-RANDN" && x.status === "failed")).toBeTruthy();
  });

  test("a dropped coefficient fails BACKEND-COMBINE; an off-by-one timestep fails BACKEND-MODEL", () => {
    const a = diffspec("conformance", "--adapter", "adapters/examples/broken/dropped-coefficient.ts", "--clause", "BACKEND-COMBINE", "--clause", "BACKEND-TRANSFER");
    expect(failing(a.out)).toEqual(["BACKEND-COMBINE"]);
    const b = diffspec("conformance", "--adapter", "adapters/examples/broken/off-by-one-timestep.ts", "--clause", "BACKEND-MODEL", "--clause", "BACKEND-COMBINE");
    expect(failing(b.out)).toEqual(["BACKEND-MODEL"]);
  });

  test("a hanging adapter times out per call and the run goes on to write its report", () => {
    const junit = join(tmp, "hang.xml");
    const r = diffspec("conformance", "--adapter", "adapters/examples/broken/hangs.ts", "--clause", "BACKEND-COMBINE", "--clause", "BACKEND-TRANSFER", "--call-timeout", "300", "--junit", junit);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/did not finish within 300 ms/);
    expect(r.out).toMatch(/^ok {3}BACKEND-TRANSFER/m);
    expect(readFileSync(junit, "utf8")).toMatch(/<testsuites /);
  });

  test("an adapter that does not load or has the wrong shape is a clear error (exit 2)", () => {
    const bad = join(tmp, "bad.mjs");
    writeFileSync(bad, "export const backend = { name: 'x', dtype: 'float64' };\n");
    const r = diffspec("conformance", "--adapter", bad);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/`fromHost` must be a function/);
    const missing = diffspec("conformance", "--adapter", join(tmp, "nope.ts"));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no such file \(looked for exactly/);
  });

  test("an unavailable GPU backend is reported as unavailable and skipped, never passed", () => {
    const r = diffspec("conformance", "--backend", "tfjs-webgpu", "--clause", "BACKEND-COMBINE");
    if (!/unavailable/.test(r.err + r.out)) return; // a machine with a WebGPU adapter really runs it (checked on the GPU machine)
    expect(r.code).toBe(3); // nothing was checked (README "Exit codes")
    expect(r.out.trim().split("\n").at(-1)).toMatch(/^0 passed, 0 failed, \d+ skipped$/);
  });

  test("skips file entries that match nothing are warned about; bad options name the allowed ones", () => {
    const skips = join(tmp, "skips.txt");
    writeFileSync(skips, "NOPE-CLAUSE  # does not exist\nBACKEND-THRESHOLD # no quantile here\n");
    const r = diffspec("conformance", "--clause", "BACKEND-THRESHOLD", "--skips", skips);
    expect(r.out).toMatch(/warning: skips .*"NOPE-CLAUSE" matches no property/);
    expect(r.out.trim().split("\n").at(-1)).toBe("0 passed, 0 failed, 1 skipped");
    const bad = diffspec("conformance", "--profile", "huge");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--profile = "huge" is not allowed: one of "quick", "full"/);
  });
});
