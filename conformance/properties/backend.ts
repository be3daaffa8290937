/**
 * BACKEND — the clauses every backend must satisfy (spec/10-backends.md). Each property drives
 * `ctx.backend` and compares it with the Float64 reference (adapters/reference/index.ts) within the
 * bound of conformance/tolerances.ts for the backend's dtype. `needs` lists the optional primitives a
 * property uses, so a backend without them reports `missing`, not `failed`.
 *
 * BACKEND-RANDN lives in backend-randn.ts; it is part of `properties` here.
 */
import fc from "fast-check";
import type { Backend, BTensor, Denoiser } from "../../adapters/contract.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { defineProperties, type PropertyContext, type PropertyDef } from "../registry.ts";
import { checkProperty } from "../check.ts";
import { randnProperties as randn } from "./backend-randn.ts";
import { gamma, LARGEST_FINITE, mlpErrorBound, roundToDtype, SMALLEST_NORMAL, SMALLEST_SUBNORMAL, tolerance } from "../tolerances.ts";
import type { Shape, Tensor } from "../../reference/tensor.ts";
import { concatBatch, linearCombination, size } from "../../reference/tensor.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { dynamicThreshold } from "../../reference/threshold.ts";
import { mlpForward, randomMlp, type MlpModelSpec } from "../../reference/models/mlp.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { epsilonStar, x0Star } from "../../reference/oracle.ts";
import { makeSchedule, karrasSigmas } from "../../reference/schedule.ts";
import { createScheduler, KDIFFUSION_SAMPLERS, SCHEDULER_CLASSES, SCHEDULER_MODULES, type KDiffusionSamplerName } from "../../reference/samplers/index.ts";
import { hostNoise, runPipeline } from "../../reference/samplers/scheduler.ts";

type B = Backend<BTensor>;

// ─── helpers ────────────────────────────────────────────────────────────────────────────────────

const shapeText = (s: Shape): string => `[${s.join(", ")}]`;

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Throws unless the backend tensor has `shape` (a wrong shape is a failure of the clause, not a crash). */
function expectShape(what: string, t: BTensor, shape: Shape): void {
  if (!t || !Array.isArray(t.shape) && !ArrayBuffer.isView(t.shape)) throw new Error(`${what}: the backend returned ${t === undefined ? "undefined" : "an object without a shape"}`);
  if (!sameShape(t.shape, shape)) throw new Error(`${what}: shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`);
}

/** Elementwise |got − want| ≤ atol(i) + rtol(i)·|want|, reporting the worst element and its bound. */
function expectWithin(what: string, got: ArrayLike<number>, want: ArrayLike<number>, bound: (i: number) => { rtol: number; atol: number }): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const { rtol, atol } = bound(i);
    const allowed = atol + rtol * Math.abs(want[i]);
    const err = Math.abs(got[i] - want[i]);
    const ratio = err === 0 ? 0 : err / allowed;
    if (!(ratio <= 1) && (worst < 0 || !(ratio <= worstRatio))) { worst = i; worstRatio = ratio; }
  }
  if (worst >= 0) {
    const { rtol, atol } = bound(worst);
    throw new Error(`${what}: element ${worst}: got ${got[worst]}, expected ${want[worst]} (|diff| ${Math.abs(got[worst] - want[worst]).toExponential(3)} > atol ${atol.toExponential(3)} + rtol ${rtol.toExponential(3)}·|expected|)`);
  }
}

/** The values a backend stores for host data: toHost(fromHost(x)). */
async function held(b: B, t: BTensor): Promise<Float64Array> {
  return b.toHost(t);
}

const release = (b: B, ...ts: (BTensor | undefined)[]): void => {
  for (const t of ts) if (t) b.dispose?.(t);
};

/** A shape of rank 1 … maxRank with dimensions 1 … maxDim. */
const arbShape = (maxRank = 4, maxDim = 5, minRank = 1) => fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/**
 * Host data for a shape from a seed: scaled normals |x| ~ 10^U(lo, hi), with some exact zeros, −0 and
 * float32-subnormal values mixed in (5 % each).
 */
