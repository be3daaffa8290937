/**
 * A small, typed ONNX graph builder: emits ModelProto bytes (onnx-proto + protobufjs) that
 * onnxruntime loads. It exists so the suite can emit its own test denoisers and the backend's
 * fused step graphs instead of shipping opaque .onnx files (spec/10-backends.md, BACKEND-MODEL).
 *
 * Values are named by strings. Every op helper takes the names of its inputs and returns the
 * name of its output (or names, for multi-output ops), so sub-graphs are ordinary functions:
 *
 *   const g = new GraphBuilder({ opset: 17 });
 *   const x = g.input("x", "float32", ["batch", 4]);
 *   const w = g.constant(Float32Array.from([...]), [4, 3]);
 *   const y = g.silu(g.matMul(x, w));
 *   g.output(y, "y");
 *   const bytes = g.toBytes();
 *
 * Names are made unique automatically (`scope("block1", () => …)` prefixes them), so helpers can
 * be called any number of times. Ops whose form changed between opsets (ReduceMean's axes,
 * Split's sizes, …) are emitted in the form the chosen opset requires. Supported opsets: 17–21
 * (onnxruntime-node 1.30 runs all of them on its CPU provider; see test/onnx-builder.test.ts).
 */
import onnxProto from "onnx-proto";
import { ConfigError, ShapeError } from "../../reference/errors.ts";
import { reduceInGroups, WEBGPU_DEFAULT_STORAGE_BUFFERS } from "../webgpu-limits.ts";

const { onnx } = onnxProto;
export type ModelProto = InstanceType<typeof onnx.ModelProto>;

/**
 * The most tensors one node may bind (inputs + outputs) for every execution provider to run it: WebGPU's
 * default storage buffers per shader stage. onnxruntime's WebGPU provider binds each input and output of
 * Split and Concat without splitting the node (a 16-way Split of the chunked attention failed there with "Too
 * many storage buffers in shader. Current: 17, Max is 16"), so `concat` and `split` never emit more.
 */
export const MAX_BOUND_TENSORS = WEBGPU_DEFAULT_STORAGE_BUFFERS;

/** Element types the builder can declare (ONNX TensorProto.DataType codes). */
export const ELEM_TYPE = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 } as const;
export type ElemType = keyof typeof ELEM_TYPE;
export const ELEM_TYPE_NAME: Record<number, ElemType> = Object.fromEntries(Object.entries(ELEM_TYPE).map(([k, v]) => [v, k as ElemType]));

/** A dimension: a fixed size or a symbolic name ("batch"). */
export type Dim = number | string;
/** A value's shape as declared in the graph: dims, or `null` for "unknown rank" (any rank accepted). */
export type DeclaredShape = readonly Dim[] | null;

/** Attribute values are explicit about their ONNX type (1 could be an INT or a FLOAT). */
export type Attr =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly string: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly tensor: ConstantData };
export const attr = {
  int: (v: number): Attr => ({ int: v }),
  float: (v: number): Attr => ({ float: v }),
  string: (v: string): Attr => ({ string: v }),
  ints: (v: readonly number[]): Attr => ({ ints: v }),
  floats: (v: readonly number[]): Attr => ({ floats: v }),
};

/** Typed arrays the builder stores as initializers (raw little-endian bytes). */
export type ConstantArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
export interface ConstantData {
  readonly data: ConstantArray;
  readonly dims: readonly number[];
  /** Needed only for Uint8Array data that means bool. */
  readonly type?: ElemType;
}

export interface BuilderOptions {
  /** Default opset of the ai.onnx domain (17–21); default 17. */
  readonly opset?: number;
  /** Graph name (shows up in tools such as Netron). */
  readonly name?: string;
  /** Written into ModelProto.producer_name. */
  readonly producer?: string;
  /** Free-form text stored as the model's doc_string. */
  readonly doc?: string;
}

export const MIN_OPSET = 17;
export const MAX_OPSET = 21;

/** ONNX IR version that goes with an opset (onnx/docs/Versioning.md). */
export function irVersionFor(opset: number): number {
  return opset <= 17 ? 8 : opset <= 20 ? 9 : 10;
}

interface NodeRecord {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Record<string, Attr>;
  domain: string;
}

interface ValueRecord {
  name: string;
  type: ElemType;
  shape: DeclaredShape;
}

function typedArrayElemType(a: ConstantArray, declared?: ElemType): ElemType {
  if (declared) return declared;
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof BigInt64Array) return "int64";
  if (a instanceof Int8Array) return "int8";
  return "uint8";
}

