/** `diffspec conformance --scheduler PATH | --scheduler-cmd CMD`: the port clauses against a scheduler port. */
import { intOption } from "./args.ts";
import { counts, type Result } from "../conformance/runner.ts";
import { consoleReport, htmlReport, jsonReport, junitReport, markdownReport, writeFileAtomic } from "../conformance/report.ts";
import { loadRules } from "../conformance/rules.ts";
import type { Profile } from "../conformance/registry.ts";
import { loadSchedulerPort } from "../conformance/ports/module.ts";
import { startProcessPort } from "../conformance/ports/process.ts";
import { portProperties } from "../conformance/ports/properties.ts";
import { runPortConformance } from "../conformance/ports/runner.ts";

export interface PortCommandValues {
  scheduler?: string;
  "scheduler-cmd"?: string;
  "message-timeout"?: string;
  clause?: string[];
  property?: string;
  path?: string;
  skips?: string;
  xfails?: string;
  json?: string;
  junit?: string;
  html?: string;
  list?: boolean;
}

/**
 * Exit codes: 0 when at least one property passed and none failed, 1 when one failed, 3 when nothing was
 * checked (every selected property skipped: a port whose declaration puts every clause out of reach must
 * not pass), unless `allowEmpty`.
 */
export async function portConformance(values: PortCommandValues, profile: Profile, seed: number, onResult?: (r: Result, done: number, total: number) => void): Promise<number> {
  const driver = values.scheduler
    ? await loadSchedulerPort(values.scheduler)
    : await startProcessPort(values["scheduler-cmd"]!, { messageTimeoutMs: intOption("message-timeout", values["message-timeout"], 30_000) });
  try {
    if (values.list) {
      for (const p of portProperties(driver.info.capabilities)) process.stdout.write(`${p.clause} ${p.name}  [${p.kind}${p.skip ? `, skipped: ${p.skip}` : ""}]\n`);
      return 0;
    }
    const report = await runPortConformance(driver, {
      seed, profile, clauses: values.clause, property: values.property, path: values.path,
      skips: values.skips ? loadRules(values.skips) : [], xfails: values.xfails ? loadRules(values.xfails) : [], onResult,
    });
    if (values.json) writeFileAtomic(values.json, jsonReport(report));
    if (values.junit) writeFileAtomic(values.junit, junitReport(report));
    if (values.html) writeFileAtomic(values.html, values.html.endsWith(".md") ? markdownReport(report) : htmlReport(report));
    process.stdout.write(consoleReport(report) + "\n");
    const c = counts(report.results);
    return c.failed > 0 ? 1 : c.passed === 0 ? 3 : 0;
  } finally {
    await driver.close();
  }
}
