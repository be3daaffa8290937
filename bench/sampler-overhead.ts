/**
 * Sampler overhead per step, excluding the model, against the copy floor (issue 3).
 *
 *   npx tsx bench/sampler-overhead.ts [--json FILE] [--quick] [--backends a,b] [--only NAME,…] [--steps N] [--mode f32|f64] [--clock cpu|wall]
 *
 * For every sampler — each diffusers class of SCHEDULER_CLASSES in its main configurations, and every
 * k-diffusion functional sampler — on 16×1×128×128 float32 samples (N = 262 144 values, 1 MiB a tensor):
 *
 * µs/step: the time of a whole S-step run (S = 25; runPipeline for diffusers classes, the k-diffusion
 *   function itself for those) divided by its number of model evaluations (one "step" = one model
 *   evaluation = one iteration of the pipeline loop; Heun-type samplers take two per σ step). The model
 *   is excluded: it returns one of P = 6 distinct precomputed output tensors in turn (distinct, so that a
 *   multistep sampler's history holds different tensors, as with a real model) and costs nothing but the
 *   materialisation of its input, which belongs to the step (the model must read its input, so the step
 *   must write it). Stochastic samplers take their noise from 4 precomputed tensors in turn; drawing it
 *   (randn) is timed separately and reported on its own line, because generating 262 144 Gaussians on the
 *   host costs far more than the step itself. After warm-up (≥ 3 runs and 0.3 s, so the JIT has optimised
 *   the sampler code), runs repeat until ≥ 15 runs and ≥ 0.4 s (at most 200); we report the median over
 *   runs, the fastest run, and the spread (p90 − p10)/median. Clock: this process's CPU time by default
 *   (see `BenchClock`: on a shared machine it leaves out the time other processes had the cores).
 *
 * Copy floor: COPY_FLOOR_DEFINITION below (printed with the table). In short: a step that must read R and
 *   write W tensors (each case's `floor`, its minimal steady-state traffic with the reason) moves
 *   (R + W)·4N bytes; after each timed run the same process times the same number of bytes moved by
 *   Float32Array copies through a pool of buffers as large as the run's working set, and ratio = the
 *   median over runs of run time ÷ its floor. The goal is ratio ≤ 2 on one thread. The float32 floor is
 *   used for every backend (the Float64 reference moves twice the bytes). `hot` columns: copies between 2
 *   buffers (cache-resident), a stricter floor.
 *
 * Diagnostics per wasm-simd row: `traffic` (tensors actually read + written per step by the base
 * backend's kernels, counted by a wrapper in one extra run) and `hostUs` (the same run on a 1×1×2×2
 * tensor: the JavaScript cost of a step — scheduler scalars, fused bookkeeping, the per-step sweep —
 * which the kernels add to). They are what the `limit` column is derived from.
 *
 * Backends: "wasm-simd" (adapters/wasm: fused(trackMemory(wasm)) via sweepingFused, swept by runPipeline
 * every step), "wasm-simd-unfused" (trackMemory only: one kernel call per sampler combine),
 * "reference" (Float64 JavaScript, for comparison), "tfjs-wasm" (fused + tracked, where it loads).
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import type { Backend, BTensor, Denoiser } from "../adapters/contract.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import { trackMemory, type TrackedBackend } from "../adapters/memory.ts";
import { createWasmBackend, sweepingFused, type CombineMode, type WasmBackend, type WasmTensor } from "../adapters/wasm/index.ts";
import { ConfigError } from "../reference/errors.ts";
import { GaussianStream } from "../reference/rng.ts";
import { karrasSigmas } from "../reference/schedule.ts";
import { size, type Shape } from "../reference/tensor.ts";
import { createScheduler, KDIFFUSION_SAMPLERS, SCHEDULER_CLASSES, type KDiffusionSamplerName } from "../reference/samplers/index.ts";
import { KDIFFUSION, kdiffusionEvaluations } from "../reference/samplers/kdiffusion.ts";
import { runPipeline, type NoiseProvider, type Scheduler } from "../reference/samplers/scheduler.ts";

// ─── the cases ─────────────────────────────────────────────────────────────────────────────────────

export interface Floor {
  /** Tensors one step must read. */
  readonly reads: number;
  /** Tensors one step must write. */
  readonly writes: number;
  readonly why: string;
}

interface CaseCommon {
  /** Short name (the `sampler` field of the rows). */
  readonly name: string;
  readonly description: string;
  readonly stochastic: boolean;
  readonly floor: Floor;
  /** A known reason why the implementation moves more than the floor (extra passes). */
  readonly extra?: string;
}
export interface DiffusersCase extends CaseCommon {
  readonly family: "diffusers";
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly eta?: number;
}
export interface KDiffusionCase extends CaseCommon {
  readonly family: "k-diffusion";
  readonly fn: KDiffusionSamplerName;
  readonly options: Readonly<Record<string, unknown>>;
}
export type OverheadCase = DiffusersCase | KDiffusionCase;

const floor = (reads: number, writes: number, why: string): Floor => ({ reads, writes, why });
const d = (name: string, className: string, config: Record<string, unknown>, description: string, f: Floor, o: Partial<DiffusersCase> = {}): DiffusersCase =>
  ({ name, family: "diffusers", className, config, description, floor: f, stochastic: false, ...o });
const k = (name: string, fn: KDiffusionSamplerName, description: string, f: Floor, o: Partial<KDiffusionCase> = {}): KDiffusionCase =>
  ({ name, family: "k-diffusion", fn, options: {}, description, floor: f, stochastic: false, ...o });

const CLIP_EXTRA = "clipSample: x̂₀ is materialised and clamped in its own pass before the update (a clamp cannot be deferred into a linear form)";

