/** `diffspec fixtures verify|mutate DIR...`: golden vectors from diffusers and k-diffusion. */
import { parse } from "./args.ts";
import { findFixtureFiles, verifyFixtureFile, type FixtureResult } from "../conformance/fixtures/verify.ts";
import { mutationCheck } from "../conformance/fixtures/mutation.ts";
import { summaryLine } from "../conformance/runner.ts";
import { writeFileAtomic } from "../conformance/report.ts";
import { ConfigError } from "../reference/errors.ts";

export const FIXTURES_HELP = `Usage: diffspec fixtures verify [--json FILE] [--allow-empty] DIR|FILE...
       diffspec fixtures mutate DIR|FILE...

verify: checks every golden-vector file (*.json; format: fixtures/diffusers/README.md, schema:
conformance/fixtures/schema.ts) under the given folders against the reference (schedulers in compat
"diffusers" mode), every array at its exact length; one line per file, then "N passed, N failed"
(", N skipped" when any).
mutate: for every array of every file, verifies four mutants (emptied, one element, truncated by one,
one value nudged past its bound) and lists any that does not fail (fixtures/README.md, "Strictness").

Exit codes: 0 = at least one file passed and none failed; 1 = a file failed (a value, a length, an
unchecked array; mutate: a mutant survived); 2 = bad input (a missing path, a link loop, a file that is
not a fixture, a file that breaks the schema or its bounds; each named with the field); 3 = nothing
was checked (no fixture files, or every file skipped) unless --allow-empty.
`;

/** Decision 1's exit code for a list of results. */
export function fixturesExitCode(results: readonly FixtureResult[], allowEmpty: boolean): number {
  if (results.some((r) => r.invalid)) return 2;
  if (results.some((r) => r.status === "failed")) return 1;
  if (!results.some((r) => r.status === "passed")) return allowEmpty ? 0 : 3;
  return 0;
}

export async function fixturesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: "string" }, "allow-empty": { type: "boolean" } }, "fixtures", true);
  if (values.help || positionals.length === 0) { process.stdout.write(FIXTURES_HELP); return values.help ? 0 : 2; }
  const [verb, ...paths] = positionals;
  if (verb !== "verify" && verb !== "mutate") throw new ConfigError("diffspec fixtures subcommand", verb, '"verify" or "mutate"');
  if (paths.length === 0) throw new ConfigError(`diffspec fixtures ${verb}`, "(no paths)", "one or more fixture folders or files");
  const started = Date.now();
  const files = findFixtureFiles(paths);
  if (verb === "mutate") return mutate(files, started);
  const results: FixtureResult[] = [];
  for (const file of files) {
    const r = await verifyFixtureFile(file);
    results.push(r);
    const err = r.maxError !== undefined ? `  max err ${r.maxError.toExponential(2)}` : "";
    process.stdout.write(`${r.status.padEnd(7)} ${r.id}${err}${r.message ? `  — ${r.message}` : ""}\n`);
  }
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const r of results) c[r.status]++;
  if (values.json) writeFileAtomic(values.json, JSON.stringify({ date: new Date().toISOString(), wallMs: Date.now() - started, results }, null, 2) + "\n");
  process.stdout.write(`${results.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s\n${summaryLine(c)}\n`);
  const code = fixturesExitCode(results, values["allow-empty"] === true);
  if (code === 2) process.stderr.write(`diffspec fixtures: ${results.filter((r) => r.invalid).length} file(s) are not valid fixtures (see the lines above)\n`);
  if (code === 3) process.stderr.write(`diffspec fixtures: nothing was checked (${results.length ? "every file was skipped" : `no fixture files (*.json) under ${paths.join(", ")}`}); pass --allow-empty to accept that\n`);
  return code;
}

async function mutate(files: readonly string[], started: number): Promise<number> {
  if (files.length === 0) {
    process.stderr.write("diffspec fixtures mutate: no fixture files (*.json) to mutate\n");
    return 3;
  }
  const r = await mutationCheck(files);
  for (const s of r.survivors) process.stdout.write(`survived ${s.file} ${s.path} ${s.kind} ${s.detail}: ${s.status}${s.message ? ` — ${s.message}` : ""}\n`);
  for (const s of r.inert) process.stdout.write(`inert    ${s.file} ${s.path} ${s.detail} (a unit change moves no computed value)\n`);
  process.stdout.write(`${r.files} files (${r.notPassing.length} not passing unmutated), ${r.arrays} arrays, ${r.mutants} mutants in ${((Date.now() - started) / 1000).toFixed(1)} s: ${r.mutants - r.survivors.length - r.inert.length} failed, ${r.inert.length} inert, ${r.survivors.length} survived\n`);
  return r.survivors.length ? 1 : 0;
}
