/**
 * Keeps a check command's promise — the summary line is printed and the reports are written — when the
 * run is cut short: SIGINT/SIGTERM (the run stops after the property in progress, which a supervised
 * backend gives up at once; a second signal ends the process), and, for a backend run in this process,
 * process.exit or an uncaught error from it (the report of what ran is written from the exit handler).
 */

export interface RunGuards {
  /** Aborted by the first SIGINT/SIGTERM; its reason is the signal's name. */
  readonly signal: AbortSignal;
  /** The run returned normally: remove the handlers. */
  done(): void;
}

export function installRunGuards(o: {
  /** Writes what ran and returns the exit code; called once when the process ends before done(). */
  onEarlyExit: (why: string) => number;
}): RunGuards {
  const controller = new AbortController();
  let finished = false;
  const early = (why: string): number => {
    finished = true;
    return o.onEarlyExit(why);
  };
  const onSig = (sig: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      controller.abort(sig); // a supervised backend is stopped at once (conformance/isolation/supervisor.ts)
      return;
    }
    process.exit(early(sig)); // a second signal: the property in progress does not stop (in-process backend)
  };
  const onExit = (code: number): void => {
    if (!finished) process.exitCode = early(`the process exited with code ${code} before the run finished (the backend called process.exit?)`);
  };
  const onError = (e: unknown): void => {
    process.exit(early(`uncaught error: ${(e as Error)?.name ?? "Error"}: ${(e as Error)?.message ?? String(e)}`));
  };
  process.on("SIGINT", onSig);
  process.on("SIGTERM", onSig);
  process.on("exit", onExit);
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
  return {
    signal: controller.signal,
    done() {
      finished = true;
      process.off("SIGINT", onSig);
      process.off("SIGTERM", onSig);
      process.off("exit", onExit);
      process.off("uncaughtException", onError);
      process.off("unhandledRejection", onError);
    },
  };
}
