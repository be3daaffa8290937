/**
 * Euler / Euler ancestral / Heun / LMS (reference/samplers/{sigmas,euler,heun,lms}.ts): typed errors for
 * bad input, model evaluations per run, diffusers quirks reproduced under compat "diffusers", and the
 * golden vectors of fixtures/diffusers for these classes.
 */
import { describe, expect, test } from "vitest";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { referenceBackend as ref } from "../adapters/reference/index.ts";
import type { Tensor } from "../reference/tensor.ts";
import { ConfigError, StateError } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";
import { createScheduler } from "../reference/samplers/index.ts";
import { hostNoise, runPipeline, type Scheduler } from "../reference/samplers/scheduler.ts";
import { EulerDiscreteScheduler } from "../reference/samplers/euler.ts";
import { HeunDiscreteScheduler } from "../reference/samplers/heun.ts";
import { expBetas, float32AlphasCumprod, indexForTimestep, spacedTimesteps, StepCounter } from "../reference/samplers/sigmas.ts";
import { verifyFixtures } from "../conformance/fixtures/verify.ts";

const CLASSES = ["EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler", "LMSDiscreteScheduler"] as const;
const x = (): Tensor => ref.fromHost([0.5, -1, 2, 0.25], [1, 1, 2, 2]);
const noise = () => hostNoise(ref, new GaussianStream(7));
const make = (cls: string, config: Record<string, unknown> = {}) => createScheduler(cls, config, ref);

function counting(): { calls: number; predictionType: "epsilon"; evaluate(s: Tensor, t: number): Tensor } {
  const m = { calls: 0, predictionType: "epsilon" as const, evaluate: (s: Tensor, t: number): Tensor => { m.calls++; return { shape: s.shape, data: s.data.map((v) => Math.tanh(v) + t / 1000) }; } };
  return m;
}

describe.each(CLASSES)("%s: typed errors", (cls) => {
  test("unknown config key, bad enum values", async () => {
    await expect(make(cls, { numTrainTimestep: 10 })).rejects.toBeInstanceOf(ConfigError);
    await expect(make(cls, { predictionType: "noise" })).rejects.toBeInstanceOf(ConfigError);
    await expect(make(cls, { timestepSpacing: "uniform" })).rejects.toBeInstanceOf(ConfigError);
    await expect(make(cls, { compat: "torch" })).rejects.toBeInstanceOf(ConfigError);
    await expect(make(cls, { betaSchedule: "sigmoid", compat: "diffusers" })).rejects.toThrow(/betaSchedule/);
    await expect(make(cls, { stepsOffset: -1 })).rejects.toBeInstanceOf(ConfigError);
    await expect(make(cls, { numTrainTimesteps: 0 })).rejects.toBeInstanceOf(ConfigError);
  });

  test("setTimesteps: n must be a positive integer ≤ numTrainTimesteps", async () => {
    const s = await make(cls, { numTrainTimesteps: 100 });
    for (const n of [0, -3, 2.5, 101, NaN]) expect(() => s.setTimesteps(n), `n = ${n}`).toThrow(ConfigError);
    s.setTimesteps(100);
    expect(s.timesteps.length).toBe(cls === "HeunDiscreteScheduler" ? 199 : 100);
  });

  test("step / scaleModelInput before setTimesteps is a StateError; a timestep not in the schedule a ConfigError", async () => {
    const s = await make(cls);
    await expect(s.step(x(), 999, x(), { noise: noise() })).rejects.toBeInstanceOf(StateError);
    await expect(s.scaleModelInput(x(), 999)).rejects.toBeInstanceOf(StateError);
    s.setTimesteps(5);
    await expect(s.step(x(), 500.5, x(), { noise: noise() })).rejects.toBeInstanceOf(ConfigError);
    await expect(s.scaleModelInput(x(), 12345)).rejects.toBeInstanceOf(ConfigError);
  });

  test("a timestep out of order is a ConfigError; a step past the end a StateError", async () => {
    const s = await make(cls);
    s.setTimesteps(3);
    const ts = s.timesteps;
    let sample = x();
    sample = (await s.step(x(), ts[0], sample, { noise: noise() })).prevSample;
    await expect(s.step(x(), ts[ts.length - 1], sample, { noise: noise() })).rejects.toBeInstanceOf(ConfigError);
    for (let i = 1; i < ts.length; i++) sample = (await s.step(x(), ts[i], sample, { noise: noise() })).prevSample;
    await expect(s.step(x(), ts[ts.length - 1], sample, { noise: noise() })).rejects.toBeInstanceOf(StateError);
    s.setTimesteps(3);
    await expect(s.step(x(), ts[0], sample, { noise: noise() })).resolves.toBeDefined();
  });

  test(`model evaluations per run: ${cls === "HeunDiscreteScheduler" ? "2n − 1" : "n"}`, async () => {
    for (const n of [1, 2, 7, 25]) {
      const s = await make(cls);
      s.setTimesteps(n);
      const m = counting();
      const out = await runPipeline(s, m, ref.fromHost(new Float64Array(4).fill(s.initNoiseSigma), [1, 1, 2, 2]), { noise: noise() });
      expect(m.calls).toBe(cls === "HeunDiscreteScheduler" ? 2 * n - 1 : n);
      expect(out.data.every(Number.isFinite)).toBe(true);
    }
  });
});

