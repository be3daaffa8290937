/**
 * The glyffuser glyph dataset: CJK characters (U+3400–U+9FFF) with their English Unihan
 * definition and Kangxi radical, rendered as size×size ink images.
 *
 * Pixel convention: bytes of INK intensity, 0 = background, 255 = full ink, row-major, one
 * size×size image per record, concatenated in record order. The model works in [-1,1]:
 * {@link toModelRange} maps v ↦ 2·v/255 − 1 and {@link fromModelRange} maps back.
 *
 * Building needs the Debian packages `unicode-data` and `fonts-noto-cjk`
 * ({@link buildGlyphDataset}, script `glyffuser/build-dataset.ts`). Loading needs neither: a
 * subset is committed as a packed pair of files ({@link writePackedDataset}, {@link loadGlyphDataset}):
 *
 *  - `glyphs-S.bin`, little-endian:
 *      bytes 0..7   magic "DSGLYPHS"
 *      bytes 8..11  u32 format version (1)
 *      bytes 12..15 u32 size S
 *      bytes 16..19 u32 count N
 *      bytes 20..23 u32 byte length L of the payload
 *      bytes 24..   payload: gzip of the N·S·S ink bytes (L bytes, nothing after it)
 *  - `glyphs-S.json` (same name, `.json`): format/version/size/count, the SHA-256 of the raw
 *    pixels, how the subset was chosen, each radical's count, and one record per line as
 *    `[codepoint, char, radical, strokes, definition]` (definitions cut to
 *    {@link DEFINITION_MAX_CHARS} characters).
 */

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { ConfigError, InputFileError, NonFiniteError, requirePositiveInt } from "../reference/errors.ts";
import { checkGlyphSize, DEFAULT_GLYPH_SIZE, FONT_FAMILY, loadGlyphFont, renderGlyphBytes } from "./render.ts";
import { DEFAULT_UNIHAN_DIR, loadUnihan, type UnihanRecord } from "./unihan.ts";

/** One dataset entry: a character, its definition and its radical (see {@link UnihanRecord}). */
export type GlyphRecord = UnihanRecord;

/** Provenance stored alongside a packed dataset. */
export interface GlyphDatasetInfo {
  /** How the records were chosen (free-form, e.g. {@link SubsetSelection}). */
  selection?: unknown;
  /** Where the data came from (Unihan version, font, renderer). */
  source?: Record<string, unknown>;
  /** Number of records per radical, keyed by radical number. */
  radicalCounts?: Record<string, number>;
}

/** Glyph images and their records. `pixels[i*size*size + y*size + x]` is the ink of record i at (x, y). */
export interface GlyphDataset {
  size: number;
  records: GlyphRecord[];
  /** N·size·size ink bytes, 0 = background, 255 = full ink. */
  pixels: Uint8Array;
  /** Present on datasets read by {@link loadGlyphDataset}. */
  info?: GlyphDatasetInfo;
}

/** The committed 32×32 subset. */
export const DEFAULT_DATASET_PATH = fileURLToPath(new URL("../fixtures/glyphs/glyphs-32.bin", import.meta.url));

/** Packed-file constants. */
export const PACKED_MAGIC = "DSGLYPHS";
export const PACKED_VERSION = 1;
export const PACKED_FORMAT = "diffspec-glyphs";
const HEADER_BYTES = 24;

/** Definitions longer than this are cut (at a word boundary, with "…") in packed files. */
export const DEFINITION_MAX_CHARS = 120;

/** The image of record `index` (a view into `ds.pixels`, not a copy). */
export function glyphPixels(ds: GlyphDataset, index: number): Uint8Array {
  const n = ds.size * ds.size;
  return ds.pixels.subarray(index * n, (index + 1) * n);
}

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

