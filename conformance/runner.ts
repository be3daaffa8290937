/**
 * The conformance runner: loads every property module, runs each property against a backend,
 * and never lets one failing, throwing or hanging backend call abort the run.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Backend } from "../adapters/contract.ts";
import { MissingPrimitiveError, TimeoutError } from "../reference/errors.ts";
import { PropertyFailure } from "./check.ts";
import { NUM_RUNS } from "./profiles.ts";
import type { Profile, PropertyDef } from "./registry.ts";
import { findRule, type Rule } from "./rules.ts";
import { guardBackend, withTimeout, type CallMonitor } from "./timeout.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import type { PortInfo } from "./ports/driver.ts";

export type Status = "passed" | "failed" | "skipped" | "xfail" | "missing";

export interface Result {
  clause: string;
  property: string;
  status: Status;
  message?: string;
  seed?: number;
  path?: string;
  /** A command that replays exactly this property (and counterexample, when there is one). */
  replay?: string;
  durationMs: number;
}

export interface Report {
  backend: string;
  /** What the backend runs on (its `detail`: library version, device or GPU adapter), when it says. */
  detail?: string;
  seed: number;
  profile: Profile;
  date: string;
  /** Set when the backend could not be created on this machine. */
  unavailable?: string;
  /** A scheduler-port run (`--scheduler` / `--scheduler-cmd`): the port, its declaration, the protocol version. */
  port?: PortInfo;
  results: Result[];
  /** Warnings: rules that matched nothing, clauses not run, … */
  warnings: string[];
  wallMs: number;
  /** Set when the run was cut short (e.g. "SIGINT"): the properties after the last result did not run. */
  interrupted?: string;
  /** Selected properties that did not run because the run was cut short. */
  notRun?: number;
}

/** What running one property gives (the runner adds clause, property and duration). */
export type PropertyOutcome = Omit<Result, "durationMs" | "clause" | "property">;

/**
 * Runs properties against a backend held elsewhere (conformance/isolation/: a supervised process).
 * `execute` never throws for a failing property: a crash, an exit or a hang of the backend is a failed outcome.
 */
export interface PropertyExecutor {
  readonly name: string;
  readonly detail?: string;
  readonly isReference: boolean;
  execute(p: PropertyDef, o: RunOptions): Promise<PropertyOutcome>;
}

/** What a conformance run selects and how it reports, against a backend (RunOptions) or a port (ports/runner.ts). */
export interface RunSelection {
  seed: number;
  profile: Profile;
  /** Only clauses starting with one of these prefixes (empty: all). */
  clauses?: readonly string[];
  /** Only the property with this name. */
  property?: string;
  /** fast-check replay path. */
  path?: string;
  skips?: readonly Rule[];
  xfails?: readonly Rule[];
  /** Per property time limit (ms). */
  propertyTimeoutMs?: number;
  onResult?: (r: Result, done: number, total: number) => void;
}

export interface RunOptions extends RunSelection {
  /** The backend (run in this process), an executor holding it elsewhere, or "unavailable" with the reason. */
  backend: Backend<any> | PropertyExecutor | { unavailable: string; name: string };
  /** How the backend was chosen, for replay commands: `--backend NAME` or `--adapter PATH`. */
  backendArg: string;
  /** Per backend call time limit (ms). */
  callTimeoutMs?: number;
  /** Aborting it ends the run after the property in progress (whose executor may stop it at once). */
  signal?: AbortSignalLike;
}

/** The part of an AbortSignal the runner uses (structural: the public types need no DOM or Node typings). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Every property of every module in conformance/properties/ (sorted by clause, then name). */
export async function loadAllProperties(dir = join(here, "properties")): Promise<PropertyDef[]> {
  const files = readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith(".d.ts")).sort();
  const all: PropertyDef[] = [];
  for (const f of files) {
    try {
      const mod = (await import(join(dir, f))) as { properties?: PropertyDef[] };
      if (Array.isArray(mod.properties)) for (const p of mod.properties) { all.push(p); moduleOf.set(p, join(dir, f)); }
    } catch (e) {
      // A module that does not load fails as one pseudo-property; the rest of the suite still runs.
      const message = `property module ${f} did not load: ${(e as Error).message}`;
      all.push({ clause: "SUITE-LOAD", name: f.replace(/\.(ts|js)$/, ""), scope: "backend", kind: "example", run: () => { throw new Error(message); } });
    }
  }
  return all.sort((a, b) => a.clause.localeCompare(b.clause) || a.name.localeCompare(b.name));
}

