/**
 * diffspec's own Float64 schedulers seen as a scheduler port (in-process): the suite's self-check. Every
 * port clause must hold for it (PORT-FINITE's registry property runs its finiteness clause on every class),
 * so a failure on a user's port is about that port, not the suite.
 */
import { referenceBackend } from "../../adapters/reference/index.ts";
import { createScheduler } from "../../reference/samplers/index.ts";
import { PORT_PROTOCOL_VERSION, type ClassCapabilities, type PortCapabilities } from "../../reference/samplers/port.ts";
import { makeSchedule } from "../../reference/schedule.ts";
import type { Tensor } from "../../reference/tensor.ts";
import type { PortDriver, PortInstance } from "./driver.ts";

const SCHEDULE: ClassCapabilities["config"] = {
  numTrainTimesteps: { min: 50, max: 1024, integer: true },
  betaStart: { min: 0.00005, max: 0.001 },
  betaEnd: { min: 0.01, max: 0.03 },
  betaSchedule: ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"],
  trainedBetas: "betas",
  predictionType: ["epsilon", "v_prediction", "sample"],
  timestepSpacing: ["linspace", "leading", "trailing"],
  stepsOffset: [0, 1],
};

export const REFERENCE_PORT_CAPABILITIES: PortCapabilities = {
  name: "reference",
  dtype: "float64",
  compat: "math",
  classes: {
    DDIMScheduler: { config: { ...SCHEDULE, setAlphaToOne: [true, false], clipSample: [true, false] }, eta: { min: 0, max: 1 } },
    PNDMScheduler: { config: { ...SCHEDULE, setAlphaToOne: [true, false], skipPrkSteps: [true, false] } },
    EulerDiscreteScheduler: { config: SCHEDULE },
    EulerAncestralDiscreteScheduler: { config: SCHEDULE },
    DPMSolverMultistepScheduler: { config: { ...SCHEDULE, solverOrder: [1, 2], lowerOrderFinal: [true, false], finalSigmasType: ["zero", "sigma_min"] } },
  },
};

const t = (data: Float64Array, shape: readonly number[]): Tensor => ({ shape: [...shape], data });

/** The reference schedulers as a port driver (compat "math", Float64). */
export function referencePort(): PortDriver {
  return {
    info: { name: "reference", source: "reference schedulers (in-process)", protocolVersion: PORT_PROTOCOL_VERSION, capabilities: REFERENCE_PORT_CAPABILITIES },
    async create(className, config): Promise<PortInstance> {
      const s = await createScheduler(className, { ...config, compat: "math" }, referenceBackend);
      const keys = ["numTrainTimesteps", "betaStart", "betaEnd", "betaSchedule", "trainedBetas"];
      const alphasCumprod = makeSchedule(Object.fromEntries(keys.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]))).alphasCumprod;
      const unsupported = (op: string) => Promise.reject(new Error(`the reference port does not offer ${op}`));
      return {
        alphasCumprod,
        initNoiseSigma: s.initNoiseSigma,
        order: s.order,
        async setTimesteps(n) {
          s.setTimesteps(n);
          return { timesteps: [...s.timesteps], sigmas: s.sigmas && Float64Array.from(s.sigmas), initNoiseSigma: s.initNoiseSigma, order: s.order };
        },
        async scaleModelInput(x, shape, timestep) {
          return (await s.scaleModelInput(t(x, shape), timestep)).data;
        },
        async step(out, timestep, x, shape, o = {}) {
          const noise = o.noise ? { next: async () => t(o.noise!, shape) } : undefined;
          const r = await s.step(t(out, shape), timestep, t(x, shape), { eta: o.eta, noise });
          return { prevSample: r.prevSample.data, predOriginalSample: r.predOriginalSample?.data };
        },
        addNoise: () => unsupported("addNoise"),
        getVelocity: () => unsupported("getVelocity"),
      };
    },
    async recover() {},
    async close() {},
  };
}
