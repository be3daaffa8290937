/**
 * The spec's figures, drawn exactly from the reference (closed-form densities, scores and the exact
 * oracle), deterministically from fixed seeds. `npm run figures` writes them to spec/figures/;
 * test/figures.test.ts checks that regenerating reproduces the committed files byte for byte.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { VegaLiteSpec } from "./vega.ts";
import { baseConfig } from "./vega.ts";
import { GaussianStream } from "../reference/rng.ts";
import { fitGaussian, gaussianPdf, GaussianMixture } from "../reference/distributions.ts";
import { makeSchedule, type BetaSchedule } from "../reference/schedule.ts";
import { noisedMixture, epsilonStarPoint } from "../reference/oracle.ts";
import { createScheduler } from "../reference/samplers/index.ts";
import { runPipeline, hostNoise } from "../reference/samplers/scheduler.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import { classConditionalOracle, scheduleNoiseLevel, classConditioning, bayesClass } from "../reference/conditioning/oracle.ts";
import { guidedDenoiser } from "../reference/guidance.ts";
import { measureOrder, vpOracle } from "../reference/samplers/order.ts";
import { withOptional } from "../reference/optional.ts";

export interface Figure {
  /** File name in spec/figures/ (without .svg). */
  readonly name: string;
  /** Caption: what the reader should see. */
  readonly caption: string;
  /** The spec chapter that embeds it. */
  readonly chapter: string;
  /** The article heading it illustrates (spec/article-headings.txt). */
  readonly article: string;
  build(): VegaLiteSpec | Promise<VegaLiteSpec>;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;
const grid = (lo: number, hi: number, n: number): number[] => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));

export { ringData } from "./datasets.ts";
import { ringData } from "./datasets.ts";

const fig1: Figure = {
  name: "01-gaussian-samples",
  article: "Probability distributions",
  chapter: "01-distributions.md",
  caption: "1000 samples from 𝒩(0, 1): their histogram (orange bars, as a density), the true density (black) and the maximum-likelihood fit from the samples (dashed blue), as in the article. With this many samples the fit is close to, but not exactly, the truth.",
  build() {
    const s = new GaussianStream("fig01");
    const xs = Array.from(s.normals(1000));
    const fit = fitGaussian(xs);
    const HIST = "histogram of 1000 samples", TRUE = "true density 𝒩(0, 1)", FIT = `ML fit 𝒩(${fit.mean.toFixed(3)}, ${fit.variance.toFixed(3)})`;
    const curve = grid(-4, 4, 161).flatMap((x) => [
      { x: r4(x), density: r4(gaussianPdf([x], [0], 1)), curve: TRUE },
      { x: r4(x), density: r4(gaussianPdf([x], [fit.mean], fit.variance)), curve: FIT },
    ]);
    // One colour scale for the three series, in this order (not alphabetical): bars orange, truth black, fit blue.
    const color = { field: "curve", type: "nominal", title: null, scale: { domain: [HIST, TRUE, FIT], range: ["#fdae6b", "#000000", "#3182bd"] }, legend: { orient: "bottom", direction: "vertical", labelLimit: 0 } };
    return {
      $schema: SCHEMA, config: baseConfig, width: 420, height: 240,
      title: "Sampling from a Gaussian, and fitting one",
      layer: [
        { data: { values: xs.map((x) => ({ x: r4(x) })) }, transform: [{ bin: { step: 0.25 }, field: "x", as: ["b0", "b1"] }, { aggregate: [{ op: "count", as: "n" }], groupby: ["b0", "b1"] }, { calculate: "datum.n / (1000 * 0.25)", as: "density" }, { calculate: `'${HIST}'`, as: "curve" }],
          mark: { type: "bar", stroke: "#ffffff", strokeWidth: 0.5 }, encoding: { x: { field: "b0", type: "quantitative", title: "x", scale: { domain: [-4, 4] } }, x2: { field: "b1" }, y: { field: "density", type: "quantitative", title: "density" }, y2: { datum: 0 }, color } },
        { data: { values: curve }, mark: { type: "line", strokeWidth: 2 }, encoding: { x: { field: "x", type: "quantitative" }, y: { field: "density", type: "quantitative" }, color, strokeDash: { field: "curve", type: "nominal", legend: null, scale: { domain: [TRUE, FIT], range: [[1, 0], [6, 3]] } } } },
      ],
    } as VegaLiteSpec;
  },
};

