/**
 * `diffspec bench`: sampler speed and quality against step count, per backend (bench/README.md).
 */
import { existsSync, readFileSync } from "node:fs";
import { intListOption, intOption, numberOption, parse, seedOption } from "./args.ts";
import { checkOutputFile, checkOutputFolder, writeOutputs } from "./output.ts";
import { BUILTIN_BACKENDS } from "../adapters/index.ts";
import { EXIT_NOTHING_CHECKED } from "../conformance/runner.ts";
import type { BenchReport } from "../bench/types.ts";
import { ConfigError, InputFileError, requireOneOf } from "../reference/errors.ts";
import { compareReports, formatComparison, parseReport } from "../bench/compare.ts";
import { makePlan, PRESETS, type Overrides, type PresetName } from "../bench/presets.ts";
import { runBench } from "../bench/run.ts";
import { BENCH_SAMPLERS } from "../bench/samplers.ts";
import { goalsText, modelPassTable, resultsTable, summaryText } from "../bench/table.ts";
import { recommendationTable } from "../bench/recommend.ts";

const MAX_STEPS = 10_000;

export const BENCH_HELP = `Usage: diffspec bench [--quick | --gpu-goals] [options]
       diffspec bench --compare A.json B.json

For each available backend × workload × sampler × step count: wall time per batch (tinybench), its split
into model time and sampler overhead per step, quality against the exact oracle ((a) RMS error vs the
exact ODE solution on Gaussian data, (b) energy distance to the data for 2-D/64-D Gaussian mixtures),
peak RSS and device memory. Workloads: the exact oracle (host-evaluated) and the glyffuser-shaped U-Net
with random weights (onnxruntime-* via ONNX, tfjs-* via tfjs ops). Every configuration has a time cap;
failures become rows with an error and the run goes on. See bench/README.md.

Presets:
  (default)        full: every backend (and wasm-simd+fused), sampler and step count 1…1000 (1000 only for
                   ddim, lms, dpmpp-2m) on the oracle (${PRESETS.full.oracle!.resolution}²×${PRESETS.full.oracle!.batch}); the small U-Net
                   at 32² and 128² × batch 1 and 16 (${PRESETS.full.unet[0].samplers.join(", ")};
                   steps ${PRESETS.full.unet[0].steps.join(",")}; each configuration capped); the learned glyffuser when one is
                   present (quality (c)); and bench/sampler-overhead.ts's rows
  --quick          a subset that runs in under a minute on a laptop CPU
  --gpu-goals      measure exactly the two GPU goals (20-step DPM-Solver++(2M) loop vs its 20 model passes;
                   one glyffuser-size U-Net pass, 128², batch 16) on ${PRESETS["gpu-goals"].backends.join(", ")}

Options:
  --backends LIST      comma-separated backend names (default: the preset's; unavailable ones are reported);
                       NAME+fused runs the samplers behind adapters/fused.ts (e.g. wasm-simd+fused)
  --samplers LIST      comma-separated sampler names (below)
  --steps LIST         comma-separated step counts, each an integer in [1, ${MAX_STEPS}]
  --models LIST        oracle, unet (the preset's size), unet-small, unet-full, learned
  --learned PATH       a learned glyffuser (manifest .json or .onnx; default fixtures/glyffuser/glyffuser.json
                       when present): adds its workload, quality (c) = RMS distance to its own ODE solved
                       with ${PRESETS.full.plan.learnedReference.sampler} at ${PRESETS.full.plan.learnedReference.steps} steps; --no-learned skips it
  --unet SIZE          small | full | none: the U-Net size of "unet" workloads
  --resolution LIST    U-Net resolutions, each in [8, 1024] (e.g. 32,128)
  --batch LIST         U-Net batch sizes, each in [1, 1024] (e.g. 1,16)
  --time-cap S         cap per configuration in seconds, in (0, 86400] (default: the preset's)
  --budget-ms N        timed time per configuration at least (ms), an integer in [0, 86400000]
  --min-iterations N   timed runs per configuration at least, in [1, 100000] (after one warm-up; default 8: fewer cannot
                       show a difference under --compare's corrected test)
  --target-rme PCT     repeat each configuration until the 95 % half-width of its typical time is ≤ PCT %
                       of it (default 5), or a cap stops it; runs of all configurations are interleaved
  --clock cpu|wall     time runs by this process's CPU time (default for --quick and the full run: other
                       processes' load is left out) or by wall time (default for --gpu-goals; always for
                       webgpu/cuda backends, whose work is not this process's CPU time)
  --attention IMPL     U-Net attention: matmul (default: explicit scores, in query chunks that keep each score
                       tensor within the device's storage-buffer binding limit — WebGPU returns garbage past it —
                       or 1 GiB on CPUs) or fused (onnxruntime's com.microsoft MultiHeadAttention; onnxruntime-*
                       only; never materialises the scores)
  --precision P        U-Net compute precision: fp32 (default) or fp16 (onnxruntime-* only: float16 inside the graph,
                       float32 inputs and outputs, the timestep embedding kept in float32; adapters/onnx/float16.ts)
  --seed N             seed of x_T, sampler noise, data, U-Net weights, in [0, 2^32 − 1] (default 2024)
  --mixture-points N   generated points for the 2-D energy distance, in [0, 100000] (0 = off)
  --mixture64-points N the same for the 64-D mixture
  --sampler-overhead / --no-sampler-overhead   include bench/sampler-overhead.ts's rows
  --json FILE          write the report: machine, packages, seeds, options, every raw timing sample ("-": stdout)
  --plots DIR          write SVG plots (time-vs-steps, quality-vs-steps, pareto, step-split)
  --compare A B        print the msPerBatch ratio table B/A of two reports (and geometric means), marking a
                       row * only when the difference is significant: permutation test of the mean log
                       run time per row, Holm-corrected over all rows at family-wise α = 0.05
  --quiet              no progress lines on stderr
  --allow-empty        exit 0 rather than 3 when no configuration was measured
  -h, --help           this text

Samplers:
${BENCH_SAMPLERS.map((s) => `  ${s.name.padEnd(13)} ${s.description}${s.stochastic ? " (stochastic)" : ""}`).join("\n")}

Exit code: 0 at least one configuration was measured and none failed; 1 a configuration failed (a row
with an error: it threw, hung or ran past its cap; the run still goes on and writes everything); 2 bad
arguments; 3 nothing was measured (every backend unavailable, no workload left) unless --allow-empty.
`;


