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