const NOISE_STEPS = [0, 50, 150, 300, 999];

const fig2: Figure = {
  name: "02-noising-2d",
  article: "Forward diffusion visualization",
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
  article: "Forward diffusion intuition",
  chapter: "04-forward.md",
  caption: "One noising step q(x₁ | x₀) = 𝒩(√(1 − β) x₀, β) drawn around x₀ ∈ {−1, −0.3, 0.5, 1.2} with an exaggerated β = 0.05: each point becomes a small Gaussian, shrunk slightly towards 0.",
  build() {
    const beta = 0.05;
    const x0s = [-1, -0.3, 0.5, 1.2];
    const values = x0s.flatMap((x0) => grid(-2, 2, 201).map((x) => ({ x: r4(x), density: r4(gaussianPdf([x], [Math.sqrt(1 - beta) * x0], beta)), x0: `x₀ = ${x0}` })));
    return {
      $schema: SCHEMA, config: baseConfig, width: 420, height: 220, title: "One forward step",
      layer: [
        // stack: null — each band is one Gaussian q(x₁ | x₀), not a running sum; the legend follows x₀.
        { data: { values }, mark: { type: "area", opacity: 0.35, line: true }, encoding: { x: { field: "x", type: "quantitative", title: "x₁" }, y: { field: "density", type: "quantitative", title: "q(x₁ | x₀)", stack: null }, color: { field: "x0", type: "nominal", title: null, scale: { domain: x0s.map((x0) => `x₀ = ${x0}`) } } } },
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
  article: "Forward diffusion, or “noising”",
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
      spec: { width: 220, height: 200, mark: { type: "line", strokeWidth: 1.8 }, encoding: { x: { field: "t", type: "quantitative" }, y: { field: "value", type: "quantitative", title: null }, color: { field: "schedule", type: "nominal", scale: { domain: SCHEDULES.map((x) => x.label) }, legend: { labelLimit: 0 } } } },
    } as VegaLiteSpec;
  },
};

const fig5: Figure = {
  name: "05-score-field",
  article: "Alternative intuition from score function",
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
  article: "Conditional distributions",
  chapter: "11-conditioning.md",
  caption: "A joint p(x, y) with a continuous x and a class y ∈ {y₁, y₂} (a 1-D Gaussian mixture whose components carry labels). Top: the slices p(x, y₁) (orange, two modes) and p(x, y₂) (blue), over their sum, the marginal p(x) (grey, dashed). Bottom: the conditionals p(x | y) = p(x, y)/p(y) in the same colours: conditioning picks one slice and renormalises it.",
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
    // y₁ orange and y₂ blue in both panels; p(x) a grey area underneath, so both modes of p(x, y₁) stay visible.
    const Y1 = "#e6550d", Y2 = "#3182bd";
    const x = { field: "x", type: "quantitative" }, y = { field: "density", type: "quantitative" };
    const panel = (values: object[], title: string, domain: string[], range: string[], under?: string) => {
      const color = { field: "curve", type: "nominal", title: null, scale: { domain, range }, legend: { labelLimit: 0 } };
      const strokeDash = { field: "curve", type: "nominal", legend: null, scale: { domain, range: domain.map((d) => (d === under ? [4, 3] : [1, 0])) } };
      const only = (keep: boolean) => [{ filter: `(datum.curve === '${under ?? ""}') === ${keep}` }];
      return {
        width: 420, height: 150, title,
        layer: [
          // p(x) first (grey area, dashed outline), the slices drawn over it.
          ...(under ? [{ data: { values }, transform: only(true), mark: { type: "area", color: "#d9d9d9", opacity: 0.8 }, encoding: { x, y } }, { data: { values }, transform: only(true), mark: { type: "line", strokeWidth: 1.5 }, encoding: { x, y, color, strokeDash } }] : []),
          { data: { values }, transform: only(false), mark: { type: "line", strokeWidth: 2 }, encoding: { x, y, color, strokeDash } },
        ],
      };
    };
    const PX = "p(x) = Σ_y p(x, y)";
    return {
      $schema: SCHEMA, config: baseConfig,
      vconcat: [panel(top, "Joint slices and the marginal", ["p(x, y₁)", "p(x, y₂)", PX], [Y1, Y2, "#636363"], PX), panel(bottom, "Conditionals", ["p(x | y₁)", "p(x | y₂)"], [Y1, Y2])],
      resolve: { scale: { color: "independent", strokeDash: "independent" } },
    } as VegaLiteSpec;
  },
};

