/**
 * The benchmark runner: for each available backend × workload (denoiser, resolution, batch) × sampler ×
 * step count, the wall time per batch (tinybench), its split into model time and sampler overhead, the
 * quality against the exact oracle, peak RSS and device memory. Every configuration has a time cap; one
 * that throws, hangs or runs past it becomes a row with `error` and the run goes on.
 *
 * Method (bench/README.md has the long form):
 * - One run = the full sampling loop from an x_T already on the backend, plus one read-back (toHost) of
 *   the final sample, which also synchronises asynchronous device backends. Scheduler construction and
 *   setTimesteps are inside the run (pipelines do them per call).
 * - tinybench runs one warm-up run (also used to sample RSS and device memory; skipped for long runs
 *   after a sampler's first configuration, whose first timed run is then sampled), then timed runs until
 *   both `minIterations` and the time budget are reached, or 2 runs once `longBudgetMs` went into them
 *   (at most `maxIterations`).
 * - Model time is accumulated inside the denoiser's evaluate (TimedModel). On synchronous backends that is
 *   exact and measured in the timed runs ("inline"). On asynchronous device backends (webgpu, cuda) an
 *   evaluate may return before the device finishes, so the split comes from one extra run in which every
 *   evaluation reads its output back ("synced-run"); msPerBatch stays from the unsynchronised runs.
 * - Sampler overhead per step = (wall − model)/steps: scheduler arithmetic, the backend's combine/randn
 *   calls, memory sweeps, the k-diffusion wrapper's input/output scaling, and the final read-back.
 * - Model pass: the bare denoiser, `passes` evaluations back to back then one read-back, per pass.
 */
import { Bench } from "tinybench";
import { relativeCi } from "./significance.ts";
import type { Backend, BTensor } from "../adapters/contract.ts";
import { createBackend } from "../adapters/index.ts";
import { trackMemory } from "../adapters/memory.ts";
import { fused } from "../adapters/fused.ts";
import { sweepingFused } from "../adapters/wasm/index.ts";
import type { Denoiser } from "../adapters/contract.ts";
import { ConfigError, UnavailableError } from "../reference/errors.ts";
import { childStream, GaussianStream } from "../reference/rng.ts";
import type { Schedule } from "../reference/schedule.ts";
import { backendNoise, hostNoise, type NoiseProvider } from "../reference/samplers/scheduler.ts";
import { loadLearned, loadUNet, oracleModel, TimedModel, TimeCapExceeded, type LoadedModel, type UNetSize } from "./models.ts";
import { benchSchedule, dataSample, energyTo, gaussianData, gaussianExact, gaussianStart, mixtureData, mixtureStart, rms, type MixtureName } from "./problems.ts";
import { benchSampler, evaluationsOf, finalAlphaOf, finalSigmaOf, prepareSampler, startSigmaOf, type BenchSampler, type PreparedSampler } from "./samplers.ts";
import v8 from "node:v8";
import vm from "node:vm";
import os from "node:os";
import { machineInfo, packageInfo } from "./machine.ts";
import { SCHEMA, type BackendInfo, type BenchReport, type BenchRow, type GoalReport, type ModelPass, type Quality, type Skipped } from "./types.ts";

export type ModelKind = "oracle" | "unet-small" | "unet-full" | "learned";

export interface Workload {
  readonly model: ModelKind;
  readonly resolution: number;
  readonly batch: number;
  /** Samplers and step counts for this workload (default: the plan's). */
  readonly samplers?: readonly string[];
  readonly steps?: readonly number[];
  /** The learned model's manifest (glyffuser/model.ts), for model "learned". */
  readonly learnedPath?: string;
  /** Only on these backends (base names, "+fused" ignored); default every backend that can run the model. */
  readonly backends?: readonly string[];
}

export interface BenchPlan {
  readonly preset: string;
  readonly backends: readonly string[];
  readonly samplers: readonly string[];
  readonly steps: readonly number[];
  readonly workloads: readonly Workload[];
  /** Points generated for the energy distance (0 = not measured). */
  readonly mixture2dPoints: number;
  readonly mixture64dPoints: number;
  /** tinybench time budget per configuration (ms), and iteration bounds after the warm-up. */
  readonly budgetMs: number;
  readonly minIterations: number;
  /**
   * The precision to reach: timed runs repeat (interleaved with the workload's other configurations) until
   * the relative 95 % half-width of the typical time (bench/significance.ts relativeCi) is ≤ this, or a
   * run cap (maxIterations, longBudgetMs, capMs) stops them first (then `timing.met` is false).
   */
  readonly targetRme: number;
  /**
   * What a run's time is: "cpu" — this process's CPU time (user + system; other processes' load is left
   * out, so numbers hold on a shared machine; multi-threaded backends count every thread's time), or
   * "wall". Asynchronous device backends (webgpu, cuda) always use wall time: their work is not this
   * process's CPU time. Both are recorded per run (`samples.wallMs`, `samples.cpuMs`).
   */
  readonly clock?: "cpu" | "wall";
  /** Long runs: stop after 2 timed runs once this much time went into timed runs (ms). */
  readonly longBudgetMs: number;
  /** Skip the warm-up run when a run is predicted to take longer than this (ms) and it is not the sampler's first configuration. */
  readonly warmupBelowMs: number;
  /** Largest step count per sampler (others: every step count); larger ones are recorded as skipped. */
  readonly maxSteps?: Readonly<Record<string, number>>;
  readonly maxIterations: number;
  /** Hard cap per configuration (ms): warm-up + timed runs + quality runs. */
  readonly capMs: number;
  /** Model passes per timed sample (at most), and the time to aim for per sample. */
  readonly modelPasses: number;
  readonly modelPassBudgetMs: number;
  readonly modelPassSamples: number;
  readonly seed: number;
  /** Quality (c): the sampler and step count of the learned model's reference solution. */
  readonly learnedReference: { readonly sampler: string; readonly steps: number };
  /** Include bench/sampler-overhead.ts's rows under `samplerOverhead`. */
  readonly samplerOverhead: boolean;
  /** Measure and print the GPU goals (goal 1: 20-step DPM-Solver++(2M) loop vs 20 passes; goal 2: U-Net pass). */
  readonly gpuGoals: boolean;
  /** U-Net attention: "matmul" (explicit scores, chunked to the device's buffer limit) or "fused" (onnxruntime's kernel). Default "matmul". */
  readonly attention?: "matmul" | "fused";
  /** U-Net compute precision on onnxruntime backends ("fp16": float16 inside, float32 interface). Default "fp32". */
  readonly precision?: "fp32" | "fp16";
}

