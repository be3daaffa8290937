/**
 * Where a glyffuser training step's time goes (issue 17): the phases of glyffuser/train.ts `trainStep` — host
 * batch (drawBatch), forward, backward (forward + gradients − forward), optimizer (AdamW, clipping and EMA: the
 * whole step − forward + gradients) — and, from `tf.profile`, the kernels of one whole step grouped by name.
 * The achieved throughput is the U-Net's counted FLOPs (glyffuser/flops.ts: forward F, a training step ≈ 3F)
 * over the measured time. Phases are timed in CPU seconds of this process (process.cpuUsage: user + system), the
 * least over the repetitions, because on a shared machine wall time mostly measures the other jobs (tfjs-wasm runs
 * on one thread in Node, so CPU time is the time the step needs). Kernel times come from `tf.profile` and are wall
 * time: read them as shares. Not part of `npm test`: a measurement, a few steps long.
 *
 *   npx tsx glyffuser/profile-train.ts [--backend tfjs-wasm] [--batch 16] [--reps 5] [--json FILE]
 */
import type * as tfjs from "@tensorflow/tfjs";
import { createTfjsBackend, type TfjsKind } from "../adapters/tfjs/index.ts";
import { parse as parseCli, intOption } from "../cli/args.ts";
import { ConfigError } from "../reference/errors.ts";
import { makeSchedule } from "../reference/schedule.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import { unetFlops } from "./flops.ts";
import { batchTensors, DEFAULT_TRAIN_CONFIG, disposeTrainState, drawBatch, initTrainState, loadTrainingData, trainStep, validateTrainConfig, type HostBatch, type TrainState } from "./train.ts";
import { tfjsUNetForward, type TfjsParams } from "./unet-tfjs.ts";

type TF = typeof tfjs;

/** CPU seconds (user + system) of this process since `since` (a process.cpuUsage() value). */
function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** CPU seconds of the forward pass alone (the loss read back). */
async function timeForward(tf: TF, s: TrainState, b: HostBatch): Promise<number> {
  const t0 = process.cpuUsage();
  const out = tf.tidy(() => {
    const x = batchTensors(tf, s.config, b);
    const pred = tfjsUNetForward(tf, s.config.unet, s.params as unknown as TfjsParams, x);
    return tf.mean(tf.square(tf.sub(pred, x.eps)));
  });
  await out.data();
  out.dispose();
  return cpuSecondsSince(t0);
}

/** CPU seconds of forward + gradients (every gradient's sum read back, so all of them are computed). */
async function timeForwardBackward(tf: TF, s: TrainState, b: HostBatch): Promise<number> {
  const t0 = process.cpuUsage();
  const out = tf.tidy(() => {
    const x = batchTensors(tf, s.config, b);
    const { value, grads } = tf.variableGrads(() => {
      const pred = tfjsUNetForward(tf, s.config.unet, s.params as unknown as TfjsParams, x);
      return tf.mean(tf.square(tf.sub(pred, x.eps))) as tfjs.Scalar;
    }, [...s.params.values()]);
    return tf.addN([value, ...Object.values(grads).map((g) => tf.sum(g))]);
  });
  await out.data();
  out.dispose();
  return cpuSecondsSince(t0);
}

