/**
 * The CLI's side of isolation: the backend under test lives in a child process (child.ts) that this
 * supervisor starts, feeds one property at a time and watches. When the child exits, crashes, reports
 * an uncaught error, is stopped by its watchdog (a synchronous hang, runaway memory) or overruns the
 * per-property limit, the property in progress fails with what happened, and the next property gets a
 * fresh child. The parent owns the report, so it is always written. adapters/README.md explains the design.
 */
import { fork, type ChildProcess } from "node:child_process";
import { childEntry } from "../../adapters/child-entry.ts";
import type { BackendSpec } from "../../adapters/index.ts";
import { ConfigError, InputFileError, UnavailableError } from "../../reference/errors.ts";
import type { PropertyDef } from "../registry.ts";
import { propertyModule, type PropertyExecutor, type PropertyOutcome, type RunOptions } from "../runner.ts";
import { WATCHDOG_MARK, type ChildConfig, type ChildMessage, type ParentMessage, type RunRequest } from "./protocol.ts";

/** Extra time the parent gives a property beyond its own limit before it stops the child (the child's timer reports first). */
const PROPERTY_GRACE_MS = 1000;
const STDERR_TAIL = 4000;
/**
 * The child: child.ts under tsx's loader from the sources, the built child.js from the installed package (a
 * user's .ts adapter is then loaded through tsx on demand by adapters/load.ts, as in the CLI's own process).
 */
const CHILD = childEntry(import.meta.url, "child");

export interface SupervisorOptions {
  memoryLimitMb: number;
  /** Where the child's output goes (default: this process's stderr; stdout is kept for the report). */
  log?: (text: string) => void;
}

interface Child {
  proc: ChildProcess;
  /** Resolves when the process has exited and its output is read: what happened, in words. */
  ended: Promise<string>;
  /** The last lines of its stderr, and the watchdog's reason if it stopped it. */
  tail: string;
  watchdog?: string;
  fatal?: string;
  messages: ChildMessage[];
  waiting?: (m: ChildMessage) => void;
}

/** A backend held by a supervised child process; `start()` opens it (or throws what the CLI reports). */
export class SupervisedBackend implements PropertyExecutor {
  name = "";
  detail?: string;
  isReference = false;
  private child?: Child;
  private nextId = 1;

  constructor(
    readonly spec: BackendSpec,
    readonly options: SupervisorOptions,
  ) {}

  /** Starts the child and waits until it holds the backend. Throws UnavailableError / ConfigError / InputFileError as opening it in-process would. */
  async start(): Promise<void> {
    const c = this.spawn();
    const m = await this.next(c);
    if (m.type === "ready") {
      this.name = m.name;
      this.detail = m.detail;
      this.isReference = m.name === "reference";
      this.child = c;
      return;
    }
    c.proc.kill("SIGKILL");
    const what = this.spec.kind === "adapter" ? this.spec.path : this.spec.name;
    if (m.type === "init-failed" && m.kind === "unavailable") throw new UnavailableError(m.backend || what, m.message);
    if (m.type === "init-failed" && m.kind === "config") throw new ConfigError("--backend", what, m.message);
    if (m.type === "init-failed") throw new InputFileError(what, m.message.startsWith(`${what}: `) ? m.message.slice(what.length + 2) : m.message);
    throw new InputFileError(what, `the backend process ended while opening the backend: ${m.type === "fatal" ? m.message : await c.ended}`);
  }

