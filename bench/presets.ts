/**
 * What `diffspec bench` measures by default (full), with --quick, and with --gpu-goals, and how the
 * command-line options override a preset. bench/README.md lists the coverage of each.
 */
import { BUILTIN_BACKENDS } from "../adapters/index.ts";
import { ConfigError } from "../reference/errors.ts";
import { BENCH_SAMPLER_NAMES } from "./samplers.ts";
import type { BenchPlan, ModelKind, Workload } from "./run.ts";

export const ALL_STEPS = [1, 2, 5, 10, 20, 50, 100, 250, 1000] as const;

export interface Preset {
  readonly backends: readonly string[];
  readonly samplers: readonly string[];
  readonly steps: readonly number[];
  /** The oracle workload (null: none). */
  readonly oracle: { readonly resolution: number; readonly batch: number } | null;
  /** The U-Net workloads: every resolution × batch, with their own samplers and steps. */
  readonly unet: { readonly size: "small" | "full"; readonly resolutions: readonly number[]; readonly batches: readonly number[]; readonly samplers: readonly string[]; readonly steps: readonly number[] } | null;
  readonly plan: Omit<BenchPlan, "preset" | "backends" | "samplers" | "steps" | "workloads">;
}

const UNET_SAMPLERS = ["ddim", "euler", "heun", "dpmpp-2m", "unipc"];

export const PRESETS = {
  full: {
    backends: BUILTIN_BACKENDS,
    samplers: BENCH_SAMPLER_NAMES,
    steps: ALL_STEPS,
    oracle: { resolution: 32, batch: 16 },
    unet: { size: "small", resolutions: [32, 128], batches: [1, 16], samplers: UNET_SAMPLERS, steps: [1, 2, 5, 10, 20, 50] },
    plan: { mixture2dPoints: 1000, mixture64dPoints: 400, budgetMs: 150, minIterations: 3, maxIterations: 30, capMs: 30_000, modelPasses: 20, modelPassBudgetMs: 1500, modelPassSamples: 3, seed: 2024, samplerOverhead: true, gpuGoals: false },
  },
  quick: {
    backends: ["reference", "onnxruntime-cpu", "tfjs-wasm"],
    samplers: ["ddim", "euler", "euler-a", "heun", "dpmpp-2m", "unipc"],
    steps: [1, 2, 5, 10, 20, 50, 100],
    oracle: { resolution: 32, batch: 16 },
    unet: { size: "small", resolutions: [32], batches: [1], samplers: ["ddim", "dpmpp-2m"], steps: [1, 5, 20] },
    plan: { mixture2dPoints: 400, mixture64dPoints: 0, budgetMs: 40, minIterations: 2, maxIterations: 10, capMs: 10_000, modelPasses: 10, modelPassBudgetMs: 300, modelPassSamples: 2, seed: 2024, samplerOverhead: false, gpuGoals: false },
  },
  "gpu-goals": {
    backends: ["onnxruntime-webgpu", "onnxruntime-cuda", "tfjs-webgpu"],
    samplers: ["dpmpp-2m"],
    steps: [20],
    oracle: null,
    unet: { size: "full", resolutions: [128], batches: [16], samplers: ["dpmpp-2m"], steps: [20] },
    plan: { mixture2dPoints: 0, mixture64dPoints: 0, budgetMs: 0, minIterations: 2, maxIterations: 3, capMs: 150_000, modelPasses: 20, modelPassBudgetMs: 8000, modelPassSamples: 2, seed: 2024, samplerOverhead: false, gpuGoals: true },
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

export interface Overrides {
  backends?: string[];
  samplers?: string[];
  steps?: number[];
  /** Which models: "oracle", "unet" (the preset's U-Net size) or "unet-small"/"unet-full". */
  models?: string[];
  unet?: "small" | "full" | "none";
  resolutions?: number[];
  batches?: number[];
  capMs?: number;
  budgetMs?: number;
  minIterations?: number;
  seed?: number;
  mixture2dPoints?: number;
  mixture64dPoints?: number;
  samplerOverhead?: boolean;
}

/** The plan of a preset with command-line overrides applied. */
export function makePlan(name: PresetName, o: Overrides = {}): BenchPlan {
  const p: Preset = PRESETS[name];
  for (const s of o.samplers ?? []) if (!BENCH_SAMPLER_NAMES.includes(s)) throw new ConfigError("--samplers", s, `one of ${BENCH_SAMPLER_NAMES.join(", ")}`);
  const models = o.models ?? [...(p.oracle ? ["oracle"] : []), ...(p.unet ? ["unet"] : [])];
  for (const m of models) if (!["oracle", "unet", "unet-small", "unet-full"].includes(m)) throw new ConfigError("--models", m, "oracle, unet, unet-small or unet-full");
  const workloads: Workload[] = [];
  const samplers = o.samplers ?? p.samplers;
  const steps = o.steps ?? p.steps;
  if (models.includes("oracle")) {
    const oracle = p.oracle ?? { resolution: 32, batch: 16 };
    workloads.push({ model: "oracle", resolution: oracle.resolution, batch: oracle.batch });
  }
  const unetBase = p.unet ?? PRESETS.full.unet;
  for (const m of models.filter((x) => x.startsWith("unet"))) {
    if (o.unet === "none") break;
    const size = m === "unet" ? (o.unet ?? unetBase.size) : (m.slice(5) as "small" | "full");
    for (const resolution of o.resolutions ?? unetBase.resolutions) {
      for (const batch of o.batches ?? unetBase.batches) {
        workloads.push({ model: `unet-${size}` as ModelKind, resolution, batch, samplers: o.samplers ?? unetBase.samplers, steps: o.steps ?? unetBase.steps });
      }
    }
  }
  if (!workloads.length) throw new ConfigError("--models", models.join(","), "at least one workload (oracle or a U-Net)");
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
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.mixture2dPoints !== undefined ? { mixture2dPoints: o.mixture2dPoints } : {}),
    ...(o.mixture64dPoints !== undefined ? { mixture64dPoints: o.mixture64dPoints } : {}),
    ...(o.samplerOverhead !== undefined ? { samplerOverhead: o.samplerOverhead } : {}),
  };
}