/** Every diffusers class in its main configurations (diffusers defaults unless stated), and every k-diffusion sampler. */
export const OVERHEAD_CASES: readonly OverheadCase[] = [
  d("ddpm", "DDPMScheduler", {}, "DDPMScheduler defaults (clipSample, fixed_small)", floor(3, 1, "read x, ε, z; write x'"), { stochastic: true, extra: CLIP_EXTRA }),
  d("ddpm-noclip", "DDPMScheduler", { clipSample: false }, "DDPMScheduler clipSample false", floor(3, 1, "read x, ε, z; write x'"), { stochastic: true }),
  d("ddim", "DDIMScheduler", {}, "DDIMScheduler defaults (clipSample, η = 0)", floor(2, 1, "read x, ε; write x'"), { extra: CLIP_EXTRA }),
  d("ddim-noclip", "DDIMScheduler", { clipSample: false }, "DDIMScheduler clipSample false, η = 0", floor(2, 1, "read x, ε; write x'")),
  d("pndm", "PNDMScheduler", {}, "PNDMScheduler defaults (PRK warm-up, then PLMS)", floor(5, 1, "PLMS: read x and 4 ε; write x'"), { extra: "PRK warm-up stages combine from the stage's start sample" }),
  d("pndm-plms", "PNDMScheduler", { skipPrkSteps: true }, "PNDMScheduler skipPrkSteps (PLMS only)", floor(5, 1, "read x and 4 ε; write x'")),
  d("euler", "EulerDiscreteScheduler", {}, "EulerDiscreteScheduler defaults", floor(2, 1, "read the model input (= x/√(σ²+1)) and ε; write the next model input")),
  d("euler-karras", "EulerDiscreteScheduler", { useKarrasSigmas: true }, "EulerDiscreteScheduler Karras σ", floor(2, 1, "read the model input and ε; write the next model input")),
  d("euler-ancestral", "EulerAncestralDiscreteScheduler", {}, "EulerAncestralDiscreteScheduler defaults", floor(3, 1, "read the model input, ε, z; write the next model input"), { stochastic: true }),
  d("heun", "HeunDiscreteScheduler", {}, "HeunDiscreteScheduler defaults (2 evaluations per σ step)", floor(2.5, 1, "per 2 evaluations: read (x, ε₁) then (x, ε₁, ε₂); write 2 model inputs")),
  d("lms", "LMSDiscreteScheduler", {}, "LMSDiscreteScheduler defaults (order 4)", floor(5, 1, "read the model input and 4 ε (d = ε for ε-prediction); write the next model input")),
  d("dpmpp-2m", "DPMSolverMultistepScheduler", {}, "DPMSolverMultistepScheduler defaults (dpmsolver++ 2M, midpoint)", floor(4, 1, "read x, ε, and the previous x, ε (or: x, ε, m₁ and write m); write x'")),
  d("dpmpp-3m", "DPMSolverMultistepScheduler", { solverOrder: 3 }, "DPMSolverMultistepScheduler dpmsolver++ 3M", floor(4, 2, "read x, ε, m₁, m₂; write x' and m = x̂₀")),
  d("dpmpp-2m-sde", "DPMSolverMultistepScheduler", { algorithmType: "sde-dpmsolver++" }, "DPMSolverMultistepScheduler sde-dpmsolver++ 2M", floor(5, 1, "read x, ε, previous x, ε, z; write x'"), { stochastic: true }),
  d("dpmpp-2m-threshold", "DPMSolverMultistepScheduler", { thresholding: true }, "DPMSolverMultistepScheduler 2M + dynamic thresholding", floor(6, 3, "x̂₀ pass: read x, ε, write x̂₀; quantile: read x̂₀; update: read x̂₀, x, m₁, write m = thresholded x̂₀ and x'"), { extra: "threshold: x̂₀ materialised, a histogram pass and a gather pass for the quantile per batch item, then a clamp-and-divide pass" }),
  d("dpm-singlestep", "DPMSolverSinglestepScheduler", {}, "DPMSolverSinglestepScheduler defaults (order 2)", floor(3, 1, "per 2 evaluations: read (x, ε₀) then (x, ε₀, x₁, ε₁); write 2 samples")),
  d("unipc", "UniPCMultistepScheduler", {}, "UniPCMultistepScheduler defaults (bh2, order 2, corrector)", floor(6, 1, "corrector + predictor: read x₋₁, ε₋₁, x₋₂, ε₋₂, x, ε; write x'")),
  d("deis", "DEISMultistepScheduler", {}, "DEISMultistepScheduler defaults (order 2)", floor(3, 1, "read x, ε, ε₋₁; write x'")),
  d("dpm-sde", "DPMSolverSDEScheduler", {}, "DPMSolverSDEScheduler defaults (2 evaluations per σ step; recorded noise in place of the Brownian tree)", floor(3, 1, "per evaluation: read x (the interval's start), ε, z; write x'"), { stochastic: true }),
  d("flow-euler", "FlowMatchEulerDiscreteScheduler", { shift: 3 }, "FlowMatchEulerDiscreteScheduler shift 3", floor(2, 1, "read x, v; write x'")),
  d("flow-heun", "FlowMatchHeunDiscreteScheduler", { shift: 3 }, "FlowMatchHeunDiscreteScheduler shift 3 (2 evaluations per σ step)", floor(2.5, 1, "per 2 evaluations: read (x, v₁) then (x, v₁, v₂); write 2 samples")),
  d("lcm", "LCMScheduler", {}, "LCMScheduler defaults (re-noised every step but the last)", floor(3, 1, "read x, ε, z; write x'"), { stochastic: true, extra: "x̂₀ and the consistency output f (returned as `denoised`) are materialised before the re-noising" }),
  d("tcd", "TCDScheduler", {}, "TCDScheduler γ = 0.3", floor(3, 1, "read x, ε, z; write x'"), { stochastic: true, extra: "x̂₀, ε̂ and x_s (returned as `pred_noised_sample`) are materialised before the forward diffusion" }),
  d("edm-euler", "EDMEulerScheduler", {}, "EDMEulerScheduler defaults (Karras σ)", floor(2, 1, "read x, F; write x'"), { extra: "D is materialised (returned as `pred_original_sample`)" }),
  d("edm-dpmpp-2m", "EDMDPMSolverMultistepScheduler", {}, "EDMDPMSolverMultistepScheduler defaults (dpmsolver++ 2M)", floor(3, 2, "read x, F, m₁; write x' and m = D")),
  d("ipndm", "IPNDMScheduler", {}, "IPNDMScheduler (Adams–Bashforth 4 on ε̂)", floor(5, 2, "read x, v, ε̂₋₁, ε̂₋₂, ε̂₋₃; write ε̂ and x'"), { extra: "ε̂, the extrapolated ē and x̂₀ are materialised in turn" }),
  d("sa-solver", "SASolverScheduler", {}, "SASolverScheduler defaults (p2c2, τ = 1 on t ∈ [200, 800])", floor(6, 2, "read x, ε, x₋₁, ξ₋₁, m₋₁, ξ; write m and x'"), { stochastic: true, extra: "the corrected sample is materialised between the corrector and the predictor" }),
  d("kdpm2", "KDPM2DiscreteScheduler", {}, "KDPM2DiscreteScheduler defaults (2 evaluations per σ step)", floor(2.5, 1, "per 2 evaluations: read (x, ε₁) then (x, x_mid, ε₂); write x_mid, x'")),
  d("kdpm2-ancestral", "KDPM2AncestralDiscreteScheduler", {}, "KDPM2AncestralDiscreteScheduler defaults (2 evaluations per σ step)", floor(3, 1, "per 2 evaluations: read (x, ε₁) then (x, x_mid, ε₂, z); write x_mid, x'"), { stochastic: true }),
  k("k-euler", "sample_euler", "k-diffusion sample_euler", floor(2, 1, "read x, D; write x'")),
  k("k-euler-ancestral", "sample_euler_ancestral", "k-diffusion sample_euler_ancestral (η = 1)", floor(3, 1, "read x, D, z; write x'"), { stochastic: true }),
  k("k-heun", "sample_heun", "k-diffusion sample_heun (2 evaluations per σ step)", floor(2.5, 1, "per 2 evaluations: read (x, D₁) then (x, D₁, D₂); write x₂, x'")),
  k("k-dpm-2", "sample_dpm_2", "k-diffusion sample_dpm_2 (2 evaluations per σ step)", floor(2.5, 1, "per 2 evaluations: read (x, D₁) then (x, x_mid, D₂); write x_mid, x'")),
  k("k-lms", "sample_lms", "k-diffusion sample_lms (order 4)", floor(5, 2, "read x, D, d₋₁, d₋₂, d₋₃; write x' and d")),
  k("k-dpmpp-2m", "sample_dpmpp_2m", "k-diffusion sample_dpmpp_2m", floor(3, 1, "read x, D, D₋₁; write x'")),
  k("k-dpmpp-2m-sde", "sample_dpmpp_2m_sde", "k-diffusion sample_dpmpp_2m_sde (η = 1, midpoint)", floor(4, 1, "read x, D, D₋₁, z; write x'"), { stochastic: true }),
  k("k-dpm-2-ancestral", "sample_dpm_2_ancestral", "k-diffusion sample_dpm_2_ancestral (η = 1, 2 evaluations per step)", floor(3, 1, "per 2 evaluations: read (x, D₁) then (x, x_mid, D₂, z); write x_mid, x'"), { stochastic: true }),
  k("k-dpmpp-2s-ancestral", "sample_dpmpp_2s_ancestral", "k-diffusion sample_dpmpp_2s_ancestral (η = 1, 2 evaluations per step)", floor(2.5, 1, "per 2 evaluations: read (x, D₁) then (x, D₂, z); write u, x'"), { stochastic: true }),
  k("k-dpmpp-3m-sde", "sample_dpmpp_3m_sde", "k-diffusion sample_dpmpp_3m_sde (η = 1)", floor(5, 1, "read x, D, D₋₁, D₋₂, z; write x'"), { stochastic: true }),
];

