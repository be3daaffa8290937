/**
 * The supervised process: opens the backend under test itself, runs the properties the CLI asks for,
 * and sends each outcome back (conformance/isolation/supervisor.ts). What a backend can do to a process
 * — exit, crash, throw from a timer, block the event loop, eat memory — happens here, not in the CLI.
 *
 * The watchdog is a worker thread: it keeps running while this thread is blocked. The main thread marks
 * each backend call in shared memory (CallMonitor) and beats a heartbeat every 50 ms; when a call is in
 * progress and the heartbeat is older than the per-call limit (+ 1 s of grace, so that an async hang is
 * first reported by the call's own timer), or the resident memory passes the limit, the watchdog writes
 * what happened to stderr and kills the process. The supervisor turns that into the property's failure.
 */
import { Worker } from "node:worker_threads";
import { DiffspecError, UnavailableError, ConfigError } from "../../reference/errors.ts";
import { openBackend } from "../../adapters/index.ts";
import type { Backend } from "../../adapters/contract.ts";
import { loadAllProperties, runOne } from "../runner.ts";
import type { CallMonitor } from "../timeout.ts";
import type { PropertyDef } from "../registry.ts";
import { WATCHDOG_MARK, type ChildConfig, type ChildMessage, type ParentMessage } from "./protocol.ts";

const send = (m: ChildMessage): void => void process.send!(m);
const GRACE_MS = 1000;
const NAME_BYTES = 120;

// Shared slots: 0 heartbeat (ms since `base`), 1 calls in progress, 2 limit (ms, 0 = none), 3 name length; then the call's name.
const base = Date.now();
const shared = new SharedArrayBuffer(16 + NAME_BYTES);
const slots = new Int32Array(shared, 0, 4);
const nameBytes = new Uint8Array(shared, 16, NAME_BYTES);
const encoder = new TextEncoder();
const beat = (): void => void Atomics.store(slots, 0, Date.now() - base);

const monitor: CallMonitor = {
  enter(what) {
    beat();
    slots[3] = encoder.encodeInto(what, nameBytes).written;
    Atomics.add(slots, 1, 1);
  },
  exit() {
    Atomics.sub(slots, 1, 1);
  },
};

const WATCHDOG = `
const { workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const slots = new Int32Array(workerData.shared, 0, 4);
const name = new Uint8Array(workerData.shared, 16, ${NAME_BYTES});
const stop = (reason) => {
  writeSync(2, "\\n" + ${JSON.stringify(WATCHDOG_MARK)} + JSON.stringify({ reason }) + "\\n");
  process.kill(process.pid, "SIGKILL");
};
setInterval(() => {
  const limit = Atomics.load(slots, 2);
  const idle = Date.now() - workerData.base - Atomics.load(slots, 0);
  if (limit > 0 && Atomics.load(slots, 1) > 0 && idle > limit) {
    const what = new TextDecoder().decode(name.slice(0, slots[3]));
    stop(what + " did not return within " + (limit - ${GRACE_MS}) + " ms: it blocked the event loop (synchronous code), so the backend process was stopped");
  }
  const rss = process.memoryUsage.rss();
  if (rss > workerData.memoryLimitMb * 1048576) stop("the backend process used " + Math.round(rss / 1048576) + " MB, more than --memory-limit " + workerData.memoryLimitMb + " MB, so it was stopped");
}, 25);
`;

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]) as ChildConfig;
  process.on("SIGINT", () => {}); // Ctrl-C reaches the whole process group: the CLI decides, and stops this process.
  process.on("disconnect", () => process.exit(0)); // the CLI is gone (even killed): no orphan keeps running
  process.on("uncaughtException", (e) => fatal("uncaught exception", e));
  process.on("unhandledRejection", (e) => fatal("unhandled promise rejection", e));
  new Worker(WATCHDOG, { eval: true, workerData: { shared, base, memoryLimitMb: config.memoryLimitMb } }).unref();
  setInterval(beat, 50).unref();
  beat();

  let backend: Backend<any>;
  try {
    backend = await openBackend(config.spec);
  } catch (e) {
    if (e instanceof UnavailableError) send({ type: "init-failed", kind: "unavailable", backend: e.backend, message: e.reason });
    else if (e instanceof DiffspecError) send({ type: "init-failed", kind: e instanceof ConfigError ? "config" : "input-file", backend: "", message: e.message });
    else throw e;
    return;
  }
  send({ type: "ready", name: backend.name, detail: typeof backend.detail === "string" ? backend.detail : undefined });
  process.on("message", async (m: ParentMessage) => {
    if (m.type === "close") {
      if (typeof backend.close === "function") await backend.close();
      process.exit(0);
    }
    if (m.type !== "run") return;
    let p: PropertyDef | undefined;
    try {
      p = (await propertiesOf(m.module)).find((x) => x.clause === m.clause && x.name === m.name);
    } catch (e) {
      send({ type: "result", id: m.id, outcome: { status: "failed", message: `property module ${m.module} did not load in the backend process: ${(e as Error).message}` } });
      return;
    }
    if (!p) {
      send({ type: "result", id: m.id, outcome: { status: "failed", message: `no property ${m.clause} ${m.name} in the supervised process` } });
      return;
    }
    Atomics.store(slots, 2, m.callTimeoutMs + GRACE_MS);
    const outcome = await runOne(p, backend, { ...m, clauses: undefined }, monitor);
    send({ type: "result", id: m.id, outcome });
  });
}

const modules = new Map<string, Promise<readonly PropertyDef[]>>();
/** The properties of one module (or of all, when the parent did not name it), loaded once. */
function propertiesOf(module: string | undefined): Promise<readonly PropertyDef[]> {
  const key = module ?? "";
  if (!modules.has(key)) modules.set(key, module ? import(module).then((m: { properties?: PropertyDef[] }) => m.properties ?? []) : loadAllProperties());
  return modules.get(key)!;
}

function fatal(what: string, e: unknown): void {
  const message = `${what} in the backend process: ${(e as Error)?.name ?? "Error"}: ${(e as Error)?.message ?? String(e)}`;
  try {
    process.send!({ type: "fatal", message } satisfies ChildMessage, () => process.exit(70));
  } catch {
    process.exit(70);
  }
}

await main();
