/** `diffspec conformance`: run the suite against a backend and report clause by clause. */
import { parse, intOption, seedOption, TIMEOUT_MS_RANGE } from "./args.ts";
import { checkOutputFile, writeOutputs } from "./output.ts";
import { installRunGuards } from "./run-guards.ts";
import { BUILTIN_BACKENDS, backendArgOf, openBackend, type BackendSpec } from "../adapters/index.ts";
import type { Backend } from "../adapters/contract.ts";
import { loadAllProperties, runConformance, counts, exitCode, EXIT_NOTHING_CHECKED, type PropertyExecutor, type Report, type Result, type RunOptions } from "../conformance/runner.ts";
import { consoleReport, htmlReport, jsonReport, junitReport, markdownReport } from "../conformance/report.ts";
import { loadRules, type Rule } from "../conformance/rules.ts";
import { SupervisedBackend } from "../conformance/isolation/supervisor.ts";
import { UnavailableError, ConfigError, requireOneOf } from "../reference/errors.ts";
import type { Profile } from "../conformance/registry.ts";
import { portConformance } from "./conformance-port.ts";

export const DEFAULT_SEED = 20261126;
const MEMORY_RANGE = { min: 64, max: 1 << 20 };

export const CONFORMANCE_HELP = `Usage: diffspec conformance [options]

Runs the conformance suite against a backend and prints a clause-by-clause summary whose last
line is "N passed, N failed" (", N skipped" when any). The backend runs in a supervised child
process: when it exits, crashes, throws from a timer, blocks or eats memory, the property in
progress fails with what happened and the run goes on with a fresh process (adapters/README.md).

Exit code: 0 at least one property ran and none failed; 1 a property failed (a primitive the
backend lacks is "missing" and counts as failed); 2 bad arguments or input; 3 nothing was checked
(no property selected, all skipped or the backend unavailable) unless --allow-empty; 130/143 the
run was interrupted (SIGINT/SIGTERM; the summary and reports still cover what ran).

Options:
  --backend NAME     built-in backend: ${BUILTIN_BACKENDS.join(", ")} (default reference)
  --adapter PATH     your backend module (.ts .mts .cts .js .mjs .cjs) exporting \`backend\` or \`createBackend()\`
  --scheduler PATH   your scheduler port (.ts .mts .js .mjs): \`capabilities\` + one factory per diffusers class
                     (spec/14-scheduler-ports.md); runs the port clauses instead of the backend suite
  --scheduler-cmd C  a scheduler port in any language: the command C speaks the JSON-lines port protocol
                     on stdin/stdout (e.g. "python3 port.py"); restarted after a crash, hang or bad message
  --message-timeout MS  per protocol message time limit for --scheduler-cmd (default 30000)
  --profile P        quick (default) or full (more fast-check runs, larger statistical samples)
  --seed N           run seed, an integer in [0, 2^32 − 1] (default ${DEFAULT_SEED}); the same seed reproduces the run
  --clause ID        only clauses starting with ID (repeatable)
  --property NAME    only the property NAME (with --clause, replays one property)
  --path P           fast-check replay path of a counterexample (printed with each failure)
  --skips FILE       clause IDs/prefixes to skip, one per line, each with a "# reason"
  --xfails FILE      clause IDs/prefixes expected to fail, one per line, each with a "# reason"
  --json FILE        write the JSON report ("-": standard output, then the console text goes to stderr)
  --junit FILE       write a JUnit XML report ("-": standard output)
  --html FILE        write an HTML report (a .md name writes Markdown; "-": HTML on standard output)
  --call-timeout MS  per backend call time limit, an integer in [1, 2^31 − 1] (default 30000)
  --property-timeout MS  per property time limit, the same range (default 300000)
  --memory-limit MB  the backend process is stopped above this resident memory, [64, 2^20] (default 8192)
  --in-process       run the backend in this process (no isolation: an exit or a hang of the
                     backend ends the run; for debugging an adapter with breakpoints)
  --allow-empty      exit 0 rather than 3 when nothing was checked
  --list             list the selected properties and exit
  -h, --help         this help
`;