  async execute(p: PropertyDef, o: RunOptions): Promise<PropertyOutcome> {
    if (!this.child) {
      try {
        await this.start();
      } catch (e) {
        return { status: "failed", message: `the backend could not be restarted after the previous property ended its process: ${(e as Error).message}` };
      }
    }
    const c = this.child!;
    const req: RunRequest = {
      type: "run", id: this.nextId++, clause: p.clause, name: p.name, module: propertyModule(p), seed: o.seed, profile: o.profile, path: o.path,
      backendArg: o.backendArg, callTimeoutMs: o.callTimeoutMs ?? 30_000, propertyTimeoutMs: o.propertyTimeoutMs ?? 300_000,
    };
    const limitMs = req.propertyTimeoutMs + PROPERTY_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`property ${p.clause} ${p.name} did not finish within ${req.propertyTimeoutMs} ms (the backend process was stopped)`), limitMs);
      onAbort = () => resolve(`interrupted (${String(o.signal?.reason ?? "aborted")})`);
      o.signal?.addEventListener("abort", onAbort, { once: true });
    });
    c.proc.send(req);
    const winner = await Promise.race([this.next(c).then((m) => ({ m })), stopped.then((why) => ({ why }))]);
    clearTimeout(timer);
    if (onAbort) o.signal?.removeEventListener("abort", onAbort);
    if ("m" in winner && winner.m.type === "result" && winner.m.id === req.id) return winner.m.outcome;
    // The child is gone or must go: what happened fails this property; the next one gets a new child.
    this.child = undefined;
    let why: string;
    if ("why" in winner) {
      c.proc.kill("SIGKILL");
      await c.ended;
      why = winner.why;
    } else why = winner.m.type === "fatal" ? winner.m.message : await c.ended;
    if (c.fatal && !("why" in winner)) why = c.fatal;
    return { status: "failed", message: why, seed: o.seed };
  }

  /** Stops the child (at the end of a run, or when interrupted). */
  async close(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c) return;
    const t = setTimeout(() => c.proc.kill("SIGKILL"), 5000);
    try {
      c.proc.send({ type: "close" } satisfies ParentMessage);
    } catch {
      c.proc.kill("SIGKILL");
    }
    await c.ended;
    clearTimeout(t);
  }

  kill(): void {
    this.child?.proc.kill("SIGKILL");
  }

  private spawn(): Child {
    const config: ChildConfig = { spec: this.spec, memoryLimitMb: this.options.memoryLimitMb };
    const proc = fork(CHILD.path, [JSON.stringify(config)], {
      execArgv: [...CHILD.execArgv, `--max-old-space-size=${this.options.memoryLimitMb}`],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const log = this.options.log ?? ((t: string) => void process.stderr.write(t));
    const c: Child = { proc, tail: "", messages: [], ended: Promise.resolve("") };
    proc.stdout!.on("data", (d: Buffer) => log(d.toString()));
    proc.stderr!.on("data", (d: Buffer) => {
      const text = d.toString();
      for (const line of text.split("\n")) {
        const k = line.indexOf(WATCHDOG_MARK);
        if (k >= 0) {
          try {
            c.watchdog = (JSON.parse(line.slice(k + WATCHDOG_MARK.length)) as { reason: string }).reason;
          } catch { /* a torn line: the exit status still tells */ }
        }
      }
      const shown = text.split("\n").filter((l) => !l.includes(WATCHDOG_MARK)).join("\n");
      if (shown.trim()) log(shown);
      c.tail = (c.tail + text).slice(-STDERR_TAIL);
    });
    proc.on("message", (m: ChildMessage) => {
      if (m.type === "fatal") c.fatal = m.message;
      if (c.waiting) {
        const w = c.waiting;
        c.waiting = undefined;
        w(m);
      } else c.messages.push(m);
    });
    c.ended = new Promise((resolve) => proc.on("close", (code, signal) => resolve(this.describeEnd(c, code, signal))));
    proc.on("error", () => { /* 'close' follows */ });
    return c;
  }

  /** The next message from the child, or a synthetic "fatal" when it ends first. */
  private next(c: Child): Promise<ChildMessage> {
    const queued = c.messages.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      c.waiting = resolve;
      c.ended.then((why) => {
        if (c.waiting === resolve) {
          c.waiting = undefined;
          resolve({ type: "fatal", message: c.fatal ?? why });
        }
      });
    });
  }

  private describeEnd(c: Child, code: number | null, signal: NodeJS.Signals | null): string {
    if (c.watchdog) return c.watchdog;
    if (c.fatal) return c.fatal;
    if (/heap out of memory|Allocation failed/i.test(c.tail)) return `the backend process ran out of memory (JavaScript heap above --memory-limit ${this.options.memoryLimitMb} MB)`;
    const last = c.tail.trim().split("\n").slice(-3).join(" | ");
    if (signal) return `the backend process was killed by ${signal}${last ? ` (stderr: ${last})` : ""}`;
    return `the backend process exited with code ${code} during the property (the backend called process.exit or crashed)${last ? ` (stderr: ${last})` : ""}`;
  }
}

