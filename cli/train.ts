/** `diffspec train`: train the glyffuser (glyffuser/train.ts) with a progress bar, atomic resumable checkpoints, a loss curve and an ONNX export. */
import { existsSync, mkdirSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { parse, intOption, intListOption, numberOption, seedOption } from "./args.ts";
import { checkOutputFolder } from "./output.ts";
import { ConfigError, DiffspecError } from "../reference/errors.ts";
import { makeSchedule } from "../reference/schedule.ts";
import { createTfjsBackend, type TfjsKind } from "../adapters/tfjs/index.ts";
import {
  DEFAULT_TRAIN_CONFIG,
  appendLog,
  checkpointContents,
  drawBatch,
  initTrainState,
  learningRate,
  loadTrainingData,
  readLog,
  readWeights,
  restoreTrainState,
  runPaths,
  trainStep,
  validateTrainConfig,
  type LogEntry,
  type TrainConfig,
  type TrainState,
} from "../glyffuser/train.ts";
import { saveCheckpoint, type CheckpointContents } from "../glyffuser/checkpoint.ts";
import { countParameters, GLYFFUSER_SMALL_CONFIG, type UNetConfig } from "../glyffuser/unet.ts";
import { withOptional } from "../reference/optional.ts";
import { encoderFolder } from "../reference/conditioning/embedded.ts";
import { startGradientWorkers } from "../glyffuser/train-parallel.ts";

export const TRAIN_HELP = `Usage: diffspec train [options]

Trains the glyffuser's conditional U-Net on the glyph dataset with the ε-loss (spec/13-glyffuser.md).
Files go to --out (default tmp/glyffuser-run): checkpoint.bin (atomic, resumable), train-log.jsonl,
loss.svg, and glyffuser.onnx + glyffuser.json (the EMA weights, runnable by \`diffspec sample\`).
A run whose --out already holds checkpoint.bin resumes from it (its config wins; --steps may extend it).

Options:
  --out DIR              run folder (default tmp/glyffuser-run)
  --backend NAME         auto (default: tfjs-webgpu when a GPU adapter is present, else tfjs-wasm),
                         tfjs-webgpu, tfjs-wasm, tfjs-cpu, tfjs-node
  --steps N              total optimizer steps, in [1, 10^7] (default ${DEFAULT_TRAIN_CONFIG.steps})
  --batch N              batch size, in [1, 1024] (default ${DEFAULT_TRAIN_CONFIG.batchSize})
  --lr X                 peak learning rate, in (0, 1] (default ${DEFAULT_TRAIN_CONFIG.lr})
  --warmup N             warm-up steps, in [0, 10^7] (default ${DEFAULT_TRAIN_CONFIG.warmupSteps})
  --ema X                EMA decay, in [0, 1] (default ${DEFAULT_TRAIN_CONFIG.emaDecay})
  --p-drop X             condition dropout probability for CFG, in [0, 1] (default ${DEFAULT_TRAIN_CONFIG.pDrop})
  --loss-weighting W     v (default: the v-prediction loss ‖ε − ε̂‖²/ᾱₜ, 1/ᾱₜ capped) or min-snr
  --loss-weight-cap X    with v: the largest weight 1/ᾱₜ, in [1, 10^6] (default ${DEFAULT_TRAIN_CONFIG.lossWeightCap})
  --min-snr X            with min-snr: γ, in (0, 10^6], or "off" (default ${DEFAULT_TRAIN_CONFIG.minSnrGamma})
  --seed N               in [0, 2^32 − 1] (default 0)
  --channels A,B,C       U-Net block channels, integers in [1, 1024] (default ${GLYFFUSER_SMALL_CONFIG.blockChannels.join(",")})
  --limit N              use only the first N glyphs, N ≥ 1 (default all)
  --dataset PATH         glyph dataset .bin (default the committed fixtures/glyphs/glyphs-32.bin)
  --encoder NAME         text encoder of a new run: lexical-v1 (default: word vectors with WordNet meaning,
                         fixtures/text-encoder/lexical) or embedded-v1 (random word vectors)
  --encoder-dir DIR      an encoder table folder of your own instead (same format; recorded by its name)
  --workers N            processes computing gradients, in [1, 64] (default: the CPU count for tfjs-wasm
                         and tfjs-cpu, 1 for GPU backends); the batch is split among them, same update
  --checkpoint-every N   steps between checkpoints, ≥ 1 (default 100)
  --max-minutes X        stop (with a checkpoint) after this much wall time in this session
  --fit-minutes X        a new run measures its speed over its first steps and lowers --steps so that it
                         ends within X minutes (the LR schedule then completes; for a fixed time budget)
  --quiet                no progress bar
`;

function lossWeightingOption(v: string | undefined): TrainConfig["lossWeighting"] {
  if (v === undefined) return DEFAULT_TRAIN_CONFIG.lossWeighting;
  if (v !== "v" && v !== "min-snr") throw new ConfigError("--loss-weighting", v, '"v" or "min-snr"');
  return v;
}

async function chooseBackend(name: string): Promise<string> {
  if (name !== "auto") return name;
  try {
    await createTfjsBackend("webgpu");
    return "tfjs-webgpu";
  } catch {
    return "tfjs-wasm";
  }
}

/** The ranges of train's numbers (documented in TRAIN_HELP; validateTrainConfig checks the config they make). */
const RANGES = {
  steps: { min: 1, max: 10_000_000 }, batch: { min: 1, max: 1024 }, warmup: { min: 0, max: 10_000_000 }, limit: { min: 1, max: 10_000_000 },
  channels: { min: 1, max: 1024 }, "checkpoint-every": { min: 1, max: 10_000_000 }, lr: { min: 0, max: 1, minExclusive: true }, unit: { min: 0, max: 1 },
  "min-snr": { min: 0, max: 1e6, minExclusive: true }, workers: { min: 1, max: 64 }, "loss-weight-cap": { min: 1, max: 1e6 }, minutes: { min: 0, max: 1e7, minExclusive: true },
} as const;

export async function trainCommand(argv: string[]): Promise<number> {
  const { values: o } = parse(
    argv,
    {
      out: { type: "string" }, backend: { type: "string" }, steps: { type: "string" }, batch: { type: "string" }, lr: { type: "string" },
      warmup: { type: "string" }, ema: { type: "string" }, "p-drop": { type: "string" }, "min-snr": { type: "string" }, seed: { type: "string" },
      channels: { type: "string" }, limit: { type: "string" }, dataset: { type: "string" }, "encoder-dir": { type: "string" }, encoder: { type: "string" }, workers: { type: "string" }, "loss-weighting": { type: "string" }, "loss-weight-cap": { type: "string" },
      "checkpoint-every": { type: "string" }, "max-minutes": { type: "string" }, "fit-minutes": { type: "string" }, quiet: { type: "boolean" },
    },
    "train",
  );
  if (o.help) { process.stdout.write(TRAIN_HELP); return 0; }
  const out = o.out ?? "tmp/glyffuser-run";
  checkOutputFolder("--out", out);
  const paths = runPaths(out);
  // Every number is checked before a backend starts.
  const checkpointEvery = intOption("checkpoint-every", o["checkpoint-every"], 100, RANGES["checkpoint-every"]);
  const maxMinutes = numberOption("max-minutes", o["max-minutes"], Infinity, RANGES.minutes);
  const fitMinutes = numberOption("fit-minutes", o["fit-minutes"], Infinity, RANGES.minutes);
  const limit = o.limit === undefined ? undefined : intOption("limit", o.limit, 0, RANGES.limit);
  const stepsOption = o.steps === undefined ? undefined : intOption("steps", o.steps, 0, RANGES.steps);
  const channels = intListOption("channels", o.channels, RANGES.channels) ?? GLYFFUSER_SMALL_CONFIG.blockChannels;
  const fresh = {
    steps: stepsOption ?? DEFAULT_TRAIN_CONFIG.steps,
    batchSize: intOption("batch", o.batch, DEFAULT_TRAIN_CONFIG.batchSize, RANGES.batch),
    lr: numberOption("lr", o.lr, DEFAULT_TRAIN_CONFIG.lr, RANGES.lr),
    warmupSteps: intOption("warmup", o.warmup, DEFAULT_TRAIN_CONFIG.warmupSteps, RANGES.warmup),
    emaDecay: numberOption("ema", o.ema, DEFAULT_TRAIN_CONFIG.emaDecay, RANGES.unit),
    pDrop: numberOption("p-drop", o["p-drop"], DEFAULT_TRAIN_CONFIG.pDrop, RANGES.unit),
    minSnrGamma: o["min-snr"] === "off" ? Infinity : numberOption("min-snr", o["min-snr"], DEFAULT_TRAIN_CONFIG.minSnrGamma, RANGES["min-snr"]),
    seed: seedOption("seed", o.seed, 0),
    encoder: o.encoder ?? DEFAULT_TRAIN_CONFIG.encoder,
    lossWeighting: lossWeightingOption(o["loss-weighting"]),
    lossWeightCap: numberOption("loss-weight-cap", o["loss-weight-cap"], DEFAULT_TRAIN_CONFIG.lossWeightCap, RANGES["loss-weight-cap"]),
  };
  if (o.encoder !== undefined) encoderFolder(o.encoder);
  const workersOption = o.workers === undefined ? undefined : intOption("workers", o.workers, 1, RANGES.workers);
  const backendName = await chooseBackend(o.backend ?? "auto");
  const allowed = ["tfjs-webgpu", "tfjs-wasm", "tfjs-cpu", "tfjs-node"];
  if (!allowed.includes(backendName)) throw new ConfigError("--backend", backendName, `auto or one of ${allowed.join(", ")} (training needs gradients: a tfjs backend)`);
  const backend = await createTfjsBackend(backendName.slice(5) as TfjsKind);
  const tf = await withOptional("diffspec train", () => import("@tensorflow/tfjs"));

  let state: TrainState;
  if (existsSync(paths.checkpoint)) {
    state = restoreTrainState(tf, paths.checkpoint);
    const steps = stepsOption ?? state.config.steps;
    if (steps !== state.config.steps) (state as { config: TrainConfig }).config = validateTrainConfig({ ...state.config, steps });
    process.stderr.write(`resuming ${paths.checkpoint} at step ${state.step}/${state.config.steps}\n`);
  } else {
    const unet: UNetConfig = { ...GLYFFUSER_SMALL_CONFIG, blockChannels: channels };
    const config = validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, unet, ...fresh });
    mkdirSync(out, { recursive: true });
    state = initTrainState(tf, config);
  }
  let c = state.config;
  const data = loadTrainingData({ dataset: o.dataset, encoder: c.encoder, encoderDir: o["encoder-dir"], maxLength: c.maxLength, limit });
  const cpuBackend = backendName === "tfjs-wasm" || backendName === "tfjs-cpu";
  const workerCount = workersOption ?? (cpuBackend ? availableParallelism() : 1);
  if (workerCount > 1 && !cpuBackend) throw new ConfigError("--workers", workerCount, `1 with ${backendName} (gradient workers run tfjs-wasm or tfjs-cpu on the CPU's cores)`);
  const helpers = workerCount > 1 ? await startGradientWorkers(workerCount - 1, backendName.slice(5) as TfjsKind, state) : undefined;
  const schedule = makeSchedule(state.config.schedule);
  if (!state.backends.includes(backend.name)) state.backends.push(backend.name);
  process.stderr.write(
    `glyffuser: ${countParameters(c.unet).toLocaleString("en")} parameters, channels ${c.unet.blockChannels.join("/")}, ${data.count} glyphs, batch ${c.batchSize}, ` +
      `${c.steps} steps (${((c.steps * c.batchSize) / data.count).toFixed(1)} epochs), backend ${backend.name} (${(backend as { detail?: string }).detail ?? ""})${helpers ? ` × ${workerCount} processes` : ""}, encoder ${c.encoder}\n`,
  );

  const log = readLog(paths.log);
  let smooth = log.length ? log[log.length - 1].lossSmooth : NaN;
  const sessionStart = performance.now();
  const wallAtStart = state.wallSeconds;
  let windowStart = performance.now();
  let windowSteps = 0;
  const tty = process.stderr.isTTY && !o.quiet;

  const checkpoint = async (): Promise<void> => {
    state.wallSeconds = wallAtStart + (performance.now() - sessionStart) / 1000;
    try {
      saveCheckpoint(paths.checkpoint, (await checkpointContents(state)) as unknown as CheckpointContents);
    } catch (e) {
      // CKPT-ATOMIC: the temporary file is gone and the previous checkpoint is untouched.
      throw new DiffspecError("E_OUTPUT_FILE", `${paths.checkpoint}: the checkpoint of step ${state.step} could not be written (${(e as Error).message}); the previous checkpoint is intact, resume from it after freeing space`);
    }
    const entries = readLog(paths.log);
    try {
      const { exportModel } = await import("../glyffuser/model.ts");
      const c = state.config;
      exportModel(paths.json, {
        parameters: countParameters(c.unet),
        unet: c.unet,
        schedule: c.schedule,
        predictionType: "epsilon",
        encoder: { name: c.encoder, dim: c.unet.crossAttentionDim, maxLength: c.maxLength },
        weights: "ema",
        training: trainingSummary(state, data.count, entries),
      }, await readWeights(state.ema));
      const { writeLossCurve } = await import("../glyffuser/plots.ts");
      await writeLossCurve(paths.curve, entries);
    } catch (e) {
      process.stderr.write(`\nwarning: export after step ${state.step} failed (the checkpoint is saved): ${(e as Error).message}\n`);
    }
  };

  let stoppedEarly = false;
  let fitted = !Number.isFinite(fitMinutes) || state.step > 0;
  let fitStart = 0;
  // The gradient workers end with the loop, however it ends (finished, --max-minutes, a failed step or checkpoint).
  try {
    while (state.step < c.steps) {
      if (!fitted && state.step === 10) fitStart = performance.now();
      if (!fitted && state.step === 40) {
        const perStep = (performance.now() - fitStart) / 1000 / 30;
        const left = fitMinutes * 60 - (performance.now() - sessionStart) / 1000 - 30; // 30 s for checkpoints and export
        const steps = Math.max(state.step + 1, Math.min(c.steps, Math.floor(state.step + left / perStep)));
        process.stderr.write(`\n--fit-minutes ${fitMinutes}: ${(perStep * 1000).toFixed(0)} ms/step → ${steps} steps (was ${c.steps})\n`);
        (state as { config: TrainConfig }).config = validateTrainConfig({ ...c, steps, warmupSteps: Math.min(c.warmupSteps, Math.floor(steps / 10)) });
        c = state.config;
        fitted = true;
      }
      const batch = drawBatch(data, c, schedule.alphasCumprod, state.step);
      const lr = learningRate(c, state.step);
      const { loss, gradNorm } = await trainStep(tf, state, batch, helpers);
      if (!Number.isFinite(loss)) {
        const resume = existsSync(paths.checkpoint) ? `the last checkpoint ${paths.checkpoint} is intact` : "no checkpoint was written yet";
        throw new ConfigError("training loss", loss, `a finite number; it diverged at step ${state.step} (lower --lr; ${resume})`);
      }
      smooth = Number.isFinite(smooth) ? 0.98 * smooth + 0.02 * loss : loss;
      windowSteps++;
      const now = performance.now();
      const entry: LogEntry = {
        step: state.step,
        epoch: (state.step * c.batchSize) / data.count,
        loss,
        lossSmooth: smooth,
        lr,
        gradNorm,
        samplesPerSecond: (windowSteps * c.batchSize) / ((now - windowStart) / 1000),
        wallSeconds: wallAtStart + (now - sessionStart) / 1000,
        backend: backend.name,
      };
      if (state.step % 10 === 0 || state.step === c.steps) {
        appendLog(paths.log, entry);
        windowStart = now;
        windowSteps = 0;
      }
      if (!o.quiet && (tty || state.step % 50 === 0)) process.stderr.write(progressLine(entry, c.steps, tty));
      const overTime = (now - sessionStart) / 60000 >= maxMinutes;
      if (state.step % checkpointEvery === 0 || state.step === c.steps || overTime) await checkpoint();
      if (overTime && state.step < c.steps) { stoppedEarly = true; break; }
    }
  } finally {
    helpers?.close();
  }
  if (tty) process.stderr.write("\n");
  if (state.step === c.steps && state.step % checkpointEvery !== 0) await checkpoint();
  process.stdout.write(`${stoppedEarly ? "stopped (--max-minutes) at" : "finished"} step ${state.step}/${c.steps}; checkpoint ${paths.checkpoint}; model ${paths.json}; loss curve ${paths.curve}\n`);
  return 0;
}

