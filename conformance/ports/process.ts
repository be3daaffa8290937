/**
 * `--scheduler-cmd CMD`: a port in any language, a child process speaking the JSON-lines protocol
 * (protocol.ts, spec/14-scheduler-ports.md) on its stdin/stdout. Supervised: every request has a time
 * limit; a crash, a hang (no answer in time: the process group is killed), a line that is not a valid
 * answer, or an answer of the wrong shape or dtype fails the request with a PortError that carries the
 * tail of the port's stderr, and marks the process broken. `recover()` (called before every property)
 * starts a fresh process, so the run goes on.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { InputFileError } from "../../reference/errors.ts";
import { PORT_PROTOCOL_VERSION, type PortCapabilities } from "../../reference/samplers/port.ts";
import { parseCapabilities } from "./capabilities.ts";
import { PortError, type PortDriver, type PortInstance } from "./driver.ts";
import { decodeTensor, encodeTensor, responseSchema, resultSchemas, type Op, type WireTensor } from "./protocol.ts";

export interface ProcessPortOptions {
  /** Per message time limit (ms). */
  messageTimeoutMs?: number;
  /** Time limit of the first answer (the port's start-up: interpreter, imports). */
  startTimeoutMs?: number;
}

const STDERR_LINES = 30;

interface Pending {
  id: number;
  op: Op;
  resolve: (r: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One started process. */
class PortProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly stderr: string[] = [];
  private pending: Pending[] = [];
  private nextId = 1;
  /** Why the process can no longer be used (undefined while healthy). */
  broken: string | undefined;
  /** Resolves when the process has exited and its stdout/stderr are drained. */
  private readonly closed: Promise<void>;

  constructor(readonly command: string, private readonly timeoutMs: number) {
    this.child = spawn(command, { shell: true, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    let onClosed = (): void => {};
    this.closed = new Promise((resolve) => (onClosed = resolve));
    this.child.stdin.on("error", () => {});
    createInterface({ input: this.child.stderr }).on("line", (l) => {
      this.stderr.push(l);
      if (this.stderr.length > STDERR_LINES) this.stderr.shift();
    });
    createInterface({ input: this.child.stdout }).on("line", (l) => this.onLine(l));
    this.child.on("error", (e) => this.fail(`could not start \`${command}\`: ${e.message}`));
    // 'close' comes after the streams are drained, so the stderr tail is complete.
    this.child.on("close", (code, signal) => {
      onClosed();
      this.fail(`the port process exited (${signal ? `signal ${signal}` : `exit code ${code}`})`);
    });
  }

  get stderrTail(): string {
    return this.stderr.join("\n");
  }

  /** The stderr tail once the (killed) process's streams are drained, or after at most 2 s. */
  async drainedTail(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
    return this.stderrTail;
  }

  request(op: Op, fields: Record<string, unknown>, timeoutMs = this.timeoutMs): Promise<Record<string, unknown>> {
    if (this.broken) return Promise.reject(new PortError(op, `the port process is unusable: ${this.broken}`, this.stderrTail));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`no answer to "${op}" within ${timeoutMs} ms (the port process was killed)`);
      }, timeoutMs);
      this.pending.push({ id, op, resolve, reject, timer });
      this.child.stdin.write(JSON.stringify({ id, op, ...fields }) + "\n");
    });
  }

  private onLine(line: string): void {
    if (this.broken) return;
    const p = this.pending.shift();
    if (!p) return this.fail(`the port wrote a line nobody asked for: ${line.slice(0, 200)}`);
    clearTimeout(p.timer);
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.pending.unshift(p);
      return this.fail(`the answer to "${p.op}" is not one line of JSON: ${line.slice(0, 200)}`);
    }
    const r = responseSchema.safeParse(msg);
    if (!r.success || r.data.id !== p.id) {
      this.pending.unshift(p);
      return this.fail(`the answer to "${p.op}" (id ${p.id}) is malformed: ${r.success ? `id ${r.data.id}` : r.error.issues.map((i) => `${i.path.join(".") || "message"}: ${i.message}`).join("; ")}: ${line.slice(0, 200)}`);
    }
    if (!r.data.ok) return p.reject(new PortError(p.op, `the port answered ${r.data.error.type}: ${r.data.error.message}`));
    const shaped = resultSchemas[p.op].safeParse(r.data.result);
    if (!shaped.success) {
      this.pending.unshift(p);
      return this.fail(`the result of "${p.op}" is malformed: ${shaped.error.issues.map((i) => `${i.path.join(".") || "result"}: ${i.message}`).join("; ")}`);
    }
    p.resolve(shaped.data as Record<string, unknown>);
  }

  /**
   * Marks the process broken, kills its process group, and rejects every pending request with the reason and
   * the stderr tail (read once the streams are drained: stderr and stdout are separate pipes).
   */
  fail(why: string): void {
    const pending = this.pending;
    if (!this.broken) this.broken = pending.length ? `${why} (in answer to "${pending[0].op}")` : why;
    this.pending = [];
    for (const p of pending) clearTimeout(p.timer);
    this.kill();
    void this.drainedTail().then((tail) => {
      for (const p of pending) p.reject(new PortError(p.op, why, tail));
    });
  }

  kill(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {
      this.child.kill("SIGKILL");
    }
  }
}

