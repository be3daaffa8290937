/**
 * Runs the port clauses (properties.ts) against a port driver and produces the same Report as a backend
 * run, plus what the report must say about the port: its name, how it was given, the protocol version
 * and the declared capabilities. One failing, throwing, crashing or hanging port call fails only the
 * property in progress; the driver recovers (restarts a process port) before the next.
 */
import { PropertyFailure } from "../check.ts";
import { NUM_RUNS } from "../profiles.ts";
import type { Profile } from "../registry.ts";
import { findRule } from "../rules.ts";
import { withTimeout } from "../timeout.ts";
import { selectedByName, unmatchedRuleWarnings, type Report, type Result, type RunSelection } from "../runner.ts";
import type { PortDriver } from "./driver.ts";
import { portProperties, type PortProperty } from "./properties.ts";

/** A port run's options: the backend run's selection (`propertyTimeoutMs` is per property; per message limits are the driver's). */
export interface PortRunOptions extends RunSelection {
  /** Stop after the first failed property (the rest are not run and not reported). */
  stopAtFirstFailure?: boolean;
}

export function selectPortProperties(all: readonly PortProperty[], o: Pick<PortRunOptions, "clauses" | "property">): PortProperty[] {
  return all.filter((p) => selectedByName(p, o));
}

export function portReplayCommand(driver: PortDriver, o: Pick<PortRunOptions, "profile">, p: PortProperty, seed: number, path?: string): string {
  const src = driver.info.source.startsWith("--scheduler-cmd ") ? `--scheduler-cmd ${JSON.stringify(driver.info.source.slice("--scheduler-cmd ".length))}` : driver.info.source;
  return ["npx diffspec conformance", src, `--profile ${o.profile}`, `--clause ${p.clause}`, `--property ${p.name}`, `--seed ${seed}`, ...(path ? [`--path ${path}`] : [])].join(" ");
}

async function runOne(p: PortProperty, driver: PortDriver, o: PortRunOptions): Promise<Omit<Result, "durationMs" | "clause" | "property">> {
  if (p.skip) return { status: "skipped", message: `outside the declared capabilities: ${p.skip}` };
  try {
    await driver.recover();
    await withTimeout(p.run({ driver, seed: o.seed, path: o.path, profile: o.profile, numRuns: PORT_NUM_RUNS[o.profile] }), o.propertyTimeoutMs ?? 300_000, `property ${p.clause} ${p.name}`);
    return { status: "passed" };
  } catch (e) {
    if (e instanceof PropertyFailure) {
      const seed = e.seed ?? o.seed;
      return { status: "failed", message: e.message, seed, path: e.path, replay: portReplayCommand(driver, o, p, seed, e.path) };
    }
    return { status: "failed", message: `${(e as Error)?.name ?? "Error"}: ${(e as Error)?.message ?? String(e)}`, seed: o.seed, replay: portReplayCommand(driver, o, p, o.seed) };
  }
}

/** fast-check runs per port property: a port property drives whole schedules, so fewer than a primitive's. */
export const PORT_NUM_RUNS: Record<Profile, number> = { quick: Math.ceil(NUM_RUNS.quick / 2), full: NUM_RUNS.full };

export async function runPortConformance(driver: PortDriver, o: PortRunOptions): Promise<Report> {
  const started = Date.now();
  const all = portProperties(driver.info.capabilities);
  const selected = selectPortProperties(all, o);
  const warnings = unmatchedRuleWarnings(all, o);
  const results: Result[] = [];
  for (const p of selected) {
    const t0 = Date.now();
    const skip = findRule(o.skips ?? [], p.clause, p.name);
    let r = skip ? { status: "skipped" as const, message: `skips file: ${skip.reason}` } : await runOne(p, driver, o);
    const xf = findRule(o.xfails ?? [], p.clause, p.name);
    if (xf && r.status === "failed") r = { ...r, status: "xfail", message: `expected failure (${xf.reason}): ${r.message}` } as typeof r;
    else if (xf && r.status === "passed") warnings.push(`${p.clause} ${p.name} is listed in xfails (${xf.file}:${xf.line}) but passed: remove it`);
    const res: Result = { clause: p.clause, property: p.name, ...r, durationMs: Date.now() - t0 };
    results.push(res);
    o.onResult?.(res, results.length, selected.length);
    if (o.stopAtFirstFailure && res.status === "failed") break;
  }
  const { name, source, protocolVersion, capabilities } = driver.info;
  return {
    backend: `port ${name}`,
    detail: `${source}, protocol ${protocolVersion}, ${capabilities.dtype}, compat ${capabilities.compat}`,
    port: { name, source, protocolVersion, capabilities },
    seed: o.seed,
    profile: o.profile,
    date: new Date().toISOString(),
    results,
    warnings,
    wallMs: Date.now() - started,
  };
}