const sizeOf = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** BigInt64Array from plain numbers (ONNX shape/index tensors are int64). */
export const i64 = (values: readonly number[]): BigInt64Array => BigInt64Array.from(values.map((v) => BigInt(v)));

/**
 * Builds one ONNX graph. Ops are appended in call order, which is a valid topological order as long
 * as every input name exists when it is used (the builder checks this).
 */
export class GraphBuilder {
  readonly opset: number;
  private readonly nodes: NodeRecord[] = [];
  private readonly inputs: ValueRecord[] = [];
  private readonly outputs: ValueRecord[] = [];
  private readonly initializers = new Map<string, ConstantData>();
  private readonly known = new Set<string>();
  private readonly used = new Map<string, number>();
  private readonly prefixes: string[] = [];
  private readonly extraOpsets = new Map<string, number>();

  constructor(readonly options: BuilderOptions = {}) {
    this.opset = options.opset ?? 17;
    if (!Number.isInteger(this.opset) || this.opset < MIN_OPSET || this.opset > MAX_OPSET) {
      throw new ConfigError("opset", this.opset, `an integer from ${MIN_OPSET} to ${MAX_OPSET}`);
    }
  }

  // ---------------------------------------------------------------- names and structure

  /** A fresh name `<scope>/<base>` (with a numeric suffix when taken). */
  fresh(base: string): string {
    const full = [...this.prefixes, base].join("/");
    const n = this.used.get(full) ?? 0;
    this.used.set(full, n + 1);
    const name = n === 0 && !this.known.has(full) ? full : `${full}_${n}`;
    return this.known.has(name) ? this.fresh(base) : name;
  }

  /** Runs `body` with names prefixed by `prefix/` (nestable); returns what `body` returns. */
  scope<R>(prefix: string, body: () => R): R {
    this.prefixes.push(prefix);
    try {
      return body();
    } finally {
      this.prefixes.pop();
    }
  }

  /** True when `name` is a value of this graph (input, initializer or node output). */
  has(name: string): boolean {
    return this.known.has(name);
  }

  private declare(name: string): string {
    if (this.known.has(name)) throw new ConfigError("value name", name, "a name not yet used in this graph");
    this.known.add(name);
    return name;
  }

  /** Declares a graph input. `shape` null = unknown rank (the input then accepts any rank). */
  input(name: string, type: ElemType, shape: DeclaredShape): string {
    this.inputs.push({ name, type, shape });
    return this.declare(name);
  }

  /**
   * Marks `value` as a graph output called `name` (an Identity is inserted when the names differ).
   * `shape` is documentation for users of the model; null = not declared.
   */
  output(value: string, name: string = value, type: ElemType = "float32", shape: DeclaredShape = null): string {
    const v = value === name ? value : this.node("Identity", [value], { outputs: [name] })[0];
    this.outputs.push({ name: v, type, shape });
    return v;
  }

  /** An initializer (a constant tensor stored in the model) with an automatic name; returns its name. */
  constant(data: ConstantArray, dims: readonly number[], base = "const", type?: ElemType): string {
    if (sizeOf(dims) !== data.length) throw new ShapeError(`constant ${base}`, data.length, `${sizeOf(dims)} values for dims [${dims.join(", ")}]`);
    const name = this.declare(this.fresh(base));
    this.initializers.set(name, { data, dims: [...dims], type });
    return name;
  }

  /** A named initializer (a model weight); the name must be free. */
  initializer(name: string, data: ConstantArray, dims: readonly number[], type?: ElemType): string {
    if (sizeOf(dims) !== data.length) throw new ShapeError(`initializer ${name}`, data.length, `${sizeOf(dims)} values for dims [${dims.join(", ")}]`);
    this.declare(name);
    this.initializers.set(name, { data, dims: [...dims], type });
    return name;
  }

  /** float32 scalar constant (rank 0). */
  scalar(v: number, base = "scalar"): string {
    return this.constant(Float32Array.of(v), [], base);
  }
  /** float32 1-D constant. */
  floats(values: readonly number[] | Float32Array, base = "floats"): string {
    return this.constant(Float32Array.from(values), [values.length], base);
  }
  /** int64 1-D constant (shapes, axes, indices). */
  ints(values: readonly number[], base = "ints"): string {
    return this.constant(i64(values), [values.length], base);
  }
  /** int64 scalar constant. */
  int(v: number, base = "int"): string {
    return this.constant(i64([v]), [], base);
  }

