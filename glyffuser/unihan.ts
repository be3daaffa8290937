/**
 * Unihan parsing for the glyffuser dataset.
 *
 * The Unihan database (Debian package `unicode-data`, under /usr/share/unicode/) is a set of
 * tab-separated files with lines `U+XXXX<TAB>kField<TAB>value`. We need two fields:
 *
 *  - `kDefinition` (Unihan_Readings.txt): an English gloss, e.g. `gold; metals in general; money`.
 *  - `kRSUnicode`: the radical/stroke index, e.g. `167.3`, `85'.5` or `120'.3 75.4`. The integer
 *    before the dot is the Kangxi radical number (1..214); the apostrophe(s) mark a simplified
 *    form of that radical and are stripped; the number after the dot is the count of strokes
 *    beyond the radical (it can be negative, e.g. `96.-1` for 王). When several values are
 *    given, the first one is the primary classification and is the one we keep.
 *    Up to Unicode 14 this field lives in Unihan_RadicalStrokeCounts.txt; since Unicode 15.0 it
 *    lives in Unihan_IRGSources.txt. {@link loadUnihan} looks in both.
 *
 * The pure functions (`parseUnihanLines`, `parseRSUnicode`, `joinUnihan`) work on strings so that
 * tests can run without the Debian package; only {@link loadUnihan} touches the file system.
 */

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InputFileError } from "../reference/errors.ts";

/** One CJK ideograph with its English definition and radical classification. */
export interface UnihanRecord {
  /** Unicode scalar value, within {@link CJK_RANGE}. */
  codepoint: number;
  /** The character itself, `String.fromCodePoint(codepoint)`. */
  char: string;
  /** The Unihan `kDefinition` text. */
  definition: string;
  /** Kangxi radical number, 1..214, from the first `kRSUnicode` value (simplified-radical marks stripped). */
  radical: number;
  /** Residual strokes beyond the radical, from the same `kRSUnicode` value (may be negative, e.g. 王 = 96.-1). */
  strokes: number;
}

/** The code-point range the glyffuser uses: CJK Extension A (U+3400–U+4DBF) and the URO (U+4E00–U+9FFF). */
export const CJK_RANGE = { first: 0x3400, last: 0x9fff } as const;

/** Where Debian's `unicode-data` package puts the Unihan files. */
export const DEFAULT_UNIHAN_DIR = "/usr/share/unicode";

/** The Debian package that provides the Unihan files, named in errors. */
export const UNIHAN_DEBIAN_PACKAGE = "unicode-data";

/** Files that may hold `kRSUnicode`, in the order they are searched (pre-15.0 name first). */
const RS_FILES = ["Unihan_RadicalStrokeCounts.txt", "Unihan_IRGSources.txt"] as const;
const READINGS_FILE = "Unihan_Readings.txt";

/** A parsed `kRSUnicode` value. */
export interface RadicalStroke {
  radical: number;
  strokes: number;
}

/**
 * Parses one `kRSUnicode` value (`167.3`, `85'.5`, `120''.3`, `96.-1`, or a space-separated
 * list of such, of which the first is kept). Returns `undefined` for a malformed value.
 */
export function parseRSUnicode(value: string): RadicalStroke | undefined {
  const first = value.trim().split(/\s+/)[0] ?? "";
  const m = /^(\d+)['"]*\.(-?\d+)$/.exec(first);
  if (!m) return undefined;
  const radical = Number(m[1]);
  if (radical < 1 || radical > 214) return undefined;
  return { radical, strokes: Number(m[2]) };
}

/**
 * Collects the values of one Unihan field from file text: a map from code point to value.
 * Comment lines (`#`), blank lines, other fields and malformed lines are ignored.
 */
export function parseUnihanLines(text: string, field: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (line.length === 0 || line.startsWith("#")) continue;
    const [cp, key, ...rest] = line.replace(/\r$/, "").split("\t");
    if (key !== field || rest.length === 0 || !cp?.startsWith("U+")) continue;
    const codepoint = Number.parseInt(cp.slice(2), 16);
    if (Number.isFinite(codepoint)) out.set(codepoint, rest.join("\t").trim());
  }
  return out;
}