export interface RunHooks {
  /** Progress lines (one per configuration). */
  log?: (line: string) => void;
  argv?: string[];
}

/** Backends whose evaluate may return before the device has finished (model time needs a read-back). */
export const isAsyncBackend = (name: string): boolean => /webgpu|cuda|gpu/.test(name);

const now = (): number => performance.now();
const round = (v: number, digits = 4): number => Number(v.toPrecision(digits + 2));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const MB = 2 ** 20;

/** Rejects with `message` after `ms` (a native call that never returns cannot hang the run). */
async function withTimeout<R>(p: Promise<R>, ms: number, message: string): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HardTimeout(message)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}
/**
 * A full garbage collection (never inside a timed run). Backends whose memory is freed by finalizers
 * (tfjs, wasm-simd, onnxruntime tensors a k-diffusion sampler dropped) otherwise keep it until V8 happens
 * to collect, which it does not do under WebAssembly/native memory pressure. But a full collection also
 * throws away optimised code and type feedback (measured: the next short runs 2–3× slower), so it runs
 * only before a configuration's warm-up, and between runs only once RSS has grown by GC_GROWTH_BYTES.
 */
const gc: () => void = (() => {
  try {
    v8.setFlagsFromString("--expose-gc");
    const f = vm.runInNewContext("gc") as () => void;
    return typeof f === "function" ? f : () => {};
  } catch {
    return () => {};
  }
})();

const GC_GROWTH_BYTES = 256 * 2 ** 20;
let rssAfterGc = 0;
/** gc() when RSS grew by GC_GROWTH_BYTES since the last one. */
const gcIfGrown = (): void => {
  if (process.memoryUsage.rss() > rssAfterGc + GC_GROWTH_BYTES) {
    gc();
    rssAfterGc = process.memoryUsage.rss();
  }
};

class HardTimeout extends Error {
  override name = "HardTimeout";
}

const errText = (e: unknown): string => (e instanceof Error ? `${e.name === "Error" ? "" : e.name + ": "}${e.message}` : String(e)).split("\n")[0].slice(0, 400);

const workloadName = (w: Workload): string => `${w.model} ${w.resolution}²×${w.batch}`;