const list = (name: string, v: string | undefined): string[] | undefined => {
  if (v === undefined) return undefined;
  const xs = v.split(",").map((s) => s.trim()).filter(Boolean);
  if (!xs.length) throw new ConfigError(`--${name}`, v, "a comma-separated, non-empty list");
  return xs;
};

/** Backend names of --backends: built-ins, optionally NAME+fused. */
function backendList(v: string | undefined): string[] | undefined {
  const xs = list("backends", v);
  for (const b of xs ?? []) {
    if (!(BUILTIN_BACKENDS as readonly string[]).includes(b.replace(/\+fused$/, ""))) throw new ConfigError("--backends", b, `built-in backend names (${BUILTIN_BACKENDS.join(", ")}), each optionally +fused`);
  }
  return xs;
}

/**
 * The exit code of a bench run: 1 when a configuration that ran failed, 3 when nothing was measured
 * (unless allowEmpty), else 0. Rows of an unavailable backend (--gpu-goals lists them) are not failures.
 */
export function benchExitCode(report: Pick<BenchReport, "results">, allowEmpty: boolean): number {
  const ran = report.results.filter((r) => !/^backend unavailable/.test(r.error ?? ""));
  if (ran.some((r) => r.error)) return 1;
  if (!ran.some((r) => r.msPerBatch !== null) && !allowEmpty) return EXIT_NOTHING_CHECKED;
  return 0;
}