describe("σ options", () => {
  test("only one σ ramp; sigmaMin/sigmaMax must be > 0; enums of interpolationType, timestepType, finalSigmasType", async () => {
    await expect(make("EulerDiscreteScheduler", { useKarrasSigmas: true, useBetaSigmas: true })).rejects.toThrow(/only one of/);
    await expect(make("HeunDiscreteScheduler", { useExponentialSigmas: true, useKarrasSigmas: true })).rejects.toBeInstanceOf(ConfigError);
    await expect(make("EulerDiscreteScheduler", { sigmaMin: 0, useBetaSigmas: true })).rejects.toThrow(/sigmaMin/);
    await expect(make("EulerDiscreteScheduler", { sigmaMax: -1 })).rejects.toThrow(/sigmaMax/);
    await expect(make("EulerDiscreteScheduler", { interpolationType: "cubic" })).rejects.toThrow(/interpolationType/);
    await expect(make("EulerDiscreteScheduler", { timestepType: "edm" })).rejects.toThrow(/timestepType/);
    await expect(make("EulerDiscreteScheduler", { finalSigmasType: "one" })).rejects.toThrow(/finalSigmasType/);
    await expect(make("EulerDiscreteScheduler", { useKarrasSigmas: "yes" })).rejects.toThrow(/useKarrasSigmas/);
    // keys a class does not have in diffusers are rejected
    await expect(make("EulerAncestralDiscreteScheduler", { useKarrasSigmas: true })).rejects.toBeInstanceOf(ConfigError);
    await expect(make("LMSDiscreteScheduler", { rescaleBetasZeroSnr: true })).rejects.toBeInstanceOf(ConfigError);
    await expect(make("HeunDiscreteScheduler", { finalSigmasType: "zero" })).rejects.toBeInstanceOf(ConfigError);
    await expect(make("EulerDiscreteScheduler", { betaSchedule: "exp" })).rejects.toBeInstanceOf(ConfigError);
    // null means "the default" (diffusers' None)
    await expect(make("EulerDiscreteScheduler", { sigmaMin: null, trainedBetas: null })).resolves.toBeDefined();
  });

  test("Karras / exponential / beta ramps with sigmaMin, sigmaMax", async () => {
    for (const ramp of ["useKarrasSigmas", "useExponentialSigmas", "useBetaSigmas"]) {
      const s = await make("EulerDiscreteScheduler", { [ramp]: true, sigmaMin: 0.05, sigmaMax: 20 });
      s.setTimesteps(8);
      const sig = s.sigmas as Float64Array;
      expect(sig[0]).toBeCloseTo(20, 12);
      expect(sig[7]).toBeCloseTo(0.05, 12);
      expect(sig[8]).toBe(0);
    }
  });

  test("finalSigmasType sigma_min ends at the smallest train σ (no step to 0)", async () => {
    const s = await make("EulerDiscreteScheduler", { finalSigmasType: "sigma_min" });
    s.setTimesteps(10);
    const sig = s.sigmas as Float64Array;
    expect(sig[10]).toBeCloseTo(Math.sqrt(0.0001 / 0.9999), 13);
  });

  test("timestepType continuous with v_prediction: timesteps are ¼ log σ (EDM's c_noise)", async () => {
    const s = await make("EulerDiscreteScheduler", { timestepType: "continuous", predictionType: "v_prediction" });
    s.setTimesteps(6);
    const sig = s.sigmas as Float64Array;
    s.timesteps.forEach((t, i) => expect(t).toBeCloseTo(0.25 * Math.log(sig[i]), 14));
  });

  test("diffusers quirks: trailing arange length, log_linear σ count; compat math keeps n", async () => {
    expect(spacedTimesteps(61, 1000, "trailing", 0, "diffusers")).toHaveLength(62);
    expect(spacedTimesteps(61, 1000, "trailing", 0, "diffusers").at(-1)).toBe(-1);
    expect(spacedTimesteps(61, 1000, "trailing", 0, "math")).toHaveLength(61);
    const d = await make("EulerDiscreteScheduler", { interpolationType: "log_linear", compat: "diffusers" });
    d.setTimesteps(10);
    expect(d.timesteps).toHaveLength(10);
    expect(d.sigmas).toHaveLength(12);
    const m = await make("EulerDiscreteScheduler", { interpolationType: "log_linear" });
    m.setTimesteps(10);
    expect(m.sigmas).toHaveLength(11);
    expect((m.sigmas as Float64Array)[10]).toBe(0);
  });

  test("linspace spacing keeps fractional timesteps (σ interpolated), as diffusers' σ schedulers", () => {
    expect(spacedTimesteps(7, 1000, "linspace")).toEqual([999, 832.5, 666, 499.5, 333, 166.5, 0]);
  });

  test("init_noise_sigma: math √(σ_max² + 1); diffusers σ_max for linspace/trailing", async () => {
    const m = await make("LMSDiscreteScheduler");
    const d = await make("LMSDiscreteScheduler", { compat: "diffusers" });
    m.setTimesteps(10);
    d.setTimesteps(10);
    const max = (m.sigmas as Float64Array)[0];
    expect(m.initNoiseSigma).toBeCloseTo(Math.sqrt(max * max + 1), 12);
    expect(d.initNoiseSigma).toBeCloseTo(max, 4);
  });

  test("zero-SNR: the terminal σ is finite (ᾱ_T = 2⁻²⁴)", async () => {
    for (const compat of ["math", "diffusers"]) {
      const s = await make("EulerDiscreteScheduler", { rescaleBetasZeroSnr: true, timestepSpacing: "trailing", compat });
      s.setTimesteps(10);
      expect((s.sigmas as Float64Array)[0]).toBeCloseTo(Math.sqrt((1 - 2 ** -24) / 2 ** -24), 3);
    }
  });

  test("Heun accepts diffusers' \"exp\" beta schedule (constant β = 1 − e^{−12/N})", async () => {
    const s = new HeunDiscreteScheduler({ betaSchedule: "exp", numTrainTimesteps: 100 }, ref);
    expect(s.alphasCumprod[99]).toBeCloseTo(Math.exp(-12), 12);
    expect(expBetas(4)[0]).toBeCloseTo(1 - Math.exp(-3), 15);
  });

  test("float32 ᾱ of compat diffusers equals the stored float32 schedule bit for bit", async () => {
    const { readFileSync } = await import("node:fs");
    for (const name of ["linear-N1000", "scaled_linear-N1000"]) {
      const f = JSON.parse(readFileSync(join("fixtures/diffusers/schedules", `${name}.json`), "utf8"));
      const ac = float32AlphasCumprod({ numTrainTimesteps: 1000, betaStart: f.config.beta_start, betaEnd: f.config.beta_end, betaSchedule: f.config.beta_schedule });
      expect(Array.from(ac)).toEqual(f.alphas_cumprod);
    }
  });

  test("step counter: index_for_timestep takes the second occurrence; order is enforced", () => {
    expect(indexForTimestep([9, 5, 5, 1], 5, "X")).toBe(2);
    expect(() => indexForTimestep([], 5, "X")).toThrow(StateError);
    const c = new StepCounter("X");
    expect(c.current([9, 5, 1], 9)).toBe(0);
    c.advance(0);
    expect(() => c.current([9, 5, 1], 1)).toThrow(ConfigError);
  });
});