export const FIGURES: Figure[] = [fig1, fig2, fig3, fig4, fig5, fig8];

// ─── figures that run samplers ─────────────────────────────────────────────────────────────────

/** The 1-D trimodal dataset of the trajectory figure. */
const trimodal = (): GaussianMixture =>
  new GaussianMixture([
    { mean: Float64Array.of(-1.5), std: 0.12, weight: 0.3 },
    { mean: Float64Array.of(0.3), std: 0.12, weight: 0.4 },
    { mean: Float64Array.of(1.6), std: 0.12, weight: 0.3 },
  ]);

/** Runs a diffusers-style sampler with the exact oracle; returns each item's path [(t, x)]. */
async function trajectories(className: string, config: Record<string, unknown>, steps: number, xT: Float64Array, data: GaussianMixture, noiseSeed: string): Promise<{ t: number; x: Float64Array }[]> {
  const schedule = makeSchedule();
  const s = await createScheduler(className, { timestepSpacing: "trailing", ...config }, referenceBackend);
  s.setTimesteps(steps);
  const oracle = vpOracle(referenceBackend, data, schedule);
  const path = [{ t: s.timesteps[0], x: Float64Array.from(xT) }];
  const next = (i: number): number => (i + 1 < s.timesteps.length ? s.timesteps[i + 1] : 0);
  await runPipeline(s, oracle, referenceBackend.fromHost(xT, [xT.length, 1]), {
    noise: hostNoise(referenceBackend, new GaussianStream(noiseSeed)),
    onStep: (i, _t, x) => { path.push({ t: next(i), x: Float64Array.from(x.data) }); },
  });
  return path;
}

const fig6: Figure = {
  name: "06-sampler-trajectories",
  article: "Reverse diffusion in practice",
  chapter: "07-samplers-ddpm-ddim-pndm.md",
  caption: "Trajectories of 40 samples from x_T ~ 𝒩(0, 1) to a trimodal 1-D dataset (modes at −1.5, 0.3, 1.6) with the exact oracle, plotted as xₜ against the timestep. DDIM (η = 0) follows smooth deterministic paths; DDPM adds fresh noise at every step; DPM-Solver++(2M) reaches the modes in 5 steps nearly as well as in 120, while 5 DDPM steps leave samples between the modes — the article's 120-vs-5-steps comparison.",
  async build() {
    const data = trimodal();
    const xT = new GaussianStream("fig06").normals(40);
    const runs: [string, string, Record<string, unknown>][] = [
      ["DDIM", "DDIMScheduler", { setAlphaToOne: true, clipSample: false }],
      ["DDPM", "DDPMScheduler", { clipSample: false }],
      ["DPM-Solver++(2M)", "DPMSolverMultistepScheduler", { solverOrder: 2 }],
    ];
    const values: object[] = [];
    for (const [label, cls, cfg] of runs) {
      for (const steps of [5, 120]) {
        const path = await trajectories(cls, cfg, steps, xT, data, `fig06/${label}/${steps}`);
        for (const p of path) p.x.forEach((v, k) => values.push({ sampler: label, steps: `${steps} steps`, t: p.t, x: r4(v), id: k }));
      }
    }
    return {
      $schema: SCHEMA, config: baseConfig, title: "From noise to data: sampler trajectories", data: { values },
      facet: { row: { field: "sampler", type: "nominal", title: null, sort: runs.map((r) => r[0]) }, column: { field: "steps", type: "nominal", title: null, sort: ["5 steps", "120 steps"] } },
      spec: {
        width: 260, height: 150,
        mark: { type: "line", strokeWidth: 0.8, opacity: 0.6, clip: true },
        encoding: { x: { field: "t", type: "quantitative", title: "timestep t", scale: { reverse: true, domain: [0, 999] } }, y: { field: "x", type: "quantitative", title: "xₜ", scale: { domain: [-3, 3] } }, detail: { field: "id", type: "nominal" }, color: { value: "#3182bd" } },
      },
    } as VegaLiteSpec;
  },
};

