/**
 * Mixed-precision conversion of an ONNX model emitted by the GraphBuilder: the float32 graph computes in
 * float16 (half the memory traffic; the GPU goal's PyTorch reference is 28 ms fp16 against 62 ms fp32),
 * while its interface stays float32 — each float32 input is cast to float16 where a float16 node reads it,
 * each output is cast back — so samplers, conformance and the denoiser wrapper see the same model.
 *
 * Nodes for which `keepFloat32(node)` holds stay in float32 (default: every node in a scope whose name
 * starts with "time_embedding/" — sin/cos of t·ω with t up to 1000 lose all precision in float16, whose
 * spacing at 1000 is 0.5). Float initializers become float16 unless only float32 slots read them; the
 * `scales` input of Resize stays float32 (the operator requires it). Values are typed by a small forward
 * propagation over the node list (already topologically ordered by the builder), and a Cast is inserted
 * wherever a value reaches a slot of the other precision.
 */
import onnxProto from "onnx-proto";
import { ConfigError } from "../../reference/errors.ts";
import { decodeModel, ELEM_TYPE } from "./builder.ts";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

const F32 = ELEM_TYPE.float32;
const F16 = ELEM_TYPE.float16;
const INT64 = ELEM_TYPE.int64;
const BOOL = ELEM_TYPE.bool;

/** Inputs that an operator requires in float32 whatever the rest computes in: [opType, input index]. */
const FLOAT32_SLOTS: readonly (readonly [string, number])[] = [["Resize", 2]];
const isFloat32Slot = (n: NodeProto, slot: number): boolean => FLOAT32_SLOTS.some(([op, s]) => op === n.opType && s === slot);

export interface Float16Options {
  /** Nodes to keep in float32 (default: the "time_embedding/" scope). */
  readonly keepFloat32?: (node: NodeProto) => boolean;
}

const defaultKeep = (n: NodeProto): boolean => (n.name ?? "").startsWith("time_embedding/") || (n.output ?? []).some((o) => o.startsWith("time_embedding/"));

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 → float16 bits, round to nearest even (subnormals kept, overflow to ±∞). */
export function toHalfBits(v: number): number {
  scratchF32[0] = v;
  return halfFromFloatBits(scratchU32[0]);
}

/** The float16 bits nearest to the float32 with bit pattern `x` (ties to even). */
function halfFromFloatBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // ∞ / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflow to ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) { r = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | r;
}

/** A tensor's float32 bit patterns (raw_data or float_data). */
function floatBits(t: TensorProto): Uint32Array {
  if (t.rawData && t.rawData.length) return new Uint32Array(Uint8Array.from(t.rawData).buffer);
  return new Uint32Array(Float32Array.from(t.floatData ?? []).buffer);
}

function halfTensor(t: TensorProto, name = t.name ?? ""): TensorProto {
  const x = floatBits(t);
  const bits = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) bits[i] = halfFromFloatBits(x[i]);
  return onnx.TensorProto.create({ name, dims: t.dims, dataType: F16, rawData: new Uint8Array(bits.buffer) });
}

