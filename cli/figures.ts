/** `diffspec figures` (npm run figures): regenerate the spec's SVG figures from the reference. */
import { join } from "node:path";
import { parse } from "./args.ts";
import { writeFileAtomic } from "../conformance/report.ts";
import { renderSvg } from "../plot/vega.ts";
import { FIGURES } from "../plot/figures.ts";
import { SPEC_DIR } from "../conformance/spec-index.ts";

export const FIGURES_HELP = `Usage: diffspec figures [--out DIR] [--only NAME]

Writes the spec's figures as SVG (default folder spec/figures/), deterministically from fixed seeds.
`;

export async function generateFigures(outDir: string, only?: string): Promise<string[]> {
  const written: string[] = [];
  for (const f of FIGURES) {
    if (only && f.name !== only) continue;
    const path = join(outDir, `${f.name}.svg`);
    writeFileAtomic(path, await renderSvg(await f.build()));
    written.push(path);
  }
  return written;
}

export async function figuresCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { out: { type: "string" }, only: { type: "string" } }, "figures");
  if (values.help) { process.stdout.write(FIGURES_HELP); return 0; }
  const t0 = Date.now();
  const files = await generateFigures(values.out ?? join(SPEC_DIR, "figures"), values.only);
  for (const f of files) process.stdout.write(`wrote ${f}\n`);
  process.stdout.write(`${files.length} figures in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return 0;
}