export async function runBench(plan: BenchPlan, hooks: RunHooks = {}): Promise<BenchReport> {
  const log = hooks.log ?? (() => {});
  const started = now();
  const cpuStart = process.cpuUsage();
  const schedule = benchSchedule();
  const sigmaT = startSigmaOf(schedule);
  const report: BenchReport = {
    schema: SCHEMA,
    createdAt: new Date().toISOString(),
    durationS: 0,
    argv: hooks.argv ?? [],
    preset: plan.preset,
    machine: { ...machineInfo(), loadAverageAtStart: os.loadavg().map((v) => round(v, 2)) },
    package: packageInfo(),
    seeds: {
      seed: plan.seed,
      xT: `childStream(${plan.seed}, "gaussian-xT/<batch>x<dim>") and "<mixture>-xT"`,
      samplerNoise: `backend.randn(shape, ${plan.seed}, k) (hostNoise(GaussianStream(${plan.seed})) where a backend has no randn)`,
      referenceData: `childStream(${plan.seed}, "<mixture>-reference-data")`,
      unetWeights: `initUNetWeights(config, ${plan.seed}) / emitUNetOnnx(config, "random", ${plan.seed})`,
      unetContext: `GaussianStream("bench-unet-context/${plan.seed}")`,
    },
    options: { ...plan },
    problems: {
      schedule: { ...schedule.config, sigmaMax: sigmaT, sigmaMin: schedule.sigmas[0] },
      gaussian: { mean: 0.3, std: 0.5, dimension: "1·resolution² of the oracle workload" },
    },
    backends: [],
    modelPasses: [],
    results: [],
    skipped: [],
  };
  const mixtures: { name: MixtureName; n: number; data: ReturnType<typeof mixtureData>; reference: Float64Array[] }[] = [];
  for (const [name, n] of [["mixture2d", plan.mixture2dPoints], ["mixture64d", plan.mixture64dPoints]] as const) {
    if (n <= 0) continue;
    const data = mixtureData(name, plan.seed);
    const reference = dataSample(data, n, plan.seed, name);
    // The noise floor: the energy distance between two independent data samples of this size.
    const other = dataSample(data, n, plan.seed + 1, name);
    mixtures.push({ name, n, data, reference });
    report.problems[name] = { components: data.components.length, dimension: data.dim, points: n, floor: round(await energyTo(Float64Array.from(other.flatMap((p) => [...p])), data.dim, reference)) };
  }

  for (const backendName of plan.backends) {
    const info: BackendInfo = { name: backendName, available: false };
    report.backends.push(info);
    let base: Backend<BTensor>;
    const t0 = now();
    try {
      base = await withTimeout(createBenchBackend(baseNameOf(backendName), plan), 60_000, `creating ${backendName} took more than 60 s`);
    } catch (e) {
      info.reason = errText(e);
      if (!(e instanceof UnavailableError)) info.reason = `failed to start: ${info.reason}`;
      log(`${backendName}: unavailable (${info.reason})`);
      if (plan.gpuGoals) for (const w of plan.workloads) report.results.push(errorRow(backendName, w, plan, `backend unavailable: ${info.reason}`));
      continue;
    }
    info.available = true;
    info.dtype = base.dtype;
    if (base.detail) info.detail = base.detail;
    info.initMs = round(now() - t0);
    log(`${backendName}: ready in ${info.initMs.toFixed(0)} ms (${base.dtype})`);
    const lanes = makeLanes(base, backendName);
    let hung = false;
    for (const w of plan.workloads) {
      if (w.backends && !w.backends.includes(baseNameOf(backendName))) continue;
      if (hung) {
        report.skipped.push({ backend: backendName, model: w.model, reason: "an earlier configuration on this backend hung; the rest of the backend was skipped" });
        continue;
      }
      try {
        hung = await runWorkload(report, plan, base, lanes, w, schedule, mixtures, log);
      } catch (e) {
        log(`${backendName} ${workloadName(w)}: ${errText(e)}`);
        report.results.push(errorRow(backendName, w, plan, errText(e)));
        if (e instanceof HardTimeout) hung = true;
      }
    }
    if (!hung) await withTimeout(Promise.resolve(base.close?.()), 30_000, "close hung").catch(() => undefined);
  }

  if (plan.samplerOverhead) report.samplerOverhead = await samplerOverheadRows(log);
  if (plan.gpuGoals) report.goals = goalReport(report);
  report.durationS = round((now() - started) / 1000);
  const cpu = process.cpuUsage(cpuStart);
  report.cpuS = round((cpu.user + cpu.system) / 1e6);
  report.machine.loadAverageAtEnd = os.loadavg().map((v) => round(v, 2));
  return report;
}

function errorRow(backend: string, w: Workload, plan: BenchPlan, error: string): BenchRow {
  return { backend, model: w.model, resolution: w.resolution, batch: w.batch, sampler: (w.samplers ?? plan.samplers).join(","), steps: 0, msPerBatch: null, msPerStepModel: null, msPerStepSampler: null, quality: {}, error };
}

/**
 * A backend as the bench runs it. With the CPU clock, onnxruntime-cpu gets ONE intra-op thread: a pool's
 * CPU time includes its threads' synchronisation, which depends on how the OS schedules them against other
 * processes (two consecutive runs on a loaded 2-core machine differed by 20–26 % in the U-Net rows), so only
 * a single thread's CPU time is its work. `--clock wall` keeps onnxruntime's default pool.
 */
export async function createBenchBackend(name: string, plan: Pick<BenchPlan, "clock">): Promise<Backend<BTensor>> {
  if (name === "onnxruntime-cpu" && plan.clock === "cpu") {
    const { createOnnxruntimeBackend } = await import("../adapters/onnxruntime/index.ts");
    return (await createOnnxruntimeBackend("cpu", { intraOpNumThreads: 1 })) as unknown as Backend<BTensor>;
  }
  return createBackend(name);
}

/** "wasm-simd+fused" → "wasm-simd". */
export const baseNameOf = (name: string): string => name.replace(/\+fused$/, "");

/**
 * How samplers reach a backend. Plain: diffusers schedulers run on trackMemory(base) where the backend
 * frees memory explicitly (runPipeline sweeps it every step), k-diffusion samplers on the base (they hold
 * history runPipeline cannot see; tensors are freed by the backends' finalizers). "+fused": the same
 * behind adapters/fused.ts (sweepingFused for diffusers), with the model wrapped by wrapDenoiser — the
 * model is timed on the base, so materialising its input form counts as sampler time.
 */
interface Lane {
  backend: Backend<BTensor>;
  wrapModel(m: Denoiser<BTensor>): Denoiser<BTensor>;
  wrapTensor(t: BTensor): BTensor;
}
interface Lanes {
  name: string;
  diffusers: Lane;
  kdiffusion: Lane;
}
const identity = <X>(x: X): X => x;

