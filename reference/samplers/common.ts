/**
 * Pieces every diffusers-style scheduler shares: its config (schedule + prediction + spacing +
 * x₀ post-processing), the x₀/ε predictions on a backend, and the checks that give typed errors.
 */
import type { Backend, BTensor, PredictionType } from "../contract.ts";
import { PREDICTION_TYPES } from "../contract.ts";
import { ConfigError, MissingPrimitiveError, NonFiniteError, StateError, require, requireOneOf } from "../errors.ts";
import { DEFAULT_SCHEDULE, type ScheduleConfig } from "../schedule.ts";
import { TIMESTEP_SPACINGS, type TimestepSpacing } from "../timesteps.ts";
import { x0Coeffs, epsCoeffs } from "../param.ts";

/**
 * "math" (default) follows the spec; "diffusers" reproduces diffusers v0.40.0 where it deviates
 * (each deviation is listed in spec/07-samplers.md with the clause it breaks).
 */
export type Compat = "math" | "diffusers";

export interface BaseSchedulerConfig extends ScheduleConfig {
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  clipSample: boolean;
  clipSampleRange: number;
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  compat: Compat;
}

export const BASE_DEFAULTS: BaseSchedulerConfig = {
  ...DEFAULT_SCHEDULE,
  predictionType: "epsilon",
  timestepSpacing: "leading",
  stepsOffset: 0,
  clipSample: false,
  clipSampleRange: 1,
  thresholding: false,
  dynamicThresholdingRatio: 0.995,
  sampleMaxValue: 1,
  compat: "math",
};

/**
 * Merges `given` over `defaults`. A key not in `defaults` is a ConfigError listing the allowed keys
 * (a typo must not be silently ignored). `null` (diffusers' None) means "use the default".
 */
export function resolveConfig<C extends object>(className: string, defaults: C, given: Record<string, unknown>): C {
  const allowed = Object.keys(defaults);
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given)) {
    if (!allowed.includes(k)) throw new ConfigError(`${className}.${k}`, v, `a known option: ${allowed.join(", ")}`);
    if (v !== null && v !== undefined) out[k] = v;
  }
  const c = out as Partial<BaseSchedulerConfig>;
  if ("predictionType" in out) requireOneOf(`${className}.predictionType`, c.predictionType, PREDICTION_TYPES);
  if ("timestepSpacing" in out) requireOneOf(`${className}.timestepSpacing`, c.timestepSpacing, TIMESTEP_SPACINGS);
  if ("compat" in out) requireOneOf(`${className}.compat`, c.compat, ["math", "diffusers"] as const);
  if ("clipSampleRange" in out) require(typeof c.clipSampleRange === "number" && c.clipSampleRange > 0, `${className}.clipSampleRange`, c.clipSampleRange, "a number > 0");
  return out as C;
}

/** PARAM-TO-X0 on a backend: x̂₀ from the model output at (αₜ, σₜ). */
export async function predictX0<T extends BTensor>(backend: Backend<T>, p: PredictionType, output: T, sample: T, alpha: number, sigma: number): Promise<T> {
  const [cs, co] = x0Coeffs(p, alpha, sigma);
  return backend.combine([sample, output], [cs, co]);
}

/** PARAM-TO-EPS on a backend. */
export async function predictEps<T extends BTensor>(backend: Backend<T>, p: PredictionType, output: T, sample: T, alpha: number, sigma: number): Promise<T> {
  const [cs, co] = epsCoeffs(p, alpha, sigma);
  return backend.combine([sample, output], [cs, co]);
}

/**
 * SAMP-X0-CLIP / PARAM-THRESHOLD: the optional non-linear post-processing of x̂₀. With sampleMaxValue < 1,
 * s = clamp(quantile, 1, maxValue) is maxValue for every image (torch.clamp with min > max returns max, as
 * diffusers computes it), so thresholding is a clip to ±maxValue and a division by maxValue: no quantile pass.
 */
export async function postprocessX0<T extends BTensor>(backend: Backend<T>, x0: T, c: Pick<BaseSchedulerConfig, "thresholding" | "clipSample" | "clipSampleRange" | "dynamicThresholdingRatio" | "sampleMaxValue">): Promise<T> {
  if (c.thresholding && c.sampleMaxValue < 1) {
    if (!backend.clamp) throw new MissingPrimitiveError("clamp", backend.name);
    return backend.combine([await backend.clamp(x0, -c.sampleMaxValue, c.sampleMaxValue)], [1 / c.sampleMaxValue]);
  }
  if (c.thresholding) {
    if (!backend.threshold) throw new MissingPrimitiveError("threshold", backend.name);
    return backend.threshold(x0, c.dynamicThresholdingRatio, c.sampleMaxValue);
  }
  if (c.clipSample) {
    if (!backend.clamp) throw new MissingPrimitiveError("clamp", backend.name);
    return backend.clamp(x0, -c.clipSampleRange, c.clipSampleRange);
  }
  return x0;
}

/** SAMP-ORDER-OF-CALLS: the index of `timestep` in the schedule, or a typed error. */
export function stepIndexOf(timesteps: readonly number[], timestep: number, className: string): number {
  if (timesteps.length === 0) throw new StateError(`${className}.step: call setTimesteps(n) before step()`);
  const i = timesteps.indexOf(timestep);
  if (i < 0) throw new ConfigError(`${className}.step timestep`, timestep, `a timestep of the current schedule (${timesteps.slice(0, 6).join(", ")}${timesteps.length > 6 ? ", …" : ""})`);
  return i;
}

/** SAMP-FINITE: a model output must be finite; the error names the step. */
export async function assertFiniteOutput<T extends BTensor>(backend: Backend<T>, output: T, step: number, timestep: number): Promise<void> {
  const data = await backend.toHost(output);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new NonFiniteError(`model output at step ${step} (timestep ${timestep})`, i, data[i]);
  }
}
