/**
 * COND — conditioning (spec/11-conditioning.md): the text encoder, cross-attention and the
 * class-conditional exact oracle. All "spec" scope: they check the reference mathematics.
 *
 * Random tensors are drawn from a GaussianStream seeded by a fast-check integer, so a counterexample
 * (dimensions + seed) replays exactly; fast-check shrinks the dimensions.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose } from "../check.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { ConfigError, NonFiniteError, ShapeError } from "../../reference/errors.ts";
import { epsilonStarPoint, noisedLogPdf } from "../../reference/oracle.ts";
import { makeSchedule } from "../../reference/schedule.ts";
import type { Tensor } from "../../reference/tensor.ts";
import { maxAbsDiff } from "../../reference/tensor.ts";
import {
  attentionWeights,
  classConditionalOracle,
  classConditioning,
  classPosterior,
  conditionalEpsilonStar,
  crossAttention,
  crossAttentionNaive,
  embeddedTextEncoder,
  EOS_ID,
  loadEmbeddedTable,
  mixtureClasses,
  positionEmbedding,
  scheduleNoiseLevel,
  tokenize,
  type AttentionParams,
} from "../../reference/conditioning/index.ts";

// ---------------------------------------------------------------------------------------------
// Shared generators
// ---------------------------------------------------------------------------------------------

const randn = (s: GaussianStream, shape: number[], scale = 1): Tensor => {
  const t = s.randn(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] *= scale;
  return t;
};

interface AttnCase {
  x: Tensor;
  context: Tensor;
  p: AttentionParams;
  heads: number;
  mask?: Tensor;
  stream: GaussianStream;
}

const attnDims = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  Lq: fc.integer({ min: 1, max: 3 }),
  n: fc.integer({ min: 1, max: 6 }),
  dq: fc.integer({ min: 1, max: 4 }),
  dc: fc.integer({ min: 1, max: 5 }),
  heads: fc.integer({ min: 1, max: 3 }),
  dh: fc.integer({ min: 1, max: 3 }),
  bias: fc.boolean(),
  masked: fc.boolean(),
  seed: fc.integer(),
});
type AttnDims = typeof attnDims extends fc.Arbitrary<infer T> ? T : never;

/** Image features, token embeddings, weights (entries 𝒩(0, 2/fan-in): scores of order 1–3) and a mask keeping ≥ 1 token per item. */
function attnCase(d: AttnDims): AttnCase {
  const s = new GaussianStream(`cond-attn/${d.seed}`);
  const dm = d.heads * d.dh;
  const p: AttentionParams = {
    wq: randn(s, [d.dq, dm], Math.sqrt(2 / d.dq)),
    wk: randn(s, [d.dc, dm], Math.sqrt(2 / d.dc)),
    wv: randn(s, [d.dc, dm], Math.sqrt(1 / d.dc)),
    wo: randn(s, [dm, d.dq], Math.sqrt(1 / dm)),
    bo: d.bias ? randn(s, [d.dq]) : undefined,
  };
  const x = randn(s, [d.B, d.Lq, d.dq], 1.5);
  const context = randn(s, [d.B, d.n, d.dc], 1.5);
  let mask: Tensor | undefined;
  if (d.masked) {
    const m = new Float64Array(d.B * d.n);
    for (let b = 0; b < d.B; b++) {
      for (let j = 0; j < d.n; j++) m[b * d.n + j] = s.uniform() < 0.6 ? 1 : 0;
      m[b * d.n + s.int(d.n)] = 1;
    }
    mask = { shape: [d.B, d.n], data: m };
  }
  return { x, context, p, heads: d.heads, mask, stream: s };
}

/** One batch item of a [B, …] tensor as [1, …]. */
const item = (t: Tensor, b: number): Tensor => {
  const per = t.data.length / t.shape[0];
  return { shape: [1, ...t.shape.slice(1)], data: t.data.slice(b * per, (b + 1) * per) };
};

