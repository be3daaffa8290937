/**
 * conformance/vitest.ts, the bridge a user puts in their own vitest suite: registerConformance runs
 * what `diffspec conformance --adapter` runs, and counts missing primitives and skips as the CLI does.
 */
import { describe, expect, test } from "vitest";
import { backend as float32 } from "../adapters/examples/float32-array.ts";
import { loadRules } from "../conformance/rules.ts";
import { counts, loadAllProperties, runConformance, selectProperties } from "../conformance/runner.ts";
import { registerConformance, registerProperties, type Registered } from "../conformance/vitest.ts";

const CLAUSES = ["BACKEND-TRANSFER", "BACKEND-THRESHOLD", "BACKEND-MODEL", "BACKEND-CFG-BATCH"];
const all = await loadAllProperties();
const selected = selectProperties(all, { clauses: CLAUSES, profile: "quick" }, false);

// Registered inside a skipped block: only the counts are compared here, nothing runs.
let counted: Registered | undefined;
let countedWithSkips: Registered | undefined;
describe.skip("registered only to be counted", () => {
  counted = registerProperties(selected, { backend: float32 });
  countedWithSkips = registerProperties(selected, { backend: float32, skips: "adapters/examples/skips.txt" });
});

test("a missing primitive counts as the CLI counts it (a failing test), a skips line as a skipped one", async () => {
  const report = await runConformance(all, { backend: float32, backendArg: "--adapter float32", clauses: CLAUSES, profile: "quick", seed: 1 });
  const cli = report.results.filter((r) => r.status === "missing").map((r) => `${r.clause} ${r.property}`);
  expect(cli.length).toBeGreaterThan(0);
  expect(counted?.missing.map((m) => m.split(":")[0])).toEqual(cli);
  expect(counted?.tests).toBe(counts(report.results).passed + counts(report.results).failed);
  const skipped = counts((await runConformance(all, { backend: float32, backendArg: "--adapter float32", clauses: CLAUSES, profile: "quick", seed: 1, skips: loadRules("adapters/examples/skips.txt") })).results).skipped;
  expect(countedWithSkips?.skipped).toBe(skipped);
  expect(countedWithSkips?.tests).toBe(selected.length - skipped);
});

// And the user's route: these register and run here.
const registered = await registerConformance(float32, { clauses: ["BACKEND-TRANSFER", "BACKEND-CLAMP"], skips: "adapters/examples/skips.txt" });
test("registerConformance registered the selected properties of the adapter", () => {
  expect(registered.tests).toBe(selectProperties(all, { clauses: ["BACKEND-TRANSFER", "BACKEND-CLAMP"], profile: "quick" }, false).length);
  expect(registered.missing).toEqual([]);
});
