/**
 * Scheduler ports (spec/14-scheduler-ports.md): the example ports pass every clause that applies to them,
 * every port broken on purpose fails and its FIRST failure names the expected clause, a misbehaving process
 * fails only the property in progress (with its stderr) and the run goes on, and the JSON report names the
 * port, its capabilities and the protocol version. Python tests are skipped only when python3 or numpy is absent.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { portConformance } from "../cli/conformance-port.ts";
import { counts, type Report } from "../conformance/runner.ts";
import { loadSchedulerPort } from "../conformance/ports/module.ts";
import { startProcessPort } from "../conformance/ports/process.ts";
import { runPortConformance } from "../conformance/ports/runner.ts";
import { referencePort } from "../conformance/ports/reference-port.ts";
import type { PortDriver } from "../conformance/ports/driver.ts";
import { registerProperties } from "../conformance/vitest.ts";
import { properties as portClauses } from "../conformance/properties/ports.ts";

// PORT-DECLARE, PORT-PROTOCOL, PORT-FINITE as registry properties (the same objects `diffspec conformance` runs).
registerProperties(portClauses);

const PORTS = "adapters/examples/ports";
const SEED = 20261126;

const pythonMissing = ((): string | undefined => {
  try {
    execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "python3 with numpy is not installed on this machine";
  }
})();
if (pythonMissing) test.skip(`Python ports (${pythonMissing})`, () => {});

const tmp = mkdtempSync(join(tmpdir(), "diffspec-ports-"));

/** Runs the CLI route in-process (stdout silenced); returns the exit code and the JSON report. */
async function cli(values: Parameters<typeof portConformance>[0]): Promise<{ code: number; report: Report }> {
  const json = join(tmp, `report-${Math.random().toString(36).slice(2)}.json`);
  const code = await portConformance({ ...values, json }, "quick", SEED);
  return { code, report: JSON.parse(readFileSync(json, "utf8")) as Report };
}

async function firstFailure(driver: PortDriver): Promise<{ clause: string; message: string } | undefined> {
  try {
    const r = await runPortConformance(driver, { seed: SEED, profile: "quick", stopAtFirstFailure: true });
    const f = r.results.find((x) => x.status === "failed");
    return f && { clause: f.clause, message: f.message ?? "" };
  } finally {
    await driver.close();
  }
}

// The CLI route prints its console report; keep the test output readable. Tests run concurrently (the Python
// ports wait on their processes while the in-process ports compute), so the spy spans the whole file.
beforeAll(() => {
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
});
afterAll(() => {
  vi.restoreAllMocks();
});

describe.concurrent("example ports pass every applicable clause", () => {
  test("TypeScript (float32, DDIM / Euler / Euler ancestral / DPM-Solver++(2M)): exit 0, and the report names the port", async () => {
    const { code, report } = await cli({ scheduler: `${PORTS}/float32-schedulers.ts` });
    const c = counts(report.results);
    expect({ code, failed: c.failed }).toEqual({ code: 0, failed: 0 });
    expect(c.passed).toBeGreaterThanOrEqual(50);
    expect(report.port?.name).toBe("float32-schedulers (TypeScript example)");
    expect(report.port?.protocolVersion).toBe(1);
    expect(Object.keys(report.port?.capabilities.classes ?? {})).toEqual(["DDIMScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler"]);
    // Skips only where the declaration excludes the clause, each with its reason.
    for (const s of report.results.filter((r) => r.status === "skipped")) expect(s.message).toMatch(/outside the declared capabilities: .+/);
    for (const clause of ["SCHED-LINEAR", "SCHED-CUMPROD", "TS-SPACING", "TS-PREV", "SAMP-SIGMAS", "FWD-MARGINAL", "PORT-FINITE", "SAMP-ORDER", "SAMP-DDIM", "SAMP-EULER", "SAMP-DPMPP-2M", "SAMP-DISTRIBUTION"]) {
      expect(report.results.some((r) => r.clause === clause && r.status === "passed"), clause).toBe(true);
    }
  }, 120_000);

  test("TypeScript PNDM transcribed from diffusers (compat diffusers): exit 0", async () => {
    const { code, report } = await cli({ scheduler: `${PORTS}/pndm-diffusers.ts` });
    expect({ code, failed: counts(report.results).failed }).toEqual({ code: 0, failed: 0 });
    expect(report.results.some((r) => r.clause === "SAMP-PNDM" && r.status === "passed")).toBe(true);
  }, 60_000);

  test.skipIf(pythonMissing)("Python + numpy over the protocol (float64, DDIM / Euler / DPM-Solver++(2M)): exit 0", async () => {
    const { code, report } = await cli({ "scheduler-cmd": `python3 ${PORTS}/numpy_schedulers.py` });
    expect({ code, failed: counts(report.results).failed }).toEqual({ code: 0, failed: 0 });
    expect(counts(report.results).passed).toBeGreaterThanOrEqual(35);
    expect(report.port).toMatchObject({ name: "numpy-schedulers (Python example)", protocolVersion: 1, source: `--scheduler-cmd python3 ${PORTS}/numpy_schedulers.py` });
    expect(report.port?.capabilities.dtype).toBe("float64");
  }, 180_000);

  test("the reference schedulers as a port pass every applicable clause (the suite's self-check)", async () => {
    const r = await runPortConformance(referencePort(), { seed: SEED, profile: "quick" });
    expect(r.results.filter((x) => x.status === "failed").map((x) => `${x.clause} ${x.property}: ${x.message}`)).toEqual([]);
    expect(counts(r.results).passed).toBeGreaterThanOrEqual(55);
  }, 120_000);
});

