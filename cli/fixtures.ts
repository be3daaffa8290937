/** `diffspec fixtures verify DIR...`: golden vectors from diffusers and k-diffusion. */
import { parse } from "./args.ts";
import { verifyFixtures } from "../conformance/fixtures/verify.ts";
import { summaryLine } from "../conformance/runner.ts";
import { writeFileAtomic } from "../conformance/report.ts";
import { ConfigError } from "../reference/errors.ts";

export const FIXTURES_HELP = `Usage: diffspec fixtures verify [--json FILE] DIR|FILE...

Checks every golden-vector file (format: fixtures/diffusers/README.md) under the given folders
against the reference (schedulers in compat "diffusers" mode), one line per file, then
"N passed, N failed" (", N skipped" when any). Exit code 1 when any file fails.
`;

export async function fixturesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: "string" } }, "fixtures", true);
  if (values.help || positionals.length === 0) { process.stdout.write(FIXTURES_HELP); return values.help ? 0 : 2; }
  const [verb, ...paths] = positionals;
  if (verb !== "verify") throw new ConfigError("diffspec fixtures subcommand", verb, '"verify"');
  if (paths.length === 0) throw new ConfigError("diffspec fixtures verify", "(no paths)", "one or more fixture folders or files");
  const started = Date.now();
  const results = await verifyFixtures(paths);
  for (const r of results) {
    const err = r.maxError !== undefined ? `  max err ${r.maxError.toExponential(2)}` : "";
    process.stdout.write(`${r.status.padEnd(7)} ${r.id}${err}${r.message ? `  — ${r.message}` : ""}\n`);
  }
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const r of results) c[r.status]++;
  if (values.json) writeFileAtomic(values.json, JSON.stringify({ date: new Date().toISOString(), wallMs: Date.now() - started, results }, null, 2) + "\n");
  process.stdout.write(`${results.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s\n${summaryLine(c)}\n`);
  return c.failed > 0 ? 1 : 0;
}