const moduleOf = new WeakMap<PropertyDef, string>();
/** The file a property was loaded from (a supervised process loads only the modules it runs). */
export const propertyModule = (p: PropertyDef): string | undefined => moduleOf.get(p);

/** Whether a run's `--clause` prefixes and `--property` name select this property (backend and port runs alike). */
export function selectedByName(p: { clause: string; name: string }, o: Pick<RunSelection, "clauses" | "property">): boolean {
  return (!o.clauses?.length || o.clauses.some((c) => p.clause.startsWith(c))) && (!o.property || p.name === o.property);
}

/** One warning for each skips or xfails rule that matches none of `all`. */
export function unmatchedRuleWarnings(all: readonly { clause: string; name: string }[], o: Pick<RunSelection, "skips" | "xfails">): string[] {
  const warnings: string[] = [];
  for (const [kind, rules] of [["skips", o.skips ?? []], ["xfails", o.xfails ?? []]] as const) {
    for (const r of rules) if (!all.some((p) => findRule([r], p.clause, p.name))) warnings.push(`${kind} ${r.file}:${r.line}: "${r.pattern}" matches no property`);
  }
  return warnings;
}

/** The properties a run selects (clause prefixes, property name, profile, scope). */
export function selectProperties(all: readonly PropertyDef[], o: Pick<RunOptions, "clauses" | "property" | "profile">, isReference: boolean): PropertyDef[] {
  return all.filter(
    (p) =>
      selectedByName(p, o) &&
      (!p.profiles || p.profiles.includes(o.profile)) &&
      (isReference || p.scope === "backend"),
  );
}

export function replayCommand(o: Pick<RunOptions, "backendArg" | "profile">, p: PropertyDef, seed: number, path?: string): string {
  const parts = ["npx diffspec conformance", o.backendArg, `--profile ${o.profile}`, `--clause ${p.clause}`, `--property ${p.name}`, `--seed ${seed}`];
  if (path) parts.push(`--path ${path}`);
  return parts.join(" ");
}

/** Runs one property against a backend in this process (the supervised process calls it too, with its watchdog's monitor). */
export async function runOne(p: PropertyDef, backend: Backend<any>, o: Omit<RunOptions, "backend">, monitor?: CallMonitor): Promise<PropertyOutcome> {
  const missing = (p.needs ?? []).filter((n) => typeof (backend as unknown as Record<string, unknown>)[n] !== "function");
  if (missing.length) return { status: "missing", message: `backend "${backend.name}" lacks ${missing.join(", ")}` };
  const guarded = p.scope === "spec" ? backend : guardBackend(backend, o.callTimeoutMs ?? 30_000, monitor);
  try {
    await withTimeout(
      Promise.resolve().then(() => p.run({ backend: guarded, seed: o.seed, path: o.path, profile: o.profile, numRuns: NUM_RUNS[o.profile] })),
      o.propertyTimeoutMs ?? 300_000,
      `property ${p.clause} ${p.name}`,
    );
    return { status: "passed" };
  } catch (e) {
    if (e instanceof MissingPrimitiveError) return { status: "missing", message: e.message };
    const inner = (e as { cause?: unknown }).cause;
    if (inner instanceof MissingPrimitiveError) return { status: "missing", message: inner.message };
    if (e instanceof PropertyFailure) {
      const seed = (e.seed ?? o.seed) >>> 0; // fast-check reports a seed ≥ 2³¹ as its signed alias; --seed takes [0, 2³² − 1]
      return { status: "failed", message: e.message, seed, path: e.path, replay: replayCommand(o, p, seed, e.path) };
    }
    const msg = e instanceof TimeoutError ? e.message : `${(e as Error)?.name ?? "Error"}: ${(e as Error)?.message ?? String(e)}`;
    return { status: "failed", message: msg, seed: o.seed, replay: replayCommand(o, p, o.seed) };
  }
}