function makeLanes(base: Backend<BTensor>, name: string): Lanes {
  if (name.endsWith("+fused")) {
    const sf = sweepingFused(base);
    const f = fused(base);
    return {
      name,
      diffusers: { backend: sf as unknown as Backend<BTensor>, wrapModel: (m) => sf.wrapDenoiser(m) as unknown as Denoiser<BTensor>, wrapTensor: (t) => sf.leaf(t) },
      kdiffusion: { backend: f as unknown as Backend<BTensor>, wrapModel: (m) => f.wrapDenoiser(m) as unknown as Denoiser<BTensor>, wrapTensor: (t) => f.leaf(t) },
    };
  }
  return {
    name,
    diffusers: { backend: base.dispose ? (trackMemory(base) as Backend<BTensor>) : base, wrapModel: identity, wrapTensor: identity },
    kdiffusion: { backend: base, wrapModel: identity, wrapTensor: identity },
  };
}

interface Mixture {
  name: MixtureName;
  n: number;
  data: ReturnType<typeof mixtureData>;
  reference: Float64Array[];
}

/** All configurations of one workload on one backend. Returns true when the backend hung. */
async function runWorkload(report: BenchReport, plan: BenchPlan, base: Backend<BTensor>, lanes: Lanes, w: Workload, defaultSchedule: Schedule, mixtures: Mixture[], log: (l: string) => void): Promise<boolean> {
  const name = lanes.name;
  const dim = w.resolution * w.resolution;
  const shape = [w.batch, 1, w.resolution, w.resolution];
  let schedule = defaultSchedule;
  let loaded: LoadedModel<BTensor>;
  try {
    if (w.model === "oracle") loaded = oracleModel(base, gaussianData(dim), schedule);
    else if (w.model === "learned") {
      const l = await withTimeout(loadLearned(base, w.learnedPath!, w.batch), plan.capMs, `loading the learned model took more than ${plan.capMs / 1000} s`);
      if (l.resolution !== w.resolution) throw new ConfigError("learned model resolution", l.resolution, `${w.resolution} (the workload's)`);
      loaded = l;
      schedule = l.schedule;
    } else loaded = await withTimeout(loadUNet(base, w.model.slice("unet-".length) as UNetSize, w.resolution, w.batch, plan.seed, plan.attention ?? "matmul", plan.precision ?? "fp32"), plan.capMs, `loading the U-Net took more than ${plan.capMs / 1000} s`);
  } catch (e) {
    if (!plan.gpuGoals && /no implementation for this backend/.test(errText(e))) {
      report.skipped.push({ backend: name, model: w.model, reason: errText(e) });
      return false;
    }
    throw e;
  }
  const sigmaT = startSigmaOf(schedule);
  const xTildeHost = gaussianStart(w.batch, dim, sigmaT, plan.seed);
  const xTildeT = await base.fromHost(xTildeHost, shape);
  const pass = await measureModelPass(base, loaded, w, schedule, plan);
  pass.backend = name;
  report.modelPasses.push(pass);
  log(`${name} ${workloadName(w)}: model pass ${pass.msPerPass === null ? `failed: ${pass.error}` : `${pass.msPerPass.toPrecision(3)} ms (${pass.passes} passes/sample)`}`);
  if (pass.error && /HardTimeout/.test(pass.error)) return true;

  const timed = new TimedModel(loaded.model, base, loaded.cond);
  // Quality (c): the learned model's own PF-ODE solved accurately from the same x_T, once per workload.
  let reference: Promise<Float64Array> | undefined;
  const learnedReference = (): Promise<Float64Array> =>
    (reference ??= (async () => {
      const s = benchSampler(plan.learnedReference.sampler);
      const lane = s.family === "diffusers" ? lanes.diffusers : lanes.kdiffusion;
      const p = await prepareSampler(s, { backend: lane.backend, model: lane.wrapModel(timed), schedule });
      timed.deadline = now() + 2 * plan.capMs;
      timed.capMs = 2 * plan.capMs;
      const out = await withTimeout(p.run(plan.learnedReference.steps, lane.wrapTensor(xTildeT)), 2 * plan.capMs + 30_000, "the reference solution hung");
      const alpha = finalAlphaOf(s, schedule);
      return (await lane.backend.toHost(out)).map((v) => v / alpha);
    })());
  const configs: ConfigState[] = [];
  for (const samplerName of w.samplers ?? plan.samplers) {
    const sampler = benchSampler(samplerName);
    const lane = sampler.family === "diffusers" ? lanes.diffusers : lanes.kdiffusion;
    const backend = lane.backend;
    const noise = (): NoiseProvider<BTensor> => (backend.randn ? backendNoise(backend, plan.seed) : hostNoise(backend, childStream(plan.seed, "sampler-noise")));
    const ctx = { backend, model: lane.wrapModel(timed), schedule, noise };
    let prepared: PreparedSampler<BTensor>;
    try {
      prepared = await prepareSampler(sampler, ctx);
    } catch (e) {
      report.results.push({ ...errorRow(name, w, plan, errText(e)), sampler: samplerName });
      continue;
    }
    let perEvalMs = pass.msPerPass ?? 0;
    let perStepMs = 0;
    let first = true;
    for (const steps of w.steps ?? plan.steps) {
      const limit = plan.maxSteps?.[samplerName];
      if (limit !== undefined && steps > limit && w.model === "oracle") {
        report.skipped.push({ backend: name, model: w.model, sampler: samplerName, steps, reason: `this preset runs ${samplerName} up to ${limit} steps` });
        continue;
      }
      const evaluations = await evaluationsOf(sampler, steps, ctx);
      const predictedRunMs = evaluations * perEvalMs + steps * perStepMs;
      const warmup = first || predictedRunMs < plan.warmupBelowMs;
      const timedRuns = predictedRunMs >= plan.longBudgetMs ? Math.min(plan.minIterations, 2) : plan.minIterations;
      const runs = (warmup ? 1 : 0) + timedRuns + (isAsyncBackend(name) ? 1 : 0);
      if (predictedRunMs * runs > plan.capMs) {
        const reason = `predicted ${(predictedRunMs / 1000).toFixed(1)} s per run × ${runs} runs > the ${(plan.capMs / 1000).toFixed(0)} s cap per configuration`;
        report.skipped.push({ backend: name, model: w.model, sampler: samplerName, steps, reason });
        log(`${name} ${workloadName(w)} ${samplerName} ${steps}: skipped (${reason})`);
        continue;
      }
      first = false;
      const state = await startConfig({ warmup, name, lane, base, timed, sampler, prepared, steps, evaluations, xTildeT: lane.wrapTensor(xTildeT), xTildeHost, schedule, ctx, plan, w, pass, mixtures, learnedReference });
      configs.push(state);
      if (state.hung) break;
      // The warm-up (or profiled first) run predicts the next step counts' run time.
      const run = state.wallMs.length ? { wall: state.wallMs[0], model: state.modelMs[0] } : state.warm;
      if (run) {
        perEvalMs = run.model / evaluations;
        perStepMs = Math.max(0, run.wall - run.model) / steps;
      }
    }
    if (configs.some((c) => c.hung)) break;
  }
  // Timed runs, interleaved: each round runs every unfinished configuration once, in a fresh random order,
  // so drifts of the machine (load, thermal, JIT) fall on all configurations alike instead of on the later ones.
  await timeInterleaved(configs, plan);
  let hung = false;
  for (const c of configs) {
    const row = await finishConfig(c);
    report.results.push(row);
    log(progressLine(row));
    if (/HardTimeout/.test(`${row.error ?? ""} ${Object.values(row.quality.errors ?? {}).join(" ")}`)) hung = true;
  }
  if (hung) return true;
  await loaded.release?.();
  return false;
}

