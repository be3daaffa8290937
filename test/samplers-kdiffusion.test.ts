/** k-diffusion samplers (reference/samplers/kdiffusion.ts), the order measurement and `diffspec order`. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { referenceBackend as b } from "../adapters/reference/index.ts";
import { verifyFixtures } from "../conformance/fixtures/verify.ts";
import { ConfigError } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";
import type { Tensor } from "../reference/tensor.ts";
import { KDIFFUSION_SAMPLERS } from "../reference/samplers/index.ts";
import { KDIFFUSION, gaussLegendre, kdiffusionEvaluations, linearMultistepCoeff } from "../reference/samplers/kdiffusion.ts";
import { costToReach, leastSquaresSlope, measureOrder, ORDER_SAMPLER_NAMES } from "../reference/samplers/order.ts";
import { hostNoise } from "../reference/samplers/scheduler.ts";
import { orderCommand } from "../cli/order.ts";

const x = (): Tensor => b.fromHost([0.5, -1, 2, 0.25], [2, 2]);
const model = (calls: number[] = []) => async (t: Tensor, sigma: number): Promise<Tensor> => {
  calls.push(sigma);
  return { shape: t.shape, data: t.data.map((v) => 0.7 * v) };
};
const noise = () => hostNoise(b, new GaussianStream("kdiff-test"));
const sig = Float64Array.from([10, 3, 1, 0.3, 0]);

describe("bad input is a ConfigError naming the field", () => {
  test.each(KDIFFUSION_SAMPLERS)("%s: empty, single, non-decreasing, negative, NaN sigmas", async (name) => {
    for (const s of [[], [1], [1, 1], [1, 2, 0], [2, -1], [2, NaN], [Infinity, 1]]) {
      await expect(KDIFFUSION[name](b, model(), x(), Float64Array.from(s), { noise: noise() })).rejects.toThrow(ConfigError);
    }
    await expect(KDIFFUSION[name](b, model(), x(), Float64Array.from([1, 2]), {})).rejects.toThrow(/sigmas\[1\].*strictly decrease/);
  });
  test.each(KDIFFUSION_SAMPLERS)("%s: an unknown option lists the allowed ones", async (name) => {
    await expect(KDIFFUSION[name](b, model(), x(), sig, { sChrun: 1 })).rejects.toThrow(/options\.sChrun.*a known option/);
  });
  test("option values", async () => {
    await expect(KDIFFUSION.sample_lms(b, model(), x(), sig, { order: 5 })).rejects.toThrow(/order.*1 … 4/);
    await expect(KDIFFUSION.sample_lms(b, model(), x(), sig, { order: 2.5 })).rejects.toThrow(ConfigError);
    await expect(KDIFFUSION.sample_dpmpp_2m_sde(b, model(), x(), sig, { solverType: "rk4", noise: noise() })).rejects.toThrow(/solverType/);
    await expect(KDIFFUSION.sample_euler_ancestral(b, model(), x(), sig, { eta: -0.1, noise: noise() })).rejects.toThrow(/eta/);
    await expect(KDIFFUSION.sample_euler(b, model(), x(), sig, { sNoise: Infinity })).rejects.toThrow(/sNoise/);
    await expect(KDIFFUSION.sample_heun(b, model(), x(), sig, { sChurn: -1 })).rejects.toThrow(/sChurn/);
  });
  test("a stochastic step without a NoiseProvider names options.noise", async () => {
    await expect(KDIFFUSION.sample_euler_ancestral(b, model(), x(), sig, {})).rejects.toThrow(/options\.noise/);
    await expect(KDIFFUSION.sample_dpmpp_2m_sde(b, model(), x(), sig, {})).rejects.toThrow(/options\.noise/);
    await expect(KDIFFUSION.sample_euler(b, model(), x(), sig, { sChurn: 10 })).rejects.toThrow(/options\.noise/);
    // Deterministic settings need none.
    await expect(KDIFFUSION.sample_euler_ancestral(b, model(), x(), sig, { eta: 0 })).resolves.toBeDefined();
    await expect(KDIFFUSION.sample_dpmpp_2m_sde(b, model(), x(), sig, { eta: 0 })).resolves.toBeDefined();
  });
  test("LMS warm-up: an order above the available history is a ConfigError", () => {
    expect(() => linearMultistepCoeff(3, [3, 2, 1, 0], 1, 0)).toThrow(ConfigError);
  });
});

describe("model evaluations (SAMP-KDIFF-NFE)", () => {
  test.each(KDIFFUSION_SAMPLERS)("%s", async (name) => {
    for (const s of [sig, sig.slice(0, 4)]) {
      const calls: number[] = [];
      await KDIFFUSION[name](b, model(calls), x(), s, { noise: noise() });
      expect(calls.length).toBe(kdiffusionEvaluations(name, s));
    }
  });
  test("Heun and DPM-2 take 2n − 1 evaluations with a final σ = 0, 2n without; the rest n", () => {
    expect(kdiffusionEvaluations("sample_heun", sig)).toBe(7);
    expect(kdiffusionEvaluations("sample_dpm_2", sig.slice(0, 4))).toBe(6);
    expect(kdiffusionEvaluations("sample_lms", sig)).toBe(4);
  });
});

describe("numerics", () => {
  test("Gauss–Legendre is exact for degree ≤ 7", () => {
    expect(gaussLegendre((t) => t ** 7 - 3 * t ** 2 + 1, -1, 2)).toBeCloseTo((2 ** 8 - 1) / 8 - (8 + 1) + 3, 12);
  });
  test("noise draws follow k-diffusion: one per step with σᵢ₊₁ > 0", async () => {
    let draws = 0;
    const inner = noise();
    const counting = { next: async (s: readonly number[]) => { draws++; return inner.next(s); } };
    await KDIFFUSION.sample_euler_ancestral(b, model(), x(), sig, { noise: counting });
    expect(draws).toBe(3);
    draws = 0;
    await KDIFFUSION.sample_dpmpp_2m_sde(b, model(), x(), sig.slice(0, 4), { noise: counting });
    expect(draws).toBe(3);
  });
  test("a rerun with the same inputs and noise reproduces bit for bit", async () => {
    for (const name of KDIFFUSION_SAMPLERS) {
      const a = await KDIFFUSION[name](b, model(), x(), sig, { noise: noise() });
      const c = await KDIFFUSION[name](b, model(), x(), sig, { noise: noise() });
      expect(Array.from(a.data)).toEqual(Array.from(c.data));
    }
  });
});

describe("golden vectors: fixtures/diffusers/kdiffusion/sample_*", () => {
  test("every k-diffusion sampler fixture passes", async () => {
    const dirs = KDIFFUSION_SAMPLERS.map((n) => `fixtures/diffusers/kdiffusion/${n}`);
    const results = await verifyFixtures(dirs);
    expect(results.length).toBeGreaterThanOrEqual(7);
    expect(results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.message}`)).toEqual([]);
  });
});

describe("order measurement (SAMP-ORDER)", () => {
  test("least squares recovers the slope of a line", () => {
    expect(leastSquaresSlope([0, 1, 2, 3], [1, -1, -3, -5])).toBeCloseTo(-2, 14);
  });
  test("an unknown sampler or bad steps is a ConfigError", async () => {
    await expect(measureOrder("rk45")).rejects.toThrow(/one of ddim/);
    await expect(measureOrder("heun", { steps: [8] })).rejects.toThrow(ConfigError);
    await expect(measureOrder("heun", { steps: [16, 8] })).rejects.toThrow(ConfigError);
  });
  test("Heun measures order 2 on a custom step list", async () => {
    const m = await measureOrder("heun", { steps: [16, 32, 64] });
    expect(m.fittedOrder).toBeGreaterThan(1.8);
    expect(m.fittedOrder).toBeLessThan(2.2);
    expect(m.steps).toEqual([16, 32, 64]);
  });
});

describe("diffspec order", () => {
  test("--json writes one record per sampler; exit 0 when within tolerance", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "diffspec-order-")), "order.json");
    const write = process.stdout.write;
    let out = "";
    process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
    let code: number;
    try {
      code = await orderCommand(["--sampler", "euler", "--sampler", "heun", "--json", file]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    expect(out).toMatch(/heun\s+2\s+2\.\d\d\s+ok/);
    const rows = JSON.parse(readFileSync(file, "utf8")) as { sampler: string; expectedOrder: number; fittedOrder: number; steps: number[]; errors: number[] }[];
    expect(rows.map((r) => r.sampler)).toEqual(["euler", "heun"]);
    expect(Object.keys(rows[0]).sort()).toEqual(["errors", "evaluations", "evaluationsToTarget", "expectedOrder", "fittedOrder", "sampler", "steps", "stepsToTarget", "target"]);
    // Heun makes two model evaluations per step (no σ = 0 appended here): NFE = 2n, and its target NFE ≈ 2 × steps.
    const heun = rows[1] as unknown as { steps: number[]; evaluations: number[]; stepsToTarget: number; evaluationsToTarget: number; target: number };
    expect(heun.evaluations).toEqual(heun.steps.map((n) => 2 * n));
    expect(heun.target).toBe(1e-3);
    expect(Math.abs(heun.evaluationsToTarget - 2 * heun.stepsToTarget)).toBeLessThanOrEqual(1);
    expect(out).toMatch(/to reach RMS error 1e-3[^\n]*\nsampler\s+steps\s+NFE\nheun\s+\d+\s+\d+\neuler\s+\d+\s+\d+\n/);
  });
  test("costToReach interpolates between the bracketing points on the log–log line and extrapolates from the nearest two", () => {
    // error = 1/n²: exact on the log–log line.
    const n = [8, 16, 32, 64];
    const e = n.map((v) => 1 / v ** 2);
    expect(costToReach(n, e, 1 / 20 ** 2)).toBe(20);
    expect(costToReach(n, e, 1 / 100 ** 2)).toBe(100);
    expect(costToReach(n, e, 1 / 4 ** 2)).toBe(4);
    expect(costToReach(n, [1, 1, 1, 1], 0.5)).toBe(Infinity);
    expect(() => costToReach(n, e, 0)).toThrow(ConfigError);
  });
  test("--help lists every sampler; bad arguments are ConfigErrors", async () => {
    const write = process.stdout.write;
    let out = "";
    process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
    try {
      expect(await orderCommand(["--help"])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    for (const n of ORDER_SAMPLER_NAMES) expect(out).toContain(n);
    await expect(orderCommand(["--sampler", "nope"])).rejects.toThrow(ConfigError);
    await expect(orderCommand(["--steps", "8"])).rejects.toThrow(ConfigError);
    await expect(orderCommand(["--bogus"])).rejects.toThrow(ConfigError);
    await expect(orderCommand(["--target", "-1"])).rejects.toThrow(ConfigError);
  });
  test("exit code 1 when a sampler is outside tolerance (LMS-4 measured at n = 1, 2 is far from order 4)", async () => {
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      expect(await orderCommand(["--sampler", "lms", "--steps", "1,2"])).toBe(1);
    } finally {
      process.stdout.write = write;
    }
  });
});

describe("DPM-Solver fast / adaptive (reference/samplers/kdiffusion-dpm-solver.ts)", () => {
  test("fast: the step orders spend exactly nfe evaluations", async () => {
    const { dpmFastOrders, sampleDpmFast } = await import("../reference/samplers/kdiffusion-dpm-solver.ts");
    expect(dpmFastOrders(10)).toEqual([3, 3, 3, 1]);
    expect(dpmFastOrders(12)).toEqual([3, 3, 3, 2, 1]);
    expect(dpmFastOrders(2)).toEqual([2]);
    for (const nfe of [1, 2, 3, 7, 9]) {
      const calls: number[] = [];
      await sampleDpmFast(b, model(calls), x(), 0.1, 10, nfe);
      expect(calls.length).toBe(nfe);
    }
    await expect(sampleDpmFast(b, model(), x(), 0.1, 10, 5, { eta: 1 })).rejects.toThrow(/options\.noise/);
    await expect(sampleDpmFast(b, model(), x(), 10, 0.1, 5)).rejects.toThrow(/sigmaMax/);
  });
  test("adaptive: counts add up, the last state is at σ_min, bad order is a ConfigError", async () => {
    const { sampleDpmAdaptive } = await import("../reference/samplers/kdiffusion-dpm-solver.ts");
    for (const order of [2, 3]) {
      const calls: number[] = [];
      const sigmas: number[] = [];
      const r = await sampleDpmAdaptive(b, model(calls), x(), 0.05, 20, { order, infoCallback: (i) => sigmas.push(i.sigma) });
      expect(r.info.nfe).toBe(order * r.info.steps);
      expect(calls.length).toBe(r.info.nfe);
      expect(r.info.nAccept + r.info.nReject).toBe(r.info.steps);
      expect(sigmas[sigmas.length - 1]).toBeCloseTo(0.05, 12);
    }
    await expect(sampleDpmAdaptive(b, model(), x(), 0.05, 20, { order: 1 })).rejects.toThrow(ConfigError);
    // η > 0: one noise draw per accepted attempt (k-diffusion adds σ_up·z after each accepted step).
    let draws = 0;
    const inner = noise();
    const r = await sampleDpmAdaptive(b, model(), x(), 0.05, 20, { eta: 1, noise: { next: async (s) => { draws++; return inner.next(s); } } });
    expect(draws).toBe(r.info.nAccept);
    expect(r.x.data.every(Number.isFinite)).toBe(true);
  });
});

describe("KDPM2 schedulers and k-diffusion σ functions", () => {
  test("both classes are registered and take 2n − 1 steps", async () => {
    const { createScheduler } = await import("../reference/samplers/index.ts");
    for (const cls of ["KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler"]) {
      const s = await createScheduler(cls, {}, b);
      s.setTimesteps(6);
      expect(s.timesteps.length).toBe(11);
      expect(s.sigmas?.length).toBe(14);
      await expect(createScheduler(cls, { useKarrasSigmas: true, useExponentialSigmas: true }, b)).rejects.toThrow(ConfigError);
    }
  });
  test("polyexponential and vp σ: n + 1 values ending in 0; bad arguments are ConfigErrors", async () => {
    const { polyexponentialSigmas, vpSigmas } = await import("../reference/samplers/sigmas.ts");
    expect(polyexponentialSigmas(4, 0.1, 10, 2).length).toBe(5);
    expect(vpSigmas(4)[4]).toBe(0);
    expect(vpSigmas(4)[0]).toBeCloseTo(Math.sqrt(Math.expm1(19.9 / 2 + 0.1)), 10);
    expect(() => polyexponentialSigmas(4, 0, 10)).toThrow(ConfigError);
    expect(() => vpSigmas(4, 19.9, 0.1, 1.5)).toThrow(ConfigError);
  });
});
