/**
 * THE tolerance table (DESIGN.md: "tolerances live in one table per dtype and backend, with the reason
 * for each"). Every comparison of a backend against the Float64 reference takes its bound from
 * `tolerance(dtype, op, context)`; TOLERANCE_TABLE is the same rules written out for spec/10-backends.md.
 *
 * Notation: u = unit roundoff of the dtype (float32: 2⁻²⁴, float16: 2⁻¹¹, float64: 2⁻⁵³), η = its smallest
 * normal number (float32: 2⁻¹²⁶; allows GPUs that flush subnormals to zero, which WGSL permits),
 * γₙ = n·u/(1 − n·u) (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1: n roundings,
 * each (1 + δ) with |δ| ≤ u, multiply to 1 + θ with |θ| ≤ γₙ). A comparison passes when
 * |got − expected| ≤ atol + rtol·|expected|, elementwise.
 *
 * Bounds are derived, not tuned: where an a-priori bound is rigorous (first order in u) we use it with at
 * most a factor 2 for second-order terms; where it is not (a 10-step sampler loop), the reason says how
 * the number was chosen and what it was measured against.
 */
import type { DType } from "../adapters/contract.ts";
import { type MlpModelSpec, timestepEmbedding } from "../reference/models/mlp.ts";

export const UNIT_ROUNDOFF: Readonly<Record<DType, number>> = { float64: 2 ** -53, float32: 2 ** -24, float16: 2 ** -11 };
export const SMALLEST_NORMAL: Readonly<Record<DType, number>> = { float64: 2 ** -1022, float32: 2 ** -126, float16: 2 ** -14 };
export const SMALLEST_SUBNORMAL: Readonly<Record<DType, number>> = { float64: 2 ** -1074, float32: 2 ** -149, float16: 2 ** -24 };
export const LARGEST_FINITE: Readonly<Record<DType, number>> = { float64: Number.MAX_VALUE, float32: 3.4028234663852886e38, float16: 65504 };

/** γₙ = n·u/(1 − n·u) for the dtype. */
export const gamma = (dtype: DType, n: number): number => (n * UNIT_ROUNDOFF[dtype]) / (1 - n * UNIT_ROUNDOFF[dtype]);

/** v rounded to the dtype (IEEE round to nearest, ties to even; overflow to ±∞; the sign of zero kept). */
export function roundToDtype(dtype: DType, v: number): number {
  if (dtype === "float64") return v;
  if (dtype === "float32") return Math.fround(v);
  return roundToFloat16(v);
}

function roundToFloat16(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  if (a >= 65520) return Math.sign(v) * Infinity; // 65504 + half an ulp (16) rounds up to ∞
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const q = 2 ** (Math.max(e, -14) - 10); // the spacing of float16 numbers near a (subnormals below 2⁻¹⁴)
  const r = a / q;
  let n = Math.floor(r);
  const f = r - n;
  if (f > 0.5 || (f === 0.5 && n % 2 === 1)) n++;
  const out = n * q;
  return v < 0 ? -out : out === 0 ? 0 : out;
}

export type ToleranceOp = "transfer" | "batch" | "combine" | "clamp" | "threshold" | "model" | "cfg" | "sampler";

export interface ToleranceContext {
  /** combine: the number of terms k. */
  terms?: number;
  /** combine: Σᵢ|cᵢ·xᵢ| at this element (the scale the rounding errors are relative to). */
  magnitude?: number;
  /** combine: Σᵢ|cᵢ|. */
  coeffAbsSum?: number;
  /** model / cfg: the a-priori forward error bound at this element (`mlpErrorBound`). */
  bound?: number;
  /** sampler: number of steps. */
  steps?: number;
  /** sampler: max |x| over the reference trajectory so far (the scale of the state). */
  scale?: number;
}

export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

/** The per-step error-amplification allowance of a sampler loop (see the "sampler" row). */
export const SAMPLER_AMPLIFICATION = 8;
/** The most terms one sampler step combines (UniPC/DEIS order 3 with noise: sample, 3 outputs, x₀, noise ≤ 8). */
export const SAMPLER_MAX_TERMS = 8;

/**
 * The bound for comparing a backend of `dtype` with the Float64 reference for `op`.
 * Context fields are required where the row's formula uses them (a missing one counts as 0 / 1).
 */
export function tolerance(dtype: DType, op: ToleranceOp, context: ToleranceContext = {}): Tolerance {
  const u = UNIT_ROUNDOFF[dtype];
  const eta = SMALLEST_NORMAL[dtype];
  switch (op) {
    case "transfer":
    case "batch":
      return { rtol: 0, atol: 0 };
    case "combine": {
      const k = Math.max(1, context.terms ?? 1);
      return { rtol: 0, atol: gamma(dtype, k + 2) * (context.magnitude ?? 0) + eta * ((context.coeffAbsSum ?? 0) + 2 * k) };
    }
    case "clamp":
      return { rtol: 2 * u, atol: eta };
    case "threshold":
      return { rtol: 0, atol: 10 * u + eta };
    case "model":
      return { rtol: 0, atol: 2 * (context.bound ?? 0) };
    case "cfg":
      return { rtol: 0, atol: 2 * (context.bound ?? 0) };
    case "sampler": {
      const n = Math.max(1, context.steps ?? 1);
      return { rtol: 0, atol: n * gamma(dtype, SAMPLER_MAX_TERMS + 2) * SAMPLER_AMPLIFICATION * Math.max(1, context.scale ?? 1) };
    }
  }
}

