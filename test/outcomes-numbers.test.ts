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