/** Every class of SCHEDULER_CLASSES and every k-diffusion sampler has a case (checked at start-up and by the tests). */
export function missingCases(): string[] {
  const have = new Set(OVERHEAD_CASES.map((c) => (c.family === "diffusers" ? c.className : c.fn)));
  return [...SCHEDULER_CLASSES, ...KDIFFUSION_SAMPLERS].filter((n) => !have.has(n));
}

// ─── backends under test ───────────────────────────────────────────────────────────────────────────

export const OVERHEAD_BACKENDS = ["wasm-simd", "wasm-simd-unfused", "reference", "tfjs-wasm"] as const;
export type OverheadBackend = (typeof OVERHEAD_BACKENDS)[number];

/** How a backend is driven: what the sampler sees, constants that are never swept, and the end-of-run cleanup. */
export interface Harness<T extends BTensor = BTensor> {
  readonly name: string;
  readonly backend: Backend<T>;
  /** A tensor that lives for the whole benchmark (model outputs, noise, x_T). */
  constant(data: Float64Array, shape: Shape): Promise<T>;
  /** Makes sure a model input exists in memory (a fused form is materialised; a plain tensor already is). */
  materialize(x: T): Promise<void>;
  /** Frees everything a finished run left (diffusers runs are also swept every step by runPipeline). */
  endRun(): void;
  /**
   * Per-step sweep for the k-diffusion functions, which keep their state in local variables the harness
   * cannot see: called from the model with the last KDIFF_ROOTS model inputs as roots (every tensor those
   * samplers keep across iterations is a form over recent model inputs and model outputs — which are
   * constants here). Only for fused harnesses, where a stored derivative is such a form; undefined where
   * it is not safe (an unfused backend's stored d is a tensor of its own), and then runs are swept at their end.
   */
  sweepStep?: (roots: readonly BTensor[]) => void;
  /** Frees constants. */
  release(ts: readonly BTensor[]): void;
  close(): Promise<void>;
}