function hostData(seed: number, n: number, lo = -3, hi = 3, edges = true): Float64Array {
  const g = new GaussianStream(`backend-data/${seed}`);
  return Float64Array.from({ length: n }, () => {
    const r = g.uniform();
    if (edges && r < 0.05) return 0;
    if (edges && r < 0.1) return -0;
    if (edges && r < 0.15) return (g.uniform() < 0.5 ? -1 : 1) * 1e-40;
    return g.normal() * 10 ** (lo + (hi - lo) * g.uniform());
  });
}

const arbSeed = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** Coefficients as samplers produce them, plus the awkward ones: 0, ±1, negative, tiny, large. */
const arbCoeff = fc.oneof(
  fc.constant(0),
  fc.constant(1),
  fc.constant(-1),
  fc.double({ min: -10, max: 10, noNaN: true }),
  fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
  fc.double({ min: -200, max: 200, noNaN: true }),
);

// ─── BACKEND-TRANSFER ───────────────────────────────────────────────────────────────────────────

/** Edge values for a dtype: zeros of both signs, subnormals, the largest finite values, tiny values that round to 0. */
function edgeValues(b: B): number[] {
  const d = b.dtype;
  const L = LARGEST_FINITE[d];
  const sub = SMALLEST_SUBNORMAL[d];
  return [0, -0, sub, -sub, 3 * sub, SMALLEST_NORMAL[d] / 2, -SMALLEST_NORMAL[d] / 3, SMALLEST_NORMAL[d], L, -L, L / 2 ** 10, 1e-300, -1e-300, 1 + 2 ** -30, 1 / 3, -2 / 3, 0.1, Math.PI];
}

const transfer: PropertyDef = {
  clause: "BACKEND-TRANSFER",
  name: "round-trip-equals-rounded-values",
  scope: "backend",
  kind: "property",
  async run(ctx) {
    const b = ctx.backend as B;
    const L = LARGEST_FINITE[b.dtype];
    const value = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...edgeValues(b)) }, { weight: 3, arbitrary: fc.double({ min: -L, max: L, noNaN: true }) }, { weight: 3, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) });
    const arb = arbShape(4, 5).chain((shape) => fc.tuple(fc.constant(shape), fc.array(value, { minLength: size(shape), maxLength: size(shape) })));
    await checkProperty(
      ctx,
      fc.asyncProperty(arb, async ([shape, data]) => {
        const t = await b.fromHost(data, shape);
        expectShape("fromHost", t, shape);
        const back = await b.toHost(t);
        release(b, t);
        if (back.length !== data.length) throw new Error(`toHost returned ${back.length} values for shape ${shapeText(shape)} (${data.length} expected)`);
        for (let i = 0; i < data.length; i++) {
          const want = roundToDtype(b.dtype, data[i]);
          if (!(back[i] === want)) throw new Error(`element ${i}: ${data[i]} came back as ${back[i]}, expected it rounded to ${b.dtype}: ${want}`);
        }
      }),
    );
  },
};

/**
 * Batch sizes of the pieces: half the runs 1–4 pieces (CFG concatenates 2), half 8–20, since a backend must
 * not depend on a small count (a WebGPU kernel binds at most 8–16 buffers; adapters/onnx/builder.ts).
 */
const arbPieceSizes = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
  fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 8, maxLength: 20, size: "max" }),
);

// ─── BACKEND-COMBINE ────────────────────────────────────────────────────────────────────────────

/** Checks backend.combine(terms, coeffs) against the reference on the original Float64 inputs (COMBINE row). */
async function checkCombine(b: B, shape: Shape, xs: readonly Float64Array[], coeffs: readonly number[], what = "combine"): Promise<void> {
  const ts = await Promise.all(xs.map((x) => b.fromHost(x, shape)));
  const out = await b.combine(ts, coeffs);
  expectShape(what, out, shape);
  const got = await b.toHost(out);
  release(b, out, ...ts);
  const want = linearCombination(xs.map((x) => ({ shape, data: x })), coeffs).data;
  const cAbs = coeffs.reduce((s, c) => s + Math.abs(c), 0);
  expectWithin(`${what} of ${xs.length} term(s), coeffs [${coeffs.join(", ")}], shape ${shapeText(shape)}`, got, want, (i) =>
    tolerance(b.dtype, "combine", { terms: xs.length, coeffAbsSum: cAbs, magnitude: xs.reduce((s, x, k) => s + Math.abs(coeffs[k] * x[i]), 0) }),
  );
}

