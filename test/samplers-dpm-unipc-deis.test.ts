/**
 * DPMSolverMultistep / DPMSolverSinglestep / UniPC / DEIS (spec/07-samplers-dpm-unipc-deis.md):
 * typed errors for bad input, model evaluations per run, the registry, the diffusers golden vectors.
 */
import { describe, expect, test } from "vitest";
import { referenceBackend as b } from "../adapters/reference/index.ts";
import { ConfigError, StateError } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";
import type { Tensor } from "../reference/tensor.ts";
import { createScheduler } from "../reference/samplers/index.ts";
import { hostNoise, runPipeline } from "../reference/samplers/scheduler.ts";
import { orderList } from "../reference/samplers/dpmsolver-singlestep.ts";
import { unipcWeights } from "../reference/samplers/unipc.ts";
import { deisCoefficients } from "../reference/samplers/deis.ts";
import { spacedTimesteps } from "../reference/samplers/multistep.ts";
import { verifyFixtures } from "../conformance/fixtures/verify.ts";

const CLASSES = ["DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler"] as const;
const SHAPE = [1, 1, 2, 2];
const x = (): Tensor => b.fromHost([0.1, -0.2, 0.3, 0.4], SHAPE);

describe("bad input gives typed errors", () => {
  test.each(CLASSES)("%s: unknown keys, bad values, order of calls", async (cls) => {
    await expect(createScheduler(cls, { solverOrdr: 2 }, b)).rejects.toBeInstanceOf(ConfigError);
    await expect(createScheduler(cls, { solverOrder: 4 }, b)).rejects.toBeInstanceOf(ConfigError);
    await expect(createScheduler(cls, { solverOrder: 0 }, b)).rejects.toBeInstanceOf(ConfigError);
    await expect(createScheduler(cls, { predictionType: "flow_prediction" }, b)).rejects.toBeInstanceOf(ConfigError);
    await expect(createScheduler(cls, { useFlowSigmas: true }, b)).rejects.toBeInstanceOf(ConfigError);
    await expect(createScheduler(cls, { useDynamicShifting: true }, b)).rejects.toBeInstanceOf(ConfigError);
    await expect(createScheduler(cls, { useKarrasSigmas: true, useExponentialSigmas: true }, b)).rejects.toBeInstanceOf(ConfigError);
    await expect(createScheduler(cls, { compat: "torch" }, b)).rejects.toBeInstanceOf(ConfigError);
    const s = await createScheduler(cls, {}, b);
    await expect(s.step(x(), 999, x())).rejects.toBeInstanceOf(StateError);
    for (const n of [0, -1, 2.5, 1001, NaN]) expect(() => s.setTimesteps(n), `n = ${n}`).toThrow(ConfigError);
    s.setTimesteps(4);
    await expect(s.step(x(), 7, x())).rejects.toBeInstanceOf(ConfigError);
    await s.step(x(), s.timesteps[0], x());
    await expect(s.step(x(), s.timesteps[0], x())).rejects.toBeInstanceOf(StateError);
  });

  test("class-specific options", async () => {
    const bad: [string, Record<string, unknown>][] = [
      ["DPMSolverMultistepScheduler", { algorithmType: "dpmsolver" }], // final σ = 0 needs a "++" algorithm
      ["DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver", finalSigmasType: "sigma_min", solverOrder: 3 }],
      ["DPMSolverMultistepScheduler", { algorithmType: "ddim" }],
      ["DPMSolverMultistepScheduler", { solverType: "rk4" }],
      ["DPMSolverMultistepScheduler", { finalSigmasType: "one" }],
      ["DPMSolverMultistepScheduler", { varianceType: "fixed_small" }],
      ["DPMSolverMultistepScheduler", { lambdaMinClipped: NaN }],
      ["DPMSolverSinglestepScheduler", { algorithmType: "sde-dpmsolver", finalSigmasType: "sigma_min" }],
      ["DPMSolverSinglestepScheduler", { timestepSpacing: "linspace" }], // not a key of this class
      ["UniPCMultistepScheduler", { solverType: "bh3" }],
      ["UniPCMultistepScheduler", { solverP: {} }],
      ["UniPCMultistepScheduler", { shiftTerminal: 0.1 }],
      ["UniPCMultistepScheduler", { disableCorrector: [-1] }],
      ["UniPCMultistepScheduler", { sigmaMin: -1 }],
      ["DEISMultistepScheduler", { algorithmType: "unipc" }],
      ["DEISMultistepScheduler", { rescaleBetasZeroSnr: true }], // not a key of this class
      ["DEISMultistepScheduler", { thresholding: true, sampleMaxValue: 0 }],
    ];
    for (const [cls, config] of bad) await expect(createScheduler(cls, config, b), `${cls} ${JSON.stringify(config)}`).rejects.toBeInstanceOf(ConfigError);
    // diffusers' aliases are accepted
    for (const [cls, config] of [["DPMSolverMultistepScheduler", { algorithmType: "deis", solverType: "bh2" }], ["UniPCMultistepScheduler", { solverType: "midpoint" }], ["DEISMultistepScheduler", { algorithmType: "dpmsolver++", solverType: "heun" }]] as const) {
      await expect(createScheduler(cls, config, b)).resolves.toBeDefined();
    }
  });

  test("an SDE step without noise is a ConfigError; n too large for the spacing is a ConfigError", async () => {
    const s = await createScheduler("DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++" }, b);
    s.setTimesteps(3);
    await expect(s.step(x(), s.timesteps[0], x())).rejects.toBeInstanceOf(ConfigError);
    const s1 = await createScheduler("DPMSolverSinglestepScheduler", { algorithmType: "sde-dpmsolver++" }, b);
    s1.setTimesteps(3);
    await expect(s1.step(x(), s1.timesteps[0], x())).rejects.toBeInstanceOf(ConfigError);
    const d = await createScheduler("DPMSolverMultistepScheduler", { numTrainTimesteps: 10, timestepSpacing: "leading" }, b);
    expect(() => d.setTimesteps(10)).toThrow(ConfigError);
  });

  test("a missing threshold primitive is reported as missing, not as a wrong result", async () => {
    const noThreshold = { name: "no-threshold", dtype: "float64" as const, fromHost: b.fromHost.bind(b), toHost: b.toHost.bind(b), combine: b.combine.bind(b), clamp: b.clamp.bind(b) };
    const s = await createScheduler("DPMSolverMultistepScheduler", { thresholding: true }, noThreshold);
    s.setTimesteps(3);
    await expect(s.step(x(), s.timesteps[0], x())).rejects.toMatchObject({ code: "E_MISSING" });
  });
});