/** Options of {@link buildGlyphDataset}. */
export interface BuildGlyphDatasetOptions {
  /** Pixels per side, 8..128 (default 32). */
  size?: number;
  /** Keep at most this many records (after `filter`), in code-point order. */
  limit?: number;
  /** Keep only records for which this returns true. */
  filter?: (record: GlyphRecord) => boolean;
  /** Records to render instead of loading Unihan (e.g. an already chosen subset). */
  records?: readonly GlyphRecord[];
  /** Directory of the Unihan files (default /usr/share/unicode). */
  unihanDir?: string;
  /** Font file (default: the first of FONT_CANDIDATES that exists). */
  fontPath?: string;
  /** Called every 500 glyphs and at the end. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Renders the glyph dataset. Characters the font has no glyph for are left out. Throws
 * {@link ConfigError} for a bad size or limit and {@link InputFileError} naming the missing file
 * and the Debian package when Unihan (`unicode-data`) or the font (`fonts-noto-cjk`) is absent.
 */
export function buildGlyphDataset(options: BuildGlyphDatasetOptions = {}): GlyphDataset {
  const size = checkGlyphSize(options.size ?? DEFAULT_GLYPH_SIZE);
  const limit = options.limit === undefined ? Infinity : requirePositiveInt("limit", options.limit);
  const all = options.records ?? loadUnihan(options.unihanDir ?? DEFAULT_UNIHAN_DIR);
  const font = loadGlyphFont(options.fontPath);
  const filter = options.filter ?? (() => true);
  const records = all.filter((r) => font.coverage.has(r.codepoint) && filter(r)).slice(0, limit);
  const pixels = new Uint8Array(records.length * size * size);
  records.forEach((r, i) => {
    pixels.set(renderGlyphBytes(r.char, size), i * size * size);
    if ((i + 1) % 500 === 0 || i + 1 === records.length) options.onProgress?.(i + 1, records.length);
  });
  return { size, records: records.map((r) => ({ ...r })), pixels };
}

// ---------------------------------------------------------------------------------------------
// Subset selection
// ---------------------------------------------------------------------------------------------

/** The radicals the committed subset over-represents: 金 167, 水/氵 85, 艸/艹 140, 手/扌 64, 人/亻 9, 木 75. */
export const FOCUS_RADICALS: readonly number[] = [167, 85, 140, 64, 9, 75];

/** Options of {@link selectSubset}. */
export interface SubsetOptions {
  /** Target number of records (default 4000). */
  total?: number;
  /** Radicals taken in full up to `capPerRadical` (default {@link FOCUS_RADICALS}). */
  focusRadicals?: readonly number[];
  /** At most this many records per focus radical (default 400). */
  capPerRadical?: number;
}

/** How a subset was chosen; stored in the packed metadata. */
export interface SubsetSelection {
  method: string;
  poolSize: number;
  total: number;
  focusRadicals: number[];
  capPerRadical: number;
  /** Records available per focus radical in the pool, and how many were taken. */
  focus: Record<string, { available: number; taken: number }>;
  others: { available: number; taken: number };
}

/** `k` items spread evenly over `items` (indices ⌊(i + ½)·n/k⌋), or all of them when k ≥ n. */
export function spreadPick<T>(items: readonly T[], k: number): T[] {
  const n = items.length;
  if (k >= n) return [...items];
  return Array.from({ length: Math.max(0, k) }, (_, i) => items[Math.floor(((i + 0.5) * n) / k)]);
}

/**
 * Chooses a deterministic subset: for each focus radical, up to `capPerRadical` of its records
 * (its own forms, residual strokes ≤ 0, first; the others spread evenly over code points); then records of all other radicals spread evenly over code
 * points to reach `total`. The result is sorted by code point.
 */
export function selectSubset(pool: readonly GlyphRecord[], options: SubsetOptions = {}): { records: GlyphRecord[]; selection: SubsetSelection } {
  const total = requirePositiveInt("total", options.total ?? 4000);
  const cap = requirePositiveInt("capPerRadical", options.capPerRadical ?? 400);
  const focusRadicals = [...(options.focusRadicals ?? FOCUS_RADICALS)];
  const sorted = [...pool].sort((a, b) => a.codepoint - b.codepoint);
  const chosen: GlyphRecord[] = [];
  const focus: SubsetSelection["focus"] = {};
  for (const radical of focusRadicals) {
    const candidates = sorted.filter((r) => r.radical === radical);
    const forms = candidates.filter((r) => r.strokes <= 0).slice(0, cap);
    const taken = [...forms, ...spreadPick(candidates.filter((r) => r.strokes > 0), cap - forms.length)];
    chosen.push(...taken);
    focus[radical] = { available: candidates.length, taken: taken.length };
  }
  const otherPool = sorted.filter((r) => !focusRadicals.includes(r.radical));
  const others = spreadPick(otherPool, Math.max(0, total - chosen.length));
  chosen.push(...others);
  const method =
    `Pool: every U+3400–U+9FFF character with kDefinition and kRSUnicode that the font covers. ` +
    `For each focus radical (${focusRadicals.join(", ")}), up to ${cap} of its characters: the radical's own forms ` +
    `(residual strokes ≤ 0, e.g. 水 氵) and the rest spread evenly over code points (index floor((i + 0.5)·n/k)); then characters of all other radicals spread the same way to reach ${total}. Sorted by code point.`;
  return {
    records: chosen.sort((a, b) => a.codepoint - b.codepoint),
    selection: { method, poolSize: pool.length, total: chosen.length, focusRadicals, capPerRadical: cap, focus, others: { available: otherPool.length, taken: others.length } },
  };
}

/** Number of records per radical, keyed by radical number (in ascending order). */
export function countRadicals(records: readonly GlyphRecord[]): Record<string, number> {
  const counts = new Map<number, number>();
  for (const r of records) counts.set(r.radical, (counts.get(r.radical) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]));
}