export const CONFORMANCE_OPTIONS = {
  backend: { type: "string" }, adapter: { type: "string" }, profile: { type: "string" }, seed: { type: "string" },
  clause: { type: "string", multiple: true }, property: { type: "string" }, path: { type: "string" },
  skips: { type: "string" }, xfails: { type: "string" }, json: { type: "string" }, junit: { type: "string" },
  html: { type: "string" }, "call-timeout": { type: "string" }, "property-timeout": { type: "string" },
  "memory-limit": { type: "string" }, "in-process": { type: "boolean" }, "allow-empty": { type: "boolean" }, list: { type: "boolean" },
  scheduler: { type: "string" }, "scheduler-cmd": { type: "string" }, "message-timeout": { type: "string" },
} as const;

type Values = ReturnType<typeof parse<typeof CONFORMANCE_OPTIONS>>["values"];

/** Everything a run needs, validated before anything starts (bad input is exit 2 before any work). */
export interface ConformanceSettings {
  spec: BackendSpec;
  profile: Profile;
  seed: number;
  skips: Rule[];
  xfails: Rule[];
  callTimeoutMs: number;
  propertyTimeoutMs: number;
  memoryLimitMb: number;
  inProcess: boolean;
  allowEmpty: boolean;
  outputs: { json?: string; junit?: string; html?: string };
}

export function conformanceSettings(values: Values): ConformanceSettings {
  if (values.backend && values.adapter) throw new ConfigError("--backend/--adapter", `${values.backend} / ${values.adapter}`, "one of --backend NAME or --adapter PATH, not both");
  const backend = values.backend ?? "reference";
  if (!values.adapter && !(BUILTIN_BACKENDS as readonly string[]).includes(backend)) throw new ConfigError("--backend", backend, `one of ${BUILTIN_BACKENDS.join(", ")}, or --adapter PATH`);
  const outputs = { json: values.json, junit: values.junit, html: values.html };
  checkOutputFile("--json", outputs.json);
  checkOutputFile("--junit", outputs.junit);
  checkOutputFile("--html", outputs.html);
  const toStdout = Object.values(outputs).filter((v) => v === "-").length;
  if (toStdout > 1) throw new ConfigError("--json/--junit/--html", "-", "standard output for at most one report");
  return {
    spec: values.adapter ? { kind: "adapter", path: values.adapter } : { kind: "builtin", name: backend },
    profile: requireOneOf("--profile", values.profile ?? "quick", ["quick", "full"] as const) as Profile,
    seed: seedOption("seed", values.seed, DEFAULT_SEED),
    skips: values.skips ? loadRules(values.skips) : [],
    xfails: values.xfails ? loadRules(values.xfails) : [],
    callTimeoutMs: intOption("call-timeout", values["call-timeout"], 30_000, TIMEOUT_MS_RANGE),
    propertyTimeoutMs: intOption("property-timeout", values["property-timeout"], 300_000, TIMEOUT_MS_RANGE),
    memoryLimitMb: intOption("memory-limit", values["memory-limit"], 8192, MEMORY_RANGE),
    inProcess: values["in-process"] ?? false,
    allowEmpty: values["allow-empty"] ?? false,
    outputs,
  };
}

/** The backend for a run: a supervised child (default) or, with --in-process, the backend object itself. */
async function openForRun(s: ConformanceSettings): Promise<{ backend: RunOptions["backend"]; close: () => Promise<void> }> {
  try {
    if (s.inProcess) {
      const b: Backend<any> = await openBackend(s.spec);
      return { backend: b, close: async () => { if (typeof b.close === "function") await b.close(); } };
    }
    const sup = new SupervisedBackend(s.spec, { memoryLimitMb: s.memoryLimitMb });
    await sup.start();
    return { backend: sup as PropertyExecutor, close: () => sup.close() };
  } catch (e) {
    if (!(e instanceof UnavailableError)) throw e;
    process.stderr.write(`backend ${e.backend} unavailable: ${e.reason}\n`);
    return { backend: { unavailable: e.reason, name: e.backend }, close: async () => {} };
  }
}

