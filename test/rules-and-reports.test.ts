import { describe, expect, test } from "vitest";
import { parseRules, ruleMatches } from "../conformance/rules.ts";
import { counts, runConformance, summaryLine, type Report } from "../conformance/runner.ts";
import { junitReport, jsonReport, consoleReport, markdownReport } from "../conformance/report.ts";
import { defineProperties } from "../conformance/registry.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import { PropertyFailure } from "../conformance/check.ts";
import { InputFileError } from "../reference/errors.ts";

describe("skips / xfails files", () => {
  test("parses patterns and reasons, ignores comments", () => {
    const r = parseRules("# header\n\nBACKEND-THRESHOLD  # no sort on device\nSAMP-ORDER heun # slow\n", "s.txt");
    expect(r.map((x) => [x.pattern, x.reason, x.line])).toEqual([["BACKEND-THRESHOLD", "no sort on device", 3], ["SAMP-ORDER heun", "slow", 4]]);
  });
  test("a line without a reason is a typed error naming the line", () => {
    expect(() => parseRules("BACKEND-RANDN\n", "s.txt")).toThrow(InputFileError);
    expect(() => parseRules("BACKEND-RANDN\n", "s.txt")).toThrow(/line 1/);
  });
  test("prefix and exact-property matching", () => {
    const [r] = parseRules("BACKEND-  # all\n", "f");
    expect(ruleMatches(r, "BACKEND-COMBINE", "x")).toBe(true);
    expect(ruleMatches(r, "FWD-CHAIN", "x")).toBe(false);
  });
});

const demo = defineProperties([
  { clause: "DEMO-PASS", name: "ok", scope: "backend", kind: "example", run: () => {} },
  { clause: "DEMO-FAIL", name: "counterexample", scope: "backend", kind: "property", run: () => { throw new PropertyFailure("counterexample [1]", 42, "0:1"); } },
  { clause: "DEMO-THROW", name: "throws", scope: "backend", kind: "example", run: () => { throw new TypeError("boom"); } },
  { clause: "DEMO-HANG", name: "hangs", scope: "backend", kind: "example", run: () => new Promise<void>(() => {}) },
  { clause: "DEMO-MISSING", name: "needs-loadmodel", scope: "backend", kind: "example", needs: ["loadModel"], run: () => {} },
]);

describe("runner", () => {
  test("a failing, throwing or hanging property fails alone; the run goes on and counts add up", async () => {
    const noModel = { ...referenceBackend, name: "reference-without-model", dtype: "float64" as const, fromHost: referenceBackend.fromHost, toHost: referenceBackend.toHost, combine: referenceBackend.combine, loadModel: undefined };
    const report = await runConformance(demo, { backend: noModel, backendArg: "--adapter x.ts", seed: 7, profile: "quick", propertyTimeoutMs: 200, xfails: parseRules("DEMO-THROW # known\n", "x") });
    const st = Object.fromEntries(report.results.map((r) => [r.clause, r.status]));
    expect(st).toEqual({ "DEMO-PASS": "passed", "DEMO-FAIL": "failed", "DEMO-THROW": "xfail", "DEMO-HANG": "failed", "DEMO-MISSING": "missing" });
    const fail = report.results.find((r) => r.clause === "DEMO-FAIL")!;
    expect(fail.replay).toBe("npx diffspec conformance --adapter x.ts --profile quick --clause DEMO-FAIL --property counterexample --seed 42 --path 0:1");
    expect(report.results.find((r) => r.clause === "DEMO-HANG")!.message).toMatch(/did not finish within 200 ms/);
    expect(summaryLine(counts(report.results))).toBe("1 passed, 3 failed, 1 skipped");
  });
  test("reports: JSON has the documented fields, JUnit is well-formed, console ends with the summary", async () => {
    const report: Report = await runConformance(demo.slice(0, 2), { backend: referenceBackend, backendArg: "--backend reference", seed: 1, profile: "quick" });
    const json = JSON.parse(jsonReport(report));
    expect(json.backend).toBe("reference");
    expect(json.seed).toBe(1);
    expect(json.results[1]).toMatchObject({ clause: "DEMO-FAIL", property: "counterexample", status: "failed", seed: 42, path: "0:1" });
    expect(junitReport(report)).toMatch(/<testsuites [^>]*tests="2" failures="1"/);
    expect(consoleReport(report).split("\n").at(-1)).toBe("1 passed, 1 failed");
    expect(markdownReport(report)).toMatch(/\| DEMO-FAIL \| counterexample \| failed \|/);
  });
  test("an unavailable backend skips every clause with the reason, never passes", async () => {
    const report = await runConformance(demo, { backend: { unavailable: "no WebGPU adapter", name: "tfjs-webgpu" }, backendArg: "--backend tfjs-webgpu", seed: 1, profile: "quick" });
    expect(report.results.every((r) => r.status === "skipped" && r.message === "unavailable: no WebGPU adapter")).toBe(true);
  });
});