/** trackMemory with constants that are never swept (runPipeline `adopt`s every model output). */
function pinnedTracked<T extends BTensor>(base: Backend<T>): TrackedBackend<T> & { pin(t: T): T } {
  const tracked = trackMemory(base);
  const pinned = new WeakSet<object>();
  const out = Object.create(tracked) as TrackedBackend<T> & { pin(t: T): T };
  out.adopt = (t: T) => (pinned.has(t) ? t : tracked.adopt(t));
  out.pin = (t: T) => { pinned.add(t); tracked.keep(t); return t; };
  return out;
}

function fusedHarness<T extends BTensor>(name: string, base: Backend<T>, close: () => Promise<void> | void): Harness {
  const f = sweepingFused(base);
  return {
    name,
    backend: f as unknown as Backend<BTensor>,
    async constant(data, shape) { return f.pin(await f.fromHost(data, shape)); },
    async materialize(x) { await f.materialize(x as never); },
    endRun() { f.sweep([]); },
    sweepStep(roots) { f.sweep(roots); },
    release(ts) { for (const t of ts) f.dispose?.(t as never); },
    async close() { await close(); },
  };
}

function trackedHarness<T extends BTensor>(name: string, base: Backend<T>, close: () => Promise<void> | void): Harness {
  const t = pinnedTracked(base);
  return {
    name,
    backend: t as unknown as Backend<BTensor>,
    async constant(data, shape) { return t.pin(await t.fromHost(data, shape)); },
    async materialize() {},
    endRun() { t.sweep([]); },
    release(ts) { for (const x of ts) t.dispose?.(x as T); },
    async close() { await close(); },
  };
}

async function createHarness(name: OverheadBackend, mode: CombineMode): Promise<Harness | string> {
  if (name === "wasm-simd" || name === "wasm-simd-unfused") {
    const wasm = await createWasmBackend({ combine: mode });
    return name === "wasm-simd" ? fusedHarness(name, wasm, () => wasm.close()) : trackedHarness(name, wasm, () => wasm.close());
  }
  if (name === "reference") {
    return { name, backend: referenceBackend as unknown as Backend<BTensor>, constant: async (data, shape) => referenceBackend.fromHost(data, shape), materialize: async () => {}, endRun() {}, release() {}, close: async () => {} };
  }
  try {
    const { createTfjsBackend } = await import("../adapters/tfjs/index.ts");
    const tf = await createTfjsBackend("wasm");
    return fusedHarness("tfjs-wasm", tf, () => tf.close?.());
  } catch (e) {
    return `tfjs-wasm unavailable: ${(e as Error).message}`;
  }
}

// ─── one case on one backend ───────────────────────────────────────────────────────────────────────

const MODEL_OUTPUTS = 6;
const NOISES = 4;
/** Model inputs kept as sweep roots for the k-diffusion samplers: sample_lms (order 4) reads d's of the last 4 inputs, plus the current one. */
const KDIFF_ROOTS = 5;

export interface Prepared {
  evals: number;
  /** One full run (timed by the caller). */
  run(): Promise<void>;
  /** Frees the constants. */
  dispose(): void;
}

/** Sets up the constants of `c` on harness h for a given shape. */
export async function prepare(c: OverheadCase, h: Harness, shape: Shape, steps: number): Promise<Prepared> {
  const n = size(shape);
  const g = new GaussianStream(`sampler-overhead/${c.name}/${n}`);
  const outputs = await Promise.all(Array.from({ length: MODEL_OUTPUTS }, () => h.constant(g.normals(n), shape)));
  const noises = await Promise.all(Array.from({ length: NOISES }, () => h.constant(g.normals(n), shape)));
  const xT = await h.constant(g.normals(n), shape);
  let o = 0;
  let z = 0;
  const noise = (): NoiseProvider<BTensor> => ({ next: async () => noises[z++ % NOISES] });
  const dispose = (): void => h.release([...outputs, ...noises, xT]);
  if (c.family === "k-diffusion") {
    const sigmas = karrasSigmas(steps, 0.0292, 14.6);
    const inputs: BTensor[] = [];
    const model = async (x: BTensor): Promise<BTensor> => {
      await h.materialize(x);
      if (h.sweepStep) {
        inputs.push(x);
        if (inputs.length > KDIFF_ROOTS) inputs.shift();
        h.sweepStep(inputs);
      }
      return outputs[o++ % MODEL_OUTPUTS];
    };
    const fn = KDIFFUSION[c.fn];
    return {
      evals: kdiffusionEvaluations(c.fn, sigmas),
      async run() {
        inputs.length = 0;
        await fn(h.backend, model, xT, sigmas, { ...c.options, noise: c.stochastic ? noise() : undefined });
      },
      dispose,
    };
  }
  const scheduler: Scheduler<BTensor> = await createScheduler(c.className, { ...c.config }, h.backend);
  scheduler.setTimesteps(steps);
  const den: Denoiser<BTensor> = {
    predictionType: "epsilon",
    async evaluate(x) { await h.materialize(x); return outputs[o++ % MODEL_OUTPUTS]; },
  };
  return {
    evals: scheduler.timesteps.length,
    async run() {
      scheduler.setTimesteps(steps);
      await runPipeline(scheduler, den, xT, { checkFinite: false, noise: c.stochastic ? noise() : undefined, eta: c.eta });
    },
    dispose,
  };
}

interface Timing {
  /** Per-step µs of each timed run. */
  perStep: number[];
  median: number;
  min: number;
  p10: number;
  p90: number;
  /** The copy floor per step measured right after each run (pool of K buffers, and hot), and the per-run ratios. */
  floor: number[];
  floorHot: number[];
  ratios: number[];
}

