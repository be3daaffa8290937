/**
 * What `diffspec bench` measures by default (full), with --quick, and with --gpu-goals, and how the
 * command-line options override a preset. bench/README.md lists the coverage of each.
 */
import { BUILTIN_BACKENDS } from "../adapters/index.ts";
import { ConfigError } from "../reference/errors.ts";
import { BENCH_SAMPLER_NAMES } from "./samplers.ts";
import type { BenchPlan, ModelKind, Workload } from "./run.ts";

export const ALL_STEPS = [1, 2, 5, 10, 20, 50, 100, 250, 1000] as const;

export interface UNetEntry {
  readonly size: "small" | "full";
  readonly resolutions: readonly number[];
  readonly batches: readonly number[];
  readonly samplers: readonly string[];
  readonly steps: readonly number[];
  /** Only on these backends (base names; default every backend that can run it). */
  readonly backends?: readonly string[];
}

export interface Preset {
  readonly backends: readonly string[];
  readonly samplers: readonly string[];
  readonly steps: readonly number[];
  /** The oracle workload (null: none). */
  readonly oracle: { readonly resolution: number; readonly batch: number } | null;
  /** U-Net workloads: every resolution × batch of each entry, with their own samplers and steps. */
  readonly unet: readonly UNetEntry[];
  /** The learned-model workload (quality (c)), run when a model is present. */
  readonly learned: { readonly batch: number; readonly samplers: readonly string[]; readonly steps: readonly number[]; readonly backends?: readonly string[] } | null;
  readonly plan: Omit<BenchPlan, "preset" | "backends" | "samplers" | "steps" | "workloads">;
}

const UNET_SAMPLERS = ["ddim", "heun", "dpmpp-2m"];
/**
 * The full run's step limits: 1000 steps only for three one-evaluation deterministic samplers, 250 for the rest,
 * 50 for LCM and TCD (n ≤ originalInferenceSteps = 50: the distillation grid has 50 timesteps).
 */
const FULL_MAX_STEPS: Record<string, number> = Object.fromEntries(BENCH_SAMPLER_NAMES.map((n) => [n, ["ddim", "lms", "dpmpp-2m"].includes(n) ? 1000 : ["lcm", "tcd"].includes(n) ? 50 : 250]));
const LEARNED = { sampler: "dpmpp-2m", steps: 500 };

export const PRESETS: Record<"full" | "quick" | "gpu-goals", Preset> = {
  full: {
    backends: [...BUILTIN_BACKENDS, "wasm-simd+fused"],
    samplers: BENCH_SAMPLER_NAMES,
    steps: ALL_STEPS,
    oracle: { resolution: 16, batch: 8 },
    unet: [
      { size: "small", resolutions: [32], batches: [1, 16], samplers: UNET_SAMPLERS, steps: [1, 5, 20], backends: ["onnxruntime-cpu", "onnxruntime-webgpu", "onnxruntime-cuda", "tfjs-webgpu", "tfjs-node"] },
      { size: "small", resolutions: [32], batches: [1], samplers: UNET_SAMPLERS, steps: [1, 5, 20], backends: ["tfjs-wasm"] },
      { size: "small", resolutions: [128], batches: [1, 16], samplers: ["dpmpp-2m"], steps: [1, 5, 20], backends: ["onnxruntime-cpu", "onnxruntime-webgpu", "onnxruntime-cuda", "tfjs-webgpu", "tfjs-node"] },
    ],
    learned: { batch: 4, samplers: ["ddim", "euler", "heun", "dpmpp-2m", "unipc"], steps: [1, 2, 5, 10, 20, 50], backends: ["onnxruntime-cpu", "onnxruntime-webgpu", "onnxruntime-cuda", "tfjs-webgpu"] },
    plan: { mixture2dPoints: 400, mixture64dPoints: 0, budgetMs: 60, minIterations: 8, maxIterations: 40, targetRme: 0.05, clock: "cpu", longBudgetMs: 1500, warmupBelowMs: 300, maxSteps: FULL_MAX_STEPS, capMs: 20_000, modelPasses: 20, modelPassBudgetMs: 1000, modelPassSamples: 2, seed: 2024, learnedReference: LEARNED, samplerOverhead: true, gpuGoals: false },
  },
  quick: {
    backends: ["reference", "onnxruntime-cpu", "wasm-simd"],
    samplers: ["ddim", "euler", "euler-a", "heun", "dpmpp-2m"],
    steps: [1, 2, 5, 10, 20],
    oracle: { resolution: 32, batch: 16 },
    unet: [{ size: "small", resolutions: [32], batches: [1], samplers: ["ddim", "dpmpp-2m"], steps: [1, 5, 20], backends: ["onnxruntime-cpu"] }],
    learned: null,
    plan: { mixture2dPoints: 300, mixture64dPoints: 0, budgetMs: 25, minIterations: 8, maxIterations: 30, targetRme: 0.05, clock: "cpu", longBudgetMs: 1500, warmupBelowMs: 200, capMs: 10_000, modelPasses: 10, modelPassBudgetMs: 200, modelPassSamples: 2, seed: 2024, learnedReference: LEARNED, samplerOverhead: false, gpuGoals: false },
  },
  "gpu-goals": {
    backends: ["onnxruntime-webgpu", "onnxruntime-cuda", "tfjs-webgpu"],
    samplers: ["dpmpp-2m"],
    steps: [20],
    oracle: null,
    unet: [{ size: "full", resolutions: [128], batches: [16], samplers: ["dpmpp-2m"], steps: [20] }],
    learned: null,
    plan: { mixture2dPoints: 0, mixture64dPoints: 0, budgetMs: 0, minIterations: 2, maxIterations: 3, targetRme: 0.05, clock: "wall", longBudgetMs: 0, warmupBelowMs: 0, capMs: 150_000, modelPasses: 20, modelPassBudgetMs: 8000, modelPassSamples: 2, seed: 2024, learnedReference: LEARNED, samplerOverhead: false, gpuGoals: true },
  },
};

