/**
 * `--scheduler PATH`: a port written in JS/TS, loaded in-process. Its factories are called directly; every
 * call is wrapped so that a throw, a wrong type or a wrong length becomes a PortError for the clause in
 * progress. (A synchronous call that never returns cannot be interrupted in-process: use --scheduler-cmd
 * to supervise a port that may hang.)
 */
import { importUserModule } from "../../adapters/load.ts";
import { InputFileError } from "../../reference/errors.ts";
import { PORT_PROTOCOL_VERSION, type PortArray, type PortScheduler, type PortSchedulerFactory } from "../../reference/samplers/port.ts";
import { parseCapabilities } from "./capabilities.ts";
import { PortError, fromPortArray, toPortArray, type PortDriver, type PortInstance } from "./driver.ts";

/** Runs `f`, turning anything it throws into a PortError naming the call. */
function call<R>(what: string, f: () => R): R {
  try {
    return f();
  } catch (e) {
    if (e instanceof PortError) throw e;
    throw new PortError(what, `the port threw ${(e as Error)?.name ?? "an error"}: ${(e as Error)?.message ?? String(e)}`);
  }
}

const numbers = (what: string, call: string, a: unknown): Float64Array => {
  if (!a || typeof a !== "object" || typeof (a as ArrayLike<number>).length !== "number") throw new PortError(call, `${what} must be an array of numbers, got ${String(a)}`);
  return Float64Array.from(a as ArrayLike<number>);
};

export async function loadSchedulerPort(path: string): Promise<PortDriver> {
  const { mod: namespace } = await importUserModule(path, "scheduler port");
  // A CommonJS port's exports arrive as the default export.
  const mod = ("capabilities" in namespace ? namespace : ((namespace.default as Record<string, unknown> | undefined) ?? namespace));
  const capabilities = parseCapabilities(mod.capabilities, path);
  const missing = Object.keys(capabilities.classes).filter((c) => typeof mod[c] !== "function");
  if (missing.length) throw new InputFileError(path, `capabilities declare ${missing.join(", ")} but the module exports no factory of that name (export function ${missing[0]}(config) { … })`);
  const dtype = capabilities.dtype;
  const io = (a: ArrayLike<number>): PortArray => toPortArray(dtype, a);

  function instance(className: string, s: PortScheduler): PortInstance {
    const c = (m: string) => `${className}.${m}`;
    const length = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
    return {
      alphasCumprod: numbers("alphasCumprod", c("alphasCumprod"), call(c("alphasCumprod"), () => s.alphasCumprod)),
      initNoiseSigma: call(c("initNoiseSigma"), () => s.initNoiseSigma),
      order: call(c("order"), () => s.order),
      async setTimesteps(n) {
        call(c("setTimesteps"), () => s.setTimesteps(n));
        const sig = call(c("sigmas"), () => s.sigmas);
        return {
          timesteps: Array.from(numbers("timesteps", c("timesteps"), call(c("timesteps"), () => s.timesteps))),
          sigmas: sig === undefined ? undefined : numbers("sigmas", c("sigmas"), sig),
          initNoiseSigma: call(c("initNoiseSigma"), () => s.initNoiseSigma),
          order: call(c("order"), () => s.order),
        };
      },
      async scaleModelInput(x, shape, t) {
        return fromPortArray(c("scaleModelInput"), "the result", call(c("scaleModelInput"), () => s.scaleModelInput(io(x), t)), length(shape));
      },
      async step(out, t, x, shape, options = {}) {
        const opts = { ...(options.eta !== undefined ? { eta: options.eta } : {}), ...(options.noise ? { noise: io(options.noise) } : {}) };
        const r = call(c("step"), () => s.step(io(out), t, io(x), opts));
        if (!r || typeof r !== "object") throw new PortError(c("step"), `must return { prevSample, predOriginalSample? }, got ${String(r)}`);
        return {
          prevSample: fromPortArray(c("step"), "prevSample", r.prevSample, length(shape)),
          predOriginalSample: r.predOriginalSample === undefined ? undefined : fromPortArray(c("step"), "predOriginalSample", r.predOriginalSample, length(shape)),
        };
      },
      async addNoise(x0, noise, shape, t) {
        if (typeof s.addNoise !== "function") throw new PortError(c("addNoise"), "declared (addNoise: true) but not a function");
        return fromPortArray(c("addNoise"), "the result", call(c("addNoise"), () => s.addNoise!(io(x0), io(noise), t)), length(shape));
      },
      async getVelocity(x, noise, shape, t) {
        if (typeof s.getVelocity !== "function") throw new PortError(c("getVelocity"), "declared (getVelocity: true) but not a function");
        return fromPortArray(c("getVelocity"), "the result", call(c("getVelocity"), () => s.getVelocity!(io(x), io(noise), t)), length(shape));
      },
    };
  }

  return {
    info: { name: capabilities.name, source: `--scheduler ${path}`, protocolVersion: PORT_PROTOCOL_VERSION, capabilities },
    async create(className, config) {
      const factory = mod[className] as PortSchedulerFactory;
      const s = call(`${className}(config)`, () => factory(config));
      if (!s || typeof s !== "object") throw new PortError(`${className}(config)`, `must return a scheduler object, got ${String(s)}`);
      return instance(className, s);
    },
    async recover() {},
    async close() {},
  };
}