export interface ToleranceRow {
  readonly dtype: DType | "any";
  readonly op: ToleranceOp;
  /** The rtol formula (u, η, γ as above). */
  readonly rtol: string;
  /** The atol formula. */
  readonly atol: string;
  readonly reason: string;
}

/**
 * The documented table (mirrored in spec/10-backends.md "Tolerances"). One row per op: the formulas are
 * the same for every floating dtype with its own u and η; float64 backends therefore get bounds ~2⁻²⁹
 * times tighter than float32 ones, and the reference compared with itself gets (almost) zero.
 */
export const TOLERANCE_TABLE: readonly ToleranceRow[] = [
  {
    dtype: "any",
    op: "transfer",
    rtol: "0",
    atol: "0",
    reason: "fromHost rounds each Float64 value to the dtype once (round to nearest even; −0, subnormals and the largest finite value survive); toHost widens exactly. So toHost(fromHost(x)) must equal roundToDtype(x) bit for bit (±0 compare equal).",
  },
  {
    dtype: "any",
    op: "batch",
    rtol: "0",
    atol: "0",
    reason: "concat and split only move values; they must equal the reference applied to the backend's stored values exactly.",
  },
  {
    dtype: "any",
    op: "combine",
    rtol: "0",
    atol: "γ_{k+2}·Σᵢ|cᵢxᵢ| + η·(Σᵢ|cᵢ| + 2k)",
    reason: "Σᵢ cᵢxᵢ from Float64 inputs: xᵢ and cᵢ are each rounded to the dtype (2 roundings), the product is rounded (1), and k − 1 additions in any order round partial sums bounded by Σ|cᵢxᵢ| (k − 1): at most k + 2 roundings on any path, so |err| ≤ γ_{k+2}·Σ|cᵢxᵢ| (Higham §3.1; FMA or pairwise summation only lower it). The η term allows flushing subnormal inputs, products and sums to zero (each loses < η; an input loses |cᵢ|·η). Relative to Σ|cᵢxᵢ|, not to the result, because cancellation is allowed.",
  },
  {
    dtype: "any",
    op: "clamp",
    rtol: "2u",
    atol: "η",
    reason: "clamp is exact given its inputs; x, lo and hi are each rounded to the dtype (relative u), and clamp is monotone and 1-Lipschitz in each, so the output moves by at most u·max(|x|, |lo|, |hi|) among the values it equals or is squeezed between, ≤ u·|expected|(1 + O(u)); factor 2 for that second-order term. η: a flushed subnormal.",
  },
  {
    dtype: "any",
    op: "threshold",
    rtol: "0",
    atol: "10u + η",
    reason: "Compared on the backend's own (rounded) input. s = v_lo + f·(v_hi − v_lo) with sorted |x| values exact: the subtraction, f's rounding, the product and the sum cost ≤ 4u·s; clamp(x, −s, s)/s has |∂/∂s| ≤ 1/s, so ≤ 4u on outputs that lie in [−1, 1]; the division is correctly rounded on CPUs (u) and within 2.5 ulp (≤ 5u) in WGSL. 4u + 5u ≤ 10u absolute; η for a flushed subnormal.",
  },
  {
    dtype: "any",
    op: "model",
    rtol: "0",
    atol: "2·B(x, t), the running a-priori bound of mlpErrorBound",
    reason: "Compared on the backend's own (rounded) input. Propagated layer by layer (mlpErrorBound): an affine layer of fan-in n adds γ_{n+1}·(|b| + Σ|W||a|) (a dot product with bias in any summation order) and passes incoming errors on as Σ|W|·e; SiLU is 1.0998-Lipschitz and adds (13 + 4|z|)·u·|silu(z)| (WGSL exp is accurate to 3 + 2|z| ulp, then 1 + e, a 2.5-ulp division and the product); the timestep embedding may be computed in the dtype (t·fⱼ rounded, sin/cos within 2 ulp): (2|t·fⱼ| + 4)·u. First order in u, hence the factor 2. Worst-case (γₙ) bounds are loose: measured errors of tfjs-cpu/wasm are ≤ 0.3 % of B, yet an off-by-one timestep exceeds B by orders of magnitude.",
  },
  {
    dtype: "any",
    op: "cfg",
    rtol: "0",
    atol: "2·P,  P = 2·(|1 − w|·B_u + |w|·B_c) + γ₄·(|1 − w||ε_u| + |w||ε_c|) + 4η",
    reason: "Each path (one batched model pass on [x + c_u; x + c_c], or two separate passes) differs from the exact guided output by at most P: the model bounds of the two evaluations (B from mlpErrorBound with the input error γ₄·(|x| + |c|) + 4η of the combine that forms x + c, times 2 as in the model row) scaled by the guidance coefficients, plus the guidance combine (k = 2: γ₄). Batched vs separate: at most the sum of both paths, 2P; batched vs the Float64 reference: P.",
  },
  {
    dtype: "any",
    op: "sampler",
    rtol: "0",
    atol: `n·γ_{${SAMPLER_MAX_TERMS + 2}}·${SAMPLER_AMPLIFICATION}·max(1, max|x_ref|)`,
    reason: `After n steps of a sampler (n ≤ 10 here). A step combines at most ${SAMPLER_MAX_TERMS} tensors (sample, up to 4 model outputs or x₀ predictions, noise) with coefficients of size ≲ 1 relative to the state, so by the combine row it injects ≤ γ_${SAMPLER_MAX_TERMS + 2}·scale, the model output's rounding on upload included; over n steps these add, each amplified by the following step maps' Lipschitz constants. For the Gaussian-mixture oracle these maps are contractions or close to one, so the allowance ${SAMPLER_AMPLIFICATION} is a margin, not a fit: measured on tfjs-cpu and tfjs-wasm over 10 seeds and every sampler (11 diffusers classes, 7 k-diffusion functions), the worst error is 0.84·n·γ₁₀·scale (EulerAncestralDiscreteScheduler; ≤ 0.63 for every other), i.e. ≈ 10× below the bound. A bound for 10 steps, not for 1000: float32 trajectories drift.`,
  },
];

