/**
 * A data-parallel gradient worker of the glyffuser trainer (glyffuser/train-parallel.ts): a child process with
 * its own tfjs backend (tfjs-wasm runs on one thread in Node, so a second process is how training uses a
 * second core). It holds a copy of the parameters, and for each shard it is sent — with the step's parameters,
 * flat in parameter order — it answers the shard's loss and gradient (glyffuser/train.ts
 * batchLossAndGradients), flat in the same order.
 *
 * Messages (IPC, structured clone): in  {type: "init", config, shapes, backend} → out {type: "ready", backend};
 * in {type: "shard", id, params, batch} → out {type: "grads", id, count, loss, grads}; any failure →
 * {type: "error", message} and exit 1.
 */
import type * as tfjs from "@tensorflow/tfjs";
import { createTfjsBackend, type TfjsKind } from "../adapters/tfjs/index.ts";
import { batchLossAndGradients, type HostBatch, type TrainConfig } from "./train.ts";

type Message =
  | { type: "init"; config: TrainConfig; shapes: [string, number[]][]; backend: TfjsKind }
  | { type: "shard"; id: number; params: Float32Array; batch: HostBatch };

let tf: typeof tfjs | undefined;
let config: TrainConfig | undefined;
let params: Map<string, tfjs.Variable> | undefined;

const send = (m: unknown): void => void process.send!(m);

async function handle(m: Message): Promise<void> {
  if (m.type === "init") {
    const backend = await createTfjsBackend(m.backend);
    tf = await import("@tensorflow/tfjs");
    config = m.config;
    params = new Map(m.shapes.map(([name, shape]) => [name, tf!.variable(tf!.zeros(shape), true, `worker/${name}`)]));
    send({ type: "ready", backend: backend.name });
    return;
  }
  if (!tf || !config || !params) throw new Error("a shard arrived before init");
  let offset = 0;
  for (const v of params.values()) {
    const value = tf.tensor(m.params.subarray(offset, offset + v.size), v.shape);
    v.assign(value);
    value.dispose();
    offset += v.size;
  }
  const t = tf;
  const flat = t.tidy(() => {
    const r = batchLossAndGradients(t, config!, params!, m.batch);
    return t.concat([t.reshape(r.value, [1]), ...r.grads.map((g) => t.reshape(g, [-1]))]);
  });
  const data = (await flat.data()) as Float32Array;
  flat.dispose();
  send({ type: "grads", id: m.id, count: m.batch.timesteps.length, loss: data[0], grads: data.slice(1) });
}

let queue = Promise.resolve();
process.on("message", (m: Message) => {
  queue = queue.then(() => handle(m)).catch((e: unknown) => {
    send({ type: "error", message: e instanceof Error ? e.message : String(e) });
    process.exitCode = 1;
    process.disconnect?.();
  });
});
