/**
 * The spec's figures, drawn exactly from the reference (closed-form densities, scores and the exact
 * oracle), deterministically from fixed seeds. `npm run figures` writes them to spec/figures/;
 * test/figures.test.ts checks that regenerating reproduces the committed files byte for byte.
 */
import type { VegaLiteSpec } from "./vega.ts";
import { baseConfig } from "./vega.ts";
import { GaussianStream } from "../reference/rng.ts";
import { fitGaussian, gaussianPdf, GaussianMixture } from "../reference/distributions.ts";
import { makeSchedule, type BetaSchedule } from "../reference/schedule.ts";
import { noisedMixture, epsilonStarPoint } from "../reference/oracle.ts";

export interface Figure {
  /** File name in spec/figures/ (without .svg). */
  readonly name: string;
  /** Caption: what the reader should see. */
  readonly caption: string;
  /** The spec chapter that embeds it. */
  readonly chapter: string;
  build(): VegaLiteSpec | Promise<VegaLiteSpec>;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;
const grid = (lo: number, hi: number, n: number): number[] => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));

/** The article's structured 2-D dataset: eight Gaussian blobs on a ring, labelled by half (y ∈ {0, 1}). */
export function ringData(std = 0.08): GaussianMixture {
  return new GaussianMixture(
    Array.from({ length: 8 }, (_, k) => ({
      mean: Float64Array.of(Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)),
      std,
      weight: 1,
      label: k < 4 ? 0 : 1,
    })),
  );
}

const fig1: Figure = {
  name: "01-gaussian-samples",
  chapter: "01-distributions.md",
  caption: "1000 samples from 𝒩(0, 1): their histogram (bars, as a density), the true density (black) and the maximum-likelihood fit (orange dashed). With this many samples the fit is close to, but not exactly, the truth.",
  build() {
    const s = new GaussianStream("fig01");
    const xs = Array.from(s.normals(1000));
    const fit = fitGaussian(xs);
    const curve = grid(-4, 4, 161).flatMap((x) => [
      { x: r4(x), density: r4(gaussianPdf([x], [0], 1)), curve: "true 𝒩(0, 1)" },
      { x: r4(x), density: r4(gaussianPdf([x], [fit.mean], fit.variance)), curve: `ML fit 𝒩(${fit.mean.toFixed(3)}, ${fit.variance.toFixed(3)})` },
    ]);
    return {
      $schema: SCHEMA, config: baseConfig, width: 420, height: 240,
      title: "Sampling from a Gaussian",
      layer: [
        { data: { values: xs.map((x) => ({ x: r4(x) })) }, transform: [{ bin: { step: 0.25 }, field: "x", as: ["b0", "b1"] }, { aggregate: [{ op: "count", as: "n" }], groupby: ["b0", "b1"] }, { calculate: "datum.n / (1000 * 0.25)", as: "density" }],
          mark: { type: "bar", color: "#9ecae1" }, encoding: { x: { field: "b0", type: "quantitative", title: "x", scale: { domain: [-4, 4] } }, x2: { field: "b1" }, y: { field: "density", type: "quantitative", title: "density" } } },
        { data: { values: curve }, mark: { type: "line", strokeWidth: 2 }, encoding: { x: { field: "x", type: "quantitative" }, y: { field: "density", type: "quantitative" }, color: { field: "curve", type: "nominal", title: null, scale: { range: ["#000000", "#e6550d"] } }, strokeDash: { field: "curve", type: "nominal", legend: null, scale: { range: [[1, 0], [6, 3]] } } } },
      ],
    } as VegaLiteSpec;
  },
};

const NOISE_STEPS = [0, 50, 150, 300, 999];

