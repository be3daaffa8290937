/**
 * `diffspec bench` (bench/): a tiny configuration runs end to end and its JSON has the documented fields;
 * --compare gives the expected ratios; the Pareto front is the set of non-dominated points; the plots are
 * valid SVG; the sampler catalogue's pieces (σ → t, exact-solution errors) are right.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadImage } from "@napi-rs/canvas";
import { benchCommand } from "../cli/bench.ts";
import { compareReports, formatComparison } from "../bench/compare.ts";
import { holm, permutationTest, relativeCi, tQuantile } from "../bench/significance.ts";
import { recommend, recommendationTable } from "../bench/recommend.ts";
import { GaussianStream } from "../reference/rng.ts";
import { isDominated, paretoFront } from "../bench/pareto.ts";
import { paretoValues, writePlots } from "../bench/plots.ts";
import { makePlan } from "../bench/presets.ts";
import { goalReport, runBench } from "../bench/run.ts";
import { BENCH_SAMPLERS, evaluationsOf, finalAlphaOf, finalSigmaOf, runSampler, sigmaToT, startSigmaOf } from "../bench/samplers.ts";
import { benchSchedule, gaussianData, gaussianExact, gaussianStart, rms } from "../bench/problems.ts";
import { oracleModel } from "../bench/models.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import { backendNoise } from "../reference/samplers/scheduler.ts";
import type { BenchReport, BenchRow } from "../bench/types.ts";

let dir: string;
let report: BenchReport;
let stdout = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "diffspec-bench-test-"));
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    const code = await benchCommand([
      "--quick", "--backends", "reference", "--models", "oracle",
      "--samplers", "ddim,euler-a,heun", "--steps", "1,2,5", "--mixture-points", "60", "--budget-ms", "0", "--min-iterations", "2",
      "--json", join(dir, "out.json"), "--plots", join(dir, "plots"), "--quiet",
    ]);
    expect(code).toBe(0);
  } finally {
    spy.mockRestore();
  }
  report = JSON.parse(readFileSync(join(dir, "out.json"), "utf8")) as BenchReport;
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a tiny bench run", () => {
  it("writes the documented JSON fields", () => {
    expect(report.schema).toBe("diffspec-bench/1");
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(typeof report.machine.cpuModel).toBe("string");
    expect(report.machine.node).toBe(process.version);
    expect(report.package.dependencies.tinybench).toMatch(/^6\./);
    expect(report.seeds.seed).toBe(2024);
    expect(report.backends).toEqual([expect.objectContaining({ name: "reference", available: true, dtype: "float64" })]);
    expect(report.results).toHaveLength(9);
    for (const r of report.results) {
      expect(r).toMatchObject({ backend: "reference", model: "oracle", resolution: 32, batch: 16 });
      expect(["ddim", "euler-a", "heun"]).toContain(r.sampler);
      expect([1, 2, 5]).toContain(r.steps);
      expect(r.error).toBeUndefined();
      expect(r.msPerBatch).toBeGreaterThan(0);
      expect(r.msPerStepModel).toBeGreaterThan(0);
      expect(typeof r.msPerStepSampler).toBe("number");
      expect(r.samples!.wallMs.length).toBeGreaterThanOrEqual(2);
      expect(r.samples!.modelMs).toHaveLength(r.samples!.wallMs.length);
      expect(r.samples!.cpuMs).toHaveLength(r.samples!.wallMs.length);
      expect(r.timing!.targetRme).toBe(5);
      expect(r.timing!.met).toBe(r.timing!.rme !== null && r.timing!.rme <= 5);
      expect(r.timing!.p10Ms).toBeLessThanOrEqual(r.timing!.p90Ms!);
      expect(r.memory!.peakRssMB).toBeGreaterThan(0);
      expect(r.quality.energyDistance2d).toBeGreaterThan(0);
      // (a) only for deterministic samplers
      if (r.sampler === "euler-a") expect(r.quality.rmsError).toBeUndefined();
      else expect(r.quality.rmsError).toBeGreaterThan(0);
    }
    expect(report.modelPasses[0]).toMatchObject({ backend: "reference", model: "oracle" });
    expect(report.modelPasses[0].msPerPass).toBeGreaterThan(0);
    expect((report.problems.mixture2d as { floor: number }).floor).toBeGreaterThan(0);
  });

  it("counts model evaluations per run (Heun: 2 per step, none at the final step to σ = 0)", () => {
    const heun = report.results.filter((r) => r.sampler === "heun").map((r) => [r.steps, r.evaluations]);
    expect(heun).toEqual([[1, 1], [2, 3], [5, 9]]);
  });

  it("prints the table", () => {
    expect(stdout).toMatch(/ms\/batch/);
    expect(stdout).toMatch(/reference\s+oracle\s+32²×16\s+ddim\s+1\s+1/);
  });

  it("writes every plot as valid SVG", async () => {
    for (const f of ["time-vs-steps.svg", "quality-vs-steps.svg", "pareto.svg", "step-split.svg"]) {
      const svg = readFileSync(join(dir, "plots", f), "utf8");
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
      expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
      const img = await loadImage(Buffer.from(svg)); // a real SVG parser (resvg): throws on malformed input
      expect(img.width).toBeGreaterThan(100);
    }
    expect(readFileSync(join(dir, "plots", "pareto.svg"), "utf8")).toContain("heun");
  });
});

describe("--compare", () => {
  const row = (backend: string, sampler: string, steps: number, ms: number, extra: Partial<BenchRow> = {}): BenchRow => ({ backend, sampler, steps, model: "oracle", resolution: 32, batch: 16, msPerBatch: ms, msPerStepModel: null, msPerStepSampler: null, quality: {}, ...extra });
  const A = { results: [row("reference", "ddim", 10, 10), row("reference", "ddim", 20, 20), row("wasm-simd", "ddim", 10, 4), row("wasm-simd", "heun", 10, 8), row("reference", "euler", 5, 1, { error: "boom" })] };
  const B = { results: [row("reference", "ddim", 10, 5), row("reference", "ddim", 20, 40), row("wasm-simd", "ddim", 10, 4), row("wasm-simd", "euler", 10, 1), row("reference", "euler", 5, 2)] };

  it("gives B/A per matching configuration and the geometric mean", () => {
    const c = compareReports(A, B);
    expect(c.rows.map((r) => [r.key, r.ratio])).toEqual([
      ["reference oracle 32²×16 ddim 10", 0.5],
      ["reference oracle 32²×16 ddim 20", 2],
      ["wasm-simd oracle 32²×16 ddim 10", 1],
    ]);
    expect(c.geomean).toBeCloseTo(1, 12);
    expect(c.perBackend.reference).toEqual({ n: 2, geomean: 1 });
    expect(c.onlyInA).toBe(1); // wasm-simd heun (the errored euler row is not usable)
    expect(c.onlyInB).toBe(2);
    expect(formatComparison(c, "a.json", "b.json")).toMatch(/geometric mean \(all\)\s+1\.000/);
  });

  it("runs from the command line on two files", async () => {
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    writeFileSync(a, JSON.stringify(A));
    writeFileSync(b, JSON.stringify(B));
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => { out += String(chunk); return true; });
    try {
      expect(await benchCommand(["--compare", a, b])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out).toMatch(/reference\s+oracle\s+32²×16\s+ddim\s+20\s+20\.0\s+40\.0\s+2\.000/);
    await expect(benchCommand(["--compare", a])).rejects.toThrow(/two report files/);
  });
});

describe("Pareto front", () => {
  it("examples", () => {
    const pts = [{ time: 1, error: 5 }, { time: 2, error: 3 }, { time: 2, error: 4 }, { time: 3, error: 3 }, { time: 4, error: 1 }, { time: 5, error: 2 }, { time: 0.5, error: NaN }];
    expect(paretoFront(pts)).toEqual([{ time: 1, error: 5 }, { time: 2, error: 3 }, { time: 4, error: 1 }]);
    expect(paretoFront([])).toEqual([]);
  });

  const point = fc.record({ time: fc.integer({ min: 1, max: 20 }), error: fc.integer({ min: 1, max: 20 }) });
  it("is exactly the non-dominated points (one of each duplicate), sorted by time (fast-check)", () => fc.assert(fc.property(fc.array(point, { maxLength: 30 }), (pts) => {
    const front = paretoFront(pts);
    for (const p of front) expect(isDominated(p, pts)).toBe(false);
    const nonDominated = new Set(pts.filter((p) => !isDominated(p, pts)).map((p) => `${p.time},${p.error}`));
    expect(new Set(front.map((p) => `${p.time},${p.error}`))).toEqual(nonDominated);
    expect(front.length).toBe(nonDominated.size);
    for (let i = 1; i < front.length; i++) {
      expect(front[i].time).toBeGreaterThan(front[i - 1].time);
      expect(front[i].error).toBeLessThan(front[i - 1].error);
    }
  })));

  it("marks the front per backend and metric in the plot data", () => {
    const v = paretoValues(report);
    expect(v.some((p) => p.front)).toBe(true);
    for (const metric of new Set(v.map((p) => p.metric))) {
      const g = v.filter((p) => p.metric === metric);
      const front = paretoFront(g.map((p) => ({ time: p.ms, error: p.value })));
      expect(g.filter((p) => p.front).length).toBe(front.length);
    }
  });
});

describe("samplers and problems", () => {
  const schedule = benchSchedule();

  it("σ → t inverts the schedule's σ(t) with log-σ interpolation", () => {
    for (const t of [0, 1, 10.5, 500, 998.25, 999]) {
      const lo = Math.floor(t);
      const f = t - lo;
      const s = Math.exp((1 - f) * Math.log(schedule.sigmas[lo]) + f * Math.log(schedule.sigmas[Math.min(lo + 1, 999)]));
      expect(sigmaToT(schedule, s)).toBeCloseTo(t, 9);
    }
  });

  it("every deterministic sampler gets closer to the exact ODE solution from 2 to 50 steps", async () => {
    const b = referenceBackend;
    const dim = 16;
    const sigmaT = startSigmaOf(schedule);
    const x = gaussianStart(2, dim, sigmaT, 7);
    const model = oracleModel(b, gaussianData(dim), schedule).model;
    for (const s of BENCH_SAMPLERS.filter((s) => !s.stochastic)) {
      const err = async (n: number) => {
        const out = await runSampler(s, n, b.fromHost(x, [2, dim]), { backend: b, model, schedule, noise: () => backendNoise(b, 1) });
        return rms(out.data, gaussianExact(x, sigmaT, finalSigmaOf(s, schedule), finalAlphaOf(s, schedule)));
      };
      const [e5, e50] = [await err(5), await err(50)];
      expect(e50, s.name).toBeLessThan(e5);
      expect(e50, s.name).toBeLessThan(0.05);
      expect(await evaluationsOf(s, 50, { backend: b, model, schedule })).toBeGreaterThanOrEqual(50);
    }
  });
});

describe("presets and goals", () => {
  it("--gpu-goals measures the two goals on the GPU backends", () => {
    const p = makePlan("gpu-goals");
    expect(p.backends).toEqual(["onnxruntime-webgpu", "onnxruntime-cuda", "tfjs-webgpu"]);
    expect(p.workloads).toEqual([expect.objectContaining({ model: "unet-full", resolution: 128, batch: 16, samplers: ["dpmpp-2m"], steps: [20] })]);
    const q = makePlan("gpu-goals", { backends: ["onnxruntime-cpu"], unet: "small", resolutions: [32], batches: [1] });
    expect(q.workloads).toEqual([expect.objectContaining({ model: "unet-small", resolution: 32, batch: 1 })]);
  });

  it("--backends keeps a preset workload's own backend list (the intersection); --resolution lifts it", () => {
    const p = makePlan("full", { backends: ["tfjs-cpu", "onnxruntime-cpu"] });
    const unets = p.workloads.filter((w) => w.model.startsWith("unet"));
    expect(unets.length).toBeGreaterThan(0);
    for (const w of unets) expect(w.backends?.includes("tfjs-cpu")).toBe(false);
    expect(unets.some((w) => w.backends?.includes("onnxruntime-cpu"))).toBe(true);
    const q = makePlan("full", { backends: ["tfjs-cpu"], models: ["unet"], resolutions: [32] });
    expect(q.workloads.every((w) => w.backends === undefined)).toBe(true);
  });

  it("the goal report divides the 20-step loop by 20 model passes", () => {
    const g = goalReport({
      backends: [],
      modelPasses: [{ backend: "x", model: "unet-full", resolution: 128, batch: 16, passes: 20, msPerPass: 100 }],
      results: [
        { backend: "x", model: "unet-full", resolution: 128, batch: 16, sampler: "dpmpp-2m", steps: 20, evaluations: 20, msPerBatch: 2080, msPerStepModel: 100, msPerStepSampler: 4, quality: {} },
        { backend: "y", model: "unet-full", resolution: 128, batch: 16, sampler: "dpmpp-2m", steps: 0, msPerBatch: null, msPerStepModel: null, msPerStepSampler: null, quality: {}, error: "backend unavailable: no GPU" },
      ],
    });
    expect(g.loopOverModel[0]).toMatchObject({ backend: "x", ratio: 1.04, met: true });
    expect(g.loopOverModel[1]).toMatchObject({ backend: "y", ratio: null, met: null, error: "backend unavailable: no GPU" });
    expect(g.unetPass.map((u) => [u.backend, u.msPerPass])).toEqual([["x", 100], ["y", null]]);
  });

  it("records an unavailable backend and goes on", async () => {
    const plan = { ...makePlan("quick", { backends: ["onnxruntime-cuda", "reference"], models: ["oracle"], samplers: ["ddim"], steps: [1], mixture2dPoints: 0 }), budgetMs: 0, minIterations: 1 };
    const r = await runBench(plan);
    expect(r.backends.map((b) => [b.name, b.available])).toEqual([["onnxruntime-cuda", false], ["reference", true]]);
    expect(r.backends[0].reason).toMatch(/unavailable/);
    expect(r.results.map((x) => x.backend)).toEqual(["reference"]);
  });
});

describe("numbers that hold on a noisy machine (bench/significance.ts)", () => {
  /** Log-normal run times around `ms` with a relative spread `cv`, from a seeded stream. */
  const runs = (g: GaussianStream, n: number, ms: number, cv: number): number[] => Array.from({ length: n }, () => ms * Math.exp(cv * g.normal()));

  it("tQuantile is Student's t within 3 % (ν = 2) and 0.2 % (ν ≥ 5); relativeCi is the t-interval of the mean log time", () => {
    expect(tQuantile(0.975, 2)).toBeCloseTo(4.303, 0);
    expect(Math.abs(tQuantile(0.975, 5) / 2.5706 - 1)).toBeLessThan(0.002);
    expect(Math.abs(tQuantile(0.975, 30) / 2.0423 - 1)).toBeLessThan(0.002);
    expect(relativeCi([10])).toBe(Infinity);
    expect(relativeCi([10, 10, 10])).toBe(0);
    const x = [9, 10, 11, 10.5, 9.5];
    const y = x.map(Math.log);
    const m = y.reduce((a, b) => a + b) / 5;
    const s = Math.sqrt(y.reduce((a, b) => a + (b - m) ** 2, 0) / 4);
    expect(relativeCi(x)).toBeCloseTo(Math.expm1((tQuantile(0.975, 4) * s) / Math.sqrt(5)), 12);
  });

  it("the permutation test is exact on small samples (2 against 2 can never reject) and Holm controls the family", () => {
    expect(permutationTest([1, 2], [3, 4])).toBeCloseTo(1 / 3, 12);
    expect(permutationTest([1, 1.1, 1.05, 0.98, 1.02, 1.01, 0.99, 1.03], [2, 2.1, 2.05, 1.98, 2.02, 2.01, 1.99, 2.03])).toBeCloseTo(2 / 12870, 12);
    expect(holm([0.001, 0.01, 0.04, 0.5], 0.05)).toEqual([true, true, false, false]);
    expect(holm([0.03, 0.04], 0.05)).toEqual([false, false]);
  });

  it("--compare marks a real 2× slowdown (8 runs a side, 20 % noise) and nothing between two samples of one distribution", () => {
    const g = new GaussianStream("bench-compare-power");
    const row = (sampler: string, w: number[]): BenchRow => ({ backend: "wasm-simd", sampler, steps: 10, model: "oracle", resolution: 32, batch: 16, msPerBatch: w.slice().sort((a, b) => a - b)[4], msPerStepModel: null, msPerStepSampler: null, quality: {}, samples: { wallMs: w, modelMs: w } });
    const names = Array.from({ length: 30 }, (_, i) => `s${i}`);
    const A = { results: names.map((n) => row(n, runs(g, 8, 10, 0.2))) };
    const same = { results: names.map((n) => row(n, runs(g, 8, 10, 0.2))) };
    const slower = { results: names.map((n, i) => row(n, runs(g, 8, i === 7 ? 20 : 10, 0.2))) };
    expect(compareReports(A, same).rows.filter((r) => r.significant)).toEqual([]);
    expect(compareReports(A, slower).rows.filter((r) => r.significant).map((r) => r.sampler)).toEqual(["s7"]);
    expect(formatComparison(compareReports(A, slower), "a", "b")).toMatch(/permutation test of the mean log run time.*Holm-corrected over the 30 rows at family-wise α = 0\.05\. 1 of 30 marked/);
  });

  it("recommends, per NFE budget, the lowest error and of ties the fastest", () => {
    const r = (sampler: string, nfe: number, err: number, ms: number): BenchRow => ({ backend: "b", sampler, steps: nfe, evaluations: nfe, model: "oracle", resolution: 32, batch: 16, msPerBatch: ms, msPerStepModel: null, msPerStepSampler: null, quality: { rmsError: err } });
    const rows = [r("euler", 5, 0.1, 1), r("heun", 5, 0.05, 2), r("dpmpp-2m", 5, 0.052, 1.5), r("euler", 10, 0.05, 2), r("dpmpp-2m", 10, 0.01, 3), r("ddim", 20, 0.0101, 2)];
    expect(recommend(rows).map((x) => [x.budget, x.sampler, x.evaluations])).toEqual([[5, "dpmpp-2m", 5], [10, "dpmpp-2m", 10], [20, "ddim", 20]]);
    expect(recommendationTable(rows)).toMatch(/NFE budget/);
  });
});