// ---------------------------------------------------------------------------------------------
// Packed files
// ---------------------------------------------------------------------------------------------

/** The metadata path that goes with a packed pixel file: same name, `.json`. */
export function metadataPath(binPath: string): string {
  return join(dirname(binPath), `${basename(binPath).replace(/\.bin$/, "")}.json`);
}

/** Cuts `text` to at most `max` characters at a word boundary, ending with "…". */
export function truncateDefinition(text: string, max: number = DEFINITION_MAX_CHARS): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const head = chars.slice(0, max - 1).join("");
  const cut = head.lastIndexOf(" ");
  return `${(cut > max / 2 ? head.slice(0, cut) : head).replace(/[\s,;:]+$/, "")}…`;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Encodes the pixel file (header + gzip payload). */
export function encodePackedPixels(size: number, count: number, pixels: Uint8Array): Buffer {
  const payload = gzipSync(pixels, { level: 9 });
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(PACKED_MAGIC, 0, "latin1");
  header.writeUInt32LE(PACKED_VERSION, 8);
  header.writeUInt32LE(size, 12);
  header.writeUInt32LE(count, 16);
  header.writeUInt32LE(payload.length, 20);
  return Buffer.concat([header, payload]);
}

/** Encodes the metadata file: pretty header fields, then one record per line. */
export function encodeMetadata(ds: GlyphDataset, info: GlyphDatasetInfo = {}): string {
  const head = {
    format: PACKED_FORMAT,
    version: PACKED_VERSION,
    size: ds.size,
    count: ds.records.length,
    pixels: "ink bytes, 0 = background, 255 = full ink, row-major, one size×size image per record; model range 2·v/255 − 1",
    pixelsSha256: sha256(ds.pixels),
    definitionMaxChars: DEFINITION_MAX_CHARS,
    recordFields: ["codepoint", "char", "radical", "strokes", "definition"],
    source: info.source ?? {},
    selection: info.selection ?? null,
    radicalCounts: countRadicals(ds.records),
  };
  const lines = ds.records.map((r) => `    ${JSON.stringify([r.codepoint, r.char, r.radical, r.strokes, truncateDefinition(r.definition)])}`);
  return `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "records": [\n${lines.join(",\n")}\n  ]\n}\n`;
}

/** Writes `data` to `path` atomically: a temporary file in the same folder, then a rename. */
function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw e;
  }
}

/**
 * Writes `ds` as a packed pixel file at `path` (conventionally `glyphs-S.bin`) and its metadata
 * next to it ({@link metadataPath}), each atomically. Definitions are cut to
 * {@link DEFINITION_MAX_CHARS} characters. Returns the two paths.
 */