export function progressLine(r: BenchRow): string {
  const head = `${r.backend} ${r.model} ${r.resolution}²×${r.batch} ${r.sampler} ${r.steps}`;
  if (r.error) return `${head}: ERROR ${r.error}`;
  const q = r.quality;
  const parts = [
    `${r.msPerBatch?.toPrecision(3)} ms/batch`,
    `model ${r.msPerStepModel?.toPrecision(3)} + sampler ${r.msPerStepSampler?.toPrecision(3)} ms/step`,
    q.rmsError !== undefined ? `rms ${q.rmsError.toExponential(2)}` : "",
    q.energyDistance2d !== undefined ? `ED2 ${q.energyDistance2d.toExponential(2)}` : "",
    q.energyDistance64d !== undefined ? `ED64 ${q.energyDistance64d.toExponential(2)}` : "",
  ];
  return `${head}: ${parts.filter(Boolean).join(", ")}`;
}

/** The bare model: `passes` evaluations back to back, one read-back at the end; ms per pass. */
async function measureModelPass(base: Backend<BTensor>, loaded: LoadedModel<BTensor>, w: Workload, schedule: Schedule, plan: BenchPlan): Promise<ModelPass> {
  const out: ModelPass = { backend: base.name, model: w.model, resolution: w.resolution, batch: w.batch, parameters: loaded.parameters, ...(loaded.attention ? { attention: loaded.attention } : {}), ...(loaded.precision ? { precision: loaded.precision } : {}), ...(loaded.flops ? { gflop: round(loaded.flops / 1e9) } : {}), passes: 0, msPerPass: null };
  const N = schedule.config.numTrainTimesteps;
  const shape = [w.batch, 1, w.resolution, w.resolution];
  try {
    const x = await base.fromHost(childStream(plan.seed, "model-pass-input").normals(w.batch * w.resolution * w.resolution), shape);
    const passRun = async (k: number): Promise<void> => {
      let prev: BTensor | undefined;
      for (let i = 0; i < k; i++) {
        const y = await loaded.model.evaluate(x, Math.round((N - 1) * (1 - i / Math.max(k, 1))), loaded.cond);
        if (prev) base.dispose?.(prev);
        prev = y;
      }
      await base.toHost(prev!);
      base.dispose?.(prev!);
    };
    // Warm-up (first-run compilation, allocation), which also sizes the timed samples.
    const deadline = now() + plan.capMs;
    let t0 = now();
    await withTimeout(passRun(1), plan.capMs, `the first model pass took more than ${plan.capMs / 1000} s`);
    t0 = now();
    await withTimeout(passRun(1), Math.max(1, deadline - now()), "model pass hung");
    const single = now() - t0;
    out.passes = Math.max(1, Math.min(plan.modelPasses, Math.floor(plan.modelPassBudgetMs / Math.max(single, 1e-3))));
    const samples: number[] = [];
    // At least modelPassSamples samples and the time budget, at most 50 samples.
    const ac = new AbortController();
    const bench = new Bench({ time: plan.modelPassBudgetMs, iterations: plan.modelPassSamples, warmup: false, retainSamples: true, throws: true, signal: ac.signal });
    bench.add("model-pass", async () => {
      const s = now();
      await passRun(out.passes);
      samples.push((now() - s) / out.passes);
      if (samples.length >= 50) ac.abort();
    });
    const remaining = Math.max(1, deadline - now());
    await withTimeout(bench.run(), remaining + 30_000, `model passes hung (cap ${plan.capMs / 1000} s)`);
    out.msPerPass = round(median(samples));
    out.samplesMs = samples.map((v) => round(v));
  } catch (e) {
    out.error = errText(e);
  }
  return out;
}