const fig2: Figure = {
  name: "02-noising-2d",
  chapter: "04-forward.md",
  caption: "The ring dataset noised to t = 0, 50, 150, 300, 999 (linear schedule). Top: 250 samples xₜ = √ᾱₜ x₀ + √(1 − ᾱₜ) ε. Bottom: the exact density of q(xₜ), again a Gaussian mixture. The structure dissolves into 𝒩(0, I).",
  build() {
    const data = ringData();
    const sched = makeSchedule();
    const s = new GaussianStream("fig02");
    const x0 = data.sampleMany(250, s);
    const points: object[] = [];
    const dens: object[] = [];
    const g = grid(-2.5, 2.5, 25);
    for (const t of NOISE_STEPS) {
      const a = Math.sqrt(sched.alphasCumprod[t]);
      const sg = Math.sqrt(1 - sched.alphasCumprod[t]);
      for (const p of x0) points.push({ t: `t = ${t}`, x: r4(a * p[0] + sg * s.normal()), y: r4(a * p[1] + sg * s.normal()) });
      const q = noisedMixture(data, a, sg);
      for (const x of g) for (const y of g) dens.push({ t: `t = ${t}`, x: r4(x), y: r4(y), density: r4(Math.exp(q.logPdf([x, y]))) });
    }
    const sort = NOISE_STEPS.map((t) => `t = ${t}`);
    return {
      $schema: SCHEMA, config: baseConfig, title: "The forward process on a 2-D dataset",
      vconcat: [
        { data: { values: points }, facet: { column: { field: "t", type: "ordinal", sort, title: null } }, spec: { width: 130, height: 130, mark: { type: "circle", size: 6, opacity: 0.6, color: "#3182bd" }, encoding: { x: { field: "x", type: "quantitative", scale: { domain: [-2.5, 2.5] } }, y: { field: "y", type: "quantitative", scale: { domain: [-2.5, 2.5] } } } } },
        { data: { values: dens }, facet: { column: { field: "t", type: "ordinal", sort, title: null } }, spec: { width: 130, height: 130, mark: { type: "rect" }, encoding: { x: { field: "x", type: "ordinal", axis: null, scale: { paddingInner: 0 } }, y: { field: "y", type: "ordinal", axis: null, sort: "descending", scale: { paddingInner: 0 } }, color: { field: "density", type: "quantitative", scale: { scheme: "viridis", type: "sqrt" }, legend: null } } }, resolve: { scale: { color: "independent" } } },
      ],
    } as VegaLiteSpec;
  },
};

const fig3: Figure = {
  name: "03-one-noising-step",
  chapter: "04-forward.md",
  caption: "One noising step q(x₁ | x₀) = 𝒩(√(1 − β) x₀, β) drawn around x₀ ∈ {−1, −0.3, 0.5, 1.2} with an exaggerated β = 0.05: each point becomes a small Gaussian, shrunk slightly towards 0.",
  build() {
    const beta = 0.05;
    const x0s = [-1, -0.3, 0.5, 1.2];
    const values = x0s.flatMap((x0) => grid(-2, 2, 201).map((x) => ({ x: r4(x), density: r4(gaussianPdf([x], [Math.sqrt(1 - beta) * x0], beta)), x0: `x₀ = ${x0}` })));
    return {
      $schema: SCHEMA, config: baseConfig, width: 420, height: 220, title: "One forward step",
      layer: [
        { data: { values }, mark: { type: "area", opacity: 0.35 }, encoding: { x: { field: "x", type: "quantitative", title: "x₁" }, y: { field: "density", type: "quantitative", title: "q(x₁ | x₀)" }, color: { field: "x0", type: "nominal", title: null } } },
        { data: { values: x0s.map((x0) => ({ x: x0, x0: `x₀ = ${x0}` })) }, mark: { type: "rule", strokeDash: [4, 3] }, encoding: { x: { field: "x", type: "quantitative" }, color: { field: "x0", type: "nominal" } } },
      ],
    } as VegaLiteSpec;
  },
};

const SCHEDULES: { label: string; config: { betaSchedule: BetaSchedule; betaStart?: number; betaEnd?: number; rescaleBetasZeroSnr?: boolean } }[] = [
  { label: "linear", config: { betaSchedule: "linear" } },
  { label: "scaled linear", config: { betaSchedule: "scaled_linear", betaStart: 0.00085, betaEnd: 0.012 } },
  { label: "cosine", config: { betaSchedule: "squaredcos_cap_v2" } },
  { label: "scaled linear, zero SNR", config: { betaSchedule: "scaled_linear", betaStart: 0.00085, betaEnd: 0.012, rescaleBetasZeroSnr: true } },
];

const fig4: Figure = {
  name: "04-schedules",
  chapter: "03-schedules.md",
  caption: "ᾱₜ, σₜ = √((1 − ᾱₜ)/ᾱₜ) (log scale) and the log-SNR λₜ for the linear, scaled-linear, cosine and zero-terminal-SNR schedules (N = 1000). Zero-SNR reaches ᾱ = 0 (σ = ∞, λ = −∞) at the last step, so those points are left out of the σ and λ panels.",
  build() {
    const values: object[] = [];
    for (const { label, config } of SCHEDULES) {
      const s = makeSchedule(config);
      for (let t = 0; t < 1000; t += 5) {
        values.push({ t, schedule: label, quantity: "ᾱₜ", value: r4(s.alphasCumprod[t]) });
        if (Number.isFinite(s.sigmas[t])) values.push({ t, schedule: label, quantity: "log₁₀ σₜ", value: r4(Math.log10(s.sigmas[t])) });
        if (Number.isFinite(s.logSnr[t])) values.push({ t, schedule: label, quantity: "λₜ = log SNR", value: r4(s.logSnr[t]) });
      }
    }
    return {
      $schema: SCHEMA, config: baseConfig, title: "Noise schedules", data: { values },
      facet: { column: { field: "quantity", type: "nominal", title: null, sort: ["ᾱₜ", "log₁₀ σₜ", "λₜ = log SNR"] } },
      resolve: { scale: { y: "independent" } },
      spec: { width: 220, height: 200, mark: { type: "line", strokeWidth: 1.8 }, encoding: { x: { field: "t", type: "quantitative" }, y: { field: "value", type: "quantitative", title: null }, color: { field: "schedule", type: "nominal" } } },
    } as VegaLiteSpec;
  },
};

