/**
 * Issue 14, exit codes and reports that cannot lie (README "Exit codes"): each case spawns the CLI
 * because the exit code is the point. Argument checks fail before any property loads (cheap); the
 * runs select one clause or nothing.
 */
import { describe, expect, test } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const tmp = mkdtempSync(join(tmpdir(), "diffspec-outcomes-"));

function diffspec(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ["bin/diffspec.mjs", ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const lastLine = (s: string): string => s.trim().split("\n").at(-1) ?? "";

describe("nothing checked is not success (exit 3)", () => {
  test("--clause NOPE and --property nope exit 3 with the summary; --allow-empty exits 0", () => {
    const a = diffspec("conformance", "--clause", "NOPE");
    expect([a.code, lastLine(a.out)]).toEqual([3, "0 passed, 0 failed"]);
    const b = diffspec("conformance", "--clause", "FWD-MARGINAL", "--property", "nope", "--allow-empty", "--in-process");
    expect([b.code, lastLine(b.out)]).toEqual([0, "0 passed, 0 failed"]);
  }, 60_000);

  test("bench --backends nope is bad input (exit 2), naming the backends allowed", () => {
    const r = diffspec("bench", "--quick", "--backends", "nope", "--models", "oracle", "--no-learned", "--no-sampler-overhead");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--backends.*nope.*reference/);
  }, 60_000);
});

describe("bad numbers and outputs are rejected before the run (exit 2, one line, no stack trace)", () => {
  test.each([
    [["--seed="], /--seed = "" is not allowed: an integer in \[0, 4294967295\]/],
    [["--seed", "0x10"], /--seed = "0x10"/],
    [["--seed", "1e20"], /--seed = "1e20"/],
    [["--seed", "4294967296"], /--seed = "4294967296"/],
    [["--call-timeout", "0"], /--call-timeout = "0" is not allowed: an integer in \[1, 2147483647\]/],
    [["--call-timeout", "2147483648"], /--call-timeout/],
    [["--json", tmp], /--json .* a regular file or a new file: .* is a folder/],
    [["--json", "/dev/null"], /--json = "\/dev\/null" .* is a device/],
  ])("conformance %j", (args, message) => {
    const r = diffspec("conformance", "--clause", "NOPE", ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.out).toBe("");
  }, 60_000);

  test("/dev/null is still a device afterwards; no temporary file is left in the folder", () => {
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});

describe("reports are written and the summary printed when the run is cut short", () => {
  test("--json - writes the JSON report on stdout (the console text goes to stderr)", () => {
    const r = diffspec("conformance", "--clause", "FWD-MARGINAL", "--in-process", "--json", "-");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).results.length).toBeGreaterThan(0);
    expect(lastLine(r.err)).toMatch(/^\d+ passed, 0 failed$/);
    expect(existsSync("-")).toBe(false);
  }, 60_000);

  test("an adapter calling process.exit(0) in-process: exit 1, summary, JSON report of what ran", () => {
    const json = join(tmp, "exit.json");
    const r = diffspec("conformance", "--in-process", "--adapter", "adapters/examples/broken/exits.ts", "--clause", "BACKEND-TRANSFER", "--clause", "BACKEND-COMBINE", "--json", json);
    expect(r.code).toBe(1);
    expect(lastLine(r.out)).toBe("0 passed, 0 failed"); // BACKEND-COMBINE runs first and ends the process
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.interrupted).toMatch(/exited with code 0 before the run finished/);
  }, 60_000);

  test("createBackend() throwing a plain Error: one line naming the adapter, exit 2", () => {
    const r = diffspec("conformance", "--adapter", "adapters/examples/broken/create-throws.ts");
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^diffspec conformance: InputFileError: adapters\/examples\/broken\/create-throws\.ts: the adapter's createBackend\(\) threw: could not open \/dev\/dri\/renderD128$/);
  }, 60_000);

  test("SIGINT during a property: exit 130, the summary and the report of what ran", async () => {
    const dir = join(tmp, "sigint");
    mkdirSync(dir, { recursive: true });
    const adapter = join(dir, "slow.mjs");
    // toHost answers at once; combine announces itself, then never settles (the test interrupts it).
    writeFileSync(adapter, `
const t = (d, s) => ({ d: Float64Array.from(d), s: [...s] });
export const backend = { name: "slow", dtype: "float64",
  fromHost: (d, s) => t(d, s), toHost: (x) => Float64Array.from(x.d),
  combine: () => { process.stderr.write("combine started\\n"); return new Promise(() => {}); } };
`);
    const json = join(dir, "r.json");
    const child = spawn(process.execPath, ["bin/diffspec.mjs", "conformance", "--adapter", adapter, "--clause", "BACKEND-COMBINE", "--json", json], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => {
      err += d;
      if (err.includes("combine started")) child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(130);
    expect(lastLine(out)).toBe("0 passed, 0 failed");
    expect(JSON.parse(readFileSync(json, "utf8")).interrupted).toBe("SIGINT");
  }, 60_000);
});