interface ConfigInput {
  /** Run one untimed warm-up run first (else the first timed run is profiled). */
  warmup: boolean;
  name: string;
  lane: Lane;
  base: Backend<BTensor>;
  timed: TimedModel<BTensor>;
  sampler: BenchSampler;
  prepared: PreparedSampler<BTensor>;
  steps: number;
  evaluations: number;
  xTildeT: BTensor;
  xTildeHost: Float64Array;
  schedule: Schedule;
  ctx: { backend: Backend<BTensor>; model: Denoiser<BTensor>; schedule: Schedule; noise: () => NoiseProvider<BTensor> };
  plan: BenchPlan;
  w: Workload;
  pass: ModelPass;
  mixtures: Mixture[];
  learnedReference: () => Promise<Float64Array>;
}

/** A configuration between its warm-up and its row: the timed runs so far. */
interface ConfigState {
  c: ConfigInput;
  row: BenchRow;
  /** When its warm-up started; its own time (warm-up, timed runs, quality) is `configMs`. */
  start: number;
  /** The warm-up run (absent when the first timed run was profiled instead). */
  warm?: { wall: number; model: number };
  wallMs: number[];
  modelMs: number[];
  /** This process's CPU time per timed run (user + system), ms. */
  cpuMs: number[];
  /** The run times that count (`clockOf`): cpuMs or wallMs. */
  clockMs: number[];
  timedMs: number;
  last?: Float64Array;
  peakRss: number;
  deviceBytes?: number;
  profiled: boolean;
  done: boolean;
  hung: boolean;
}

/** One run of a configuration: the sampling loop and the read-back, timed (wall, model, CPU). */
async function runOnce(st: ConfigState): Promise<{ wall: number; model: number; cpu: number }> {
  const { c } = st;
  const timed = c.timed;
  // Each run has the whole cap (runs of a configuration are spread over the interleaved rounds).
  timed.capMs = c.plan.capMs;
  timed.deadline = now() + c.plan.capMs;
  const profile = !st.profiled;
  timed.sync = false;
  timed.profile = profile;
  if (profile) timed.peakRss = 0;
  timed.reset();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const run = (async () => c.lane.backend.toHost(await c.prepared.run(c.steps, c.xTildeT)))();
  const host = await withTimeout(run, Math.max(1, timed.deadline - now()) + 30_000, `the configuration did not finish within its ${c.plan.capMs / 1000} s cap + 30 s`);
  const wall = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  st.last = host;
  if (profile) {
    st.profiled = true;
    st.peakRss = Math.max(timed.peakRss, process.memoryUsage.rss());
    st.deviceBytes = await c.base.memoryBytes?.();
    timed.profile = false;
  }
  return { wall, model: timed.ms, cpu: (cpu.user + cpu.system) / 1000 };
}

function failConfig(st: ConfigState, e: unknown): void {
  st.row.error = errText(e);
  st.done = true;
  st.hung = e instanceof HardTimeout;
  st.c.timed.sync = false;
  st.c.timed.profile = false;
}

/** The clock of a configuration's times: the plan's, except wall time on asynchronous device backends. */
const clockOf = (c: ConfigInput): "cpu" | "wall" => (c.plan.clock === "cpu" && !isAsyncBackend(c.name) ? "cpu" : "wall");

/** Warm-up: one untimed run (which also samples memory), unless the plan predicts it too long. */
async function startConfig(c: ConfigInput): Promise<ConfigState> {
  const row: BenchRow = {
    backend: c.name, sampler: c.sampler.name, steps: c.steps, model: c.w.model, resolution: c.w.resolution, batch: c.w.batch, evaluations: c.evaluations,
    msPerBatch: null, msPerStepModel: null, msPerStepSampler: null, quality: {},
  };
  const st: ConfigState = { c, row, start: now(), wallMs: [], modelMs: [], cpuMs: [], clockMs: [], timedMs: 0, peakRss: 0, profiled: false, done: false, hung: false };
  if (c.warmup) {
    gc();
    rssAfterGc = process.memoryUsage.rss();
    try {
      const r = await runOnce(st);
      st.warm = { wall: r.wall, model: r.model };
    } catch (e) {
      failConfig(st, e);
    }
  } else {
    gcIfGrown();
    await timedRun(st);
  }
  return st;
}

/** One timed run; marks the configuration done when it reached its precision or a cap. */
async function timedRun(st: ConfigState): Promise<void> {
  const plan = st.c.plan;
  try {
    const r = await runOnce(st);
    st.wallMs.push(r.wall);
    st.modelMs.push(r.model);
    st.cpuMs.push(r.cpu);
    st.clockMs.push(clockOf(st.c) === "cpu" ? r.cpu : r.wall);
    st.timedMs += r.wall;
  } catch (e) {
    failConfig(st, e);
    return;
  }
  const n = st.wallMs.length;
  const precise = n >= plan.minIterations && st.timedMs >= plan.budgetMs && relativeCi(st.clockMs) <= plan.targetRme;
  if (n >= plan.maxIterations || precise || (n >= 2 && st.timedMs >= plan.longBudgetMs) || st.timedMs + (st.warm?.wall ?? 0) > plan.capMs) st.done = true;
}

