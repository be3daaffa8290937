/** spec/README.md (the clause index with status per backend) is generated and current. */
import { expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { currentSpecReadme, loadCommittedReports } from "../conformance/spec-readme.ts";
import { loadAllProperties } from "../conformance/runner.ts";
import { SPEC_DIR, loadSpecClauses } from "../conformance/spec-index.ts";
import { FIGURES } from "../plot/figures.ts";

test("spec/README.md is current: run `npm run spec-index` after changing clauses, properties or reports", async () => {
  const expected = currentSpecReadme(await loadAllProperties(), FIGURES);
  expect(readFileSync(join(SPEC_DIR, "README.md"), "utf8") === expected).toBe(true);
});

test("every clause appears in the index, and the committed reference report covers every property", async () => {
  const index = readFileSync(join(SPEC_DIR, "README.md"), "utf8");
  for (const c of loadSpecClauses()) expect(index).toContain(`**${c.id}**`);
  const ref = loadCommittedReports().find((r) => r.backend === "reference");
  expect(ref, "conformance/reports/reference.json").toBeTruthy();
  const reported = new Set(ref!.results.map((r) => `${r.clause} ${r.property}`));
  const missing = (await loadAllProperties()).filter((p) => (!p.profiles || p.profiles.includes(ref!.profile)) && !reported.has(`${p.clause} ${p.name}`)).map((p) => `${p.clause} ${p.name}`);
  expect(missing, "rerun: npx diffspec conformance --json conformance/reports/reference.json").toEqual([]);
});
