/**
 * Issue 14, measurements and the reference: the copy floor of a tiny tensor is never 0 (the flaky
 * ratioHot = NaN), and DPMSolverMultistep's trailing spacing with an active lambdaMinClipped stays in [0, N − 1].
 */
import { describe, expect, test } from "vitest";
import { timeCopies } from "../bench/sampler-overhead.ts";
import { DPMSolverMultistepScheduler } from "../reference/samplers/dpmsolver-multistep.ts";
import { spacedTimesteps } from "../reference/samplers/multistep.ts";
import { referenceBackend } from "../adapters/reference/index.ts";

describe("bench/sampler-overhead.ts copy timing", () => {
  test("a copy far below the clock's 1 µs tick still times > 0 (no ∞ ratio, no NaN median)", () => {
    for (let i = 0; i < 20; i++) expect(timeCopies(16, 2, 1)).toBeGreaterThan(0);
  });
});

describe("SAMP-EXPINT-SCHEDULE trailing spacing with lambdaMinClipped", () => {
  test("the replayed counterexample (N = 1148, linear, λ_min_clipped = −5.1, n = 16) has 16 timesteps in [0, L − 1]", () => {
    const s = new DPMSolverMultistepScheduler({ numTrainTimesteps: 1148, betaSchedule: "linear", lambdaMinClipped: -5.1, timestepSpacing: "trailing", solverOrder: 1 }, referenceBackend);
    s.setTimesteps(16);
    const ts = Array.from(s.timesteps);
    expect(ts.length).toBe(16);
    expect(Math.min(...ts)).toBeGreaterThanOrEqual(0);
    expect(ts.every((t, i) => i === 0 || t < ts[i - 1])).toBe(true);
  });

  test("compat diffusers keeps diffusers' np.arange(L, 0, −N/n): fewer than n timesteps when clipped", () => {
    expect(spacedTimesteps(16, 1148, "trailing", 0, 1075, "diffusers")).toHaveLength(15);
    expect(spacedTimesteps(16, 1148, "trailing", 0, 1148, "math")).toEqual(spacedTimesteps(16, 1148, "trailing", 0, 1148, "diffusers"));
  });
});

describe("reports escape every byte (JUnit XML, HTML, Markdown)", async () => {
  const { junitReport, htmlReport, markdownReport } = await import("../conformance/report.ts");
  const nasty = "\u001b[31mred\u001b[0m NUL\u0000 bell\u0007 <script>alert(1)</script> | a & b \ud800 `x` *y*\nnext";
  const report = {
    backend: "b<1>", seed: 1, profile: "quick" as const, date: "d", warnings: [], wallMs: 1,
    results: [{ clause: "C-1", property: "p", status: "failed" as const, message: nasty, replay: "npx diffspec \u0000", durationMs: 1 }],
  };
  test("JUnit XML holds no character XML 1.0 forbids, and no unescaped markup", () => {
    const x = junitReport(report);
    expect(x).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF]/);
    expect(x).not.toContain("<script>");
    expect(x).toContain("\\u{1b}[31mred");
    expect(x).toContain("NUL\\u{0}");
  });
  test("HTML and Markdown escape markup and make control characters visible", () => {
    const h = htmlReport(report);
    expect(h).not.toContain("<script>");
    expect(h).not.toMatch(/[\u0000\u0007\u001b]/);
    const m = markdownReport(report);
    expect(m).not.toContain("<script>");
    expect(m).not.toMatch(/[\u0000\u0007\u001b]/);
    const row = m.split("\n").find((l) => l.startsWith("| C-1"))!;
    expect(row.split(/(?<!\\)\|/).length).toBe(6); // 4 cells: the message's "|" is escaped
    expect(m).toContain("&lt;script&gt;");
  });
});

describe("found by bench/seed-sweep.sh", async () => {
  const { runConformance, loadAllProperties } = await import("../conformance/runner.ts");
  const { checkProperty } = await import("../conformance/check.ts");
  const fc = (await import("fast-check")).default;
  const base = { backendArg: "--backend reference", profile: "quick" as const };

  test("SCORE-LOW-DENSITY exact-score-grows-away-from-the-data at distance 870 (rounding of the responsibilities) passes its replay", async () => {
    const all = (await loadAllProperties()).filter((p) => p.clause === "SCORE-LOW-DENSITY" && p.name === "exact-score-grows-away-from-the-data");
    const r = await runConformance(all, { ...base, backend: referenceBackend, seed: 3667589974, path: "12:1:1:1:1:6:20:7:1:2:1:2:4:2:5:3:1:2:3:3:3:49:4:4:4:4:19:0:1:1:1:2:1:8:7:9:1:3:2:1:3:3:1:2:1:2:1:1:2:2:1:23:5:1:1:1:2:4:2:2:1:2:2:1:1:4:1:1:2:8:6:8:2:1:1:2:3:1:3:1:4:2:2:11:1:1:1:1:5:14:2:4:1:3:2:1:1:3:1:5:1:1:2:1:2:1:1:4:6:16:6:3:5:1:1:1:3:1:2:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:9:1:7:3:5:4:2:5:3:3:6:2:3:2:13:2:2:5:2:4:3:2:2:5:3:6:3:2:3:5:2:3:3:2:3:3:9:3:2:2:4:2:17:5:2:10:2:3:3:2:2:5:3:2:4:6:9:2:3:2:4:3:5:2:21:2:4:4:3:4:7:2:5:3:4:2:2:2:2:2:2:2:3:6:3:2:5:2:24:11:3:3:2:2:2:2:2:2:5:5:2:4:3:2:3:3:3:2:25:2:2:2:3:2:2:2:3:7:5:2:6:2:3:2:2:3:4:2:4:4:2:30:3:4:4:4:3:3:4:2:2:2:2:2:2:3:3:3:4:4:3:5:2:6" });
    expect(r.results.map((x) => [x.status, x.message])).toEqual([["passed", undefined]]);
  });

  test("a failure's replay seed is the unsigned seed --seed accepts, not fast-check's signed alias", async () => {
    const failing = { clause: "T-FAIL", name: "always", scope: "backend" as const, kind: "property" as const, run: (ctx: Parameters<typeof checkProperty>[0]) => checkProperty(ctx, fc.property(fc.integer(), () => false)) };
    const r = await runConformance([failing], { ...base, backend: referenceBackend, seed: 3667589974 });
    expect(r.results[0].seed).toBe(3667589974);
    expect(r.results[0].replay).toMatch(/--seed 3667589974 /);
  });
});