const ORDER_FIGURE_SAMPLERS = ["ddim", "heun", "dpmpp-2m", "dpmpp-3m", "unipc-2"];

const fig7: Figure = {
  name: "07-error-vs-steps",
  article: "Reverse diffusion in practice",
  chapter: "08-order.md",
  caption: "Error of the final sample against the exact probability-flow solution (Gaussian data, exact oracle) versus the number of steps, log–log, with dashed lines of the theoretical slope −p anchored at each sampler's first point. DDIM is first order, Heun and DPM-Solver++(2M) second, DPM-Solver++(3M) third (with the Taylor weight; diffusers' weight gives 2), UniPC-2 with its corrector third.",
  async build() {
    const values: object[] = [];
    for (const name of ORDER_FIGURE_SAMPLERS) {
      const m = await measureOrder(name);
      m.steps.forEach((n, i) => {
        values.push({ sampler: `${name} (p = ${m.expectedOrder})`, n, error: m.errors[i], kind: "measured" });
        values.push({ sampler: `${name} (p = ${m.expectedOrder})`, n, error: m.errors[0] * (m.steps[0] / n) ** m.expectedOrder, kind: "slope −p" });
      });
    }
    return {
      $schema: SCHEMA, config: baseConfig, width: 420, height: 300, title: "Convergence order", data: { values },
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "n", type: "quantitative", title: "steps n", scale: { type: "log" } },
        y: { field: "error", type: "quantitative", title: "RMS error", scale: { type: "log" }, axis: { format: ".0e" } },
        color: { field: "sampler", type: "nominal", title: null },
        strokeDash: { field: "kind", type: "nominal", title: null, scale: { domain: ["measured", "slope −p"], range: [[1, 0], [4, 4]] } },
      },
    } as VegaLiteSpec;
  },
};