/** A random class-labelled mixture: D ∈ 1..3, K ∈ 2..3 classes of 1–2 components, stds in [0.25, 1.2]. */
const mixtureArb = fc.record({ D: fc.integer({ min: 1, max: 3 }), K: fc.integer({ min: 2, max: 3 }), per: fc.integer({ min: 1, max: 2 }), seed: fc.integer() }).map(({ D, K, per, seed }) => {
  const s = new GaussianStream(`cond-mixture/${seed}`);
  const comps = [];
  for (let y = 0; y < K; y++) {
    for (let k = 0; k < per; k++) comps.push({ mean: s.normals(D).map((v) => 2 * v), std: 0.25 + 0.95 * s.uniform(), weight: 0.2 + s.uniform(), label: y });
  }
  const data = new GaussianMixture(comps);
  return { data, x: s.normals(D).map((v) => 2 * v), label: s.int(K) };
});

/** ᾱ in [0.02, 0.9] (σ² ≥ 0.1: keeps the finite-difference checks well conditioned). */
const alphaBarArb = fc.double({ min: 0.02, max: 0.9, noNaN: true });

/** ∇f(x) by the 5-point central stencil, h = 1e-4 (truncation O(h⁴), rounding ≈ 1e-12 here). */
function gradient(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-4): Float64Array {
  return Float64Array.from(x, (_, i) => {
    const at = (dx: number) => { const y = Float64Array.from(x); y[i] += dx; return f(y); };
    return (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
  });
}

const expectThrows = (what: string, cls: new (...a: any[]) => Error, fn: () => unknown): void => {
  try {
    fn();
  } catch (e) {
    expect(e instanceof cls, `${what}: threw ${(e as Error).name} (${(e as Error).message}), expected ${cls.name}`);
    return;
  }
  throw new Error(`${what}: did not throw (expected ${cls.name})`);
};

// Prompts: printable ASCII, or words from the vocabulary and outside it (so both id ranges are hit).
const promptArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 80 }),
  fc.array(fc.constantFrom("gold", "metal", "water", "fish", "horse", "bamboo", "kind", "of", "a", "glyffuser", "zxqv", "42", ";", "(", "Radical", "MONEY"), { minLength: 1, maxLength: 24 }).map((w) => w.join(" ")),
).filter((p) => p.trim() !== "");

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