export async function runConformance(all: readonly PropertyDef[], o: RunOptions): Promise<Report> {
  const started = Date.now();
  const warnings: string[] = [];
  const b = o.backend;
  const unavailable = "unavailable" in b ? b.unavailable : undefined;
  const executor = "execute" in b ? (b as PropertyExecutor) : undefined;
  const isReference = !unavailable && (executor ? executor.isReference : (b as Backend<any>).name === "reference");
  const selected = selectProperties(all, o, isReference);
  if (!isReference) {
    const specOnly = all.filter((p) => p.scope === "spec").length;
    warnings.push(`${specOnly} spec-scope properties check the reference mathematics itself and are run only with --backend reference`);
  }
  warnings.push(...unmatchedRuleWarnings(all, o));
  const results: Result[] = [];
  for (const p of selected) {
    if (o.signal?.aborted) break;
    const t0 = Date.now();
    const skip = findRule(o.skips ?? [], p.clause, p.name);
    let r: Omit<Result, "durationMs" | "clause" | "property">;
    if (unavailable) r = { status: "skipped", message: `unavailable: ${unavailable}` };
    else if (skip) r = { status: "skipped", message: `skips file: ${skip.reason}` };
    else {
      r = executor ? await executor.execute(p, o) : await runOne(p, b as Backend<any>, o);
      if (o.signal?.aborted && r.status !== "passed") break; // cut short: the property in progress did not finish
      const xf = findRule(o.xfails ?? [], p.clause, p.name);
      if (xf && r.status === "failed") r = { ...r, status: "xfail", message: `expected failure (${xf.reason}): ${r.message}` };
      else if (xf && r.status === "passed") warnings.push(`${p.clause} ${p.name} is listed in xfails (${xf.file}:${xf.line}) but passed: remove it`);
    }
    const res: Result = { clause: p.clause, property: p.name, ...r, durationMs: Date.now() - t0 };
    results.push(res);
    o.onResult?.(res, results.length, selected.length);
  }
  return {
    backend: b.name,
    detail: "detail" in b && typeof b.detail === "string" ? b.detail : undefined,
    seed: o.seed,
    profile: o.profile,
    date: new Date().toISOString(),
    unavailable,
    results,
    warnings,
    wallMs: Date.now() - started,
    ...(o.signal?.aborted ? { interrupted: String(o.signal.reason ?? "aborted"), notRun: selected.length - results.length } : {}),
  };
}

/**
 * The exit code of a check command (README "Exit codes"): 1 when a check failed, 3 when nothing was
 * checked (no property passed or failed: an empty selection, everything skipped or unavailable) unless
 * `allowEmpty`, else 0. A run interrupted by a signal exits 128 + its number (130 for SIGINT, 143 for
 * SIGTERM); one cut short by the backend itself (in-process: process.exit, an uncaught error) exits 1.
 */
export function exitCode(c: { passed: number; failed: number }, o: { allowEmpty?: boolean; interrupted?: string } = {}): number {
  if (o.interrupted && SIGNAL_NUMBERS[o.interrupted]) return 128 + SIGNAL_NUMBERS[o.interrupted];
  if (o.interrupted) return 1; // cut short by the backend (in-process exit or uncaught error): a failure
  if (c.failed > 0) return 1;
  if (c.passed === 0 && !o.allowEmpty) return EXIT_NOTHING_CHECKED;
  return 0;
}
export const EXIT_NOTHING_CHECKED = 3;
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** The summary counts: failed includes missing; skipped includes xfail. */
export function counts(results: readonly Result[]): { passed: number; failed: number; skipped: number; missing: number; xfail: number } {
  const n = (s: Status) => results.filter((r) => r.status === s).length;
  return { passed: n("passed"), failed: n("failed") + n("missing"), skipped: n("skipped") + n("xfail"), missing: n("missing"), xfail: n("xfail") };
}

/** The last line of every run: exactly "N passed, N failed" (+ ", N skipped" when any). */
export function summaryLine(c: { passed: number; failed: number; skipped: number }): string {
  return `${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ""}`;
}

export const isReferenceBackend = (b: Backend<any>): boolean => b === referenceBackend || b.name === "reference";
