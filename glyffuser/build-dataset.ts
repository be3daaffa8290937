/**
 * Builds the glyffuser glyph dataset and writes it as a packed file pair (see dataset.ts).
 *
 *   npx tsx glyffuser/build-dataset.ts [--size 32] [--out fixtures/glyphs/glyphs-32.bin] [--full]
 *                                      [--total 4000] [--cap 400]
 *
 * Default: the deterministic subset (selectSubset) that is committed under fixtures/glyphs/.
 * --full: every character (about 20 500; ~7 MB at 32×32, not for committing), default output
 * out/glyphs-S-full.bin (out/ is git-ignored).
 *
 * Needs the Debian packages `unicode-data` and `fonts-noto-cjk`.
 */

import { relative } from "node:path";
import { statSync } from "node:fs";
import { parse as parseCli } from "../cli/args.ts";
import { ConfigError } from "../reference/errors.ts";
import { buildGlyphDataset, FOCUS_RADICALS, selectSubset, writePackedDataset, type GlyphDatasetInfo } from "./dataset.ts";
import { checkGlyphSize, findFontFile, loadGlyphFont, MARGIN_FRACTION } from "./render.ts";
import { DEFAULT_UNIHAN_DIR, loadUnihanData } from "./unihan.ts";

/** Parsed command-line options. */
interface Args {
  size: number;
  out: string;
  full: boolean;
  total: number;
  cap: number;
}

function intArg(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`--${name}`, text, "a positive integer");
  return n;
}

function parse(argv: string[]): Args {
  const { values } = parseCli(argv, { size: { type: "string" }, out: { type: "string" }, full: { type: "boolean" }, total: { type: "string" }, cap: { type: "string" } }, "dataset");
  const size = checkGlyphSize(intArg("size", values.size, 32), "--size");
  const full = values.full ?? false;
  const out = values.out ?? (full ? `out/glyphs-${size}-full.bin` : `fixtures/glyphs/glyphs-${size}.bin`);
  return { size, out, full, total: intArg("total", values.total, 4000), cap: intArg("cap", values.cap, 400) };
}

export const DATASET_HELP = `Usage: diffspec dataset [--size 32] [--out FILE] [--full] [--total 4000] [--cap 400]

Builds the glyph dataset from Unihan kDefinition/kRSUnicode (Debian unicode-data) rendered with
Noto Sans CJK SC (Debian fonts-noto-cjk). Default: the deterministic subset committed under
fixtures/glyphs/; --full: every character (≈ 20 500, ≈ 7 MB at 32×32) into out/.
`;

/** \`diffspec dataset\`. */
export async function datasetCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) { process.stdout.write(DATASET_HELP); return 0; }
  const args = parse(argv);
  const unihan = loadUnihanData(DEFAULT_UNIHAN_DIR);
  const font = loadGlyphFont(findFontFile());
  const pool = unihan.records.filter((r) => font.coverage.has(r.codepoint));
  console.log(`Unihan ${unihan.unicodeVersion ?? "?"}: ${unihan.records.length} characters with kDefinition and kRSUnicode, ${pool.length} in the font`);
  let records = pool;
  let selection: GlyphDatasetInfo["selection"] = { method: "full: every U+3400–U+9FFF character with kDefinition and kRSUnicode that the font covers", poolSize: pool.length };
  if (!args.full) {
    const subset = selectSubset(pool, { total: args.total, capPerRadical: args.cap, focusRadicals: FOCUS_RADICALS });
    records = subset.records;
    selection = subset.selection;
  }
  const t0 = Date.now();
  const ds = buildGlyphDataset({ size: args.size, records, onProgress: (d, n) => process.stdout.write(`\rrendered ${d}/${n}`) });
  console.log(` in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const source = { unihan: `Unicode ${unihan.unicodeVersion ?? "?"} Unihan (Debian unicode-data)`, font: `${font.family} (Debian fonts-noto-cjk, ${font.path})`, marginFraction: MARGIN_FRACTION, renderer: "@napi-rs/canvas, centred by ink box" };
  const { bin, json } = writePackedDataset(ds, args.out, { selection, source });
  for (const p of [bin, json]) console.log(`wrote ${relative(process.cwd(), p)} (${statSync(p).size} bytes)`);
  return 0;
}

// Run directly: npx tsx glyffuser/build-dataset.ts ...
if (process.argv[1]?.endsWith("build-dataset.ts")) process.exitCode = await datasetCommand(process.argv.slice(2));