describe("step options", () => {
  test("Euler churn: needs noise when γ > 0; bad values are ConfigErrors; S_churn = 0 draws nothing", async () => {
    const s = new EulerDiscreteScheduler({}, ref);
    s.setTimesteps(4);
    const t = s.timesteps[0];
    await expect(s.step(x(), t, x(), { sChurn: 1 })).rejects.toThrow(/options\.noise/);
    await expect(s.step(x(), t, x(), { sChurn: -1 })).rejects.toThrow(/sChurn/);
    await expect(s.step(x(), t, x(), { sChurn: 1, sNoise: Infinity, noise: noise() })).rejects.toThrow(/sNoise/);
    await expect(s.step(x(), t, x(), { sChurn: 1, sTmin: 1e9, })).resolves.toBeDefined(); // outside [S_tmin, S_tmax]: γ = 0, no noise needed
  });

  test("Euler ancestral: diffusers compat rejects predictionType sample (diffusers raises); math supports it", async () => {
    await expect(make("EulerAncestralDiscreteScheduler", { predictionType: "sample", compat: "diffusers" })).rejects.toThrow(/predictionType/);
    await expect(make("EulerAncestralDiscreteScheduler", { predictionType: "sample" })).resolves.toBeDefined();
  });

  test("LMS: order must be an integer in 1 … 4", async () => {
    const s = await make("LMSDiscreteScheduler");
    s.setTimesteps(4);
    for (const order of [0, 5, 1.5]) await expect(s.step(x(), s.timesteps[0], x(), { order } as never)).rejects.toThrow(/order/);
    await expect(s.step(x(), s.timesteps[0], x(), { order: 2 } as never)).resolves.toBeDefined();
  });

  test("Heun: clipSample needs the clamp primitive and clamps x̂₀", async () => {
    const s: Scheduler<Tensor> = await make("HeunDiscreteScheduler", { clipSample: true, clipSampleRange: 0.5, predictionType: "sample" });
    s.setTimesteps(3);
    const out = await s.step(ref.fromHost([3, -3, 0.1, 0], [1, 1, 2, 2]), s.timesteps[0], x());
    expect(Array.from((out.predOriginalSample as Tensor).data)).toEqual([0.5, -0.5, 0.1, 0]);
    await expect(make("HeunDiscreteScheduler", { clipSampleRange: 0 })).rejects.toThrow(/clipSampleRange/);
  });
});

describe("golden vectors (fixtures/diffusers, compat diffusers)", () => {
  const dirs = ["euler", "euler_ancestral", "heun", "lms"].flatMap((c) => ["loops", "timesteps", "diffusers_test"].map((k) => join("fixtures/diffusers", k, c))).filter((p) => existsSync(p));
  test("every fixture of Euler / Euler ancestral / Heun / LMS passes (skipped only for torch-generator noise)", async () => {
    const results = await verifyFixtures(dirs);
    expect(results.length).toBeGreaterThanOrEqual(20);
    const bad = results.filter((r) => !(r.status === "passed" || (r.status === "skipped" && /torch/.test(r.message ?? ""))));
    expect(bad.map((r) => `${r.id}: ${r.status} ${r.message ?? ""}`)).toEqual([]);
  });
});