const combine: PropertyDef[] = [
  {
    clause: "BACKEND-COMBINE",
    name: "matches-reference-within-rounding",
    scope: "backend",
    kind: "property",
    async run(ctx) {
      const b = ctx.backend as B;
      const arb = fc.record({ shape: arbShape(4, 5), coeffs: fc.array(arbCoeff, { minLength: 1, maxLength: 5 }), seed: arbSeed });
      await checkProperty(
        ctx,
        fc.asyncProperty(arb, async ({ shape, coeffs, seed }) => {
          const n = size(shape);
          await checkCombine(b, shape, coeffs.map((_, k) => hostData(seed + 7919 * k, n)), coeffs);
        }),
      );
    },
  },
  {
    clause: "BACKEND-COMBINE",
    name: "cancellation-and-identity",
    scope: "backend",
    kind: "example",
    async run(ctx) {
      // x − x = 0 exactly; 1·x = round(x); 0·x = 0; a sampler-shaped 3-term step.
      const b = ctx.backend as B;
      const shape = [2, 3, 4];
      const x = hostData(ctx.seed, 24, -2, 2, false);
      const y = hostData(ctx.seed + 1, 24, -2, 2, false);
      await checkCombine(b, shape, [x, x], [1, -1], "x − x");
      await checkCombine(b, shape, [x], [1], "1·x");
      await checkCombine(b, shape, [x], [0], "0·x");
      await checkCombine(b, shape, [x, y, x], [0.9995, -0.0316, 0.0224], "a DDIM-like step");
    },
  },
  {
    clause: "BACKEND-COMBINE",
    name: "many-terms",
    scope: "backend",
    kind: "example",
    async run(ctx) {
      // Samplers combine up to ≈ 10 terms (a v-prediction PNDM Runge–Kutta stage: 9; UniPC with its history);
      // k = 1…16 covers them and crosses WebGPU's 8-storage-buffer limit (adapters/webgpu-limits.ts, reduceInGroups).
      const b = ctx.backend as B;
      const shape = [3, 5];
      for (let k = 1; k <= 16; k++) {
        const xs = Array.from({ length: k }, (_, i) => hostData(ctx.seed + 31 * k + i, 15, -2, 2, false));
        const coeffs = xs.map((_, i) => (i % 3 === 2 ? -1 : 1) * (1 + i / 8));
        await checkCombine(b, shape, xs, coeffs, `a ${k}-term sum`);
      }
    },
  },
];

// ─── BACKEND-CLAMP ──────────────────────────────────────────────────────────────────────────────

const clamp: PropertyDef = {
  clause: "BACKEND-CLAMP",
  name: "matches-reference",
  scope: "backend",
  kind: "property",
  needs: ["clamp"],
  async run(ctx) {
    const b = ctx.backend as B;
    const bounds = fc.tuple(fc.double({ min: -10, max: 10, noNaN: true }), fc.double({ min: -10, max: 10, noNaN: true })).map(([p, q]): [number, number] => (p <= q ? [p, q] : [q, p]));
    const fixed = (lo: number, hi: number) => fc.constant<[number, number]>([lo, hi]);
    const arb = fc.record({ shape: arbShape(4, 5), seed: arbSeed, bounds: fc.oneof(bounds, fixed(-1, 1), fixed(-0.1, 0.1), fixed(0.5, 0.5), fixed(0.5, 0.50000001)) });
    await checkProperty(
      ctx,
      fc.asyncProperty(arb, async ({ shape, seed, bounds: [lo, hi] }) => {
        const x = hostData(seed, size(shape), -2, 1.5);
        const t = await b.fromHost(x, shape);
        const out = await b.clamp!(t, lo, hi);
        expectShape("clamp", out, shape);
        const got = await b.toHost(out);
        release(b, t, out);
        const want = referenceBackend.clamp({ shape, data: x }, lo, hi).data;
        expectWithin(`clamp to [${lo}, ${hi}]`, got, want, () => tolerance(b.dtype, "clamp"));
      }),
    );
  },
};

// ─── BACKEND-THRESHOLD ──────────────────────────────────────────────────────────────────────────