const fig9: Figure = {
  name: "09-guidance",
  article: "Further remarks",
  chapter: "12-guidance.md",
  caption: "Samples of the ring dataset (upper half: class y₁, lower half: y₂) from 30 DDIM steps with the exact oracle: unconditional, conditioned on y₁ (w = 1), and classifier-free guidance at w = 3 and w = 7. Colour: the class of the nearest blob. Guidance pushes samples deeper into the conditioned class (purity rises) and away from the other, at the cost of diversity.",
  async build() {
    const data = ringData();
    const schedule = makeSchedule();
    const oracle = classConditionalOracle(data, scheduleNoiseLevel(schedule));
    const B = 300;
    const xT = new GaussianStream("fig09").normals(B * 2);
    const cond = classConditioning(oracle.classes, Array(B).fill(0));
    const nullCond = classConditioning(oracle.classes, Array(B).fill(null));
    const values: object[] = [];
    const panels: [string, number | null][] = [["unconditional", null], ["conditional, w = 1", 1], ["CFG w = 3", 3], ["CFG w = 7", 7]];
    for (const [label, w] of panels) {
      const s = await createScheduler("DDIMScheduler", { timestepSpacing: "trailing", setAlphaToOne: true, clipSample: false }, referenceBackend);
      s.setTimesteps(30);
      const den = w === null ? oracle : guidedDenoiser(oracle, referenceBackend, cond, nullCond, w);
      const out = await runPipeline(s, den, referenceBackend.fromHost(xT, [B, 2]), { cond: w === null ? undefined : cond });
      for (let b = 0; b < B; b++) {
        const p = out.data.subarray(2 * b, 2 * b + 2);
        values.push({ panel: label, x: r4(p[0]), y: r4(p[1]), class: bayesClass(data, p) === 0 ? "y₁ (upper)" : "y₂ (lower)" });
      }
    }
    return {
      $schema: SCHEMA, config: baseConfig, title: "Conditioning and classifier-free guidance", data: { values },
      facet: { column: { field: "panel", type: "nominal", title: null, sort: panels.map((p) => p[0]) } },
      spec: { width: 170, height: 170, mark: { type: "circle", size: 10, opacity: 0.7, clip: true }, encoding: { x: { field: "x", type: "quantitative", scale: { domain: [-1.6, 1.6] } }, y: { field: "y", type: "quantitative", scale: { domain: [-1.6, 1.6] } }, color: { field: "class", type: "nominal", title: null } } },
    } as VegaLiteSpec;
  },
};

FIGURES.push(fig6, fig7, fig9);
FIGURES.sort((a, b) => a.name.localeCompare(b.name));

// ─── figure 10: the glyph dataset and the trained glyffuser (only when the dataset is present) ──

/** The six focus radicals of the committed subset, by Kangxi number and meaning (金 氵 艹 扌 亻 木): the SVG holds no CJK text, so it renders without a CJK font. */
const GLYPH_RADICALS: [number, string][] = [[167, "167 gold"], [85, "85 water"], [140, "140 grass"], [64, "64 hand"], [9, "9 person"], [75, "75 tree"]];