export function writePackedDataset(ds: GlyphDataset, path: string, info: GlyphDatasetInfo = {}): { bin: string; json: string } {
  checkGlyphSize(ds.size, "ds.size");
  if (ds.pixels.length !== ds.records.length * ds.size * ds.size) {
    throw new ConfigError("ds.pixels.length", ds.pixels.length, `records × size² = ${ds.records.length * ds.size * ds.size}`);
  }
  const json = metadataPath(path);
  const source = { font: FONT_FAMILY, ...info.source };
  writeAtomic(path, encodePackedPixels(ds.size, ds.records.length, ds.pixels));
  writeAtomic(json, encodeMetadata(ds, { ...info, source }));
  return { bin: path, json };
}

/** Header of a pixel file. */
interface PackedHeader {
  size: number;
  count: number;
  payloadLength: number;
}

/** Reads and checks the header of a pixel file; `path` is only used in errors. */
function decodeHeader(bin: Uint8Array, path: string): PackedHeader {
  const buf = Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength);
  if (buf.length < HEADER_BYTES) throw new InputFileError(path, `truncated: ${buf.length} bytes, a glyph file has at least a ${HEADER_BYTES}-byte header`);
  const magic = buf.toString("latin1", 0, 8);
  if (magic !== PACKED_MAGIC) throw new InputFileError(path, `wrong magic ${JSON.stringify(magic)}, expected ${JSON.stringify(PACKED_MAGIC)}: not a glyph dataset file`);
  const version = buf.readUInt32LE(8);
  if (version !== PACKED_VERSION) throw new InputFileError(path, `format version ${version} is not supported; only version ${PACKED_VERSION}`);
  const header = { size: buf.readUInt32LE(12), count: buf.readUInt32LE(16), payloadLength: buf.readUInt32LE(20) };
  if (header.size < 8 || header.size > 128) throw new InputFileError(path, `size ${header.size} in header; allowed 8..128`);
  const actual = buf.length - HEADER_BYTES;
  if (actual !== header.payloadLength) throw new InputFileError(path, `${actual < header.payloadLength ? "truncated" : "trailing bytes"}: payload is ${actual} bytes, header says ${header.payloadLength}`);
  return header;
}

/**
 * Decodes a pixel file: checks magic, version, size and lengths, gunzips, and checks that the
 * pixels are count·size·size bytes. Throws {@link InputFileError} (naming `path`) otherwise.
 */
export function decodePackedPixels(bin: Uint8Array, path = "<buffer>"): { size: number; count: number; pixels: Uint8Array } {
  const header = decodeHeader(bin, path);
  let pixels: Buffer;
  try {
    pixels = gunzipSync(bin.subarray(HEADER_BYTES));
  } catch (e) {
    throw new InputFileError(path, `corrupt gzip payload (${(e as Error).message})`);
  }
  const expected = header.count * header.size * header.size;
  if (pixels.length !== expected) throw new InputFileError(path, `length mismatch: ${pixels.length} pixel bytes, header says ${header.count} glyphs × ${header.size}² = ${expected}`);
  return { size: header.size, count: header.count, pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length) };
}

/** Checks one metadata record `[codepoint, char, radical, strokes, definition]`. */
function decodeRecord(row: unknown, index: number, path: string): GlyphRecord {
  const bad = (why: string): InputFileError => new InputFileError(path, `records[${index}] ${why}; expected [codepoint, char, radical 1..214, strokes, definition]`);
  if (!Array.isArray(row) || row.length !== 5) throw bad("is not a 5-element array");
  const [codepoint, char, radical, strokes, definition] = row as unknown[];
  if (!Number.isInteger(codepoint) || (codepoint as number) < 0 || (codepoint as number) > 0x10ffff) throw bad(`has codepoint ${JSON.stringify(codepoint)}`);
  if (char !== String.fromCodePoint(codepoint as number)) throw bad(`has char ${JSON.stringify(char)} that is not U+${(codepoint as number).toString(16).toUpperCase()}`);
  if (!Number.isInteger(radical) || (radical as number) < 1 || (radical as number) > 214) throw bad(`has radical ${JSON.stringify(radical)}`);
  if (!Number.isInteger(strokes)) throw bad(`has strokes ${JSON.stringify(strokes)}`);
  if (typeof definition !== "string" || definition.length === 0) throw bad("has no definition");
  return { codepoint: codepoint as number, char, radical: radical as number, strokes: strokes as number, definition };
}