describe("model evaluations", () => {
  test.each(CLASSES)("%s evaluates the model once per timestep (n = 1 … 12) through runPipeline", async (cls) => {
    for (const n of [1, 2, 3, 7, 12]) {
      for (const solverOrder of [1, 2, 3]) {
        const s = await createScheduler(cls, { solverOrder, betaSchedule: "scaled_linear", betaStart: 0.00085, betaEnd: 0.012 }, b);
        s.setTimesteps(n);
        let calls = 0;
        const model = { predictionType: "epsilon" as const, evaluate: (xt: Tensor) => { calls++; return b.combine([xt], [0.5]); } };
        const out = await runPipeline(s, model, b.fromHost(new GaussianStream(n).normals(4), SHAPE), { noise: hostNoise(b, new GaussianStream(1)) });
        expect(calls).toBe(n);
        expect(s.timesteps.length).toBe(n);
        expect(out.data.every(Number.isFinite)).toBe(true);
      }
    }
  });
});

describe("helpers", () => {
  test("singlestep order lists (diffusers get_order_list)", () => {
    expect(orderList(10, 3, true, true)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1]);
    expect(orderList(9, 3, true, true)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 1]);
    expect(orderList(11, 3, true, false)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2]);
    expect(orderList(10, 2, true, true)).toEqual([1, 2, 1, 2, 1, 2, 1, 2, 1, 1]);
    expect(orderList(6, 2, false, false)).toEqual([1, 2, 1, 2, 1, 2]);
  });

  test("UniPC order-2 weights reproduce b₁ = (hφ₂/h … ) and DEIS weights integrate constants exactly", () => {
    const w = unipcWeights(0.7, [-0.5, 1], 2, true, "bh2");
    expect(w.R).toEqual([[1, 1], [-0.5, 1]]);
    const h = -0.7;
    expect(w.b[0]).toBeCloseTo((Math.expm1(h) / h - 1) / Math.expm1(h), 14);
    for (const order of [1, 2, 3]) {
      const c = deisCoefficients(order, 0.3, [1.2, 2.5, 4]);
      expect(c.reduce((a, v) => a + v, 0)).toBeCloseTo(0.3 - 1.2, 12);
    }
  });

  test("trailing spacing: numpy's arange gives n + 1 steps for some n (compat diffusers), exactly n in math", () => {
    expect(spacedTimesteps(61, 1000, "trailing", 0, 1000, "diffusers")).toHaveLength(62);
    expect(spacedTimesteps(61, 1000, "trailing", 0, 1000, "diffusers").at(-1)).toBe(-1);
    expect(spacedTimesteps(61, 1000, "trailing", 0, 1000, "math")).toHaveLength(61);
    expect(spacedTimesteps(7, 1000, "leading", 1, 1000, "math")).toEqual([876, 751, 626, 501, 376, 251, 126]);
    expect(spacedTimesteps(13, 1000, "trailing", 0, 1000, "math").slice(0, 3)).toEqual([999, 922, 845]);
  });

  test("DPMSolverSinglestep records that setTimesteps forced lowerOrderFinal (σ_last = 0), as diffusers", async () => {
    const s = (await createScheduler("DPMSolverSinglestepScheduler", {}, b)) as unknown as { setTimesteps(n: number): void; config: { lowerOrderFinal: boolean }; configChangedBySetTimesteps: Record<string, unknown> };
    expect(s.config.lowerOrderFinal).toBe(false);
    s.setTimesteps(10);
    expect(s.config.lowerOrderFinal).toBe(true);
    expect(s.configChangedBySetTimesteps).toEqual({ lowerOrderFinal: { before: false, after: true } });
  });
});

describe("diffusers golden vectors", () => {
  const folders = ["dpmsolver_multistep", "dpmsolver_singlestep", "unipc", "deis"].flatMap((c) => ["loops", "timesteps", "diffusers_test"].map((k) => `fixtures/diffusers/${k}/${c}`));
  test("every fixture of the four classes passes (skipped only for torch-generator tests)", async () => {
    const { existsSync } = await import("node:fs");
    const results = await verifyFixtures(folders.filter((f) => existsSync(f)));
    expect(results.length).toBeGreaterThan(20);
    for (const r of results) {
      if (r.status === "skipped") expect(r.message, r.id).toMatch(/torch/);
      else expect(r.status, `${r.id}: ${r.message}`).toBe("passed");
    }
  });
});