export type PresetName = keyof typeof PRESETS;

export interface Overrides {
  backends?: string[];
  samplers?: string[];
  steps?: number[];
  /** Which models: "oracle", "unet" (the preset's U-Net size), "unet-small", "unet-full", "learned". */
  models?: string[];
  unet?: "small" | "full" | "none";
  resolutions?: number[];
  batches?: number[];
  capMs?: number;
  budgetMs?: number;
  minIterations?: number;
  targetRme?: number;
  clock?: "cpu" | "wall";
  seed?: number;
  mixture2dPoints?: number;
  mixture64dPoints?: number;
  samplerOverhead?: boolean;
  attention?: "matmul" | "fused";
  precision?: "fp32" | "fp16";
  /** A learned model's manifest: adds the "learned" workload (quality (c)). */
  learned?: { path: string; resolution: number };
}

/** The plan of a preset with command-line overrides applied. */
export function makePlan(name: PresetName, o: Overrides = {}): BenchPlan {
  const p = PRESETS[name];
  for (const s of o.samplers ?? []) if (!BENCH_SAMPLER_NAMES.includes(s)) throw new ConfigError("--samplers", s, `one of ${BENCH_SAMPLER_NAMES.join(", ")}`);
  const models = o.models ?? [...(p.oracle ? ["oracle"] : []), ...(p.unet.length ? ["unet"] : []), ...(o.learned && p.learned ? ["learned"] : [])];
  for (const m of models) if (!["oracle", "unet", "unet-small", "unet-full", "learned"].includes(m)) throw new ConfigError("--models", m, "oracle, unet, unet-small, unet-full or learned");
  const workloads: Workload[] = [];
  const samplers = o.samplers ?? p.samplers;
  const steps = o.steps ?? p.steps;
  if (models.includes("oracle")) {
    const oracle = p.oracle ?? { resolution: 32, batch: 16 };
    workloads.push({ model: "oracle", resolution: oracle.resolution, batch: oracle.batch });
  }
  const entries = p.unet.length ? p.unet : PRESETS.full.unet;
  for (const m of models.filter((x) => x.startsWith("unet"))) {
    if (o.unet === "none") break;
    const size = m === "unet" ? (o.unet ?? entries[0].size) : (m.slice(5) as "small" | "full");
    // With --resolution/--batch the entries collapse to one (every backend); otherwise the preset's entries.
    const list = o.resolutions || o.batches ? [{ ...entries[0], resolutions: o.resolutions ?? [...new Set(entries.flatMap((e) => e.resolutions))], batches: o.batches ?? entries[0].batches, backends: undefined }] : entries;
    for (const e of list) {
      for (const resolution of e.resolutions) {
        for (const batch of e.batches) {
          // A preset entry's backend list still applies under --backends (the intersection): a U-Net on a
          // synchronous CPU backend cannot be stopped by the time cap mid-pass. --resolution/--batch lift it.
          workloads.push({ model: `unet-${size}` as ModelKind, resolution, batch, samplers: o.samplers ?? e.samplers, steps: o.steps ?? e.steps, ...(e.backends ? { backends: o.backends ? e.backends.filter((b) => o.backends!.includes(b)) : e.backends } : {}) });
        }
      }
    }
  }
  if (models.includes("learned")) {
    if (!o.learned) throw new ConfigError("--models learned", "no model", "a learned model: --learned PATH (a glyffuser manifest .json), or the committed fixtures/glyffuser/glyffuser.json");
    const l = p.learned ?? PRESETS.full.learned!;
    workloads.push({ model: "learned", resolution: o.learned.resolution, batch: o.batches?.[0] ?? l.batch, samplers: o.samplers ?? l.samplers, steps: o.steps ?? l.steps, learnedPath: o.learned.path, ...(l.backends ? { backends: o.backends ? l.backends.filter((b) => o.backends!.includes(b)) : l.backends } : {}) });
  }
  if (!workloads.length) throw new ConfigError("--models", models.join(","), "at least one workload (oracle, a U-Net or learned)");
  return {
    preset: name,
    backends: o.backends ?? p.backends,
    samplers,
    steps,
    workloads,
    ...p.plan,
    ...(o.capMs !== undefined ? { capMs: o.capMs } : {}),
    ...(o.budgetMs !== undefined ? { budgetMs: o.budgetMs } : {}),
    ...(o.minIterations !== undefined ? { minIterations: o.minIterations } : {}),
    ...(o.targetRme !== undefined ? { targetRme: o.targetRme } : {}),
    ...(o.clock !== undefined ? { clock: o.clock } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.mixture2dPoints !== undefined ? { mixture2dPoints: o.mixture2dPoints } : {}),
    ...(o.mixture64dPoints !== undefined ? { mixture64dPoints: o.mixture64dPoints } : {}),
    ...(o.samplerOverhead !== undefined ? { samplerOverhead: o.samplerOverhead } : {}),
    ...(o.attention !== undefined ? { attention: o.attention } : {}),
    ...(o.precision !== undefined ? { precision: o.precision } : {}),
    // Step counts given on the command line are all run.
    ...(o.steps ? { maxSteps: undefined } : {}),
  };
}