/** The PortDriver of a command; the first process is started and its capabilities read before this returns. */
export async function startProcessPort(command: string, options: ProcessPortOptions = {}): Promise<PortDriver> {
  const timeoutMs = options.messageTimeoutMs ?? 30_000;
  const startTimeoutMs = options.startTimeoutMs ?? Math.max(timeoutMs, 30_000);
  let proc: PortProcess;
  let capabilities: PortCapabilities | undefined;
  let restarts = 0;

  async function start(): Promise<void> {
    proc = new PortProcess(command, timeoutMs);
    let r: Record<string, unknown>;
    try {
      r = await proc.request("capabilities", { protocol: PORT_PROTOCOL_VERSION }, startTimeoutMs);
    } catch (e) {
      throw new InputFileError(command, `the port did not answer "capabilities": ${(e as Error).message}`);
    }
    if (r.protocol !== PORT_PROTOCOL_VERSION) {
      proc.fail("protocol version mismatch");
      throw new InputFileError(command, `the port speaks protocol version ${String(r.protocol)}; this suite speaks ${PORT_PROTOCOL_VERSION}`);
    }
    const caps = parseCapabilities(r.capabilities, command);
    if (capabilities && JSON.stringify(caps) !== JSON.stringify(capabilities)) throw new PortError("capabilities", "the restarted port declares different capabilities than the first process did");
    capabilities = caps;
  }
  await start();
  const dtype = capabilities!.dtype;
  const io = (shape: readonly number[], a: ArrayLike<number>): WireTensor => encodeTensor(dtype, shape, a);
  /** A tensor of the answer: the declared dtype, the expected shape, decoded. */
  const tensor = async (op: Op, field: string, t: unknown, shape: readonly number[]): Promise<Float64Array> => {
    const w = t as WireTensor;
    let problem: string | undefined;
    let out: Float64Array | undefined;
    if (w.dtype !== dtype) problem = `as ${w.dtype}; the port declared ${dtype}`;
    else if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) problem = `with shape [${w.shape.join(", ")}], expected [${shape.join(", ")}]`;
    else {
      try {
        out = decodeTensor(w);
      } catch (e) {
        problem = `malformed: ${(e as Error).message}`;
      }
    }
    if (out) return out;
    const p = proc;
    p.fail(`"${op}" answered ${field} ${problem}`);
    throw new PortError(op, `${field} ${problem}`, await p.drainedTail());
  };

  function instance(handle: string, created: Record<string, unknown>, alphasCumprod: Float64Array): PortInstance {
    const call = (op: Op, fields: Record<string, unknown>) => proc.request(op, { handle, ...fields });
    return {
      alphasCumprod,
      initNoiseSigma: created.init_noise_sigma as number,
      order: created.order as number,
      async setTimesteps(n) {
        const r = await call("set_timesteps", { num_inference_steps: n });
        const timesteps = r.timesteps as number[];
        const sigmas = r.sigmas ? await tensor("set_timesteps", "sigmas", r.sigmas, [(r.sigmas as WireTensor).shape[0] ?? 0]) : undefined;
        return { timesteps, sigmas, initNoiseSigma: r.init_noise_sigma as number, order: r.order as number };
      },
      async scaleModelInput(x, shape, timestep) {
        return await tensor("scale_model_input", "sample", (await call("scale_model_input", { sample: io(shape, x), timestep })).sample, shape);
      },
      async step(out, timestep, x, shape, o = {}) {
        const r = await call("step", {
          model_output: io(shape, out), timestep, sample: io(shape, x),
          ...(o.eta !== undefined ? { eta: o.eta } : {}), ...(o.noise ? { noise: io(shape, o.noise) } : {}),
        });
        return { prevSample: await tensor("step", "prev_sample", r.prev_sample, shape), predOriginalSample: r.pred_original_sample ? await tensor("step", "pred_original_sample", r.pred_original_sample, shape) : undefined };
      },
      async addNoise(x0, noise, shape, timestep) {
        return await tensor("add_noise", "noisy_samples", (await call("add_noise", { original_samples: io(shape, x0), noise: io(shape, noise), timestep })).noisy_samples, shape);
      },
      async getVelocity(x, noise, shape, timestep) {
        return await tensor("get_velocity", "velocity", (await call("get_velocity", { sample: io(shape, x), noise: io(shape, noise), timestep })).velocity, shape);
      },
    };
  }

  return {
    info: { name: capabilities!.name, source: `--scheduler-cmd ${command}`, protocolVersion: PORT_PROTOCOL_VERSION, capabilities: capabilities! },
    async create(className, config) {
      const r = await proc.request("create", { class: className, config });
      const ac = r.alphas_cumprod as WireTensor;
      return instance(r.handle as string, r, await tensor("create", "alphas_cumprod", ac, ac.shape.length === 1 ? ac.shape : [-1]));
    },
    async recover() {
      if (!proc.broken) return;
      restarts++;
      await start();
    },
    async close() {
      if (!proc.broken) {
        try {
          await proc.request("close", {}, 5_000);
        } catch {
          // a port that does not close cleanly is killed below
        }
      }
      proc.kill();
    },
    get restarts() {
      return restarts;
    },
  } as PortDriver & { restarts: number };
}
