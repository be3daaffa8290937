/**
 * The sampler catalogue: diffusers class names and k-diffusion function names → implementations.
 * Loaded lazily, so a command that needs one sampler does not load them all.
 */
import type { Scheduler } from "./scheduler.ts";
import type { Backend, BTensor } from "../contract.ts";
import { ConfigError } from "../errors.ts";

/** diffusers class name → [module file in reference/samplers/, exported factory name]. */
export const SCHEDULER_MODULES: Record<string, readonly [string, string]> = {
  DDPMScheduler: ["ddpm.ts", "createDDPMScheduler"],
  DDIMScheduler: ["ddim.ts", "createDDIMScheduler"],
  PNDMScheduler: ["pndm.ts", "createPNDMScheduler"],
  EulerDiscreteScheduler: ["euler.ts", "createEulerDiscreteScheduler"],
  EulerAncestralDiscreteScheduler: ["euler.ts", "createEulerAncestralDiscreteScheduler"],
  HeunDiscreteScheduler: ["heun.ts", "createHeunDiscreteScheduler"],
  LMSDiscreteScheduler: ["lms.ts", "createLMSDiscreteScheduler"],
  DPMSolverMultistepScheduler: ["dpmsolver-multistep.ts", "createDPMSolverMultistepScheduler"],
  DPMSolverSinglestepScheduler: ["dpmsolver-singlestep.ts", "createDPMSolverSinglestepScheduler"],
  UniPCMultistepScheduler: ["unipc.ts", "createUniPCMultistepScheduler"],
  DEISMultistepScheduler: ["deis.ts", "createDEISMultistepScheduler"],
  DPMSolverSDEScheduler: ["dpmsolver-sde.ts", "createDPMSolverSDEScheduler"],
  FlowMatchEulerDiscreteScheduler: ["flow-match.ts", "createFlowMatchEulerDiscreteScheduler"],
  FlowMatchHeunDiscreteScheduler: ["flow-match.ts", "createFlowMatchHeunDiscreteScheduler"],
  LCMScheduler: ["consistency.ts", "createLCMScheduler"],
  TCDScheduler: ["consistency.ts", "createTCDScheduler"],
  EDMEulerScheduler: ["edm.ts", "createEDMEulerScheduler"],
  EDMDPMSolverMultistepScheduler: ["edm.ts", "createEDMDPMSolverMultistepScheduler"],
  IPNDMScheduler: ["ipndm.ts", "createIPNDMScheduler"],
  SASolverScheduler: ["sasolver.ts", "createSASolverScheduler"],
  KDPM2DiscreteScheduler: ["kdpm2.ts", "createKDPM2DiscreteScheduler"],
  KDPM2AncestralDiscreteScheduler: ["kdpm2.ts", "createKDPM2AncestralDiscreteScheduler"],
};

export const SCHEDULER_CLASSES = Object.keys(SCHEDULER_MODULES);

/** Construct a diffusers-style scheduler by class name, with a camelCase config. */
export async function createScheduler<T extends BTensor>(className: string, config: Record<string, unknown>, backend: Backend<T>): Promise<Scheduler<T>> {
  const entry = SCHEDULER_MODULES[className];
  if (!entry) throw new ConfigError("scheduler", className, `one of ${SCHEDULER_CLASSES.join(", ")}`);
  const mod = (await import(`./${entry[0]}`)) as Record<string, unknown>;
  const factory = mod[entry[1]] as (c: Record<string, unknown>, b: Backend<T>) => Scheduler<T>;
  return factory(config, backend);
}

/** k-diffusion function names implemented in reference/samplers/kdiffusion.ts. */
export const KDIFFUSION_SAMPLERS = ["sample_euler", "sample_euler_ancestral", "sample_heun", "sample_dpm_2", "sample_lms", "sample_dpmpp_2m", "sample_dpmpp_2m_sde", "sample_dpm_2_ancestral", "sample_dpmpp_2s_ancestral", "sample_dpmpp_3m_sde"] as const;
export type KDiffusionSamplerName = (typeof KDIFFUSION_SAMPLERS)[number];

