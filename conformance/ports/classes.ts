/**
 * What the suite knows about each diffusers class a port may implement: the clause its step is checked
 * under, the clause of its timesteps (and σ's), its view of the noise (VP sample or VE x̃), whether a step
 * draws noise, and the configuration of its SAMP-ORDER measurement (reference/samplers/order.ts).
 */
import { ORDER_SCHEDULE } from "../../reference/samplers/order.ts";
import { DDIM_DEFAULTS } from "../../reference/samplers/ddim.ts";
import { PNDM_DEFAULTS } from "../../reference/samplers/pndm.ts";
import { EULER_ANCESTRAL_DEFAULTS, EULER_DISCRETE_DEFAULTS } from "../../reference/samplers/euler.ts";
import { DPM_MULTISTEP_DEFAULTS } from "../../reference/samplers/dpmsolver-multistep.ts";

export interface PortClassSpec {
  /** The sampler's own clause: step parity and trajectory parity are its properties. */
  readonly stepClause: string;
  /** The clause of `timesteps` (and `sigmas`) after setTimesteps(n). */
  readonly scheduleClause: string;
  /** "vp": addNoise is √ᾱ x₀ + √(1 − ᾱ) ε; "ve": x₀ + σ ε (σ-based classes; the sample is x̃). */
  readonly view: "vp" | "ve";
  /** Every step draws fresh noise (ancestral samplers); DDIM draws only with η > 0. */
  readonly stochastic: boolean;
  /** TS-PREV can be read off one step (DDIM: the step lands on ᾱ of the previous timestep). */
  readonly previousTimestepProbe: boolean;
  /** The SAMP-ORDER configuration (merged over ORDER_SCHEDULE with trailing ε-prediction) and its order. */
  readonly order?: { readonly config: Readonly<Record<string, unknown>>; readonly expected: number; readonly sigmaFinal: "sigma_min" | "zero" };
  /** diffusers' defaults (the reference's): an undeclared key is still "declared" at its default value. */
  readonly defaults: object;
}

export const PORT_CLASSES: Readonly<Record<string, PortClassSpec>> = {
  DDIMScheduler: { stepClause: "SAMP-DDIM", scheduleClause: "TS-SPACING", view: "vp", stochastic: false, previousTimestepProbe: true, order: { config: { setAlphaToOne: false, clipSample: false }, expected: 1, sigmaFinal: "sigma_min" }, defaults: DDIM_DEFAULTS },
  PNDMScheduler: { stepClause: "SAMP-PNDM", scheduleClause: "SAMP-PNDM-WARMUP", view: "vp", stochastic: false, previousTimestepProbe: false, defaults: PNDM_DEFAULTS },
  EulerDiscreteScheduler: { stepClause: "SAMP-EULER", scheduleClause: "SAMP-SIGMAS", view: "ve", stochastic: false, previousTimestepProbe: false, order: { config: {}, expected: 1, sigmaFinal: "zero" }, defaults: EULER_DISCRETE_DEFAULTS },
  EulerAncestralDiscreteScheduler: { stepClause: "SAMP-EULER-ANCESTRAL", scheduleClause: "SAMP-SIGMAS", view: "ve", stochastic: true, previousTimestepProbe: false, defaults: EULER_ANCESTRAL_DEFAULTS },
  DPMSolverMultistepScheduler: {
    stepClause: "SAMP-DPMPP-2M", scheduleClause: "SAMP-EXPINT-SCHEDULE", view: "vp", stochastic: false, previousTimestepProbe: false,
    order: { config: { algorithmType: "dpmsolver++", solverOrder: 2, solverType: "midpoint", lowerOrderFinal: false, finalSigmasType: "sigma_min" }, expected: 2, sigmaFinal: "sigma_min" },
    defaults: DPM_MULTISTEP_DEFAULTS,
  },
};

/** The full SAMP-ORDER configuration of a class (ORDER_SCHEDULE, trailing timesteps, ε-prediction). */
export const orderConfig = (spec: PortClassSpec): Record<string, unknown> => ({ ...ORDER_SCHEDULE, timestepSpacing: "trailing", predictionType: "epsilon", ...spec.order?.config });