/** The learned model to benchmark: the given path (must load), or the committed one when present. */
async function learnedModel(path: string | undefined): Promise<Overrides["learned"]> {
  const { DEFAULT_MODEL_PATH, loadModel } = await import("../glyffuser/model.ts");
  if (path === undefined && !existsSync(DEFAULT_MODEL_PATH)) return undefined;
  const m = loadModel(path ?? DEFAULT_MODEL_PATH);
  return { path: m.manifestPath, resolution: m.manifest.unet.sampleSize };
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      quick: { type: "boolean" }, "gpu-goals": { type: "boolean" }, full: { type: "boolean" },
      backends: { type: "string" }, samplers: { type: "string" }, steps: { type: "string" }, models: { type: "string" },
      unet: { type: "string" }, resolution: { type: "string" }, batch: { type: "string" },
      "time-cap": { type: "string" }, "budget-ms": { type: "string" }, "min-iterations": { type: "string" }, "target-rme": { type: "string" }, clock: { type: "string" }, seed: { type: "string" },
      "mixture-points": { type: "string" }, "mixture64-points": { type: "string" },
      "sampler-overhead": { type: "boolean" }, "no-sampler-overhead": { type: "boolean" },
      json: { type: "string" }, plots: { type: "string" }, compare: { type: "boolean" }, quiet: { type: "boolean" }, "allow-empty": { type: "boolean" },
      learned: { type: "string" }, "no-learned": { type: "boolean" }, attention: { type: "string" }, precision: { type: "string" },
    },
    "bench",
    true,
  );
  if (values.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  if (values.compare) {
    if (positionals.length !== 2) throw new ConfigError("--compare", positionals.join(" ") || "(nothing)", "two report files: --compare A.json B.json");
    const [a, b] = positionals.map((p) => {
      let text: string;
      try {
        text = readFileSync(p, "utf8");
      } catch (e) {
        throw new InputFileError(p, `cannot read it: ${(e as Error).message}`);
      }
      return parseReport(text, p);
    });
    process.stdout.write(formatComparison(compareReports(a, b), positionals[0], positionals[1]));
    return 0;
  }
  if (positionals.length) throw new ConfigError("diffspec bench arguments", positionals.join(" "), "options only (positional files only with --compare A B)");
  if ([values.quick, values["gpu-goals"], values.full].filter(Boolean).length > 1) throw new ConfigError("preset", "several", "at most one of --quick, --gpu-goals, --full");
  const preset: PresetName = values.quick ? "quick" : values["gpu-goals"] ? "gpu-goals" : "full";
  const unet = values.unet as string | undefined;
  if (unet !== undefined && !["small", "full", "none"].includes(unet)) throw new ConfigError("--unet", unet, "small, full or none");
  const capS = values["time-cap"] === undefined ? undefined : numberOption("time-cap", values["time-cap"] as string, 0, { min: 0, max: 86_400, minExclusive: true });
  const rmePct = values["target-rme"] === undefined ? undefined : numberOption("target-rme", values["target-rme"] as string, 0, { min: 0, max: 100, minExclusive: true });
  checkOutputFile("--json", values.json as string | undefined);
  checkOutputFolder("--plots", values.plots as string | undefined);
  const points = { min: 0, max: 100_000 };
  const o: Overrides = {
    backends: backendList(values.backends as string | undefined),
    samplers: list("samplers", values.samplers as string | undefined),
    steps: intListOption("steps", values.steps as string | undefined, { min: 1, max: MAX_STEPS }),
    models: list("models", values.models as string | undefined),
    unet: unet as Overrides["unet"],
    resolutions: intListOption("resolution", values.resolution as string | undefined, { min: 8, max: 1024 }),
    batches: intListOption("batch", values.batch as string | undefined, { min: 1, max: 1024 }),
    capMs: capS === undefined ? undefined : capS * 1000,
    budgetMs: values["budget-ms"] === undefined ? undefined : intOption("budget-ms", values["budget-ms"] as string, 0, { min: 0, max: 86_400_000 }),
    minIterations: values["min-iterations"] === undefined ? undefined : intOption("min-iterations", values["min-iterations"] as string, 1, { min: 1, max: 100_000 }),
    targetRme: rmePct === undefined ? undefined : rmePct / 100,
    clock: values.clock === undefined ? undefined : requireOneOf("--clock", values.clock, ["cpu", "wall"] as const),
    seed: values.seed === undefined ? undefined : seedOption("seed", values.seed as string, 0),
    mixture2dPoints: values["mixture-points"] === undefined ? undefined : intOption("mixture-points", values["mixture-points"] as string, 0, points),
    mixture64dPoints: values["mixture64-points"] === undefined ? undefined : intOption("mixture64-points", values["mixture64-points"] as string, 0, points),
    samplerOverhead: values["sampler-overhead"] ? true : values["no-sampler-overhead"] ? false : undefined,
    attention: values.attention === undefined ? undefined : requireOneOf("--attention", values.attention, ["matmul", "fused"] as const),
    precision: values.precision === undefined ? undefined : requireOneOf("--precision", values.precision, ["fp32", "fp16"] as const),
  };
  o.learned = values["no-learned"] ? undefined : await learnedModel(values.learned as string | undefined);
  const plan = makePlan(preset, o);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const log = values.quiet ? undefined : (line: string) => {
    const cpu = process.cpuUsage(cpu0);
    process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s] ${line}\n`);
  };
  const report = await runBench(plan, { log, argv });
  // With the JSON report on standard output, the tables go to stderr (stdout stays one parseable document).
  const text = values.json === "-" ? process.stderr : process.stdout;
  text.write(summaryText(report));
  if (report.modelPasses.length) text.write("\nModel passes (bare denoiser, back to back):\n" + modelPassTable(report));
  text.write("\n" + resultsTable(report.results));
  const recs = recommendationTable(report.results);
  if (recs) text.write("\n" + recs);
  if (report.goals) text.write("\n" + goalsText(report.goals));
  const failed = writeOutputs([{ path: values.json as string | undefined, content: () => JSON.stringify(report, null, 1) + "\n" }]);
  if (values.json && !failed.length && values.json !== "-") text.write(`\nwrote ${values.json}\n`);
  if (values.plots) {
    try {
      // vega/vega-lite load only when plots are asked for.
      const { writePlots } = await import("../bench/plots.ts");
      const files = await writePlots(report, values.plots as string);
      text.write(`wrote ${files.join(", ")}\n`);
    } catch (e) {
      failed.push(`${values.plots}: plots not written: ${(e as Error).message}`);
    }
  }
  for (const f of failed) process.stderr.write(`diffspec bench: not written: ${f}\n`);
  if (failed.length) return 2;
  return benchExitCode(report, values["allow-empty"] === true);
}
