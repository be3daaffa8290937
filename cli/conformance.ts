/** `diffspec conformance`: run the suite against a backend and report clause by clause. */
import { parse, intOption } from "./args.ts";
import { BUILTIN_BACKENDS, createBackend, loadAdapter } from "../adapters/index.ts";
import { loadAllProperties, runConformance, counts, type Result } from "../conformance/runner.ts";
import { consoleReport, htmlReport, jsonReport, junitReport, markdownReport, writeFileAtomic } from "../conformance/report.ts";
import { loadRules } from "../conformance/rules.ts";
import { UnavailableError, ConfigError } from "../reference/errors.ts";
import { requireOneOf } from "../reference/errors.ts";
import type { Profile } from "../conformance/registry.ts";
import { portConformance } from "./conformance-port.ts";

export const CONFORMANCE_HELP = `Usage: diffspec conformance [options]

Runs the conformance suite against a backend and prints a clause-by-clause summary whose last
line is "N passed, N failed" (", N skipped" when any). Exit code 0 only when nothing failed
(a primitive the backend lacks is reported "missing" and counts as failed).

Options:
  --backend NAME     built-in backend: ${BUILTIN_BACKENDS.join(", ")} (default reference)
  --adapter PATH     your backend module (.ts .mts .cts .js .mjs .cjs) exporting \`backend\` or \`createBackend()\`
  --scheduler PATH   your scheduler port (.ts .mts .js .mjs): \`capabilities\` + one factory per diffusers class
                     (spec/14-scheduler-ports.md); runs the port clauses instead of the backend suite
  --scheduler-cmd C  a scheduler port in any language: the command C speaks the JSON-lines port protocol
                     on stdin/stdout (e.g. "python3 port.py"); restarted after a crash, hang or bad message
  --message-timeout MS  per protocol message time limit for --scheduler-cmd (default 30000)
  --profile P        quick (default) or full (more fast-check runs, larger statistical samples)
  --seed N           run seed (default 20261126); the same seed reproduces the run
  --clause ID        only clauses starting with ID (repeatable)
  --property NAME    only the property NAME (with --clause, replays one property)
  --path P           fast-check replay path of a counterexample (printed with each failure)
  --skips FILE       clause IDs/prefixes to skip, one per line, each with a "# reason"
  --xfails FILE      clause IDs/prefixes expected to fail, one per line, each with a "# reason"
  --json FILE        write the JSON report
  --junit FILE       write a JUnit XML report
  --html FILE        write an HTML report (a .md name writes Markdown)
  --call-timeout MS  per backend call time limit (default 30000)
  --list             list the selected properties and exit
  -h, --help         this help
`;

export async function conformanceCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    backend: { type: "string" }, adapter: { type: "string" }, profile: { type: "string" }, seed: { type: "string" },
    clause: { type: "string", multiple: true }, property: { type: "string" }, path: { type: "string" },
    skips: { type: "string" }, xfails: { type: "string" }, json: { type: "string" }, junit: { type: "string" },
    html: { type: "string" }, "call-timeout": { type: "string" }, list: { type: "boolean" },
    scheduler: { type: "string" }, "scheduler-cmd": { type: "string" }, "message-timeout": { type: "string" },
  }, "conformance");
  if (values.help) { process.stdout.write(CONFORMANCE_HELP); return 0; }
  const routes = [values.backend && "--backend", values.adapter && "--adapter", values.scheduler && "--scheduler", values["scheduler-cmd"] && "--scheduler-cmd"].filter(Boolean);
  if (routes.length > 1) throw new ConfigError(routes.join("/"), routes.join(" and "), "one of --backend, --adapter, --scheduler, --scheduler-cmd");
  if (values.scheduler || values["scheduler-cmd"]) {
    const tty = process.stderr.isTTY;
    const code = await portConformance(values, requireOneOf("--profile", values.profile ?? "quick", ["quick", "full"] as const) as Profile, intOption("seed", values.seed, 20261126), tty ? progress : undefined);
    if (tty) process.stderr.write("\r\x1b[K");
    return code;
  }
  if (values.backend && values.adapter) throw new ConfigError("--backend/--adapter", `${values.backend} / ${values.adapter}`, "one of --backend NAME or --adapter PATH, not both");
  const profile = requireOneOf("--profile", values.profile ?? "quick", ["quick", "full"] as const) as Profile;
  const seed = intOption("seed", values.seed, 20261126);
  const skips = values.skips ? loadRules(values.skips) : [];
  const xfails = values.xfails ? loadRules(values.xfails) : [];
  const backendArg = values.adapter ? `--adapter ${values.adapter}` : `--backend ${values.backend ?? "reference"}`;

  let backend: Awaited<ReturnType<typeof createBackend>> | { unavailable: string; name: string };
  try {
    backend = values.adapter ? await loadAdapter(values.adapter) : await createBackend(values.backend ?? "reference");
  } catch (e) {
    if (!(e instanceof UnavailableError)) throw e;
    backend = { unavailable: e.reason, name: e.backend };
    process.stderr.write(`backend ${e.backend} unavailable: ${e.reason}\n`);
  }
  const all = await loadAllProperties();
  if (values.list) {
    for (const p of all) process.stdout.write(`${p.clause} ${p.name}  [${p.scope}, ${p.kind}${p.needs?.length ? `, needs ${p.needs.join(" ")}` : ""}]\n`);
    return 0;
  }
  const tty = process.stderr.isTTY;
  const report = await runConformance(all, {
    backend, backendArg, seed, profile, skips, xfails,
    clauses: values.clause, property: values.property, path: values.path,
    callTimeoutMs: intOption("call-timeout", values["call-timeout"], 30_000),
    onResult: tty ? progress : undefined,
  });
  if (tty) process.stderr.write("\r\x1b[K");
  if ("close" in backend && typeof backend.close === "function") await backend.close();
  if (values.json) writeFileAtomic(values.json, jsonReport(report));
  if (values.junit) writeFileAtomic(values.junit, junitReport(report));
  if (values.html) writeFileAtomic(values.html, values.html.endsWith(".md") ? markdownReport(report) : htmlReport(report));
  process.stdout.write(consoleReport(report) + "\n");
  return counts(report.results).failed > 0 ? 1 : 0;
}

function progress(r: Result, done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r\x1b[K[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${r.clause} ${r.property}`.slice(0, process.stderr.columns ?? 120));
}