/** Converts model bytes (float32 inputs and outputs) to float16 compute with a float32 interface. */
export function toFloat16(bytes: Uint8Array, o: Float16Options = {}): Uint8Array {
  const keep = o.keepFloat32 ?? defaultKeep;
  const model = decodeModel(bytes);
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  const type = new Map<string, number>(); // value name → elem type, as the converted graph has it
  for (const i of graph.input ?? []) type.set(i.name!, i.type?.tensorType?.elemType ?? F32);

  // Initializers: float16 unless every reader is a float32 slot.
  const readers = new Map<string, { node: NodeProto; slot: number }[]>();
  nodes.forEach((n) => (n.input ?? []).forEach((v, slot) => v && readers.set(v, [...(readers.get(v) ?? []), { node: n, slot }])));
  const wantsF32 = (n: NodeProto, slot: number): boolean => keep(n) || isFloat32Slot(n, slot);
  const initializers = (graph.initializer ?? []).map((t) => {
    if (t.dataType !== F32) { type.set(t.name!, t.dataType!); return t; }
    const rs = readers.get(t.name!) ?? [];
    if (rs.length && rs.every((r) => wantsF32(r.node, r.slot))) { type.set(t.name!, F32); return t; }
    type.set(t.name!, F16);
    return halfTensor(t);
  });

  const out: NodeProto[] = [];
  const casts = new Map<string, string>(); // `${value}->${to}` → cast output
  const castTo = (value: string, to: number): string => {
    const key = `${value}->${to}`;
    let name = casts.get(key);
    if (!name) {
      name = `${value}/as_${to === F16 ? "f16" : "f32"}`;
      out.push(onnx.NodeProto.create({ opType: "Cast", input: [value], output: [name], name: `${name}/cast`, attribute: [onnx.AttributeProto.create({ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: to })] }));
      casts.set(key, name);
      type.set(name, to);
    }
    return name;
  };
  const isFloat = (t: number | undefined): boolean => t === F32 || t === F16;

  for (const n of nodes) {
    const precision = keep(n) ? F32 : F16;
    const inputs = (n.input ?? []).map((v, slot) => {
      if (!v) return v;
      const t = type.get(v);
      if (!isFloat(t)) return v;
      const want = isFloat32Slot(n, slot) ? F32 : precision;
      return t === want ? v : castTo(v, want);
    });
    const attribute = (n.attribute ?? []).map((a) => {
      if (n.opType === "Cast" && a.name === "to" && Number(a.i) === F32) return onnx.AttributeProto.create({ ...a, i: precision });
      if (a.t && a.t.dataType === F32 && precision === F16) return onnx.AttributeProto.create({ ...a, t: halfTensor(a.t) });
      return a;
    });
    const converted = onnx.NodeProto.create({ ...n, input: inputs, attribute });
    out.push(converted);
    const outType = outputType(converted, (v) => type.get(v));
    for (const v of n.output ?? []) if (v) type.set(v, outType);
  }

  // Graph outputs: float16 values are cast back under the output's own name.
  for (const g of graph.output ?? []) {
    const want = g.type?.tensorType?.elemType ?? F32;
    const t = type.get(g.name!);
    if (t === want || !isFloat(t)) continue;
    const inner = `${g.name}/${t === F16 ? "f16" : "f32"}`;
    for (const n of out) {
      n.output = (n.output ?? []).map((v) => (v === g.name ? inner : v));
      n.input = (n.input ?? []).map((v) => (v === g.name ? inner : v));
    }
    out.push(onnx.NodeProto.create({ opType: "Cast", input: [inner], output: [g.name!], name: `${g.name}/cast_out`, attribute: [onnx.AttributeProto.create({ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: want })] }));
  }
  graph.node = out;
  graph.initializer = initializers;
  return onnx.ModelProto.encode(model).finish();
}

/** The element type of a node's (first) output in the converted graph. */
function outputType(n: NodeProto, typeOf: (v: string) => number | undefined): number {
  const attr = (name: string) => (n.attribute ?? []).find((a) => a.name === name);
  switch (n.opType) {
    case "Shape":
    case "Size":
    case "ArgMax":
    case "ArgMin":
    case "NonZero":
      return INT64;
    case "Equal":
    case "Less":
    case "Greater":
    case "LessOrEqual":
    case "GreaterOrEqual":
    case "Not":
    case "And":
    case "Or":
      return BOOL;
    case "Cast":
      return Number(attr("to")!.i);
    case "ConstantOfShape":
      return attr("value")?.t?.dataType ?? F32;
    case "Where":
      return typeOf(n.input![1]) ?? F32;
    default: {
      const first = (n.input ?? []).find((v) => v);
      const t = first === undefined ? undefined : typeOf(first);
      if (t === undefined) throw new ConfigError("float16 conversion", `${n.opType} node ${n.name}`, "a node whose first input has a known type (graph input, initializer or earlier output)");
      return t;
    }
  }
}