const threshold: PropertyDef = {
  clause: "BACKEND-THRESHOLD",
  name: "matches-reference-quantile",
  scope: "backend",
  kind: "property",
  needs: ["threshold"],
  async run(ctx) {
    const b = ctx.backend as B;
    const arb = fc.record({
      batch: fc.integer({ min: 1, max: 3 }),
      item: arbShape(3, 6),
      seed: arbSeed,
      ratio: fc.oneof(fc.constant(0.995), fc.constant(1), fc.constant(0.5), fc.double({ min: 0.01, max: 1, noNaN: true })),
      maxValue: fc.oneof(fc.constant(1), fc.constant(1.5), fc.double({ min: 1, max: 20, noNaN: true })),
      logScale: fc.double({ min: -1, max: 1.5, noNaN: true }),
    });
    await checkProperty(
      ctx,
      fc.asyncProperty(arb, async ({ batch, item, seed, ratio, maxValue, logScale }) => {
        const shape = [batch, ...item];
        const x = hostData(seed, size(shape), logScale - 0.5, logScale + 0.5);
        const t = await b.fromHost(x, shape);
        const xs = await held(b, t);
        const out = await b.threshold!(t, ratio, maxValue);
        expectShape("threshold", out, shape);
        const got = await b.toHost(out);
        release(b, t, out);
        const want = dynamicThreshold({ shape, data: xs }, ratio, maxValue).data;
        expectWithin(`threshold(ratio ${ratio}, maxValue ${maxValue}), shape ${shapeText(shape)}`, got, want, () => tolerance(b.dtype, "threshold"));
      }),
    );
  },
};

// ─── BACKEND-BATCH ──────────────────────────────────────────────────────────────────────────────

const batch: PropertyDef[] = [
  {
    clause: "BACKEND-BATCH",
    name: "concat-matches-reference",
    scope: "backend",
    kind: "property",
    needs: ["concat"],
    async run(ctx) {
      const b = ctx.backend as B;
      const arb = fc.record({ rest: arbShape(3, 4, 0), sizes: arbPieceSizes, seed: arbSeed });
      await checkProperty(
        ctx,
        fc.asyncProperty(arb, async ({ rest, sizes, seed }) => {
          const per = size([1, ...rest]);
          const parts = sizes.map((n, k) => ({ shape: [n, ...rest], data: hostData(seed + k, n * per) }));
          const ts = await Promise.all(parts.map((p) => b.fromHost(p.data, p.shape)));
          const stored = await Promise.all(ts.map((t, k) => held(b, t).then((data) => ({ shape: parts[k].shape, data }) as Tensor)));
          const out = await b.concat!(ts);
          const want = concatBatch(stored);
          expectShape("concat", out, want.shape);
          const got = await b.toHost(out);
          release(b, out, ...ts);
          expectWithin(`concat of batches [${sizes.join(", ")}] × ${shapeText(rest)}`, got, want.data, () => tolerance(b.dtype, "batch"));
        }),
      );
    },
  },
  {
    clause: "BACKEND-BATCH",
    name: "split-inverts-concat",
    scope: "backend",
    kind: "property",
    needs: ["concat", "split"],
    async run(ctx) {
      const b = ctx.backend as B;
      const arb = fc.record({ rest: arbShape(3, 4, 0), sizes: arbPieceSizes, seed: arbSeed });
      await checkProperty(
        ctx,
        fc.asyncProperty(arb, async ({ rest, sizes, seed }) => {
          const per = size([1, ...rest]);
          const total = sizes.reduce((a, c) => a + c, 0);
          const whole = await b.fromHost(hostData(seed, total * per), [total, ...rest]);
          const stored = await held(b, whole);
          const pieces = await b.split!(whole, sizes);
          if (!Array.isArray(pieces) || pieces.length !== sizes.length) throw new Error(`split into [${sizes.join(", ")}] returned ${Array.isArray(pieces) ? pieces.length : typeof pieces} pieces`);
          let o = 0;
          for (let k = 0; k < sizes.length; k++) {
            expectShape(`split piece ${k}`, pieces[k], [sizes[k], ...rest]);
            const got = await b.toHost(pieces[k]);
            expectWithin(`split piece ${k} of [${sizes.join(", ")}]`, got, stored.subarray(o * per, (o + sizes[k]) * per), () => tolerance(b.dtype, "batch"));
            o += sizes[k];
          }
          const again = await b.concat!(pieces);
          expectShape("concat(split(x))", again, [total, ...rest]);
          expectWithin("concat(split(x))", await b.toHost(again), stored, () => tolerance(b.dtype, "batch"));
          release(b, whole, again, ...pieces);
        }),
      );
    },
  },
];

