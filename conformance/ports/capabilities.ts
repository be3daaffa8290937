/**
 * PORT-DECLARE: the capability declaration of a port, validated (zod) before anything runs, so a typo in
 * a declaration is a typed error naming the field and what is allowed, never a silently shrunken check.
 */
import { z } from "zod";
import { InputFileError } from "../../reference/errors.ts";
import type { PortCapabilities } from "../../reference/samplers/port.ts";

const range = z.object({ min: z.number(), max: z.number(), integer: z.boolean().optional() }).strict()
  .refine((r) => r.min <= r.max, { message: "min must be ≤ max" });
const configSpace = z.union([z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1), range, z.literal("betas")]);
const stepRange = z.object({ min: z.number().int().min(1), max: z.number().int().min(1) }).strict().refine((r) => r.min <= r.max, { message: "min must be ≤ max" });
const etaRange = z.object({ min: z.number().min(0), max: z.number().min(0) }).strict().refine((r) => r.min <= r.max, { message: "min must be ≤ max" });

const classCapabilities = z.object({
  config: z.record(z.string(), configSpace),
  numInferenceSteps: stepRange.optional(),
  eta: etaRange.optional(),
  addNoise: z.boolean().optional(),
  getVelocity: z.boolean().optional(),
}).strict();

export const capabilitiesSchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(["float32", "float64"]),
  compat: z.enum(["math", "diffusers"]),
  classes: z.record(z.string(), classCapabilities).refine((c) => Object.keys(c).length > 0, { message: "declare at least one class" }),
}).strict();

/** The validated declaration, or an InputFileError listing every problem with its path. */
export function parseCapabilities(raw: unknown, source: string): PortCapabilities {
  const r = capabilitiesSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `capabilities${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`);
    throw new InputFileError(source, `the port's capability declaration is not valid (spec/14-scheduler-ports.md, PORT-DECLARE): ${problems.join("; ")}`);
  }
  return r.data as PortCapabilities;
}
