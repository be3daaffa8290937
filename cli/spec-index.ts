/** `diffspec spec-index` (npm run spec-index): regenerate spec/README.md, the clause index. */
import { join } from "node:path";
import { parse } from "./args.ts";
import { writeFileAtomic } from "../conformance/report.ts";
import { currentSpecReadme } from "../conformance/spec-readme.ts";
import { loadAllProperties } from "../conformance/runner.ts";
import { SPEC_DIR } from "../conformance/spec-index.ts";
import { FIGURES } from "../plot/figures.ts";

export async function specIndexCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {}, "spec-index");
  if (values.help) { process.stdout.write("Usage: diffspec spec-index\n\nRegenerates spec/README.md from spec/*.md, the properties and conformance/reports/*.json.\n"); return 0; }
  writeFileAtomic(join(SPEC_DIR, "README.md"), currentSpecReadme(await loadAllProperties(), FIGURES));
  process.stdout.write(`wrote ${join(SPEC_DIR, "README.md")}\n`);
  return 0;
}