const fig5: Figure = {
  name: "05-score-field",
  chapter: "09-oracle.md",
  caption: "The score ∇ log q(xₜ) = −ε*/σₜ of the noised ring dataset at t = 20, 100, 300 (linear schedule), drawn as arrows (length scaled per panel) over the density. At low noise the arrows point to the nearest blob; at high noise, towards the origin.",
  build() {
    const data = ringData();
    const sched = makeSchedule();
    const arrows: object[] = [];
    const g = grid(-1.6, 1.6, 15);
    for (const t of [20, 100, 300]) {
      const a = Math.sqrt(sched.alphasCumprod[t]);
      const sg = Math.sqrt(1 - sched.alphasCumprod[t]);
      const field = g.flatMap((x) => g.map((y) => ({ x, y, s: Array.from(epsilonStarPoint(data, [x, y], a, sg), (e) => -e / sg) })));
      const maxLen = Math.max(...field.map((f) => Math.hypot(f.s[0], f.s[1])));
      const k = 0.2 / maxLen;
      for (const f of field) arrows.push({ t: `t = ${t}`, x: r4(f.x), y: r4(f.y), x2: r4(f.x + k * f.s[0]), y2: r4(f.y + k * f.s[1]) });
    }
    return {
      $schema: SCHEMA, config: baseConfig, title: "The score field", data: { values: arrows },
      facet: { column: { field: "t", type: "ordinal", title: null, sort: ["t = 20", "t = 100", "t = 300"] } },
      spec: {
        width: 200, height: 200,
        layer: [
          { mark: { type: "rule", color: "#3182bd" }, encoding: { x: { field: "x", type: "quantitative", title: "x₁", scale: { domain: [-1.8, 1.8] } }, y: { field: "y", type: "quantitative", title: "x₂", scale: { domain: [-1.8, 1.8] } }, x2: { field: "x2" }, y2: { field: "y2" } } },
          { mark: { type: "circle", size: 8, color: "#08519c" }, encoding: { x: { field: "x2", type: "quantitative", title: "x₁" }, y: { field: "y2", type: "quantitative", title: "x₂" } } },
        ],
      },
    } as VegaLiteSpec;
  },
};

const fig8: Figure = {
  name: "08-joint-conditional",
  chapter: "11-conditioning.md",
  caption: "A joint p(x, y) with a continuous x and a class y ∈ {y₁, y₂} (a 1-D Gaussian mixture whose components carry labels). Top: the slices p(x, y₁), p(x, y₂) and their sum, the marginal p(x). Bottom: the conditionals p(x | y) = p(x, y)/p(y): conditioning picks one slice and renormalises it.",
  build() {
    const data = new GaussianMixture([
      { mean: Float64Array.of(-1.5), std: 0.5, weight: 0.3, label: 0 },
      { mean: Float64Array.of(0.2), std: 0.4, weight: 0.2, label: 0 },
      { mean: Float64Array.of(1.4), std: 0.6, weight: 0.5, label: 1 },
    ]);
    const py = [0, 1].map((y) => data.components.filter((c) => c.label === y).reduce((s, c) => s + c.weight, 0));
    const top: object[] = [];
    const bottom: object[] = [];
    for (const x of grid(-4, 4, 161)) {
      const joint = [0, 1].map((y) => Math.exp(data.conditional(y).logPdf([x])) * py[y]);
      top.push({ x: r4(x), density: r4(joint[0]), curve: "p(x, y₁)" }, { x: r4(x), density: r4(joint[1]), curve: "p(x, y₂)" }, { x: r4(x), density: r4(joint[0] + joint[1]), curve: "p(x) = Σ_y p(x, y)" });
      bottom.push({ x: r4(x), density: r4(joint[0] / py[0]), curve: "p(x | y₁)" }, { x: r4(x), density: r4(joint[1] / py[1]), curve: "p(x | y₂)" });
    }
    const line = (values: object[], title: string) => ({ width: 420, height: 150, title, data: { values }, mark: { type: "line", strokeWidth: 2 }, encoding: { x: { field: "x", type: "quantitative" }, y: { field: "density", type: "quantitative" }, color: { field: "curve", type: "nominal", title: null } } });
    return { $schema: SCHEMA, config: baseConfig, vconcat: [line(top, "Joint slices and the marginal"), line(bottom, "Conditionals")], resolve: { scale: { color: "independent" } } } as VegaLiteSpec;
  },
};

export const FIGURES: Figure[] = [fig1, fig2, fig3, fig4, fig5, fig8];