const fig10Umap: Figure = {
  name: "10a-glyph-umap",
  article: "Dataset visualization",
  chapter: "13-glyffuser.md",
  caption: "A UMAP projection (umap-js, 15 neighbours, min-dist 0.1, seeded) of 500 glyphs of the committed 32×32 dataset — about 70 of each focus radical (金 氵 艹 扌 亻 木) and 80 others, spread over code points — coloured by radical (legend: Kangxi number and meaning, 167 gold 金, 85 water 氵, 140 grass 艹, 64 hand 扌, 9 person 亻, 75 tree 木), over a Gaussian kernel density estimate of the projected points (Scott's-rule bandwidth, 30×30 grid; darker = denser). Each focus radical forms its own cluster — 扌 and 木, both narrow left-side components, lie next to each other and overlap at their edge — and the glyphs of other radicals scatter between and around the clusters, mostly in the low-density regions. Nearness in pixel space follows the radical and the glyph's layout, not its meaning: that is the structure the diffusion model has to learn.",
  async build() {
    const { UMAP } = await withOptional("the UMAP figure", () => import("umap-js"));
    const { loadGlyphDataset, glyphPixels, spreadPick } = await import("../glyffuser/dataset.ts");
    const ds = loadGlyphDataset();
    const idx = ds.records.map((r, i) => ({ r, i }));
    const chosen: { i: number; label: string }[] = [];
    for (const [rad, label] of GLYPH_RADICALS) for (const { i } of spreadPick(idx.filter((e) => e.r.radical === rad), 70)) chosen.push({ i, label });
    const focus = new Set(GLYPH_RADICALS.map((g) => g[0]));
    for (const { i } of spreadPick(idx.filter((e) => !focus.has(e.r.radical)), 80)) chosen.push({ i, label: "other" });
    const X = chosen.map(({ i }) => Array.from(glyphPixels(ds, i), (v) => v / 255));
    const s = new GaussianStream("fig10/umap");
    const umap = new UMAP({ nComponents: 2, nNeighbors: 15, minDist: 0.1, random: () => s.uniform() });
    const Y = umap.fit(X).map(([a, b]) => [r4(a), r4(b)]);
    // KDE over the projection: product Gaussian kernel, Scott's rule h_d = σ_d · n^(−1/6) (d = 2).
    const n = Y.length;
    const axisStats = [0, 1].map((d) => {
      const v = Y.map((p) => p[d]);
      const mean = v.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
      const lo = Math.min(...v), hi = Math.max(...v), pad = 0.08 * (hi - lo);
      return { h: sd * n ** (-1 / 6), lo: lo - pad, hi: hi + pad };
    });
    const G = 30;
    const [ax, ay] = axisStats;
    const dx = (ax.hi - ax.lo) / G, dy = (ay.hi - ay.lo) / G;
    const cells: { x0: number; x1: number; y0: number; y1: number; density: number }[] = [];
    for (let gy = 0; gy < G; gy++) {
      for (let gx = 0; gx < G; gx++) {
        const cx = ax.lo + (gx + 0.5) * dx, cy = ay.lo + (gy + 0.5) * dy;
        let sum = 0;
        for (const [px, py] of Y) sum += Math.exp(-0.5 * (((cx - px) / ax.h) ** 2 + ((cy - py) / ay.h) ** 2));
        cells.push({ x0: r4(ax.lo + gx * dx), x1: r4(ax.lo + (gx + 1) * dx), y0: r4(ay.lo + gy * dy), y1: r4(ay.lo + (gy + 1) * dy), density: sum / (n * 2 * Math.PI * ax.h * ay.h) });
      }
    }
    const dmax = Math.max(...cells.map((c) => c.density));
    const kde = cells.map((c) => ({ ...c, density: r4(c.density / dmax) }));
    const points = chosen.map((c, k) => ({ x: Y[k][0], y: Y[k][1], radical: c.label, char: ds.records[c.i].char }));
    const domain = [...GLYPH_RADICALS.map((g) => g[1]), "other"];
    const xs = { domain: [r4(ax.lo), r4(ax.hi)], nice: false, zero: false }, ys = { domain: [r4(ay.lo), r4(ay.hi)], nice: false, zero: false };
    return {
      $schema: SCHEMA, config: baseConfig, width: 460, height: 400,
      title: "The glyph dataset in 2-D: UMAP with a kernel density estimate",
      layer: [
        { data: { values: kde }, mark: { type: "rect", stroke: null },
          encoding: { x: { field: "x0", type: "quantitative", title: "UMAP 1", scale: xs, axis: { grid: false } }, x2: { field: "x1" }, y: { field: "y0", type: "quantitative", title: "UMAP 2", scale: ys, axis: { grid: false } }, y2: { field: "y1" },
            color: { field: "density", type: "quantitative", title: "KDE (rel.)", scale: { scheme: "greys", domain: [0, 1] }, legend: { orient: "right" } } } },
        { data: { values: points }, mark: { type: "circle", size: 22, opacity: 0.85, stroke: "#ffffff", strokeWidth: 0.4 },
          encoding: { x: { field: "x", type: "quantitative", scale: xs }, y: { field: "y", type: "quantitative", scale: ys }, color: { field: "radical", type: "nominal", title: "radical", scale: { domain, range: ["#e6550d", "#3182bd", "#31a354", "#d62728", "#9467bd", "#8c564b", "#bdbdbd"] } } } },
      ],
      resolve: { scale: { color: "independent" } },
    } as VegaLiteSpec;
  },
};

const DENOISE_PROMPTS = ["gold", "water", "tree", "hand"];
/** Frames drawn: the initial noise (0) and the sample after these steps (of DENOISE_STEPS). */
const DENOISE_PICK = [0, 10, 14, 16, 18, 20];
const DENOISE_STEPS = 20;