interface TimingOptions {
  /** Warm-up: at least this many runs and this many ms (the JIT must have optimised the sampler code). */
  warmup: number;
  warmupMs: number;
  minRuns: number;
  minMs: number;
  maxRuns: number;
}

/** What the copy floor of a run moves: `units` = (R + W)/2 tensor copies per step, around a pool of K buffers of n floats. */
interface FloorSpec {
  n: number;
  units: number;
  pool: number;
}

/**
 * Times whole runs. After each timed run, the copy floor of that run is timed too — evals·(R + W)/2 copies
 * of n float32 values around the pool, then the same on 2 buffers — so the run and its floor see the same
 * machine state (load, frequency, caches warmed by the run), and the ratio is taken run by run.
 */
async function timeRuns(p: Prepared, h: Harness, o: TimingOptions, fl?: FloorSpec): Promise<Timing> {
  const w0 = performance.now();
  for (let i = 0; i < o.warmup || (performance.now() - w0 < o.warmupMs && i < 10 * o.maxRuns); i++) { await p.run(); h.endRun(); }
  const perStep: number[] = [];
  const floor: number[] = [];
  const floorHot: number[] = [];
  const ratios: number[] = [];
  const copies = fl ? Math.max(1, Math.round(p.evals * fl.units)) : 0;
  const start = performance.now();
  while (perStep.length < o.minRuns || (performance.now() - start < o.minMs && perStep.length < o.maxRuns)) {
    const t0 = clockUs();
    await p.run();
    const t1 = clockUs();
    h.endRun();
    const us = (t1 - t0) / p.evals;
    perStep.push(us);
    if (fl) {
      const f = (timeCopies(fl.n, fl.pool, copies) * (p.evals * fl.units)) / copies / p.evals;
      floor.push(f);
      floorHot.push((timeCopies(fl.n, 2, copies) * (p.evals * fl.units)) / copies / p.evals);
      ratios.push(us / f);
    }
  }
  const s = [...perStep].sort((a, b) => a - b);
  return { perStep, median: quantile(s, 0.5), min: s[0], p10: quantile(s, 0.1), p90: quantile(s, 0.9), floor, floorHot, ratios };
}