/**
 * Checks metadata against the decoded pixels and returns the records and info. Throws
 * {@link InputFileError} (naming `path`) on any disagreement.
 */
export function decodeMetadata(meta: unknown, pixels: { size: number; count: number; pixels: Uint8Array }, path = "<metadata>"): { records: GlyphRecord[]; info: GlyphDatasetInfo } {
  const m = meta as Record<string, unknown> | null;
  if (typeof m !== "object" || m === null || m.format !== PACKED_FORMAT) throw new InputFileError(path, `not glyph dataset metadata: "format" must be ${JSON.stringify(PACKED_FORMAT)}`);
  if (m.version !== PACKED_VERSION) throw new InputFileError(path, `metadata version ${JSON.stringify(m.version)} is not supported; only ${PACKED_VERSION}`);
  if (m.size !== pixels.size || m.count !== pixels.count) throw new InputFileError(path, `metadata says ${m.count} glyphs of size ${m.size}, pixel file says ${pixels.count} of size ${pixels.size}`);
  if (!Array.isArray(m.records) || m.records.length !== pixels.count) throw new InputFileError(path, `length mismatch: ${Array.isArray(m.records) ? m.records.length : "no"} records, ${pixels.count} glyphs`);
  if (m.pixelsSha256 !== sha256(pixels.pixels)) throw new InputFileError(path, "pixelsSha256 does not match the pixel file (the two files are from different builds)");
  const records = m.records.map((row, i) => decodeRecord(row, i, path));
  const radicalCounts = countRadicals(records);
  if (JSON.stringify(radicalCounts) !== JSON.stringify(m.radicalCounts)) throw new InputFileError(path, "radicalCounts does not match the records");
  return { records, info: { selection: m.selection, source: m.source as Record<string, unknown>, radicalCounts } };
}

function readOrThrow(path: string, what: string): Buffer {
  if (!existsSync(path)) throw new InputFileError(path, `${what} not found (build it with: npx tsx glyffuser/build-dataset.ts)`);
  return readFileSync(path);
}

/**
 * Loads a packed dataset (default: the committed 32×32 subset) and its metadata, validating
 * magic, version, lengths, checksum and records. Throws {@link InputFileError} on a missing or
 * corrupt file.
 */
export function loadGlyphDataset(path: string = DEFAULT_DATASET_PATH): GlyphDataset {
  const decoded = decodePackedPixels(readOrThrow(path, "glyph pixel file"), path);
  const jsonPath = metadataPath(path);
  let meta: unknown;
  try {
    meta = JSON.parse(readOrThrow(jsonPath, "glyph metadata file").toString("utf8"));
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(jsonPath, `not valid JSON (${(e as Error).message})`);
  }
  const { records, info } = decodeMetadata(meta, decoded, jsonPath);
  return { size: decoded.size, records, pixels: decoded.pixels, info };
}

// ---------------------------------------------------------------------------------------------
// Model range
// ---------------------------------------------------------------------------------------------

/** Ink bytes 0..255 → model values in [-1,1]: 2·v/255 − 1 (background −1, full ink +1). */
export function toModelRange(pixels: Uint8Array): Float32Array {
  return Float32Array.from(pixels, (v) => (2 * v) / 255 - 1);
}

/**
 * Model values → ink bytes: round((x + 1)/2 · 255). Values must be finite
 * ({@link NonFiniteError}) and within [-1,1] ({@link ConfigError}) unless `clip` is set, in which
 * case out-of-range values (usual in raw diffusion samples) are clipped to [-1,1] first.
 */
export function fromModelRange(values: ArrayLike<number>, options: { clip?: boolean } = {}): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let x = values[i];
    if (!Number.isFinite(x)) throw new NonFiniteError("model values", i, x);
    if (x < -1 || x > 1) {
      if (!options.clip) throw new ConfigError(`values[${i}]`, x, "a value in [-1, 1] (pass { clip: true } to clip samples)");
      x = Math.min(1, Math.max(-1, x));
    }
    out[i] = Math.round(((x + 1) / 2) * 255);
  }
  return out;
}