const fig10Denoise: Figure = {
  name: "10b-glyph-denoising",
  article: "How and why do diffusion models work?",
  chapter: "13-glyffuser.md",
  caption: `The committed glyffuser denoising from pure noise (left) to the final glyph (right): 20 DDIM steps, seed 0, guidance w = 3, onnxruntime-cpu, one row per prompt (${DENOISE_PROMPTS.map((p) => `"${p}"`).join(", ")}), six frames of the trajectory xₜ (the initial noise and after steps 10, 14, 16, 18 and 20), each average-pooled to 16×16 for the figure (ink: dark). The sample stays dominated by noise for the first half of the steps (not drawn: they look like the noise column) and the glyph emerges over the last few steps, coarse layout first, strokes last. The final glyphs are glyph-like (strokes, boxes, radicals), and the prompt shows in them as a radical: how often, per prompt group, guidance and step count, is the adherence table above (fixtures/glyffuser/adherence.md).`,
  async build() {
    const { sampleGlyphs } = await import("../glyffuser/sample.ts");
    const B = DENOISE_PROMPTS.length;
    const S = 32, P = 16, f = S / P;
    const frames: Float64Array[] = [];
    // The initial noise xT is drawn by sampleGlyphs from GaussianStream(seed) (initNoiseSigma = 1 for DDIM).
    frames.push(new GaussianStream(0).randn([B, 1, S, S]).data);
    await sampleGlyphs({ prompts: DENOISE_PROMPTS, steps: DENOISE_STEPS, sampler: "ddim", guidance: 3, seed: 0, backend: "onnxruntime-cpu", onStep: (_i, _t, x) => { frames.push(Float64Array.from(x)); } });
    const pick = DENOISE_PICK;
    const values: object[] = [];
    for (let b = 0; b < B; b++) {
      pick.forEach((fi, col) => {
        const img = frames[fi].subarray(b * S * S, (b + 1) * S * S);
        for (let py = 0; py < P; py++) for (let px = 0; px < P; px++) {
          let sum = 0;
          for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) sum += img[(py * f + dy) * S + px * f + dx];
          const ink = Math.min(1, Math.max(0, (sum / (f * f) + 1) / 2));
          values.push({ prompt: `"${DENOISE_PROMPTS[b]}"`, frame: fi === 0 ? "noise" : `step ${fi}`, x: px, y: py, ink: Math.round(ink * 100) / 100 });
        }
      });
    }
    return {
      $schema: SCHEMA, config: { ...baseConfig, view: { stroke: "#999" } }, title: "Denoising trajectories of the committed glyffuser", data: { values },
      facet: { row: { field: "prompt", type: "nominal", title: null, sort: DENOISE_PROMPTS.map((p) => `"${p}"`) }, column: { field: "frame", type: "nominal", title: null, sort: pick.map((fi) => (fi === 0 ? "noise" : `step ${fi}`)) } },
      spacing: 4,
      spec: {
        width: 64, height: 64, mark: { type: "rect" },
        encoding: { x: { field: "x", type: "ordinal", axis: null }, y: { field: "y", type: "ordinal", axis: null }, color: { field: "ink", type: "quantitative", scale: { scheme: "greys", domain: [0, 1] }, legend: null } },
      },
    } as VegaLiteSpec;
  },
};

// The same paths as glyffuser/dataset.ts DEFAULT_DATASET_PATH and glyffuser/model.ts DEFAULT_MODEL_PATH (not imported: their modules load at build time only).
if (existsSync(fileURLToPath(new URL("../fixtures/glyphs/glyphs-32.bin", import.meta.url)))) FIGURES.push(fig10Umap);
if (existsSync(fileURLToPath(new URL("../fixtures/glyffuser/glyffuser.json", import.meta.url)))) FIGURES.push(fig10Denoise);
// The article's remaining figures (plot/figures-article.ts; it imports `ringData` from here, so it is loaded last).
FIGURES.push(...(await import("./figures-article.ts")).ARTICLE_FIGURES);
FIGURES.sort((a, b) => a.name.localeCompare(b.name));