  /**
   * Appends a node. `outputs` is a count (names are generated) or explicit names. Returns the output names.
   * Empty-string inputs mean "optional input omitted" (ONNX convention).
   */
  node(opType: string, inputs: readonly string[], opts: { outputs?: number | readonly string[]; attrs?: Record<string, Attr>; name?: string; domain?: string } = {}): string[] {
    for (const i of inputs) {
      if (i !== "" && !this.known.has(i)) throw new ConfigError(`${opType} input`, i, "the name of an existing value of this graph (input, constant or earlier node output)");
    }
    const count = opts.outputs ?? 1;
    const outputs = typeof count === "number" ? Array.from({ length: count }, () => this.fresh(opType)) : [...count];
    outputs.forEach((o) => this.declare(o));
    this.nodes.push({ opType, inputs: [...inputs], outputs, name: this.fresh(`node_${opType}`), attrs: opts.attrs ?? {}, domain: opts.domain ?? "" });
    return outputs;
  }

  /** Uses an opset of another domain (e.g. "com.microsoft") in this model. */
  useDomain(domain: string, version: number): void {
    this.extraOpsets.set(domain, version);
  }

  private op(opType: string, inputs: readonly string[], attrs?: Record<string, Attr>): string {
    return this.node(opType, inputs, { attrs })[0];
  }

  // ---------------------------------------------------------------- elementwise

  add(a: string, b: string): string { return this.op("Add", [a, b]); }
  sub(a: string, b: string): string { return this.op("Sub", [a, b]); }
  mul(a: string, b: string): string { return this.op("Mul", [a, b]); }
  div(a: string, b: string): string { return this.op("Div", [a, b]); }
  pow(a: string, b: string): string { return this.op("Pow", [a, b]); }
  /** Elementwise minimum of any number of broadcastable inputs. */
  min(...xs: string[]): string { return this.op("Min", xs); }
  max(...xs: string[]): string { return this.op("Max", xs); }
  abs(x: string): string { return this.op("Abs", [x]); }
  neg(x: string): string { return this.op("Neg", [x]); }
  exp(x: string): string { return this.op("Exp", [x]); }
  log(x: string): string { return this.op("Log", [x]); }
  sqrt(x: string): string { return this.op("Sqrt", [x]); }
  sin(x: string): string { return this.op("Sin", [x]); }
  cos(x: string): string { return this.op("Cos", [x]); }
  tanh(x: string): string { return this.op("Tanh", [x]); }
  erf(x: string): string { return this.op("Erf", [x]); }
  sigmoid(x: string): string { return this.op("Sigmoid", [x]); }
  relu(x: string): string { return this.op("Relu", [x]); }
  identity(x: string): string { return this.op("Identity", [x]); }
  /** SiLU (swish) as x·sigmoid(x): two standard ops, supported by every provider. */
  silu(x: string): string { return this.mul(x, this.sigmoid(x)); }
  /** GELU, exact form 0.5·x·(1 + erf(x/√2)) (ONNX has a Gelu op only from opset 20). */
  gelu(x: string): string {
    const inner = this.erf(this.mul(x, this.scalar(Math.SQRT1_2, "inv_sqrt2")));
    return this.mul(this.mul(x, this.scalar(0.5, "half")), this.add(inner, this.scalar(1, "one")));
  }
  /** min(max(x, lo), hi); lo/hi are value names (scalars) or numbers (made float32 constants); omit one with null. */
  clip(x: string, lo: string | number | null, hi: string | number | null): string {
    const v = (b: string | number | null, base: string) => (b === null ? "" : typeof b === "number" ? this.scalar(b, base) : b);
    const ins = [x, v(lo, "clip_lo"), v(hi, "clip_hi")];
    while (ins[ins.length - 1] === "") ins.pop();
    return this.op("Clip", ins);
  }
  /** Elementwise select: cond ? a : b. */
  where(cond: string, a: string, b: string): string { return this.op("Where", [cond, a, b]); }
  less(a: string, b: string): string { return this.op("Less", [a, b]); }
  greater(a: string, b: string): string { return this.op("Greater", [a, b]); }
  equal(a: string, b: string): string { return this.op("Equal", [a, b]); }
  cast(x: string, to: ElemType): string { return this.op("Cast", [x], { to: attr.int(ELEM_TYPE[to]) }); }

  // ---------------------------------------------------------------- linear algebra