export async function conformanceCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, CONFORMANCE_OPTIONS, "conformance");
  if (values.help) { process.stdout.write(CONFORMANCE_HELP); return 0; }
  const routes = [values.backend && "--backend", values.adapter && "--adapter", values.scheduler && "--scheduler", values["scheduler-cmd"] && "--scheduler-cmd"].filter(Boolean);
  if (routes.length > 1) throw new ConfigError(routes.join("/"), routes.join(" and "), "one of --backend, --adapter, --scheduler, --scheduler-cmd");
  if (values.scheduler || values["scheduler-cmd"]) {
    for (const o of ["json", "junit", "html"] as const) checkOutputFile(`--${o}`, values[o]);
    const tty = process.stderr.isTTY;
    const profile = requireOneOf("--profile", values.profile ?? "quick", ["quick", "full"] as const) as Profile;
    const code = await portConformance(values, profile, seedOption("seed", values.seed, DEFAULT_SEED), tty ? progress : undefined);
    if (tty) process.stderr.write("\r\x1b[K");
    return code;
  }
  const s = conformanceSettings(values);
  if (values.list) {
    for (const p of await loadAllProperties()) process.stdout.write(`${p.clause} ${p.name}  [${p.scope}, ${p.kind}${p.needs?.length ? `, needs ${p.needs.join(" ")}` : ""}]\n`);
    return 0;
  }
  const tty = process.stderr.isTTY;
  const partial: Result[] = [];
  const started = Date.now();
  let backend: RunOptions["backend"] | undefined;
  // Installed first: a signal while the backend opens still ends with a summary. If this process ends before
  // the run returns (an in-process backend calling process.exit, an uncaught error), what ran is still reported.
  const guards = installRunGuards({ onEarlyExit: (why) => finish(s, { ...reportSkeleton(s, backend, started), results: partial, interrupted: why }) });
  let report: Report;
  try {
    // The backend's process starts while this one loads the properties (two processes, two cores).
    const [opened, all] = await Promise.all([openForRun(s), loadAllProperties()]);
    backend = opened.backend;
    try {
      report = await runConformance(all, {
        backend, backendArg: backendArgOf(s.spec), seed: s.seed, profile: s.profile, skips: s.skips, xfails: s.xfails,
        clauses: values.clause, property: values.property, path: values.path,
        callTimeoutMs: s.callTimeoutMs, propertyTimeoutMs: s.propertyTimeoutMs, signal: guards.signal,
        onResult: (r, done, total) => { partial.push(r); if (tty) progress(r, done, total); },
      });
    } finally {
      if (tty) process.stderr.write("\r\x1b[K");
      await opened.close();
    }
  } finally {
    guards.done();
  }
  return finish(s, report);
}

/** Writes the reports, prints the console report (its last line the summary) and returns the exit code. */
function finish(s: ConformanceSettings, report: Report): number {
  const failedWrites = writeOutputs([
    { path: s.outputs.json, content: () => jsonReport(report) },
    { path: s.outputs.junit, content: () => junitReport(report) },
    { path: s.outputs.html, content: () => (s.outputs.html!.endsWith(".md") ? markdownReport(report) : htmlReport(report)) },
  ]);
  for (const f of failedWrites) process.stderr.write(`diffspec conformance: report not written: ${f}\n`);
  const text = consoleReport(report) + "\n";
  // With a report on standard output, the console text goes to stderr (stdout stays one parseable document).
  (Object.values(s.outputs).includes("-") ? process.stderr : process.stdout).write(text);
  if (failedWrites.length) return 2;
  const code = exitCode(counts(report.results), { allowEmpty: s.allowEmpty, interrupted: report.interrupted });
  if (code === EXIT_NOTHING_CHECKED) process.stderr.write(`diffspec conformance: nothing was checked (${report.results.length ? "every selected property was skipped" : "no property matches the selection"}); exit ${EXIT_NOTHING_CHECKED}, or pass --allow-empty to accept that\n`);
  return code;
}

function reportSkeleton(s: ConformanceSettings, b: RunOptions["backend"] | undefined, started: number): Report {
  return {
    backend: b?.name ?? (s.spec.kind === "adapter" ? s.spec.path : s.spec.name), detail: b && "detail" in b && typeof b.detail === "string" ? b.detail : undefined,
    seed: s.seed, profile: s.profile, date: new Date().toISOString(), results: [], warnings: [], wallMs: Date.now() - started,
    unavailable: b && "unavailable" in b ? b.unavailable : undefined,
  };
}

function progress(r: Result, done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r\x1b[K[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${r.clause} ${r.property}`.slice(0, process.stderr.columns ?? 120));
}

