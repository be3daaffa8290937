/**
 * A backend under test may throw, return garbage or hang. Every call into it goes through this
 * wrapper, so a hung call becomes a TimeoutError for that clause and the run goes on. A promise is
 * raced against the limit here; a call that blocks the event loop (synchronous code never yields, so
 * no timer can fire) is seen by the supervised process's watchdog through the CallMonitor
 * (conformance/isolation/child.ts).
 */
import type { Backend } from "../adapters/contract.ts";
import { TimeoutError } from "../reference/errors.ts";

/** Told when a backend call starts and when it settles (its synchronous part returned, its promise settled). */
export interface CallMonitor {
  enter(what: string): void;
  exit(): void;
}

export function withTimeout<T>(p: Promise<T> | T, ms: number, what: string): Promise<T> {
  if (!(p instanceof Promise)) return Promise.resolve(p);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Calls `f` between monitor.enter and monitor.exit (exit when its promise settles, if it returns one). */
function monitored(monitor: CallMonitor | undefined, what: string, f: () => unknown): unknown {
  if (!monitor) return f();
  monitor.enter(what);
  let r: unknown;
  try {
    r = f();
  } catch (e) {
    monitor.exit();
    throw e;
  }
  if (r instanceof Promise) return r.finally(() => monitor.exit());
  monitor.exit();
  return r;
}

/** The backend with every method call raced against a per-call time limit (results become promises). */
export function guardBackend<B extends Backend<any>>(backend: B, ms: number, monitor?: CallMonitor): B {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const what = `${target.name}.${String(prop)}()`;
        const r = monitored(monitor, what, () => (v as (...a: unknown[]) => unknown).apply(target, args));
        if (prop === "loadModel") return withTimeout(r as Promise<unknown>, ms, what).then((d) => guardDenoiser(d, ms, target.name, monitor));
        return r instanceof Promise ? withTimeout(r, ms, what) : r;
      };
    },
  });
}

/** A denoiser returned by a backend, with `evaluate` under the same time limit. */
function guardDenoiser(d: unknown, ms: number, backendName: string, monitor?: CallMonitor): unknown {
  if (!d || typeof d !== "object" || typeof (d as { evaluate?: unknown }).evaluate !== "function") return d;
  const den = d as { evaluate: (...a: unknown[]) => unknown };
  const what = `${backendName} denoiser.evaluate()`;
  return { ...den, predictionType: (d as { predictionType?: unknown }).predictionType, evaluate: (...a: unknown[]) => withTimeout(monitored(monitor, what, () => den.evaluate(...a)) as Promise<unknown>, ms, what) };
}