  matMul(a: string, b: string): string { return this.op("MatMul", [a, b]); }
  /** Y = alpha·op(A)·op(B) + beta·C (2-D only); `c` optional. */
  gemm(a: string, b: string, c?: string, o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): string {
    const attrs: Record<string, Attr> = {};
    if (o.transA) attrs.transA = attr.int(1);
    if (o.transB) attrs.transB = attr.int(1);
    if (o.alpha !== undefined) attrs.alpha = attr.float(o.alpha);
    if (o.beta !== undefined) attrs.beta = attr.float(o.beta);
    return this.op("Gemm", c ? [a, b, c] : [a, b], attrs);
  }
  /** N-D convolution (NCHW). `w` [M, C/group, kH, kW]; `b` [M] optional. */
  conv(x: string, w: string, b?: string, o: { pads?: readonly number[]; strides?: readonly number[]; dilations?: readonly number[]; group?: number; kernelShape?: readonly number[] } = {}): string {
    const attrs: Record<string, Attr> = {};
    if (o.pads) attrs.pads = attr.ints(o.pads);
    if (o.strides) attrs.strides = attr.ints(o.strides);
    if (o.dilations) attrs.dilations = attr.ints(o.dilations);
    if (o.group !== undefined) attrs.group = attr.int(o.group);
    if (o.kernelShape) attrs.kernel_shape = attr.ints(o.kernelShape);
    return this.op("Conv", b ? [x, w, b] : [x, w], attrs);
  }
  softmax(x: string, axis = -1): string { return this.op("Softmax", [x], { axis: attr.int(axis) }); }

  // ---------------------------------------------------------------- reductions (opset-aware)

  private reduce(op: string, x: string, axes: readonly number[], keepdims: boolean): string {
    const kd = { keepdims: attr.int(keepdims ? 1 : 0) };
    // ReduceSum takes axes as an input from opset 13, the others from opset 18.
    if (op === "ReduceSum" || this.opset >= 18) return this.op(op, [x, this.ints(axes, "axes")], kd);
    return this.op(op, [x], { ...kd, axes: attr.ints(axes) });
  }
  reduceMean(x: string, axes: readonly number[], keepdims = true): string { return this.reduce("ReduceMean", x, axes, keepdims); }
  reduceSum(x: string, axes: readonly number[], keepdims = true): string { return this.reduce("ReduceSum", x, axes, keepdims); }
  reduceMax(x: string, axes: readonly number[], keepdims = true): string { return this.reduce("ReduceMax", x, axes, keepdims); }

  /**
   * TopK along `axis`: returns [values, indices]. `k` is an int64 [1] value name or a number.
   * `largest` false → the k smallest; `sorted` (default) orders them.
   */
  topK(x: string, k: string | number, o: { axis?: number; largest?: boolean; sorted?: boolean } = {}): [string, string] {
    const kk = typeof k === "number" ? this.ints([k], "k") : k;
    const [v, i] = this.node("TopK", [x, kk], { outputs: 2, attrs: { axis: attr.int(o.axis ?? -1), largest: attr.int(o.largest === false ? 0 : 1), sorted: attr.int(o.sorted === false ? 0 : 1) } });
    return [v, i];
  }

  // ---------------------------------------------------------------- shapes

