/**
 * Flow matching, LCM / TCD, EDM, iPNDM, SA-Solver (spec/07-samplers-flow-lcm-edm.md): typed errors for bad
 * input, the catalogue, and the order entries of `diffspec order`.
 */
import { describe, expect, test } from "vitest";
import { referenceBackend as ref } from "../adapters/reference/index.ts";
import { ConfigError, StateError } from "../reference/errors.ts";
import { createScheduler, SCHEDULER_CLASSES } from "../reference/samplers/index.ts";
import { measureOrder, orderHolds, ORDER_SAMPLER_NAMES } from "../reference/samplers/order.ts";
import { calculateShift, FLOW_MATCH_EULER_DEFAULTS } from "../reference/samplers/flow-match.ts";

const NEW = ["FlowMatchEulerDiscreteScheduler", "FlowMatchHeunDiscreteScheduler", "LCMScheduler", "TCDScheduler", "EDMEulerScheduler", "EDMDPMSolverMultistepScheduler", "IPNDMScheduler", "SASolverScheduler"];
const x = ref.fromHost([0.1, -0.2, 0.3, 0.4], [1, 4]);

describe("catalogue and typed errors", () => {
  test("every class is registered and rejects an unknown option by name", async () => {
    for (const cls of NEW) {
      expect(SCHEDULER_CLASSES).toContain(cls);
      await expect(createScheduler(cls, { numInferenceStep: 3 }, ref)).rejects.toThrow(new RegExp(`${cls}.numInferenceStep`));
    }
  });

  test("step before setTimesteps is a StateError; a timestep outside the schedule a ConfigError", async () => {
    for (const cls of NEW) {
      const s = await createScheduler(cls, {}, ref);
      await expect(s.step(x, 1, x), cls).rejects.toThrow(StateError);
      s.setTimesteps(4, cls === "FlowMatchEulerDiscreteScheduler" ? {} : undefined);
      await expect(s.step(x, 123.456, x), cls).rejects.toThrow(ConfigError);
    }
  });

  test("bad values name the option and what is allowed", async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["FlowMatchEulerDiscreteScheduler", { shift: 0 }, /shift.*> 0/],
      ["FlowMatchEulerDiscreteScheduler", { timeShiftType: "cubic" }, /timeShiftType/],
      ["FlowMatchEulerDiscreteScheduler", { useKarrasSigmas: true, useBetaSigmas: true }, /only one of/],
      ["LCMScheduler", { timestepScaling: -1 }, /timestepScaling/],
      ["EDMEulerScheduler", { predictionType: "sample" }, /predictionType/],
      ["EDMEulerScheduler", { sigmaMax: 0.001 }, /sigmaMax/],
      ["EDMDPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++", solverOrder: 3 }, /solverOrder/],
      ["SASolverScheduler", { predictorOrder: 5 }, /predictorOrder/],
      ["SASolverScheduler", { algorithmType: "dpmsolver++" }, /algorithmType/],
    ];
    for (const [cls, config, msg] of cases) await expect(createScheduler(cls, config, ref), `${cls} ${JSON.stringify(config)}`).rejects.toThrow(msg);
  });

  test("stochastic steps without a noise provider, n beyond the distillation grid, TCD γ outside [0, 1]", async () => {
    const lcm = await createScheduler("LCMScheduler", {}, ref);
    expect(() => lcm.setTimesteps(51)).toThrow(/originalInferenceSteps/);
    lcm.setTimesteps(4);
    await expect(lcm.step(x, lcm.timesteps[0], x)).rejects.toThrow(/options\.noise/);
    const tcd = await createScheduler("TCDScheduler", {}, ref);
    tcd.setTimesteps(4);
    await expect(tcd.step(x, tcd.timesteps[0], x, { eta: 1.5 })).rejects.toThrow(/eta/);
    for (const cls of ["FlowMatchEulerDiscreteScheduler", "FlowMatchHeunDiscreteScheduler"]) {
      const s = await createScheduler(cls, {}, ref);
      expect(() => s.setTimesteps(4, { mu: 0.5 }), cls).toThrow(/mu.*useDynamicShifting/);
    }
    const churned = await createScheduler("EDMEulerScheduler", {}, ref);
    churned.setTimesteps(4);
    await expect(churned.step(x, churned.timesteps[0], x, { sChurn: -1 })).rejects.toThrow(/EDMEulerScheduler.step sChurn/);
    const flow = await createScheduler("FlowMatchEulerDiscreteScheduler", { stochasticSampling: true }, ref);
    flow.setTimesteps(4);
    await expect(flow.step(x, flow.timesteps[0], x)).rejects.toThrow(/options\.noise/);
  });

  test("Flux's calculate_shift is the line through (256, 0.5) and (4096, 1.15)", () => {
    expect(calculateShift(256, FLOW_MATCH_EULER_DEFAULTS)).toBeCloseTo(0.5, 12);
    expect(calculateShift(4096, FLOW_MATCH_EULER_DEFAULTS)).toBeCloseTo(1.15, 12);
  });
});

describe("diffspec order entries", () => {
  test("flow-euler, flow-heun, edm-euler, edm-dpmpp-2m are listed and hold on a short run", async () => {
    for (const name of ["flow-euler", "flow-heun", "edm-euler", "edm-dpmpp-2m"]) {
      expect(ORDER_SAMPLER_NAMES).toContain(name);
    }
    const m = await measureOrder("flow-heun", { steps: [16, 32, 64] });
    expect(orderHolds(m)).toBe(true);
  });
});
