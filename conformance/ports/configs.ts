/**
 * Random configurations and step counts inside a port's declared space (fast-check arbitraries), and the
 * reference scheduler for the same configuration. Keys a port does not declare stay at diffusers' default
 * on both sides.
 */
import fc from "fast-check";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { ConfigError } from "../../reference/errors.ts";
import { createScheduler } from "../../reference/samplers/index.ts";
import type { Scheduler } from "../../reference/samplers/scheduler.ts";
import type { ClassCapabilities, ConfigSpace, PortCapabilities } from "../../reference/samplers/port.ts";
import type { Tensor } from "../../reference/tensor.ts";

/** The most steps a fast-check run of a stepping property uses (the timesteps properties use the declared range). */
export const STEP_CAP = 40;

/** Betas of a trained schedule: βₜ = β₀ + (β₁ − β₀)(t/(N − 1))^p, a smooth increasing schedule unlike the named ones. */
export function trainedBetas(N: number, p: number): number[] {
  const betas = Array.from({ length: N }, (_, t) => 0.0001 + (0.02 - 0.0001) * (N === 1 ? 0 : t / (N - 1)) ** p);
  // Counterexamples print the recipe, not N numbers (JSON.stringify ignores the symbol).
  return Object.assign(betas, { [fc.toStringMethod]: () => `trainedBetas(${N}, ${p})` });
}

function keyArb(space: ConfigSpace): fc.Arbitrary<unknown> {
  if (Array.isArray(space)) return fc.constantFrom(...space);
  if (space === "betas") return fc.constant(undefined);
  const r = space as { min: number; max: number; integer?: boolean };
  return r.integer ? fc.integer({ min: Math.ceil(r.min), max: Math.floor(r.max) }) : fc.double({ min: r.min, max: r.max, noNaN: true, noDefaultInfinity: true });
}

/** A config inside the declared space: every declared key drawn; trainedBetas (when declared) half of the time. */
export function configArb(caps: ClassCapabilities): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.entries(caps.config).filter(([, s]) => s !== "betas");
  const base = fc.record(Object.fromEntries(keys.map(([k, s]) => [k, keyArb(s)])) as Record<string, fc.Arbitrary<unknown>>);
  if (caps.config.trainedBetas !== "betas") return base;
  return fc.tuple(base, fc.option(fc.double({ min: 0.5, max: 2, noNaN: true }), { nil: undefined })).map(([c, p]) => {
    if (p === undefined) return c;
    return { ...c, trainedBetas: trainedBetas(typeof c.numTrainTimesteps === "number" ? c.numTrainTimesteps : 1000, p) };
  });
}

/** The step counts the suite draws: the declared range ∩ [1, N] (∩ [1, cap] for stepping properties). */
export function stepsRange(caps: ClassCapabilities, N: number, cap = Infinity): { min: number; max: number } {
  const min = Math.max(1, caps.numInferenceSteps?.min ?? 1);
  return { min, max: Math.max(min, Math.min(caps.numInferenceSteps?.max ?? N, N, cap)) };
}

export const trainSteps = (config: Record<string, unknown>): number => (typeof config.numTrainTimesteps === "number" ? config.numTrainTimesteps : 1000);

/** Whether `value` lies in the declared space of `key` (undeclared keys: only the default, `undefined`). */
export function declares(caps: ClassCapabilities, key: string, value: unknown): boolean {
  const space = caps.config[key];
  if (space === undefined) return false;
  if (space === "betas") return Array.isArray(value);
  if (Array.isArray(space)) return space.includes(value as never);
  const r = space as { min: number; max: number; integer?: boolean };
  return typeof value === "number" && value >= r.min && value <= r.max && (!r.integer || Number.isInteger(value));
}

/** The first key of `config` outside the declared space (an undeclared key at its default is inside), in words. */
export function outsideSpace(caps: ClassCapabilities, config: Record<string, unknown>, defaults: object): string | undefined {
  for (const [k, v] of Object.entries(config)) {
    if (caps.config[k] === undefined && (defaults as Record<string, unknown>)[k] === v) continue;
    if (!declares(caps, k, v)) return `${k} = ${Array.isArray(v) ? "an array of betas" : JSON.stringify(v)} is not declared (${caps.config[k] === undefined ? "the key is not declared" : `declared: ${JSON.stringify(caps.config[k])}`})`;
  }
  return undefined;
}

/**
 * The reference scheduler for `config` with the port's compat and its timesteps for n, or undefined when
 * the reference rejects the combination (a ConfigError: the spec has no answer there, so it is not drawn).
 */
export async function referenceFor(className: string, config: Record<string, unknown>, port: PortCapabilities, n: number): Promise<Scheduler<Tensor> | undefined> {
  try {
    const s = await createScheduler(className, { ...config, compat: port.compat }, referenceBackend);
    s.setTimesteps(n);
    return s;
  } catch (e) {
    if (e instanceof ConfigError) return undefined;
    throw e;
  }
}