const quantile = (sorted: readonly number[], q: number): number => {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  return sorted[lo] + (pos - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
};
const median = (xs: readonly number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

/**
 * The clock of every timing (runs and copies), in µs. "cpu" (default): this process's CPU time (user +
 * system, process.cpuUsage), which leaves out the time the OS gave the cores to other processes — on a
 * shared machine that is most of the noise; it counts V8's helper threads (GC, JIT) too, which are small
 * here after warm-up. "wall": performance.now(). On an idle machine the two agree.
 */
export type BenchClock = "cpu" | "wall";
let clock: BenchClock = "cpu";
const clockUs = (): number => {
  if (clock === "wall") return performance.now() * 1000;
  const u = process.cpuUsage();
  return u.user + u.system;
};

// ─── the copy floor ────────────────────────────────────────────────────────────────────────────────

export const COPY_FLOOR_DEFINITION =
  "copy floor = the time TypedArray copies take to move the bytes one step must move. A step that must read R and write W tensors of N float32 values (each case's `floor`: the method's minimal steady-state traffic, reason given per case) " +
  "moves (R + W)·4N bytes, as (R + W)/2 copies of N values (Float32Array.prototype.set: 4N bytes read + 4N written). After every timed run of S steps, the same process times S·(R + W)/2 such copies, " +
  "each from one buffer of a pool to the next, the pool as large as the run's working set K (every tensor block the wasm-simd run touches: model outputs, noise, x_T, the sampler's own tensors), " +
  "so that the copies stream through the same level of the memory hierarchy as the run, right after it, under the same load. copy floor µs = the median over runs of that time per step; ratio = the median over runs of " +
  "(run time / its copy floor). `hot` columns: the same copies on 2 buffers (the most cache-friendly copy, a stricter floor).";

/**
 * The shortest span a copy timing may measure: the clocks tick in whole µs, so `count` copies of a small
 * tensor can read 0 µs (a floor of 0, a ratio of ∞, a NaN median). The copies are repeated in rounds of
 * `count` until at least this much time has passed, and the time of one round is the mean over rounds
 * (quantisation error ≤ 1 µs / MIN_TIMED_US = 1 %).
 */
export const MIN_TIMED_US = 100;

/** µs for `count` copies of n float32 values around a pool of `pool` distinct buffers (pool[j] → pool[j + 1], then j += 2). */
export function timeCopies(n: number, pool: number, count: number): number {
  const K = Math.max(2, Math.round(pool));
  const bufs = copyPool(n, K);
  let j = copyCursor;
  let rounds = 0;
  let us = 0;
  const t0 = clockUs();
  do {
    for (let c = 0; c < count; c++) { bufs[(j + 1) % K].set(bufs[j % K]); j += 2; }
    rounds++;
    us = clockUs() - t0;
  } while (us < MIN_TIMED_US);
  copyCursor = j % (2 * K);
  return us / rounds;
}
let copyCursor = 0;

function copyPool(n: number, K: number): Float32Array[] {
  let bufs = copyPools.get(n);
  if (!bufs || bufs.length < K) {
    bufs = [...(bufs ?? [])];
    while (bufs.length < K) bufs.push(new Float32Array(n).fill(1));
    copyPools.set(n, bufs);
  }
  return bufs.length === K ? bufs : bufs.slice(0, K);
}
const copyPools = new Map<number, Float32Array[]>();

/** Median µs of one N-float32 copy around a pool of `pool` buffers (200 repetitions after 30 warm-up). */
export function measureCopy(n: number, pool = 2, reps = 200, warmup = 30): number {
  timeCopies(n, pool, warmup);
  const ts = Array.from({ length: reps }, () => timeCopies(n, pool, 1)).sort((x, y) => x - y);
  return quantile(ts, 0.5);
}

// ─── traffic counting ──────────────────────────────────────────────────────────────────────────────

/** A wasm-simd backend that counts the float32 values its primitives read and write. */
function counting(w: WasmBackend): { backend: Backend<WasmTensor>; counts: { read: number; written: number } } {
  const counts = { read: 0, written: 0 };
  const len = (t: WasmTensor) => t.length;
  const backend: Backend<WasmTensor> = {
    name: w.name,
    dtype: w.dtype,
    fromHost(data, shape) { const t = w.fromHost(data, shape); counts.written += len(t); return t; },
    toHost(t) { counts.read += len(t); return w.toHost(t); },
    combine(ts, cs) { const out = w.combine(ts, cs); counts.read += cs.filter((c) => c !== 0).length * len(out); counts.written += len(out); return out; },
    randn(shape, seed, index) { const t = w.randn(shape, seed, index); counts.written += len(t); return t; },
    clamp(t, lo, hi) { counts.read += len(t); counts.written += len(t); return w.clamp(t, lo, hi); },
    threshold(t, r, m) { counts.read += 2 * len(t); counts.written += len(t); return w.threshold(t, r, m); },
    concat(ts) { const out = w.concat(ts); counts.read += len(out); counts.written += len(out); return out; },
    split(t, sizes) { counts.read += len(t); counts.written += len(t); return w.split(t, sizes); },
    dispose: (t) => w.dispose(t),
  };
  return { backend, counts };
}

interface Traffic {
  /** Tensors (of the case's shape) read and written per step by the wasm-simd kernels through fused + tracked. */
  reads: number;
  writes: number;
  /** Distinct tensor-sized blocks one run touches (constants included): the working set K, in tensors. */
  workingSet: number;
}

/** One run on a fresh, counting wasm-simd backend (fused + tracked, as the "wasm-simd" rows). */
async function measureTraffic(c: OverheadCase, shape: Shape, steps: number, mode: CombineMode): Promise<Traffic> {
  const w = await createWasmBackend({ combine: mode });
  const { backend, counts } = counting(w);
  const h = fusedHarness("count", backend, () => w.close());
  const p = await prepare(c, h, shape, steps);
  counts.read = counts.written = 0;
  await p.run();
  h.endRun();
  // Blocks of the tensors' size ever handed out; other sizes are fromHost's f64 staging block (not touched by a run).
  const st = w.stats();
  const tensorBytes = Math.max(64, Math.ceil((4 * size(shape)) / 64) * 64);
  const otherBytes = Object.entries(st.freeBlocks).reduce((s, [bytes, count]) => s + (Number(bytes) === tensorBytes ? 0 : Number(bytes) * count), 0);
  const workingSet = (st.heapBytes - otherBytes) / tensorBytes;
  await h.close();
  const n = size(shape) * p.evals;
  return { reads: counts.read / n, writes: counts.written / n, workingSet: Math.round(workingSet) };
}

// ─── the benchmark ─────────────────────────────────────────────────────────────────────────────────

export interface OverheadRow {
  sampler: string;
  description: string;
  family: "diffusers" | "k-diffusion";
  backend: string;
  /** wasm-simd combine arithmetic ("f32" / "f64"), for wasm rows. */
  mode?: CombineMode;
  shape: number[];
  steps: number;
  /** Model evaluations of one run (the unit of "step" here). */
  evals: number;
  /** Median µs per step (per model evaluation), model excluded. */
  usPerStep: number;
  usPerStepMin: number;
  usPerStepP10: number;
  usPerStepP90: number;
  /** (p90 − p10)/median, in %. */
  spreadPct: number;
  runs: number;
  /** The run's working set K in tensors (distinct tensor blocks the wasm-simd run touches). */
  workingSet: number;
  /** t_copy: µs of one N-float32 copy around a pool of K buffers (median over the copies timed after each run). */
  copyUs: number;
  /** The same with a pool of 2 buffers (cache-hot). */
  copyHotUs: number;
  floorReads: number;
  floorWrites: number;
  floorWhy: string;
  /** The copy floor per step: (R + W)/2 copies around the pool, median over runs. */
  copyFloorUs: number;
  /** The same on 2 buffers. */
  copyFloorHotUs: number;
  /** Median over runs of (run µs/step ÷ that run's copy floor). */
  ratio: number;
  /** The same against the hot floor. */
  ratioHot: number;
  /** Fastest run ÷ smallest floor: the estimate least disturbed by other load on the machine. */
  ratioMin: number;
  /** ratio ≤ 2. */
  withinGoal: boolean;
  /** wasm-simd rows: tensors actually read / written per step by the kernels. */
  trafficReads?: number;
  trafficWrites?: number;
  /** wasm-simd rows: µs per step of the same run on a 1×1×2×2 tensor (the JavaScript part). */
  hostUs?: number;
  /** What limits this row (derived from the numbers above). */
  limit: string;
}

export interface OverheadOptions {
  /** Fewer steps, runs and backends (a smoke run: wasm-simd and reference only). */
  quick?: boolean;
  backends?: readonly OverheadBackend[];
  /** Case names (OVERHEAD_CASES[].name) to run; default all. */
  only?: readonly string[];
  steps?: number;
  shape?: readonly number[];
  mode?: CombineMode;
  /** Timing clock (default "cpu": process CPU time; "wall": performance.now()). */
  clock?: BenchClock;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface RandnRow {
  backend: string;
  shape: number[];
  /** µs per randn draw of the shape (the backend's own randn: NOISE-PHILOX on reference and wasm-simd). */
  usPerDraw: number;
}

export interface OverheadResult {
  /** The machine: CPU model, cores, load average before and after the run (the bench is single-threaded; a loaded machine inflates every number). */
  machine: { cpu: string; cores: number; node: string; loadBefore: number[]; loadAfter: number[]; clock: BenchClock };
  rows: OverheadRow[];
  randn: RandnRow[];
  unavailable: string[];
  definition: string;
}

const DEFAULT_SHAPE = [16, 1, 128, 128];
const TINY_SHAPE = [1, 1, 2, 2];

/** Runs the benchmark and returns its rows (the table is printed by the CLI entry below). */
export async function runSamplerOverheadBench(opts: OverheadOptions = {}): Promise<OverheadRow[]> {
  return (await runSamplerOverheadBenchFull(opts)).rows;
}

export async function runSamplerOverheadBenchFull(opts: OverheadOptions = {}): Promise<OverheadResult> {
  const missing = missingCases();
  if (missing.length) throw new ConfigError("bench/sampler-overhead cases", missing.join(", "), "a case for every SCHEDULER_CLASSES class and k-diffusion sampler");
  const quick = !!opts.quick;
  const shape = [...(opts.shape ?? DEFAULT_SHAPE)];
  const n = size(shape);
  const steps = opts.steps ?? (quick ? 10 : 25);
  const mode = opts.mode ?? "f32";
  clock = opts.clock ?? "cpu";
  if (clock !== "cpu" && clock !== "wall") throw new ConfigError("--clock", clock, '"cpu" or "wall"');
  const log = opts.log ?? (() => {});
  const backends = opts.backends ?? (quick ? (["wasm-simd", "reference"] as const) : OVERHEAD_BACKENDS);
  for (const b of backends) if (!OVERHEAD_BACKENDS.includes(b)) throw new ConfigError("--backends", b, `one of ${OVERHEAD_BACKENDS.join(", ")}`);
  const cases = opts.only ? opts.only.map((name) => OVERHEAD_CASES.find((c) => c.name === name) ?? (() => { throw new ConfigError("--only", name, `one of ${OVERHEAD_CASES.map((c) => c.name).join(", ")}`); })()) : OVERHEAD_CASES;

  const loadBefore = loadavg();
  const machine = { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version, clock };
  const rows: OverheadRow[] = [];
  const randn: RandnRow[] = [];
  const unavailable: string[] = [];
  // Traffic and working set of every case on a fresh counting wasm-simd backend (one run each).
  const traffic = new Map<string, Traffic>();
  for (const c of cases) traffic.set(c.name, await measureTraffic(c, shape, steps, mode));
  for (const bname of backends) {
    const h = await createHarness(bname, mode);
    if (typeof h === "string") { unavailable.push(h); log(h); continue; }
    const slow = bname === "reference" || bname === "tfjs-wasm";
    const timing: TimingOptions = slow ? { warmup: 1, warmupMs: 0, minRuns: quick ? 3 : 5, minMs: 0, maxRuns: 5 } : quick ? { warmup: 3, warmupMs: 150, minRuns: 7, minMs: 100, maxRuns: 50 } : { warmup: 3, warmupMs: 300, minRuns: 15, minMs: 400, maxRuns: 200 };
    const tinyTiming: TimingOptions = quick ? { warmup: 5, warmupMs: 150, minRuns: 10, minMs: 100, maxRuns: 500 } : { warmup: 5, warmupMs: 300, minRuns: 30, minMs: 300, maxRuns: 1000 };
    randn.push({ backend: bname, shape, usPerDraw: await timeRandn(h.backend, shape) });
    for (const c of cases) {
      const tr = traffic.get(c.name)!;
      const p = await prepare(c, h, shape, steps);
      const units = (c.floor.reads + c.floor.writes) / 2;
      const t = await timeRuns(p, h, timing, { n, units, pool: tr.workingSet });
      p.dispose();
      const copyFloorUs = median(t.floor);
      const copyFloorHotUs = median(t.floorHot);
      const ratio = median(t.ratios);
      const row: OverheadRow = {
        sampler: c.name, description: c.description, family: c.family, backend: bname, mode: bname.startsWith("wasm") ? mode : undefined,
        shape, steps, evals: p.evals,
        usPerStep: t.median, usPerStepMin: t.min, usPerStepP10: t.p10, usPerStepP90: t.p90, spreadPct: (100 * (t.p90 - t.p10)) / t.median, runs: t.perStep.length,
        workingSet: tr.workingSet, copyUs: copyFloorUs / units, copyHotUs: copyFloorHotUs / units, floorReads: c.floor.reads, floorWrites: c.floor.writes, floorWhy: c.floor.why,
        copyFloorUs, copyFloorHotUs, ratio, ratioHot: median(t.perStep.map((us, i) => us / t.floorHot[i])), ratioMin: t.min / Math.min(...t.floor),
        withinGoal: ratio <= 2,
        limit: "",
      };
      if (bname === "wasm-simd") {
        row.trafficReads = tr.reads;
        row.trafficWrites = tr.writes;
        const tiny = await prepare(c, h, TINY_SHAPE, steps);
        row.hostUs = (await timeRuns(tiny, h, tinyTiming)).median;
        tiny.dispose();
      }
      row.limit = limitOf(row, c);
      rows.push(row);
      log(`${bname.padEnd(18)} ${c.name.padEnd(20)} ${fmt(row.usPerStep).padStart(8)} µs/step  floor ${fmt(row.copyFloorUs).padStart(6)} µs (K ${tr.workingSet})  ratio ${row.ratio.toFixed(2)}  hot ${row.ratioHot.toFixed(2)}`);
    }
    await h.close();
  }
  return { machine: { ...machine, loadBefore, loadAfter: loadavg() }, rows, randn, unavailable, definition: COPY_FLOOR_DEFINITION };
}

async function timeRandn(b: Backend<BTensor>, shape: Shape): Promise<number> {
  if (!b.randn) return NaN;
  const ts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const t = await b.randn(shape, 1, i);
    ts.push((performance.now() - t0) * 1000);
    b.dispose?.(t);
  }
  return ts.sort((x, y) => x - y)[2];
}

/** Why a row is where it is. */
function limitOf(r: OverheadRow, c: OverheadCase): string {
  if (r.backend === "reference") return "Float64 JavaScript loops: one allocating pass per combine (no fusion, twice the bytes)";
  if (r.backend === "tfjs-wasm") return "tfjs: k + 1 passes per materialised combine (k scalings, addN), plus tfjs's per-call dispatch and disposal";
  if (r.backend === "wasm-simd-unfused") return "one kernel pass per sampler combine (x̂₀, ε̂, update, …): the extra passes fusion removes";
  const parts: string[] = [];
  const floorT = r.floorReads + r.floorWrites;
  const implT = (r.trafficReads ?? 0) + (r.trafficWrites ?? 0);
  if (r.withinGoal) parts.push(`within 2× (kernels move ${implT.toFixed(1)} tensors/step, floor ${floorT})`);
  else {
    if (implT > 1.25 * floorT) parts.push(`moves ${implT.toFixed(1)} tensors/step vs the floor's ${floorT}${c.extra ? `: ${c.extra}` : ""}`);
    if (r.hostUs !== undefined && r.hostUs > 0.25 * r.copyFloorUs) parts.push(`JavaScript ${fmt(r.hostUs)} µs/step (scheduler scalars, fused bookkeeping, per-step sweep)`);
    if (c.name.includes("threshold")) parts.push("the quantile: two scalar WASM passes over x̂₀ per step (histogram of |x̂₀|'s top 11 bits, gather of the selected bins) that SIMD cannot vectorise");
    if (!parts.length) parts.push("kernel throughput below copy speed");
  }
  return parts.join("; ");
}

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

// ─── the table ─────────────────────────────────────────────────────────────────────────────────────

export function formatTable(result: OverheadResult): string {
  const lines: string[] = [];
  const shape = result.rows[0]?.shape ?? DEFAULT_SHAPE;
  lines.push(`Sampler overhead per step (one model evaluation), model excluded; ${shape.join("×")} float32, ${result.rows[0]?.steps ?? "?"} steps a run.`);
  const m = result.machine;
  lines.push(`Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}; load average ${m.loadBefore.map((v) => v.toFixed(1)).join("/")} before, ${m.loadAfter.map((v) => v.toFixed(1)).join("/")} after; clock: ${m.clock === "cpu" ? "process CPU time (time given to other processes left out; memory-bandwidth contention is not)" : "wall time"}.`);
  lines.push(result.definition);
  lines.push("");
  const header = ["sampler", "backend", "µs/step", "spread", "min", "copy floor µs", "ratio", "≤2×", "min ratio", "R+W", "K", "hot floor µs", "hot ratio", "traffic R+W", "host µs", "limit"];
  const body = result.rows.map((r) => [
    r.sampler, r.backend + (r.mode && r.mode !== "f32" ? `/${r.mode}` : ""), fmt(r.usPerStep), `±${(r.spreadPct / 2).toFixed(0)}%`, fmt(r.usPerStepMin), fmt(r.copyFloorUs), r.ratio.toFixed(2), r.withinGoal ? "yes" : "no", r.ratioMin.toFixed(2),
    `${r.floorReads}+${r.floorWrites}`, String(r.workingSet), fmt(r.copyFloorHotUs), r.ratioHot.toFixed(2),
    r.trafficReads !== undefined ? `${r.trafficReads.toFixed(1)}+${r.trafficWrites!.toFixed(1)}` : "", r.hostUs !== undefined ? fmt(r.hostUs) : "", r.limit,
  ]);
  const numeric = (i: number) => i >= 2 && i <= 14;
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ") + " |";
  lines.push(line(header));
  lines.push("|" + widths.map((w, i) => (numeric(i) ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|") + "|");
  for (const b of body) lines.push(line(b));
  lines.push("");
  for (const r of result.randn) lines.push(`randn ${r.shape.join("×")} on ${r.backend}: ${fmt(r.usPerDraw)} µs a draw (${r.backend === "tfjs-wasm" ? "tfjs's own generator" : "Philox4x32-10, NOISE-PHILOX"}; not included above: stochastic rows use precomputed noise)`);
  const copy = result.rows.map((r) => r.copyUs).sort((a, b) => a - b);
  const hot = result.rows.map((r) => r.copyHotUs).sort((a, b) => a - b);
  if (copy.length) lines.push(`t_copy (one ${size(shape)}-float32 copy) over the rows: pool of K buffers ${fmt(copy[0])} … ${fmt(copy[copy.length - 1])} µs; hot (2 buffers) ${fmt(hot[0])} … ${fmt(hot[hot.length - 1])} µs`);
  for (const u of result.unavailable) lines.push(u);
  return lines.join("\n");
}

// ─── CLI ───────────────────────────────────────────────────────────────────────────────────────────

function parseArgs(argv: readonly string[]): OverheadOptions & { json?: string } {
  const out: OverheadOptions & { json?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(a, undefined, "a value after the flag");
      return v;
    };
    if (a === "--json") out.json = value();
    else if (a === "--quick") out.quick = true;
    else if (a === "--backends") out.backends = value().split(",") as OverheadBackend[];
    else if (a === "--only") out.only = value().split(",");
    else if (a === "--steps") out.steps = Number(value());
    else if (a === "--mode") out.mode = value() as CombineMode;
    else if (a === "--shape") out.shape = value().split(/[x×,]/).map(Number);
    else if (a === "--clock") out.clock = value() as BenchClock;
    else throw new ConfigError("argument", a, "--json FILE, --quick, --backends a,b, --only NAME,…, --steps N, --mode f32|f64, --shape 16x1x128x128, --clock cpu|wall");
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = parseArgs(process.argv.slice(2));
  const result = await runSamplerOverheadBenchFull({ ...args, log: (l) => process.stderr.write(l + "\n") });
  console.log(formatTable(result));
  if (args.json) {
    writeFileSync(args.json, JSON.stringify({ definition: result.definition, machine: result.machine, randn: result.randn, unavailable: result.unavailable, rows: result.rows }, null, 2));
    console.log(`\nwrote ${args.json}`);
  }
}