function trainingSummary(s: TrainState, count: number, log: LogEntry[]): Record<string, unknown> {
  const last = log.filter((e) => e.step <= s.step).slice(-1)[0];
  const c = s.config;
  return {
    steps: s.step,
    batchSize: c.batchSize,
    epochs: Number(((s.step * c.batchSize) / count).toFixed(2)),
    glyphs: count,
    wallSeconds: Math.round(s.wallSeconds),
    backends: s.backends,
    machine: `${process.platform} ${process.arch}, ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}`,
    finalLossSmooth: last ? Number(last.lossSmooth.toFixed(5)) : null,
    lr: c.lr,
    warmupSteps: c.warmupSteps,
    emaDecay: c.emaDecay,
    pDrop: c.pDrop,
    lossWeighting: c.lossWeighting,
    ...(c.lossWeighting === "v" ? { lossWeightCap: c.lossWeightCap } : { minSnrGamma: Number.isFinite(c.minSnrGamma) ? c.minSnrGamma : "off" }),
    weightDecay: c.weightDecay,
    gradClip: c.gradClip,
    seed: c.seed,
  };
}

function progressLine(e: LogEntry, total: number, tty: boolean): string {
  const width = 30;
  const done = Math.round((width * e.step) / total);
  const eta = e.samplesPerSecond > 0 ? ((total - e.step) * (e.samplesPerSecond ? 1 : 0)) : 0;
  const secsPerStep = e.wallSeconds / Math.max(1, e.step);
  const remaining = Math.max(0, (total - e.step) * secsPerStep);
  void eta;
  const line = `[${"#".repeat(done)}${".".repeat(width - done)}] ${e.step}/${total} ep ${e.epoch.toFixed(2)} loss ${e.loss.toFixed(4)} (avg ${e.lossSmooth.toFixed(4)}) lr ${e.lr.toExponential(2)} ${e.samplesPerSecond.toFixed(1)} samples/s ETA ${fmt(remaining)}`;
  return tty ? `\r${line}` : `${line}\n`;
}

const fmt = (s: number): string => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`);