/**
 * BACKEND-MODEL: the running first-order a-priori bound on |MLP_dtype(x, t) − MLP_exact(x, t)|, per output
 * element, for a backend that computes the MLP of reference/models/mlp.ts in `dtype` on the input `x`
 * (host values the backend holds, so input rounding is not included; `inputErr` adds a known error of
 * the input, e.g. of a combine that produced it). See the "model" row.
 */
export function mlpErrorBound(spec: MlpModelSpec, x: ArrayLike<number>, batch: number, t: number, dtype: DType, inputErr?: ArrayLike<number>): Float64Array {
  const u = UNIT_ROUNDOFF[dtype];
  const D = spec.dim;
  const E = spec.timeEmbedDim;
  const half = E / 2;
  const emb = timestepEmbedding(t, E);
  const embErr = new Float64Array(E);
  for (let j = 0; j < half; j++) {
    const arg = Math.abs(t * Math.exp((-Math.log(10000) * j) / half));
    embErr[j] = embErr[half + j] = (2 * arg + 4) * u;
  }
  const { w1, b1, w2, b2, w3, b3 } = spec.weights;
  const H = spec.hidden;
  const out = new Float64Array(batch * D);
  const SILU_LIP = 1.0998;
  const layer = (w: Float32Array, b: Float32Array, a: Float64Array, ea: Float64Array, nOut: number): [Float64Array, Float64Array] => {
    const n = a.length;
    const g = gamma(dtype, n + 1);
    const y = new Float64Array(nOut);
    const ey = new Float64Array(nOut);
    for (let o = 0; o < nOut; o++) {
      let s = b[o];
      let abs = Math.abs(b[o]);
      let prop = 0;
      for (let i = 0; i < n; i++) {
        const wi = w[o * n + i];
        s += wi * a[i];
        abs += Math.abs(wi) * (Math.abs(a[i]) + ea[i]);
        prop += Math.abs(wi) * ea[i];
      }
      y[o] = s;
      ey[o] = prop + g * abs;
    }
    return [y, ey];
  };
  const silu = (y: Float64Array, ey: Float64Array): [Float64Array, Float64Array] => {
    const z = new Float64Array(y.length);
    const ez = new Float64Array(y.length);
    for (let i = 0; i < y.length; i++) {
      z[i] = y[i] / (1 + Math.exp(-y[i]));
      const mag = Math.abs(y[i]) + ey[i];
      ez[i] = SILU_LIP * ey[i] + (13 + 4 * mag) * u * (Math.abs(z[i]) + SILU_LIP * ey[i]);
    }
    return [z, ez];
  };
  for (let b = 0; b < batch; b++) {
    const a0 = new Float64Array(D + E);
    const e0 = new Float64Array(D + E);
    for (let i = 0; i < D; i++) {
      a0[i] = x[b * D + i];
      e0[i] = inputErr?.[b * D + i] ?? 0;
    }
    a0.set(emb, D);
    e0.set(embErr, D);
    const [h1, eh1] = silu(...layer(w1, b1, a0, e0, H));
    const [h2, eh2] = silu(...layer(w2, b2, h1, eh1, H));
    const [, ey] = layer(w3, b3, h2, eh2, D);
    out.set(ey, b * D);
  }
  return out;
}

/** TOLERANCE_TABLE as the Markdown table of spec/10-backends.md "Tolerances" (a test keeps the two equal). */
export function toleranceTableMarkdown(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    "| dtype | op | rtol | atol | reason |",
    "|---|---|---|---|---|",
    ...TOLERANCE_TABLE.map((r) => `| ${r.dtype} | ${r.op} | ${esc(r.rtol)} | ${esc(r.atol)} | ${esc(r.reason)} |`),
  ].join("\n");
}