describe.concurrent("ports broken on purpose fail, naming the expected clause first", () => {
  const TS: [string, string, RegExp][] = [
    ["pndm-prk-true-division.ts", "SAMP-PNDM", /prevSample of step \d+/],
    ["ddim-previous-stride.ts", "TS-PREV", /lands on/],
    ["spacing-math-round.ts", "TS-SPACING", /timestep \d+ is \d+, the reference's is \d+/],
    ["euler-sigma-next-squared.ts", "SAMP-ORDER", /fitted order/],
    ["dpmpp-2m-first-order.ts", "SAMP-ORDER", /fitted order 0\.9\d*, theory 2/],
    ["ancestral-sigma-up-squared.ts", "SAMP-EULER-ANCESTRAL", /prevSample of step/],
    ["euler-divides-by-zero-sigma.ts", "PORT-FINITE", /σ [\d.e-]+ → 0\) is NaN/],
  ];
  test.each(TS)("%s fails %s first", async (file, clause, why) => {
    const f = await firstFailure(await loadSchedulerPort(`${PORTS}/broken/${file}`));
    expect(f?.clause).toBe(clause);
    expect(f?.message).toMatch(why);
  }, 60_000);

  const PY: [string, string, RegExp][] = [
    ["trained_betas_ignored.py", "SCHED-CUMPROD", /alphasCumprod/],
    ["linear_betas_n_plus_1.py", "SCHED-LINEAR", /alphasCumprod/],
    ["nan_last_step.py", "PORT-FINITE", /is NaN/],
  ];
  test.skipIf(pythonMissing).each(PY)("%s fails %s first", async (file, clause, why) => {
    const f = await firstFailure(await startProcessPort(`python3 ${PORTS}/broken/${file}`));
    expect(f?.clause).toBe(clause);
    expect(f?.message).toMatch(why);
  }, 120_000);

  test("a broken port exits 1 through the CLI, with a replay line naming the port", async () => {
    const { code, report } = await cli({ scheduler: `${PORTS}/broken/ddim-previous-stride.ts`, clause: ["TS-PREV"] });
    expect(code).toBe(1);
    expect(report.results[0].replay).toContain(`--scheduler ${PORTS}/broken/ddim-previous-stride.ts`);
    expect(report.results[0].replay).toContain("--clause TS-PREV");
  }, 60_000);
});