const least = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function profileTrainCommand(argv: string[]): Promise<number> {
  const { values: o } = parseCli(argv, { backend: { type: "string" }, batch: { type: "string" }, reps: { type: "string" }, json: { type: "string" } }, "profile-train");
  if (o.help) { process.stdout.write("Usage: npx tsx glyffuser/profile-train.ts [--backend tfjs-wasm] [--batch 16] [--reps 5] [--json FILE]\n"); return 0; }
  const backendName = o.backend ?? "tfjs-wasm";
  if (!backendName.startsWith("tfjs-")) throw new ConfigError("--backend", backendName, "a tfjs backend (tfjs-wasm, tfjs-cpu, tfjs-node, tfjs-webgpu)");
  const backend = await createTfjsBackend(backendName.slice(5) as TfjsKind);
  const tf = await import("@tensorflow/tfjs");
  const reps = intOption("reps", o.reps, 5);
  const c = validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, batchSize: intOption("batch", o.batch, DEFAULT_TRAIN_CONFIG.batchSize) });
  const s = initTrainState(tf, c);
  const data = loadTrainingData({ maxLength: c.maxLength });
  const ac = makeSchedule(c.schedule).alphasCumprod;
  const phases = { hostBatch: [] as number[], forward: [] as number[], forwardBackward: [] as number[], step: [] as number[] };
  await trainStep(tf, s, drawBatch(data, c, ac, 0)); // warm-up: kernels compiled, buffers allocated
  for (let r = 0; r < reps; r++) {
    let t0 = process.cpuUsage();
    const b = drawBatch(data, c, ac, r + 1);
    phases.hostBatch.push(cpuSecondsSince(t0));
    phases.forward.push(await timeForward(tf, s, b));
    phases.forwardBackward.push(await timeForwardBackward(tf, s, b));
    t0 = process.cpuUsage();
    await trainStep(tf, s, b);
    phases.step.push(cpuSecondsSince(t0));
  }
  const profile = await tf.profile(async () => { await trainStep(tf, s, drawBatch(data, c, ac, reps + 1)); });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.calls++;
    byKernel.set(k.name, e);
  }
  disposeTrainState(s);
  const m = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, least(v)])) as Record<keyof typeof phases, number>;
  const f = unetFlops(c.unet, c.batchSize);
  const kernelTotal = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
  const kernels = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).map(([name, e]) => ({ name, ms: e.ms, calls: e.calls, share: e.ms / kernelTotal }));
  const result = {
    backend: `${backend.name} (${(backend as { detail?: string }).detail ?? ""})`,
    batch: c.batchSize,
    reps,
    seconds: { hostBatch: m.hostBatch, forward: m.forward, backward: m.forwardBackward - m.forward, optimizerAndEma: m.step - m.forwardBackward, step: m.step },
    flops: { forward: f.total, step: 3 * f.total, conv: f.conv, linear: f.linear, attention: f.attention },
    achievedGflops: (3 * f.total) / m.step / 1e9,
    kernelMsTotal: kernelTotal,
    kernels,
  };
  const pct = (v: number) => `${((100 * v) / m.step).toFixed(0)}%`;
  console.log(`${result.backend}, batch ${c.batchSize}, CPU seconds, least of ${reps}`);
  console.log(`step ${m.step.toFixed(3)} s: forward ${result.seconds.forward.toFixed(3)} s (${pct(result.seconds.forward)}), backward ${result.seconds.backward.toFixed(3)} s (${pct(result.seconds.backward)}), optimizer+EMA ${result.seconds.optimizerAndEma.toFixed(3)} s (${pct(result.seconds.optimizerAndEma)}); host batch ${(1000 * m.hostBatch).toFixed(1)} ms (outside trainStep)`);
  console.log(`U-Net forward ${(f.total / 1e9).toFixed(3)} GFLOP (conv ${(f.conv / 1e9).toFixed(3)}, linear ${(f.linear / 1e9).toFixed(3)}, attention ${(f.attention / 1e9).toFixed(3)}); step ≈ 3× = ${((3 * f.total) / 1e9).toFixed(3)} GFLOP → ${result.achievedGflops.toFixed(2)} GFLOP/s`);
  console.log(`kernels of one profiled step (${kernelTotal.toFixed(0)} ms):`);
  for (const k of kernels.slice(0, 15)) console.log(`  ${k.name.padEnd(28)} ${k.ms.toFixed(1).padStart(8)} ms ${(100 * k.share).toFixed(1).padStart(5)}%  ${k.calls} calls`);
  if (o.json) writeFileAtomic(o.json, JSON.stringify(result, null, 2) + "\n");
  return 0;
}

// Run directly: npx tsx glyffuser/profile-train.ts ...
if (process.argv[1]?.endsWith("profile-train.ts")) process.exitCode = await profileTrainCommand(process.argv.slice(2));