// ─── BACKEND-RANDN: conformance/properties/backend-randn.ts ─────────────────────────────────────

// ─── BACKEND-MODEL ──────────────────────────────────────────────────────────────────────────────

const arbMlp = fc.record({
  dim: fc.integer({ min: 1, max: 12 }),
  hidden: fc.integer({ min: 2, max: 24 }),
  timeEmbedDim: fc.constantFrom(2, 8, 16),
  seed: arbSeed,
  predictionType: fc.constantFrom("epsilon" as const, "sample" as const, "v_prediction" as const),
});

const mlpOf = (m: { dim: number; hidden: number; timeEmbedDim: number; seed: number; predictionType: MlpModelSpec["predictionType"] }): MlpModelSpec =>
  randomMlp(m.dim, m.hidden, m.seed, m.predictionType, m.timeEmbedDim);

const model: PropertyDef = {
  clause: "BACKEND-MODEL",
  name: "mlp-matches-reference",
  scope: "backend",
  kind: "property",
  needs: ["loadModel"],
  async run(ctx) {
    const b = ctx.backend as B;
    const arb = fc.record({
      mlp: arbMlp,
      batch: fc.integer({ min: 1, max: 3 }),
      t: fc.oneof(fc.integer({ min: 0, max: 999 }), fc.double({ min: 0, max: 1000, noNaN: true })),
      seed: arbSeed,
    });
    await checkProperty(
      ctx,
      fc.asyncProperty(arb, async ({ mlp, batch, t, seed }) => {
        const spec = mlpOf(mlp);
        const shape = [batch, spec.dim];
        const den = await b.loadModel!(spec);
        if (den.predictionType !== spec.predictionType) throw new Error(`the denoiser's predictionType is ${den.predictionType}, the spec's ${spec.predictionType}`);
        const x = await b.fromHost(hostData(seed, batch * spec.dim, -1, 0.5, false), shape);
        const xs = await held(b, x);
        const out = await den.evaluate(x, t);
        expectShape("model output", out, shape);
        const got = await b.toHost(out);
        release(b, x, out);
        const want = mlpForward(spec, { shape, data: xs }, t).data;
        const bound = mlpErrorBound(spec, xs, batch, t, b.dtype);
        expectWithin(`MLP(dim ${spec.dim}, hidden ${spec.hidden}, E ${spec.timeEmbedDim}) at t = ${t}`, got, want, (i) => tolerance(b.dtype, "model", { bound: bound[i] }));
      }),
      Math.min(ctx.numRuns, 20),
    );
  },
};

/** Schedulers of the sampling loop: integer timesteps (DDIM, leading) and fractional ones (Euler, linspace). */
const LOOP_SCHEDULERS: readonly [string, Record<string, unknown>][] = [
  ["DDIMScheduler", { clipSample: false }],
  ["EulerDiscreteScheduler", { timestepSpacing: "linspace" }],
];
const LOOP_STEPS = 8;

/**
 * BACKEND-MODEL in a sampler's loop: the backend's own denoiser, called LOOP_STEPS times by runPipeline on the
 * backend's own samples. A non-finite output stops the run with the NonFiniteError of SAMP-FINITE naming the
 * step and timestep (runPipeline's check, not a numeric mismatch later); every finite output agrees with the
 * Float64 MLP on the backend's input values within the "model" row, at every step.
 */