describe.concurrent("supervision of --scheduler-cmd", () => {
  test.skipIf(pythonMissing).each([
    ["crash", /the port process exited \(exit code 3\)/],
    ["hang", /no answer to "step" within 1500 ms/],
    ["garbage", /not one line of JSON: this is not JSON/],
    ["shape", /prev_sample with shape \[\d+\], expected \[1, 1\]/],
  ])("%s: the property in progress fails with the reason and stderr; the run goes on on a restarted process", async (mode, why) => {
    const driver = await startProcessPort(`python3 ${PORTS}/broken/misbehaving_process.py ${mode}`, { messageTimeoutMs: 1500 });
    try {
      const r = await runPortConformance(driver, { seed: SEED, profile: "quick", clauses: ["PORT-DECLARE", "SCHED-LINEAR", "TS-PREV", "SCHED-COSINE"] });
      expect(r.results.map((x) => [x.clause, x.status])).toEqual([["PORT-DECLARE", "passed"], ["SCHED-LINEAR", "passed"], ["SCHED-COSINE", "passed"], ["TS-PREV", "failed"]]);
      const failed = r.results[3].message ?? "";
      expect(failed).toMatch(why);
      expect(failed).toContain(`--- port stderr (tail) ---\nmisbehaving_process: first step, mode ${mode}`);
    } finally {
      await driver.close();
    }
  }, 60_000);

  test.skipIf(pythonMissing)("after a restart, the next property runs on a fresh process", async () => {
    const driver = await startProcessPort(`python3 ${PORTS}/broken/misbehaving_process.py crash`);
    try {
      // TS-PREV crashes the first process; SAMP-DDIM's first step crashes the second: both fail, each restarted.
      const r = await runPortConformance(driver, { seed: SEED, profile: "quick", clauses: ["TS-PREV", "SAMP-DDIM"], property: "DDIMScheduler-step-lands-on-the-previous-timestep" });
      expect(r.results.map((x) => x.status)).toEqual(["failed"]);
      const again = await runPortConformance(driver, { seed: SEED, profile: "quick", clauses: ["SCHED-LINEAR"] });
      expect(again.results.map((x) => x.status)).toEqual(["passed"]);
      expect((driver as PortDriver & { restarts: number }).restarts).toBe(1);
    } finally {
      await driver.close();
    }
  }, 60_000);
});

describe("declarations", () => {
  test("a port whose every clause is outside its declaration exits 3 (nothing was checked), never 0", async () => {
    const file = join(tmp, "unknown-class.mjs");
    writeFileSync(file, `export const capabilities = { name: "only an unknown class", dtype: "float32", compat: "math", classes: { FancyScheduler: { config: {} } } };\nexport function FancyScheduler() { return {}; }\n`);
    const { code, report } = await cli({ scheduler: file });
    expect(code).toBe(3);
    expect(report.results.map((r) => [r.status, r.message])).toEqual([["skipped", expect.stringMatching(/the suite has no clauses for FancyScheduler/)]]);
  });

  test("a malformed declaration is an InputFileError naming each field", async () => {
    const file = join(tmp, "bad-declaration.mjs");
    writeFileSync(file, `export const capabilities = { name: "x", dtype: "float16", compat: "math", classes: { DDIMScheduler: { config: { betaStart: { min: 1, max: 0 } } } } };\nexport function DDIMScheduler() { return {}; }\n`);
    await expect(loadSchedulerPort(file)).rejects.toThrow(/capabilities\.dtype: .*capabilities\.classes\.DDIMScheduler\.config\.betaStart/s);
  });

  test("a process speaking another protocol version is refused, naming both versions", async () => {
    const file = join(tmp, "protocol-2.mjs");
    writeFileSync(file, `import { createInterface } from "node:readline";\ncreateInterface({ input: process.stdin }).on("line", (l) => { const r = JSON.parse(l); process.stdout.write(JSON.stringify({ id: r.id, ok: true, result: { protocol: 2, capabilities: {} } }) + "\\n"); });\n`);
    await expect(startProcessPort(`node ${file}`)).rejects.toThrow(/speaks protocol version 2; this suite speaks 1/);
  });

  test("a declared class without its factory is an InputFileError", async () => {
    const file = join(tmp, "no-factory.mjs");
    writeFileSync(file, `export const capabilities = { name: "x", dtype: "float32", compat: "math", classes: { DDIMScheduler: { config: {} } } };\n`);
    await expect(loadSchedulerPort(file)).rejects.toThrow(/declare DDIMScheduler but the module exports no factory/);
  });
});
