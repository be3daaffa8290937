/**
 * PORT-PROTOCOL — the JSON-lines scheduler-port protocol, version 1 (spec/14-scheduler-ports.md): the
 * tensor encoding and the shape of every answer, checked with zod so that a malformed message is a typed
 * failure naming the field.
 */
import { z } from "zod";
import type { PortDType } from "../../reference/samplers/port.ts";

/** A tensor on the wire: dtype, shape, and the little-endian bytes of its row-major data in base64. */
export interface WireTensor {
  dtype: PortDType;
  shape: number[];
  data: string;
}

export const wireTensorSchema = z.object({
  dtype: z.enum(["float32", "float64"]),
  shape: z.array(z.number().int().min(0)),
  data: z.string(),
}).strict();



/** PORT-PROTOCOL: `data` as little-endian IEEE 754 float32/float64 bytes, base64 (RFC 4648, with padding). */
export function encodeTensor(dtype: PortDType, shape: readonly number[], data: ArrayLike<number>): WireTensor {
  const width = dtype === "float32" ? 4 : 8;
  const bytes = new Uint8Array(data.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) {
    if (dtype === "float32") view.setFloat32(i * 4, data[i], true);
    else view.setFloat64(i * 8, data[i], true);
  }
  return { dtype, shape: [...shape], data: Buffer.from(bytes).toString("base64") };
}

/** The numbers of a wire tensor (as Float64), or an Error naming what is wrong with it. */
export function decodeTensor(t: WireTensor): Float64Array {
  const width = t.dtype === "float32" ? 4 : 8;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t.data) || t.data.length % 4 !== 0) throw new Error("`data` is not base64 (RFC 4648, padded)");
  const bytes = Buffer.from(t.data, "base64");
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * width) throw new Error(`\`data\` holds ${bytes.length} bytes; shape [${t.shape.join(", ")}] of ${t.dtype} needs ${count * width}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = t.dtype === "float32" ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);

  return out;
}

export const responseSchema = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ id: z.number().int(), ok: z.literal(false), error: z.object({ type: z.string(), message: z.string() }).strict() }).strict(),
]);
export type Response = z.infer<typeof responseSchema>;

/** The result of each request, by op. */
export const resultSchemas = {
  capabilities: z.object({ protocol: z.number().int(), capabilities: z.unknown() }).strict(),
  create: z.object({ handle: z.string().min(1), alphas_cumprod: wireTensorSchema, init_noise_sigma: z.number(), order: z.number().int() }).strict(),
  set_timesteps: z.object({ timesteps: z.array(z.number()), sigmas: wireTensorSchema.nullable().optional(), init_noise_sigma: z.number(), order: z.number().int() }).strict(),
  scale_model_input: z.object({ sample: wireTensorSchema }).strict(),
  step: z.object({ prev_sample: wireTensorSchema, pred_original_sample: wireTensorSchema.nullable().optional() }).strict(),
  add_noise: z.object({ noisy_samples: wireTensorSchema }).strict(),
  get_velocity: z.object({ velocity: wireTensorSchema }).strict(),
  close: z.object({}).strict(),
} as const;
export type Op = keyof typeof resultSchemas;