/** Finalizer-freed memory (see gc) piles up on these: k-diffusion samplers on backends with `dispose`, `+fused` backends. */
const collects = (c: ConfigInput): boolean => !!c.base.dispose && (c.sampler.family === "k-diffusion" || c.name.endsWith("+fused"));

/**
 * Rounds over the unfinished configurations in a seeded random order, until every one is done. Memory that
 * only finalizers free is collected between rounds once RSS grew by GC_GROWTH_BYTES; a full collection
 * discards optimised code, so every open configuration then runs once untimed before timing resumes
 * (otherwise the next runs are 2–10× slower, in whichever configurations come next).
 */
async function timeInterleaved(configs: ConfigState[], plan: BenchPlan): Promise<void> {
  const order = new GaussianStream(`${plan.seed}/bench-rounds`);
  for (;;) {
    if (configs.some((c) => c.hung)) return;
    const open = configs.filter((c) => !c.done);
    if (!open.length) return;
    if (open.some((c) => collects(c.c)) && process.memoryUsage.rss() > rssAfterGc + GC_GROWTH_BYTES) {
      gc();
      rssAfterGc = process.memoryUsage.rss();
      for (const st of open) {
        try {
          await runOnce(st);
        } catch (e) {
          failConfig(st, e);
        }
      }
    }
    for (let i = open.length - 1; i > 0; i--) {
      const j = order.int(i + 1);
      [open[i], open[j]] = [open[j], open[i]];
    }
    for (const st of open) await timedRun(st);
  }
}

/** The row: timing with its precision, the model/sampler split, memory, quality. */
async function finishConfig(st: ConfigState): Promise<BenchRow> {
  const { c, row } = st;
  const { timed, plan, w, steps, sampler } = c;
  if (row.error) return row;
  if (!st.wallMs.length) {
    row.error = "no timed run";
    return row;
  }
  const asyncBackend = isAsyncBackend(c.name);
  try {
    const wall = st.wallMs;
    const times = st.clockMs;
    const sorted = [...times].sort((x, y) => x - y);
    const mean = times.reduce((x, y) => x + y, 0) / times.length;
    const sd = Math.sqrt(times.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, times.length - 1));
    const rel = relativeCi(times);
    row.msPerBatch = round(median(times));
    row.timing = {
      clock: clockOf(c), iterations: times.length, meanMs: round(mean), medianMs: row.msPerBatch, sdMs: round(sd), rme: Number.isFinite(rel) ? round(100 * rel, 2) : null,
      targetRme: round(100 * plan.targetRme, 2), met: rel <= plan.targetRme, minMs: round(sorted[0]), maxMs: round(sorted[sorted.length - 1]),
      p10Ms: round(quantile(sorted, 0.1)), p90Ms: round(quantile(sorted, 0.9)), split: asyncBackend ? "synced-run" : "inline",
    };
    let split = wall.map((x, i) => ({ wall: x, model: st.modelMs[i] }));
    if (asyncBackend) {
      // One run with every evaluation read back, so model time includes the device's work.
      timed.sync = true;
      const r = await runOnce(st);
      timed.sync = false;
      split = [{ wall: r.wall, model: r.model }];
    }
    row.msPerStepModel = round(median(split.map((x) => x.model)) / steps);
    row.msPerStepSampler = round(median(split.map((x) => x.wall - x.model)) / steps);
    row.samples = { wallMs: wall.map((v) => round(v)), modelMs: st.modelMs.map((v) => round(v)), cpuMs: st.cpuMs.map((v) => round(v)) };
    if (c.pass.msPerPass) {
      row.modelPassMs = c.pass.msPerPass;
      row.loopOverModel = round(row.msPerBatch / (c.evaluations * c.pass.msPerPass));
    }
  } catch (e) {
    failConfig(st, e);
    return row;
  }
  row.memory = { peakRssMB: round(st.peakRss / MB), processMaxRssMB: round(process.resourceUsage().maxRSS / 1024) };
  if (st.deviceBytes !== undefined) row.memory.deviceBytes = st.deviceBytes;
  const qualityStart = now();
  timed.deadline = qualityStart + plan.capMs;
  if (w.model === "oracle") row.quality = await oracleQuality(c, st.last!);
  if (w.model === "learned" && !sampler.stochastic) {
    try {
      const ref = await c.learnedReference();
      const alpha = finalAlphaOf(sampler, c.schedule);
      row.quality.learnedRmsError = round(rms(st.last!.map((v) => v / alpha), ref));
    } catch (e) {
      row.quality.errors = { learnedRmsError: errText(e) };
    }
  }
  row.configMs = round(st.timedMs + (st.warm?.wall ?? 0) + (now() - qualityStart));
  return row;
}

/** Linear-interpolation quantile of sorted values. */
const quantile = (sorted: readonly number[], q: number): number => {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
};