const modelLoop: PropertyDef = {
  clause: "BACKEND-MODEL",
  name: "sampling-loop-finite-and-matching",
  scope: "backend",
  kind: "example",
  needs: ["loadModel"],
  async run(ctx) {
    const b = ctx.backend as B;
    const g = new GaussianStream(`${ctx.seed}/BACKEND-MODEL/loop`);
    for (const [className, config] of LOOP_SCHEDULERS) {
      for (const predictionType of ["epsilon", "sample", "v_prediction"] as const) {
        const spec = randomMlp(6, 16, g.int(2 ** 31), predictionType, 8);
        const shape = [2, spec.dim];
        const den = await b.loadModel!(spec);
        const calls: { t: number; input: Float64Array; output: Float64Array }[] = [];
        const recording: Denoiser<BTensor> = {
          predictionType: den.predictionType,
          async evaluate(x, t) {
            const input = Float64Array.from(await b.toHost(x));
            const out = await den.evaluate(x, t);
            calls.push({ t, input, output: Float64Array.from(await b.toHost(out)) });
            return out;
          },
        };
        const sched = await createScheduler(className, { ...config, predictionType }, b);
        sched.setTimesteps(LOOP_STEPS);
        const x = await b.fromHost(g.normals(2 * spec.dim).map((v) => v * sched.initNoiseSigma), shape);
        await runPipeline(sched, recording, x, { checkFinite: true });
        calls.forEach(({ t, input, output }, i) => {
          const want = mlpForward(spec, { shape, data: input }, t).data;
          const bound = mlpErrorBound(spec, input, 2, t, b.dtype);
          expectWithin(`${className} (${predictionType}) step ${i} at t = ${t}: model output`, output, want, (e) => tolerance(b.dtype, "model", { bound: bound[e] }));
        });
      }
    }
  },
};

// ─── BACKEND-CFG-BATCH ──────────────────────────────────────────────────────────────────────────

/** The MLP on a backend: its own loadModel when it has one, else the reference MLP on the host (read back, computed, uploaded). */
async function mlpOn(b: B, spec: MlpModelSpec): Promise<Denoiser<BTensor>> {
  if (b.loadModel) return b.loadModel(spec);
  return hostDenoiser(b, spec.predictionType, (x, t) => mlpForward(spec, x, t));
}

/** A Denoiser computed on the host in Float64: reads the sample back with toHost, uploads the result with fromHost. */
function hostDenoiser(b: B, predictionType: Denoiser["predictionType"], f: (x: Tensor, t: number) => Tensor): Denoiser<BTensor> {
  return {
    predictionType,
    async evaluate(x, t) {
      const data = await b.toHost(x);
      const out = f({ shape: [...x.shape], data }, t);
      return b.fromHost(out.data, out.shape);
    },
  };
}