/** True when `codepoint` lies in {@link CJK_RANGE}. */
export function inCjkRange(codepoint: number): boolean {
  return codepoint >= CJK_RANGE.first && codepoint <= CJK_RANGE.last;
}

/**
 * Joins definitions and radical/stroke values into records, keeping only code points in
 * {@link CJK_RANGE} that have both a non-empty definition and a well-formed `kRSUnicode`.
 * The result is sorted by code point.
 */
export function joinUnihan(definitions: Map<number, string>, rsValues: Map<number, string>): UnihanRecord[] {
  const records: UnihanRecord[] = [];
  for (const [codepoint, definition] of definitions) {
    if (!inCjkRange(codepoint) || definition.length === 0) continue;
    const rsText = rsValues.get(codepoint);
    const rs = rsText === undefined ? undefined : parseRSUnicode(rsText);
    if (!rs) continue;
    records.push({ codepoint, char: String.fromCodePoint(codepoint), definition, ...rs });
  }
  return records.sort((a, b) => a.codepoint - b.codepoint);
}

/** Parses the two files' texts into records (see {@link joinUnihan}). */
export function parseUnihan(readingsText: string, rsTexts: readonly string[]): UnihanRecord[] {
  const definitions = parseUnihanLines(readingsText, "kDefinition");
  const rsValues = new Map<number, string>();
  for (const text of rsTexts) for (const [cp, v] of parseUnihanLines(text, "kRSUnicode")) if (!rsValues.has(cp)) rsValues.set(cp, v);
  return joinUnihan(definitions, rsValues);
}

/**
 * Reads a Unihan file `name` from `dir`, either plain (`name`) or bzip2-compressed
 * (`name.bz2`, decompressed with the `bzip2` program). Returns `undefined` if neither exists.
 */
export function readUnihanFile(dir: string, name: string): string | undefined {
  const plain = join(dir, name);
  if (existsSync(plain)) return readFileSync(plain, "utf8");
  const bz2 = `${plain}.bz2`;
  if (!existsSync(bz2)) return undefined;
  try {
    return execFileSync("bzip2", ["-dc", bz2], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
  } catch (e) {
    throw new InputFileError(bz2, `could not decompress with "bzip2 -dc" (${(e as Error).message}); install the Debian package "bzip2"`);
  }
}

/** Records plus the Unicode version stated in the Readings file header (e.g. "15.0.0"), if any. */
export interface UnihanData {
  records: UnihanRecord[];
  unicodeVersion: string | undefined;
}

/** The `# Unicode version: X.Y.Z` header value of a Unihan file, or `undefined`. */
export function parseUnicodeVersion(text: string): string | undefined {
  return /^# Unicode version: (\S+)/m.exec(text.slice(0, 2000))?.[1];
}

/**
 * Loads all glyffuser records from the Unihan files in `dir` (default /usr/share/unicode).
 * Throws {@link InputFileError} naming the missing file and the Debian package to install.
 */
export function loadUnihanData(dir: string = DEFAULT_UNIHAN_DIR): UnihanData {
  const install = `install the Debian package "${UNIHAN_DEBIAN_PACKAGE}" (apt-get install -y ${UNIHAN_DEBIAN_PACKAGE})`;
  const readings = readUnihanFile(dir, READINGS_FILE);
  if (readings === undefined) throw new InputFileError(join(dir, `${READINGS_FILE}.bz2`), `not found (needed for kDefinition); ${install}`);
  const rsTexts = RS_FILES.map((f) => readUnihanFile(dir, f)).filter((t): t is string => t !== undefined && t.includes("\tkRSUnicode\t"));
  if (rsTexts.length === 0) {
    const paths = RS_FILES.map((f) => join(dir, `${f}.bz2`)).join(" or ");
    throw new InputFileError(paths, `not found or without kRSUnicode (needed for the radical); ${install}`);
  }
  return { records: parseUnihan(readings, rsTexts), unicodeVersion: parseUnicodeVersion(readings) };
}

/** {@link loadUnihanData} without the version. */
export function loadUnihan(dir: string = DEFAULT_UNIHAN_DIR): UnihanRecord[] {
  return loadUnihanData(dir).records;
}