/** (a) from the timed runs' sample; (b) from one more run per mixture. */
async function oracleQuality(c: ConfigInput, last: Float64Array): Promise<Quality> {
  const { sampler, steps, schedule, base, plan } = c;
  const backend = c.lane.backend;
  const q: Quality = {};
  const errors: Record<string, string> = {};
  const sigmaT = startSigmaOf(schedule);
  const alphaF = finalAlphaOf(sampler, schedule);
  if (!sampler.stochastic) q.rmsError = round(rms(last, gaussianExact(c.xTildeHost, sigmaT, finalSigmaOf(sampler, schedule), alphaF)));
  for (const m of c.mixtures) {
    const key = m.name === "mixture2d" ? "energyDistance2d" : "energyDistance64d";
    try {
      if (now() > c.timed.deadline) throw new TimeCapExceeded(plan.capMs);
      const model = oracleModel(base, m.data, schedule).model;
      const timed = new TimedModel(model, base);
      timed.deadline = c.timed.deadline;
      timed.capMs = plan.capMs;
      const x = c.lane.wrapTensor(await base.fromHost(mixtureStart(m.data, m.n, sigmaT, plan.seed, m.name), [m.n, m.data.dim]));
      const mixtureSampler = await prepareSampler(sampler, { ...c.ctx, backend, model: c.lane.wrapModel(timed) });
      const out = await withTimeout(mixtureSampler.run(steps, x), Math.max(1, c.timed.deadline - now()) + 30_000, "the quality run hung");
      const host = (await backend.toHost(out)).map((v) => v / alphaF);
      q[key] = round(await energyTo(host, m.data.dim, m.reference));
    } catch (e) {
      errors[key] = errText(e);
    }
  }
  if (Object.keys(errors).length) q.errors = errors;
  return q;
}

/** bench/sampler-overhead.ts's result (another module; absent or failing → an error entry). */
async function samplerOverheadRows(log: (l: string) => void): Promise<unknown> {
  const spec = "./sampler-overhead.ts";
  try {
    const mod = (await import(spec)) as { runSamplerOverheadBench?: (o?: unknown) => Promise<unknown>; runSamplerOverheadBenchFull?: (o?: unknown) => Promise<unknown> };
    const run = mod.runSamplerOverheadBenchFull ?? mod.runSamplerOverheadBench;
    if (typeof run !== "function") return { error: "bench/sampler-overhead.ts does not export runSamplerOverheadBench" };
    log("sampler overhead vs copy floor (bench/sampler-overhead.ts) …");
    return await run({ log: (line: string) => log(`overhead: ${line}`) });
  } catch (e) {
    return { error: errText(e) };
  }
}

export const GOAL_REFERENCES = { pytorchEagerCudaFp32Ms: 62, pytorchEagerCudaFp16Ms: 28, onnxruntimeWebgpuFp32MsLow: 490, onnxruntimeWebgpuFp32MsHigh: 670, onnxruntimeWebgpuFp16Ms: 335, loopOverModelTarget: 1.05 };

/** The two GPU goals from a run's rows (goal 1: dpmpp-2m at 20 steps; goal 2: the model passes). */
export function goalReport(r: Pick<BenchReport, "results" | "modelPasses" | "backends"> & { skipped?: BenchReport["skipped"] }): GoalReport {
  const g: GoalReport = { loopOverModel: [], unetPass: [], references: GOAL_REFERENCES };
  for (const row of r.results) {
    if (row.sampler !== "dpmpp-2m" || (row.steps !== 20 && !row.error)) continue;
    const pass = r.modelPasses.find((p) => p.backend === row.backend && p.model === row.model && p.resolution === row.resolution && p.batch === row.batch);
    const ratio = row.msPerBatch !== null && pass?.msPerPass ? row.msPerBatch / ((row.evaluations ?? 20) * pass.msPerPass) : null;
    g.loopOverModel.push({ backend: row.backend, model: row.model, resolution: row.resolution, batch: row.batch, msPerBatch: row.msPerBatch, msPerPass: pass?.msPerPass ?? null, ratio: ratio === null ? null : round(ratio), met: ratio === null ? null : ratio <= GOAL_REFERENCES.loopOverModelTarget, ...(row.error || pass?.error ? { error: row.error ?? pass?.error } : {}) });
  }
  // Backends whose loop was skipped (predicted past the cap) still get a goal-1 line saying so.
  for (const sk of r.skipped ?? []) {
    if (sk.sampler !== "dpmpp-2m" || sk.steps !== 20 || g.loopOverModel.some((l) => l.backend === sk.backend && l.model === sk.model)) continue;
    const pass = r.modelPasses.find((p) => p.backend === sk.backend && p.model === sk.model);
    g.loopOverModel.push({ backend: sk.backend, model: sk.model, resolution: pass?.resolution ?? 0, batch: pass?.batch ?? 0, msPerBatch: null, msPerPass: pass?.msPerPass ?? null, ratio: null, met: null, error: `skipped: ${sk.reason}` });
  }
  // A goal-2 line is the model pass without its timing samples.
  for (const { passes: _passes, samplesMs: _samples, ...pass } of r.modelPasses) g.unetPass.push(pass);
  for (const row of r.results) {
    if (row.error && row.steps === 0 && !g.unetPass.some((u) => u.backend === row.backend && u.model === row.model)) g.unetPass.push({ backend: row.backend, model: row.model, resolution: row.resolution, batch: row.batch, msPerPass: null, error: row.error });
  }
  return g;
}

export type { Skipped };
