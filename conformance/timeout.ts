/**
 * A backend under test may throw, return garbage or hang. Every call into it goes through this
 * wrapper, so a hung call becomes a TimeoutError for that clause and the run goes on.
 */
import type { Backend } from "../adapters/contract.ts";
import { TimeoutError } from "../reference/errors.ts";

export function withTimeout<T>(p: Promise<T> | T, ms: number, what: string): Promise<T> {
  if (!(p instanceof Promise)) return Promise.resolve(p);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** The backend with every method call raced against a per-call time limit (results become promises). */
export function guardBackend<B extends Backend<any>>(backend: B, ms: number): B {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const what = `${target.name}.${String(prop)}()`;
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (prop === "loadModel") return withTimeout(r as Promise<unknown>, ms, what).then((d) => guardDenoiser(d, ms, target.name));
        return r instanceof Promise ? withTimeout(r, ms, what) : r;
      };
    },
  });
}

/** A denoiser returned by a backend, with `evaluate` under the same time limit. */
function guardDenoiser(d: unknown, ms: number, backendName: string): unknown {
  if (!d || typeof d !== "object" || typeof (d as { evaluate?: unknown }).evaluate !== "function") return d;
  const den = d as { evaluate: (...a: unknown[]) => unknown };
  return { ...den, predictionType: (d as { predictionType?: unknown }).predictionType, evaluate: (...a: unknown[]) => withTimeout(den.evaluate(...a) as Promise<unknown>, ms, `${backendName} denoiser.evaluate()`) };
}
