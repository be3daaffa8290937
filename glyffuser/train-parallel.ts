/**
 * Data-parallel training on the CPU's cores (issue 17): tfjs-wasm computes on one thread in Node (its
 * multithreaded build is not used there), so `diffspec train --workers N` forks N − 1 gradient workers
 * (glyffuser/train-worker.ts), each a process with its own tfjs backend. Every step the trainer splits its
 * batch into N shards, sends each worker the step's parameters and one shard, computes the first shard
 * itself, and steps with the size-weighted mean of the shards' gradients (glyffuser/train.ts trainStep):
 * the same update as one process computing the whole batch, up to float rounding, so checkpoints, resume
 * and the log are unchanged. A worker that fails or exits fails the step with its message; the trainer's
 * last checkpoint stays intact.
 */
import { fork, type ChildProcess } from "node:child_process";
import { childEntry } from "../adapters/child-entry.ts";
import type * as tfjs from "@tensorflow/tfjs";
import { DiffspecError } from "../reference/errors.ts";
import type { TfjsKind } from "../adapters/tfjs/index.ts";
import type { GradientHelpers, HostBatch, ShardGradients, TrainState } from "./train.ts";

const WORKER = childEntry(import.meta.url, "train-worker");

interface Worker {
  readonly proc: ChildProcess;
  pending?: { id: number; resolve: (g: ShardGradients) => void; reject: (e: Error) => void };
  stderr: string;
}

export interface GradientWorkers extends GradientHelpers {
  close(): void;
}

/** Starts `count` gradient workers on the tfjs backend `kind` for a run's parameters; resolves when all are ready. */
export async function startGradientWorkers(count: number, kind: TfjsKind, s: TrainState): Promise<GradientWorkers> {
  const shapes = [...s.params].map(([name, v]) => [name, [...v.shape]] as [string, number[]]);
  const workers: Worker[] = [];
  let nextId = 0;
  const failure = (w: Worker, what: string): DiffspecError =>
    new DiffspecError("E_TRAIN_WORKER", `gradient worker ${w.proc.pid} ${what}${w.stderr.trim() ? `; its stderr ends: ${w.stderr.trim().slice(-400)}` : ""}`);
  const ready = Array.from({ length: count }, () => {
    const proc = fork(WORKER.path, [], { execArgv: [...WORKER.execArgv], serialization: "advanced", stdio: ["ignore", "ignore", "pipe", "ipc"] });
    const w: Worker = { proc, stderr: "" };
    workers.push(w);
    proc.stderr!.on("data", (d: Buffer) => void (w.stderr = (w.stderr + d.toString()).slice(-4000)));
    return new Promise<void>((resolve, reject) => {
      proc.on("message", (m: { type: string; id?: number; message?: string; count?: number; loss?: number; grads?: Float32Array }) => {
        if (m.type === "ready") resolve();
        else if (m.type === "grads" && w.pending && w.pending.id === m.id) {
          const p = w.pending;
          w.pending = undefined;
          p.resolve({ count: m.count!, loss: m.loss!, grads: m.grads! });
        } else if (m.type === "error") {
          const e = failure(w, `failed: ${m.message}`);
          reject(e);
          w.pending?.reject(e);
          w.pending = undefined;
        }
      });
      proc.on("exit", (code, signal) => {
        const e = failure(w, `exited (${signal ?? `code ${code}`})`);
        reject(e);
        w.pending?.reject(e);
        w.pending = undefined;
      });
      proc.send({ type: "init", config: s.config, shapes, backend: kind });
    });
  });
  const close = (): void => workers.forEach((w) => { w.proc.removeAllListeners("exit"); w.proc.kill(); });
  try {
    await Promise.all(ready);
  } catch (e) {
    close();
    throw e;
  }
  return {
    count,
    close,
    async dispatch(state: TrainState, shards: readonly HostBatch[]) {
      const params = await flatParams(state.params);
      const sent: Promise<void>[] = [];
      const results = Promise.all(shards.map((batch, i) => new Promise<ShardGradients>((resolve, reject) => {
        const w = workers[i];
        const id = nextId++;
        w.pending = { id, resolve, reject };
        // The callback fires once the message is written: only then can this thread block on its own shard.
        sent.push(new Promise((done) => w.proc.send({ type: "shard", id, params, batch }, () => done())));
      })));
      results.catch(() => undefined); // awaited by trainStep; a rejection before then is not unhandled
      await Promise.all(sent);
      return { results };
    },
  };
}

/** The parameters, flat in the map's order. */
async function flatParams(params: Map<string, tfjs.Variable>): Promise<Float32Array> {
  let size = 0;
  for (const v of params.values()) size += v.size;
  const out = new Float32Array(size);
  let offset = 0;
  for (const v of params.values()) {
    out.set((await v.data()) as Float32Array, offset);
    offset += v.size;
  }
  return out;
}