const cfgBatch: PropertyDef = {
  clause: "BACKEND-CFG-BATCH",
  name: "batched-equals-separate-passes",
  scope: "backend",
  kind: "property",
  needs: ["concat", "split"],
  async run(ctx) {
    const b = ctx.backend as B;
    const arb = fc.record({
      mlp: arbMlp,
      batch: fc.integer({ min: 1, max: 3 }),
      t: fc.integer({ min: 0, max: 999 }),
      w: fc.oneof(fc.constant(1), fc.constant(7.5), fc.constant(0), fc.double({ min: 0, max: 10, noNaN: true })),
      seed: arbSeed,
    });
    await checkProperty(
      ctx,
      fc.asyncProperty(arb, async ({ mlp, batch: B_, t, w, seed }) => {
        // The conditioning enters as an input shift: the denoiser sees x + c, with c_u ("no prompt") and c_c ("prompt").
        const spec = mlpOf(mlp);
        const shape = [B_, spec.dim];
        const den = await mlpOn(b, spec);
        const n = B_ * spec.dim;
        const [x, cu, cc] = await Promise.all([hostData(seed, n, -1, 0.5, false), hostData(seed + 1, n, -2, -1, false), hostData(seed + 2, n, -1, 0, false)].map((d) => b.fromHost(d, shape)));
        const [xs, cus, ccs] = await Promise.all([x, cu, cc].map((v) => held(b, v)));

        // Batched: one model pass on [x + c_u; x + c_c], split, guide.
        const x2 = await b.concat!([x, x]);
        const c2 = await b.concat!([cu, cc]);
        const in2 = await b.combine([x2, c2], [1, 1]);
        const e2 = await den.evaluate(in2, t);
        expectShape("model output of the batched pass", e2, [2 * B_, spec.dim]);
        const [eu, ec] = await b.split!(e2, [B_, B_]);
        const guidedBatched = await b.combine([eu, ec], [1 - w, w]);
        expectShape("guided output (batched)", guidedBatched, shape);
        const batched = await b.toHost(guidedBatched);

        // Separate: two passes.
        const inU = await b.combine([x, cu], [1, 1]);
        const inC = await b.combine([x, cc], [1, 1]);
        const eu1 = await den.evaluate(inU, t);
        const ec1 = await den.evaluate(inC, t);
        const guidedSeparate = await b.combine([eu1, ec1], [1 - w, w]);
        const separate = await b.toHost(guidedSeparate);
        release(b, x, cu, cc, x2, c2, in2, e2, eu, ec, guidedBatched, inU, inC, eu1, ec1, guidedSeparate);

        // The exact guided output and the per-path bound P (see the "cfg" row of conformance/tolerances.ts).
        const inUs = Float64Array.from(xs, (v, i) => v + cus[i]);
        const inCs = Float64Array.from(xs, (v, i) => v + ccs[i]);
        const epsU = mlpForward(spec, { shape, data: inUs }, t).data;
        const epsC = mlpForward(spec, { shape, data: inCs }, t).data;
        const exact = Float64Array.from(epsU, (v, i) => (1 - w) * v + w * epsC[i]);
        const g3 = gamma(b.dtype, 4);
        const inErrU = Float64Array.from(xs, (v, i) => g3 * (Math.abs(v) + Math.abs(cus[i])) + 4 * SMALLEST_NORMAL[b.dtype]);
        const inErrC = Float64Array.from(xs, (v, i) => g3 * (Math.abs(v) + Math.abs(ccs[i])) + 4 * SMALLEST_NORMAL[b.dtype]);
        const bu = mlpErrorBound(spec, inUs, B_, t, b.dtype, inErrU);
        const bc = mlpErrorBound(spec, inCs, B_, t, b.dtype, inErrC);
        const P = Float64Array.from(exact, (_, i) => 2 * (Math.abs(1 - w) * bu[i] + Math.abs(w) * bc[i]) + g3 * (Math.abs(1 - w) * Math.abs(epsU[i]) + Math.abs(w) * Math.abs(epsC[i])) + 4 * SMALLEST_NORMAL[b.dtype]);
        expectWithin(`guidance w = ${w}: batched vs separate passes`, batched, separate, (i) => tolerance(b.dtype, "cfg", { bound: P[i] }));
        expectWithin(`guidance w = ${w}: batched vs the reference`, batched, exact, (i) => ({ rtol: 0, atol: P[i] }));
      }),
      Math.min(ctx.numRuns, 15),
    );
  },
};

// ─── BACKEND-SAMPLER-PARITY ─────────────────────────────────────────────────────────────────────

/** DDPMScheduler → ddpm-scheduler, DPMSolverMultistepScheduler → dpm-solver-multistep-scheduler. */
export const kebab = (s: string): string =>
  s
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1-$2")
    .replace(/_/g, "-")
    .toLowerCase();

const PARITY_STEPS = 10;
const PARITY_SHAPE = [2, 1, 2, 4];

/** The data of the parity runs: a 3-component Gaussian mixture in 8 dimensions (the exact oracle's setting). */
function parityMixture(seed: number): GaussianMixture {
  const g = new GaussianStream(`parity-mixture/${seed}`);
  return new GaussianMixture([0, 1, 2].map((k) => ({ mean: Float64Array.from(g.normals(8), (v) => 0.6 * v), std: 0.25, weight: 1 + k, label: k })));
}

/** ᾱ(t) of the default schedule, linearly interpolated for fractional timesteps. */
function alphaBarAt(ac: Float64Array, t: number): number {
  const c = Math.min(Math.max(t, 0), ac.length - 1);
  const i = Math.floor(c);
  const j = Math.min(i + 1, ac.length - 1);
  return ac[i] + (c - i) * (ac[j] - ac[i]);
}