  shape(x: string, o: { start?: number; end?: number } = {}): string {
    const attrs: Record<string, Attr> = {};
    if (o.start !== undefined) attrs.start = attr.int(o.start);
    if (o.end !== undefined) attrs.end = attr.int(o.end);
    return this.op("Shape", [x], attrs);
  }
  /** Reshape to `shape` (an int64 [r] value name, or numbers with 0 = copy, −1 = infer). */
  reshape(x: string, shape: string | readonly number[]): string {
    return this.op("Reshape", [x, typeof shape === "string" ? shape : this.ints(shape, "shape")]);
  }
  /** Flatten to 2-D: [d0·…·d(axis−1), d(axis)·…]. */
  flatten(x: string, axis = 1): string { return this.op("Flatten", [x], { axis: attr.int(axis) }); }
  transpose(x: string, perm: readonly number[]): string { return this.op("Transpose", [x], { perm: attr.ints(perm) }); }
  /** Concat along `axis`; more than MAX_BOUND_TENSORS − 1 inputs become a tree of Concats. */
  concat(xs: readonly string[], axis: number): string {
    const node = (group: string[]): string => this.op("Concat", group, { axis: attr.int(axis) });
    return xs.length === 1 ? node([...xs]) : reduceInGroups(xs, MAX_BOUND_TENSORS - 1, node);
  }
  unsqueeze(x: string, axes: readonly number[]): string { return this.op("Unsqueeze", [x, this.ints(axes, "axes")]); }
  squeeze(x: string, axes?: readonly number[]): string { return this.op("Squeeze", axes ? [x, this.ints(axes, "axes")] : [x]); }
  /** Broadcast `x` to `shape` (an int64 [r] value name or numbers). */
  expand(x: string, shape: string | readonly number[]): string {
    return this.op("Expand", [x, typeof shape === "string" ? shape : this.ints(shape, "shape")]);
  }
  /** Gather along `axis`; `indices` is a value name or numbers (a scalar index when a single number is given as `number`). */
  gather(x: string, indices: string | number | readonly number[], axis = 0): string {
    const idx = typeof indices === "string" ? indices : typeof indices === "number" ? this.int(indices, "index") : this.ints(indices, "indices");
    return this.op("Gather", [x, idx], { axis: attr.int(axis) });
  }
  /**
   * Split along `axis` into pieces of `sizes` (numbers, or an int64 [n] value name plus the count `n`).
   * Returns one name per piece.
   */
  split(x: string, sizes: readonly number[] | { name: string; count: number }, axis = 0): string[] {
    if (Array.isArray(sizes) && sizes.length > MAX_BOUND_TENSORS - 1) {
      // One Slice per piece (see MAX_BOUND_TENSORS): each binds one input and one output.
      const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a: number, b: number) => a + b, 0));
      return sizes.map((n: number, i: number) => this.slice(x, [starts[i]], [starts[i] + n], [axis]));
    }
    if (!Array.isArray(sizes) && (sizes as { count: number }).count > MAX_BOUND_TENSORS - 1) {
      // Sizes known only at run time: piece i is x[start_i : start_i + size_i] with start = exclusive CumSum.
      const { name, count } = sizes as { name: string; count: number };
      const starts = this.op("CumSum", [name, this.int(0, "axis")], { exclusive: attr.int(1) });
      const ends = this.add(starts, name);
      return Array.from({ length: count }, (_, i) => this.slice(x, this.gather(starts, [i]), this.gather(ends, [i]), [axis]));
    }
    const isNames = !Array.isArray(sizes);
    const count = isNames ? (sizes as { count: number }).count : (sizes as readonly number[]).length;
    const sizeName = isNames ? (sizes as { name: string }).name : this.ints(sizes as readonly number[], "split");
    return this.node("Split", [x, sizeName], { outputs: count, attrs: { axis: attr.int(axis) } });
  }
  /** Slice with numbers or int64 [n] value names for starts/ends/axes/steps. */
  slice(x: string, starts: string | readonly number[], ends: string | readonly number[], axes?: string | readonly number[], steps?: string | readonly number[]): string {
    const v = (a: string | readonly number[] | undefined, base: string) => (a === undefined ? "" : typeof a === "string" ? a : this.ints(a, base));
    const ins = [x, v(starts, "starts"), v(ends, "ends"), v(axes, "axes"), v(steps, "steps")];
    while (ins[ins.length - 1] === "") ins.pop();
    return this.op("Slice", ins);
  }
  /** A tensor of `shape` (int64 [r] value name) filled with `value` (float32). */
  constantOfShape(shape: string, value: number): string {
    return this.op("ConstantOfShape", [shape], { value: { tensor: { data: Float32Array.of(value), dims: [1] } } });
  }
  /** Nearest-neighbour resize by integer `scales` per axis (e.g. [1, 1, 2, 2] for 2× upsampling of NCHW). */
  resizeNearest(x: string, scales: readonly number[]): string {
    return this.op("Resize", [x, "", this.floats(scales, "scales")], { mode: attr.string("nearest"), coordinate_transformation_mode: attr.string("asymmetric"), nearest_mode: attr.string("floor") });
  }

  // ---------------------------------------------------------------- normalisation

  /**
   * Group normalisation of NCHW… `x` (C channels in `groups` groups), per-channel `scale`/`bias` [C]
   * (torch.nn.GroupNorm). Emitted as its decomposition (Reshape, ReduceMean, Sub, Mul, Sqrt, Div),
   * which every opset and provider supports; `native: true` emits opset 21's GroupNormalization op
   * instead (same meaning; fewer nodes, but not every execution provider has a kernel for it).
   * `channels` is needed to reshape scale/bias to [C, 1, …].
   */
  groupNorm(x: string, scale: string, bias: string, o: { groups: number; channels: number; spatialRank?: number; epsilon?: number; native?: boolean }): string {
    const eps = o.epsilon ?? 1e-5;
    const rank = o.spatialRank ?? 2;
    if (o.native) {
      if (this.opset < 21) throw new ConfigError("groupNorm native", this.opset, "opset ≥ 21 (GroupNormalization with per-channel scale/bias), or native: false for the decomposition");
      return this.op("GroupNormalization", [x, scale, bias], { num_groups: attr.int(o.groups), epsilon: attr.float(eps) });
    }
    // Tried and not adopted: InstanceNormalization over [N, G, ·] (one kernel for these six) was 1.4× faster on an
    // isolated GroupNorm+SiLU block on onnxruntime's WebGPU provider over llvmpipe, but 0.91–1.04× on the whole
    // small U-Net there and 0.99–1.04× on the CPU provider (interleaved A/B, 2026-11-26).
    return this.scope("group_norm", () => {
      const shape = this.shape(x);
      const grouped = this.reshape(x, [0, o.groups, -1]); // [N, G, C/G·spatial]
      const mean = this.reduceMean(grouped, [2]);
      const centred = this.sub(grouped, mean);
      const variance = this.reduceMean(this.mul(centred, centred), [2]);
      const normed = this.div(centred, this.sqrt(this.add(variance, this.scalar(eps, "eps"))));
      const back = this.reshape(normed, shape);
      const affineShape = [o.channels, ...Array(rank).fill(1)];
      return this.add(this.mul(back, this.reshape(scale, affineShape)), this.reshape(bias, affineShape));
    });
  }
  /** LayerNormalization over the last axes from `axis` (opset 17 op). */
  layerNorm(x: string, scale: string, bias: string, o: { axis?: number; epsilon?: number } = {}): string {
    return this.op("LayerNormalization", [x, scale, bias], { axis: attr.int(o.axis ?? -1), epsilon: attr.float(o.epsilon ?? 1e-5) });
  }

  // ---------------------------------------------------------------- emit

  toModel(): ModelProto {
    if (this.outputs.length === 0) throw new ConfigError("graph outputs", 0, "at least one output (call output())");
    const valueInfo = (v: ValueRecord) => ({
      name: v.name,
      type: { tensorType: { elemType: ELEM_TYPE[v.type], ...(v.shape === null ? {} : { shape: { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } }) } },
    });
    const opsets = [{ domain: "", version: this.opset }, ...[...this.extraOpsets].map(([domain, version]) => ({ domain, version }))];
    return onnx.ModelProto.create({
      irVersion: irVersionFor(this.opset),
      producerName: this.options.producer ?? "diffspec",
      producerVersion: "0.1.0",
      docString: this.options.doc ?? "",
      opsetImport: opsets,
      graph: {
        name: this.options.name ?? "graph",
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
        initializer: [...this.initializers].map(([name, c]) => tensorProto(name, c)),
        node: this.nodes.map((n) => ({
          opType: n.opType,
          input: n.inputs,
          output: n.outputs,
          name: n.name,
          domain: n.domain,
          attribute: Object.entries(n.attrs).map(([name, a]) => attributeProto(name, a)),
        })),
      },
    });
  }

  /** The serialized ModelProto, ready for InferenceSession.create(bytes). */
  toBytes(): Uint8Array {
    return onnx.ModelProto.encode(this.toModel()).finish();
  }

  /** Counts for tests and docs. */
  get stats(): { nodes: number; initializers: number; ops: string[] } {
    return { nodes: this.nodes.length, initializers: this.initializers.size, ops: [...new Set(this.nodes.map((n) => n.opType))].sort() };
  }
}

function tensorProto(name: string, c: ConstantData): InstanceType<typeof onnx.TensorProto> {
  const bytes = new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  return onnx.TensorProto.create({ name, dims: [...c.dims], dataType: ELEM_TYPE[typedArrayElemType(c.data, c.type)], rawData: Uint8Array.from(bytes) });
}

const T = onnx.AttributeProto.AttributeType;
function attributeProto(name: string, a: Attr): InstanceType<typeof onnx.AttributeProto> {
  if ("int" in a) return onnx.AttributeProto.create({ name, type: T.INT, i: a.int });
  if ("float" in a) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.float });
  if ("string" in a) return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(a.string) });
  if ("ints" in a) return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...a.ints] });
  if ("floats" in a) return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: [...a.floats] });
  return onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorProto("", a.tensor) });
}

/** Decodes model bytes (for inspection in tests and tools). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}
