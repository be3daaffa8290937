/** The shape of `diffspec bench --json` output (schema "diffspec-bench/1"; bench/README.md documents every field). */
import type { MachineInfo, PackageInfo } from "./machine.ts";

export const SCHEMA = "diffspec-bench/1";

/** Quality of one configuration; absent metrics did not apply (stochastic sampler, U-Net workload) or failed. */
export interface Quality {
  /** (a) RMS error of the final sample against the exact PF-ODE solution (Gaussian data); deterministic samplers. */
  rmsError?: number;
  /** (b) Energy distance of generated points to fresh data points, 2-D mixture. */
  energyDistance2d?: number;
  /** (b) The same for the 64-D mixture. */
  energyDistance64d?: number;
  /** (c) RMS difference to a many-step reference solution with a learned ONNX model. */
  learnedRmsError?: number;
  /** Why a metric is missing although it applies (it threw, or ran past the cap). */
  errors?: Record<string, string>;
}

export interface Timing {
  /** What the times are: this process's CPU time ("cpu") or wall time ("wall"); see BenchPlan.clock. */
  clock?: "cpu" | "wall";
  /** Timed runs (after one warm-up), interleaved with the workload's other configurations. */
  iterations: number;
  meanMs: number;
  medianMs: number;
  sdMs: number;
  /** Relative 95 % half-width of the typical time (%): t-interval of the mean log run time (bench/significance.ts relativeCi); null with one run. */
  rme: number | null;
  /** The plan's target for rme (%), and whether the runs reached it before a cap stopped them. */
  targetRme?: number;
  met?: boolean;
  minMs: number;
  maxMs: number;
  /** 10th and 90th percentiles of the run times (the spread shown in the table and plots). */
  p10Ms?: number;
  p90Ms?: number;
  /**
   * How the model/sampler split was measured: "inline" (model time accumulated inside evaluate during the
   * timed iterations; synchronous backends) or "synced-run" (one extra run where each evaluation reads its
   * output back; asynchronous device backends).
   */
  split: "inline" | "synced-run";
}

export interface BenchRow {
  backend: string;
  sampler: string;
  steps: number;
  /** "oracle", "unet-small", "unet-full" or "learned". */
  model: string;
  resolution: number;
  batch: number;
  /** Model evaluations per run (NFE). */
  evaluations?: number;
  /** Median time of one run (sampling loop + final read-back, toHost) on the row's clock (`timing.clock`: process CPU time or wall time), ms. */
  msPerBatch: number | null;
  /** Median model time per step (time inside the denoiser's evaluate / steps). */
  msPerStepModel: number | null;
  /** Median sampler overhead per step ((wall − model) / steps). */
  msPerStepSampler: number | null;
  /** Standalone model pass time for this backend/model/batch (see modelPasses), ms. */
  modelPassMs?: number;
  /** msPerBatch / (evaluations × modelPassMs): what the loop costs relative to its bare model passes. */
  loopOverModel?: number;
  quality: Quality;
  memory?: { peakRssMB: number; processMaxRssMB: number; deviceBytes?: number };
  timing?: Timing;
  /** Per timed run in run order: wall, model and this process's CPU time (user + system), ms. */
  samples?: { wallMs: number[]; modelMs: number[]; cpuMs?: number[] };
  /** Time this configuration took itself (warm-up, timed runs, quality runs; not the other configurations interleaved with it), ms. */
  configMs?: number;
  /** The configuration failed (it threw, hung or ran past its cap); the run went on. */
  error?: string;
}

export interface ModelPass {
  backend: string;
  model: string;
  resolution: number;
  batch: number;
  parameters?: number;
  /** How the U-Net's attention ran (bench/models.ts): "matmul" with its query chunking, or "fused". */
  attention?: string;
  /** The U-Net's compute precision ("fp32" or "fp16"). */
  precision?: "fp32" | "fp16";
  /** Floating-point operations of one pass, 10⁹ (glyffuser/flops.ts; convolutions, linear layers, attention products). */
  gflop?: number;
  /** Consecutive passes per timed sample (one read-back at the end). */
  passes: number;
  msPerPass: number | null;
  samplesMs?: number[];
  error?: string;
}

export interface BackendInfo {
  name: string;
  available: boolean;
  reason?: string;
  dtype?: string;
  /** What the backend runs on (its `detail`), e.g. the GPU adapter: a software adapter's timings are a CPU's. */
  detail?: string;
  initMs?: number;
}

export interface Skipped {
  backend: string;
  model: string;
  sampler?: string;
  steps?: number;
  reason: string;
}

export interface GoalReport {
  /** Goal 1: the 20-step DPM-Solver++(2M) loop over its 20 model passes (target ≤ 1.05). */
  loopOverModel: { backend: string; model: string; resolution: number; batch: number; msPerBatch: number | null; msPerPass: number | null; ratio: number | null; met: boolean | null; error?: string }[];
  /** Goal 2: one U-Net pass (glyffuser size, 128², batch 16). */
  unetPass: { backend: string; model: string; resolution: number; batch: number; parameters?: number; attention?: string; precision?: "fp32" | "fp16"; gflop?: number; msPerPass: number | null; error?: string }[];
  references: Record<string, number>;
}

export interface BenchReport {
  schema: typeof SCHEMA;
  createdAt: string;
  durationS: number;
  /** CPU time of the process (user + system), s: durationS much larger than cpuS on a 1-thread run means other processes competed. */
  cpuS?: number;
  argv: string[];
  preset: string;
  machine: MachineInfo;
  package: PackageInfo;
  seeds: Record<string, number | string>;
  options: Record<string, unknown>;
  problems: Record<string, unknown>;
  backends: BackendInfo[];
  modelPasses: ModelPass[];
  results: BenchRow[];
  skipped: Skipped[];
  samplerOverhead?: unknown;
  goals?: GoalReport;
}