export const properties = defineProperties([
  {
    clause: "COND-ENCODER",
    name: "embedded-encoder-shapes-and-padding-mask",
    scope: "spec",
    kind: "property",
    run: (ctx) => {
      const enc = embeddedTextEncoder();
      const t = loadEmbeddedTable();
      const { maxLength: n, dim: d } = enc;
      return checkProperty(ctx, fc.property(fc.array(promptArb, { minLength: 1, maxLength: 3 }), (prompts) => {
        const { embeddings: e, mask } = enc.encodeSync(prompts);
        expect(e.shape.join() === [prompts.length, n, d].join() && mask.shape.join() === [prompts.length, n].join(), `shapes [${e.shape}] and [${mask.shape}]`);
        prompts.forEach((p, b) => {
          const len = Math.min(tokenize(p).length + 1, n);
          for (let j = 0; j < n; j++) {
            const m = mask.data[b * n + j];
            expect(m === (j < len ? 1 : 0), `prompt ${JSON.stringify(p)}: mask[${j}] = ${m}, expected a prefix of ${len} ones`);
            const row = e.data.subarray((b * n + j) * d, (b * n + j + 1) * d);
            if (j >= len) expect(row.every((v) => v === 0), `prompt ${JSON.stringify(p)}: padded position ${j} is not 0`);
            else expect(row.every(Number.isFinite), `position ${j} not finite`);
          }
          // The last token is </s> even when the prompt is truncated.
          const last = e.data.subarray((b * n + len - 1) * d, (b * n + len) * d);
          const pos = positionEmbedding(len - 1, d);
          expectAllClose(`prompt ${JSON.stringify(p)}: last token is </s>`, last, Array.from(pos, (v, k) => t.table[EOS_ID * d + k] + v), 0, 1e-15);
        });
      }));
    },
  },
  {
    clause: "COND-ENCODER",
    name: "embedded-encoder-deterministic-and-batch-independent",
    scope: "spec",
    kind: "property",
    run: (ctx) => {
      const enc = embeddedTextEncoder();
      return checkProperty(ctx, fc.property(fc.array(promptArb, { minLength: 1, maxLength: 3 }), (prompts) => {
        const a = enc.encodeSync(prompts);
        const again = enc.encodeSync(prompts);
        expect(maxAbsDiff(a.embeddings.data, again.embeddings.data) === 0, "two encodings of one batch differ");
        prompts.forEach((p, b) => {
          const one = enc.encodeSync([p]);
          expect(maxAbsDiff(item(a.embeddings, b).data, one.embeddings.data) === 0 && maxAbsDiff(item(a.mask, b).data, one.mask.data) === 0, `prompt ${b} encodes differently alone and in a batch`);
        });
      }));
    },
  },
  {
    clause: "COND-NULL",
    name: "null-condition-is-end-of-sequence-and-blank-prompts-are-refused",
    scope: "spec",
    kind: "property",
    run: (ctx) => {
      const enc = embeddedTextEncoder();
      const t = loadEmbeddedTable();
      const { maxLength: n, dim: d } = enc;
      const blank = fc.array(fc.constantFrom(" ", "\t", "\n", "\r"), { maxLength: 6 }).map((a) => a.join(""));
      return checkProperty(ctx, fc.property(fc.integer({ min: 1, max: 4 }), blank, (B, empty) => {
        const nul = enc.encodeNullSync(B);
        const eos0 = Array.from(positionEmbedding(0, d), (v, k) => t.table[EOS_ID * d + k] + v);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < n; j++) expect(nul.mask.data[b * n + j] === (j === 0 ? 1 : 0), `null mask[${b}, ${j}] = ${nul.mask.data[b * n + j]}`);
          expectAllClose(`null condition item ${b} is </s> at position 0`, nul.embeddings.data.subarray(b * n * d, b * n * d + d), eos0, 0, 0);
        }
        expectThrows(`encode([${JSON.stringify(empty)}])`, ConfigError, () => enc.encodeSync([empty]));
      }));
    },
  },
  {
    clause: "COND-ATTN-ROWSUM",
    name: "attention-rows-are-probability-vectors",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(attnDims, (dims) => {
        const c = attnCase(dims);
        const A = attentionWeights(c.x, c.context, c.p, c.heads, c.mask);
        const n = dims.n;
        for (let r = 0; r < A.data.length / n; r++) {
          const b = Math.floor(r / (dims.heads * dims.Lq));
          let sum = 0;
          for (let j = 0; j < n; j++) {
            const a = A.data[r * n + j];
            expect(a >= 0 && a <= 1, `A row ${r}, key ${j} = ${a} is not in [0, 1]`);
            if (c.mask && c.mask.data[b * n + j] === 0) expect(a === 0, `masked key ${j} has weight ${a}`);
            sum += a;
          }
          expect(Math.abs(sum - 1) <= 4 * n * Number.EPSILON, `row ${r} sums to ${sum}`);
        }
      })),
  },
  {
    clause: "COND-ATTN-MASK",
    name: "masked-tokens-change-nothing",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(attnDims.map((d) => ({ ...d, masked: true })), (dims) => {
        const c = attnCase(dims);
        const out = crossAttention(c.x, c.context, c.p, c.heads, c.mask);
        const changed = { shape: c.context.shape, data: Float64Array.from(c.context.data) };
        const { n, dc } = dims;
        for (let b = 0; b < dims.B; b++) {
          for (let j = 0; j < n; j++) if (c.mask!.data[b * n + j] === 0) for (let k = 0; k < dc; k++) changed.data[(b * n + j) * dc + k] = 100 * c.stream.normal();
        }
        const out2 = crossAttention(c.x, changed, c.p, c.heads, c.mask);
        expect(maxAbsDiff(out.data, out2.data) === 0, `changing masked tokens changed the output by ${maxAbsDiff(out.data, out2.data)}`);
      })),
  },
  {
    clause: "COND-ATTN-MASK",
    name: "masked-tokens-equal-removed-tokens",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(attnDims.map((d) => ({ ...d, masked: true })), (dims) => {
        const c = attnCase(dims);
        const out = crossAttention(c.x, c.context, c.p, c.heads, c.mask);
        const { n, dc } = dims;
        for (let b = 0; b < dims.B; b++) {
          const keep = [...Array(n).keys()].filter((j) => c.mask!.data[b * n + j] === 1);
          const ctxB: Tensor = { shape: [1, keep.length, dc], data: Float64Array.from(keep.flatMap((j) => Array.from(c.context.data.subarray((b * n + j) * dc, (b * n + j + 1) * dc)))) };
          const outB = crossAttention(item(c.x, b), ctxB, c.p, c.heads);
          expectAllClose(`item ${b}: masked vs removed tokens`, item(out, b).data, outB.data, 1e-13, 1e-14);
        }
      })),
  },
  {
    clause: "COND-ATTN-PERMUTE",
    name: "token-permutation-leaves-output-unchanged",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(attnDims, (dims) => {
        const c = attnCase(dims);
        const { B, n, dc } = dims;
        const perm = [...Array(n).keys()];
        for (let i = n - 1; i > 0; i--) { const j = c.stream.int(i + 1); [perm[i], perm[j]] = [perm[j], perm[i]]; }
        const pc: Tensor = { shape: c.context.shape, data: new Float64Array(c.context.data.length) };
        const pm: Tensor | undefined = c.mask ? { shape: c.mask.shape, data: new Float64Array(c.mask.data.length) } : undefined;
        for (let b = 0; b < B; b++) {
          perm.forEach((src, j) => {
            pc.data.set(c.context.data.subarray((b * n + src) * dc, (b * n + src + 1) * dc), (b * n + j) * dc);
            if (pm) pm.data[b * n + j] = c.mask!.data[b * n + src];
          });
        }
        const out = crossAttention(c.x, c.context, c.p, c.heads, c.mask);
        const out2 = crossAttention(c.x, pc, c.p, c.heads, pm);
        expectAllClose(`permutation [${perm}]`, out2.data, out.data, 1e-12, 1e-13);
      })),
  },
  {
    clause: "COND-ATTN-NAIVE",
    name: "equals-the-naive-loop",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(attnDims, (dims) => {
        const c = attnCase(dims);
        expectAllClose("crossAttention vs crossAttentionNaive", crossAttention(c.x, c.context, c.p, c.heads, c.mask).data, crossAttentionNaive(c.x, c.context, c.p, c.heads, c.mask).data, 1e-11, 1e-12);
      })),
  },
  {
    clause: "COND-ATTN-TEMPERATURE",
    name: "scaling-queries-by-c-is-temperature-one-over-c",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(attnDims, fc.double({ min: 0.05, max: 20, noNaN: true }), (dims, cq) => {
        const c = attnCase(dims);
        const scaled = { ...c.p, wq: { shape: c.p.wq.shape, data: c.p.wq.data.map((v) => cq * v) } };
        const A1 = attentionWeights(c.x, c.context, scaled, c.heads, c.mask);
        const A2 = attentionWeights(c.x, c.context, c.p, c.heads, c.mask, 1 / cq);
        expectAllClose(`weights, c = ${cq}`, A1.data, A2.data, 1e-10, 1e-13);
        expectAllClose(`outputs, c = ${cq}`, crossAttention(c.x, c.context, scaled, c.heads, c.mask).data, crossAttention(c.x, c.context, c.p, c.heads, c.mask, 1 / cq).data, 1e-10, 1e-12);
      })),
  },
  {
    clause: "COND-INPUT-ERRORS",
    name: "bad-conditioning-inputs-give-typed-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      const c = attnCase({ B: 2, Lq: 3, n: 4, dq: 4, dc: 5, heads: 2, dh: 2, bias: true, masked: true, seed: 1 });
      const wide: Tensor = { shape: [2, 4, 6], data: new Float64Array(48) };
      expectThrows("context width 6 vs wk rows 5", ShapeError, () => crossAttention(c.x, wide, c.p, c.heads, c.mask));
      expectThrows("mask of length 3 for 4 tokens", ShapeError, () => crossAttention(c.x, c.context, c.p, c.heads, { shape: [2, 3], data: new Float64Array(6).fill(1) }));
      expectThrows("fully masked item", ConfigError, () => crossAttention(c.x, c.context, c.p, c.heads, { shape: [2, 4], data: Float64Array.of(1, 0, 0, 0, 0, 0, 0, 0) }));
      expectThrows("mask value 0.5", ConfigError, () => crossAttention(c.x, c.context, c.p, c.heads, { shape: [2, 4], data: new Float64Array(8).fill(0.5) }));
      expectThrows("3 heads for width 4", ConfigError, () => crossAttention(c.x, c.context, c.p, 3, c.mask));
      const nan = { shape: c.context.shape, data: Float64Array.from(c.context.data) };
      nan.data[7] = NaN;
      expectThrows("NaN in the context", NonFiniteError, () => crossAttention(c.x, nan, c.p, c.heads, c.mask));
      const enc = embeddedTextEncoder();
      expectThrows("empty prompt", ConfigError, () => enc.encodeSync(["ok", ""]));
      expectThrows("whitespace prompt", ConfigError, () => enc.encodeSync([" \t "]));
      expectThrows("no prompts", ConfigError, () => enc.encodeSync([]));
      const data = new GaussianMixture([{ mean: Float64Array.of(0), std: 1, weight: 1, label: 0 }, { mean: Float64Array.of(1), std: 1, weight: 1, label: 1 }]);
      const oracle = classConditionalOracle(data, scheduleNoiseLevel(makeSchedule()));
      const x: Tensor = { shape: [1, 1], data: Float64Array.of(0) };
      expectThrows("two-hot class row", ConfigError, () => oracle.evaluate(x, 10, { embeddings: { shape: [1, 1, 2], data: Float64Array.of(1, 1) } }));
      expectThrows("class row of the wrong width", ShapeError, () => oracle.evaluate(x, 10, { embeddings: { shape: [1, 1, 3], data: Float64Array.of(1, 0, 0) } }));
      expectThrows("unknown class label", ConfigError, () => classConditioning([0, 1], [2]));
      expectThrows("timestep past the schedule", ConfigError, () => oracle.evaluate(x, 1000, undefined));
    },
  },
  {
    clause: "COND-ORACLE-EPS",
    name: "conditional-eps-is-minus-sigma-times-conditional-score",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(mixtureArb, alphaBarArb, ({ data, x, label }, abar) => {
        const alpha = Math.sqrt(abar);
        const sigma = Math.sqrt(1 - abar);
        const eps = conditionalEpsilonStar(data, label, { shape: [1, data.dim], data: x }, alpha, sigma).data;
        const sub = data.conditional(label);
        const fd = gradient((p) => noisedLogPdf(sub, p, alpha, sigma), x).map((g) => -sigma * g);
        expectAllClose(`ε*(x | y = ${label}) vs −σ ∇ log q(x | y) (finite differences)`, eps, fd, 1e-6, 1e-6);
      })),
  },
  {
    clause: "COND-ORACLE-MARGINAL",
    name: "unconditional-eps-is-the-posterior-average",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(mixtureArb, alphaBarArb, ({ data, x }, abar) => {
        const alpha = Math.sqrt(abar);
        const sigma = Math.sqrt(1 - abar);
        const post = classPosterior(data, x, alpha, sigma);
        const classes = mixtureClasses(data);
        const avg = new Float64Array(data.dim);
        classes.forEach((y, k) => conditionalEpsilonStar(data, y, { shape: [1, data.dim], data: x }, alpha, sigma).data.forEach((v, i) => (avg[i] += post[k] * v)));
        const eu = epsilonStarPoint(data, x, alpha, sigma);
        const scale = Math.max(1, ...Array.from(eu, Math.abs));
        expectAllClose("Σ_y q(y | x) ε*(x | y) vs ε*(x)", avg, eu, 1e-10, 1e-12 * scale);
        expect(Math.abs(post.reduce((a, b) => a + b, 0) - 1) < 1e-12, "q(y | x) does not sum to 1");
      })),
  },
  {
    clause: "COND-ORACLE-MARGINAL",
    name: "oracle-denoiser-one-hot-and-null-convention",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(mixtureArb, fc.integer({ min: 0, max: 999 }), fc.integer(), ({ data }, t, seed) => {
        const schedule = makeSchedule();
        const oracle = classConditionalOracle(data, scheduleNoiseLevel(schedule));
        const s = new GaussianStream(`cond-oracle/${seed}`);
        const B = 4;
        const x: Tensor = { shape: [B, data.dim], data: s.normals(B * data.dim) };
        const ys = Array.from({ length: B }, () => (s.uniform() < 0.3 ? null : oracle.classes[s.int(oracle.classes.length)]));
        const { alpha, sigma } = oracle.noiseLevel(t);
        const out = oracle.evaluate(x, t, classConditioning(oracle.classes, ys)) as Tensor;
        const none = oracle.evaluate(x, t) as Tensor;
        ys.forEach((y, b) => {
          const xb = x.data.subarray(b * data.dim, (b + 1) * data.dim);
          const want = y === null ? epsilonStarPoint(data, xb, alpha, sigma) : conditionalEpsilonStar(data, y, { shape: [1, data.dim], data: xb }, alpha, sigma).data;
          expectAllClose(`item ${b}, class ${y}`, out.data.subarray(b * data.dim, (b + 1) * data.dim), want, 1e-14, 1e-14);
          expectAllClose(`item ${b}, no conditioning`, none.data.subarray(b * data.dim, (b + 1) * data.dim), epsilonStarPoint(data, xb, alpha, sigma), 1e-14, 1e-14);
        });
      })),
  },
  {
    clause: "COND-ONESTEP",
    name: "one-step-prediction-from-noise-is-the-class-average",
    scope: "spec",
    kind: "property",
    run: (ctx) => {
      // Three "radicals", two glyph clusters each, well apart (the article's one-step "Gold" figure, in 2-D).
      const data = new GaussianMixture([0, 1, 2].flatMap((y) => [-0.3, 0.3].map((dt) => {
        const th = (2 * Math.PI * y) / 3 + dt;
        return { mean: Float64Array.of(3 * Math.cos(th), 3 * Math.sin(th)), std: 0.4, weight: 1, label: y };
      })));
      const classMean = (y: number) => data.conditional(y).moments().mean;
      const schedule = makeSchedule();
      const oracle = classConditionalOracle(data, scheduleNoiseLevel(schedule));
      const dist = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.hypot(a[0] - b[0], a[1] - b[1]);
      const coord = fc.double({ min: -4, max: 4, noNaN: true });
      return checkProperty(ctx, fc.property(fc.integer({ min: 900, max: 999 }), coord, coord, fc.constantFrom(0, 1, 2), (t, x1, x2, y) => {
        const { alpha, sigma } = scheduleNoiseLevel(schedule)(t);
        const x: Tensor = { shape: [1, 2], data: Float64Array.of(x1, x2) };
        const x0 = (eps: Tensor) => Float64Array.from(x.data, (v, i) => (v - sigma * eps.data[i]) / alpha);
        const cond = x0(oracle.evaluate(x, t, classConditioning(oracle.classes, [y])) as Tensor);
        const uncond = x0(oracle.evaluate(x, t, classConditioning(oracle.classes, [null])) as Tensor);
        const nearest = [0, 1, 2].reduce((best, k) => (dist(cond, classMean(k)) < dist(cond, classMean(best)) ? k : best), 0);
        expect(nearest === y, `x̂₀(x, y = ${y}) = (${cond[0].toFixed(3)}, ${cond[1].toFixed(3)}) is nearest the mean of class ${nearest}`);
        expect(dist(cond, classMean(y)) < dist(uncond, classMean(y)), `conditioning on ${y} did not move x̂₀ toward its class mean`);
      }));
    },
  },
]);