/** The scheduler run (diffusers face) of `className` on backend b; returns the sample after every step. */
export async function schedulerRun(b: B, className: string, seed: number): Promise<Float64Array[]> {
  const data = parityMixture(seed);
  const ac = makeSchedule().alphasCumprod;
  let sched;
  try {
    sched = await createScheduler(className, {}, b);
  } catch (e) {
    if ((e as { code?: string }).code === "ERR_MODULE_NOT_FOUND" || /Cannot find module|Failed to load|does not provide/.test((e as Error).message)) {
      throw new Error(`the reference sampler ${className} is not available (reference/samplers/${SCHEDULER_MODULES[className][0]}: ${(e as Error).message}); this clause cannot be checked until it exists`);
    }
    throw e;
  }
  sched.setTimesteps(PARITY_STEPS);
  const den = hostDenoiser(b, "epsilon", (x, t) => {
    const abar = alphaBarAt(ac, t);
    return epsilonStar(data, x, Math.sqrt(abar), Math.sqrt(1 - abar));
  });
  const z = new GaussianStream(`parity/${seed}/init`).randn(PARITY_SHAPE);
  const initial = await b.fromHost(z.data.map((v) => v * sched.initNoiseSigma), PARITY_SHAPE);
  const traj: Float64Array[] = [];
  await runPipeline(sched, den, initial, { noise: hostNoise(b, new GaussianStream(`parity/${seed}/noise`)), onStep: async (_i, _t, s) => void traj.push(await b.toHost(s)) });
  return traj;
}

/** The k-diffusion run of `name` on backend b over a 10-step Karras schedule; returns the state after every step. */
export async function kdiffusionRun(b: B, name: KDiffusionSamplerName, seed: number): Promise<Float64Array[]> {
  const { KDIFFUSION } = await import("../../reference/samplers/kdiffusion.ts");
  const data = parityMixture(seed);
  const sigmas = karrasSigmas(PARITY_STEPS, 0.03, 14.6);
  const model = async (x: BTensor, sigma: number): Promise<BTensor> => {
    const xs = await b.toHost(x);
    const out = x0Star(data, { shape: [...x.shape], data: xs }, 1, sigma);
    return b.fromHost(out.data, out.shape);
  };
  const z = new GaussianStream(`parity/${seed}/init`).randn(PARITY_SHAPE);
  const x = await b.fromHost(z.data.map((v) => v * sigmas[0]), PARITY_SHAPE);
  const states: BTensor[] = [];
  await KDIFFUSION[name](b, model, x, sigmas, { noise: hostNoise(b, new GaussianStream(`parity/${seed}/noise`)), callback: (_i, s) => void states.push(s) });
  const traj: Float64Array[] = [];
  for (const s of states) traj.push(await b.toHost(s));
  return traj;
}

function compareTrajectories(what: string, b: B, got: Float64Array[], want: Float64Array[]): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} steps, the reference took ${want.length}`);
  let scale = 0;
  want.forEach((w, i) => {
    for (const v of w) scale = Math.max(scale, Math.abs(v));
    const tol = tolerance(b.dtype, "sampler", { steps: i + 1, scale });
    expectWithin(`${what}, step ${i + 1} of ${want.length}`, got[i], w, () => tol);
  });
}

const samplerParity: PropertyDef[] = [
  ...SCHEDULER_CLASSES.map(
    (className): PropertyDef => ({
      clause: "BACKEND-SAMPLER-PARITY",
      name: kebab(className),
      scope: "backend",
      kind: "example",
      /** 10 steps of the default config, the exact oracle as the model, the same host noise: trajectory within the "sampler" row. */
      async run(ctx) {
        const b = ctx.backend as B;
        const want = await schedulerRun(referenceBackend as unknown as B, className, ctx.seed);
        const got = await schedulerRun(b, className, ctx.seed);
        compareTrajectories(`${className}, ${PARITY_STEPS} steps`, b, got, want);
      },
    }),
  ),
  ...KDIFFUSION_SAMPLERS.map(
    (name): PropertyDef => ({
      clause: "BACKEND-SAMPLER-PARITY",
      name: `k-diffusion-${kebab(name)}`,
      scope: "backend",
      kind: "example",
      async run(ctx) {
        const b = ctx.backend as B;
        const want = await kdiffusionRun(referenceBackend as unknown as B, name, ctx.seed);
        const got = await kdiffusionRun(b, name, ctx.seed);
        compareTrajectories(`k-diffusion ${name}, ${PARITY_STEPS} Karras steps`, b, got, want);
      },
    }),
  ),
];

export const properties = defineProperties([transfer, ...combine, clamp, threshold, ...batch, ...randn, model, modelLoop, cfgBatch, ...samplerParity]);
