/**
 * Glyph rendering for the glyffuser dataset, with `@napi-rs/canvas` and the Noto Sans CJK SC font
 * (Debian package `fonts-noto-cjk`; needed only to BUILD the dataset, never to load it).
 *
 * Pixel convention (used throughout glyffuser): a glyph image is S×S values of INK INTENSITY,
 * row-major, 0 = background (white paper), 1 = full ink (black). `renderGlyph` returns Float32 in
 * [0,1]; `renderGlyphBytes` returns the same as bytes 0..255 (what the dataset stores). The model
 * maps ink v in [0,1] to its data range [-1,1] with 2v − 1 (see `toModelRange` in dataset.ts).
 *
 * Geometry: the font is set so that its em square spans the canvas minus a margin of S/16 on each
 * side (like the original glyffuser, which drew every character at one font size that filled the
 * canvas, centred). Each glyph is then centred by its actual ink bounding box (measureText
 * `actualBoundingBox*`), and only if that box is larger than the available area is the font shrunk
 * so the glyph fits. So all glyphs share one scale (a 一 stays a thin stroke, it is not blown up).
 *
 * Debian ships Noto Sans CJK as a TrueType Collection (.ttc) whose first face is the Japanese one;
 * canvas registers only that face. We therefore cut the "Noto Sans CJK SC" face out of the
 * collection into a standalone OpenType buffer ({@link extractCollectionFace}) and register that.
 */

import { existsSync, readFileSync } from "node:fs";
import { createCanvas, GlobalFonts, type Canvas, type SKRSContext2D } from "@napi-rs/canvas";
import { ConfigError, InputFileError } from "../reference/errors.ts";

/** The font family the glyffuser draws with (simplified-Chinese glyph forms). */
export const FONT_FAMILY = "Noto Sans CJK SC";

/** The Debian package that provides the font, named in errors. */
export const FONT_DEBIAN_PACKAGE = "fonts-noto-cjk";

/** Where the font is looked for, first hit wins. */
export const FONT_CANDIDATES: readonly string[] = [
  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
  "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
  "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
];

/** Allowed glyph image sizes (pixels per side). */
export const MIN_GLYPH_SIZE = 8;
export const MAX_GLYPH_SIZE = 128;
export const DEFAULT_GLYPH_SIZE = 32;

/** Empty margin on each side, as a fraction of the canvas size. */
export const MARGIN_FRACTION = 1 / 16;

/** Validates a glyph image size: an integer in [8, 128], else {@link ConfigError}. */
export function checkGlyphSize(size: unknown, field = "size"): number {
  const ok = typeof size === "number" && Number.isInteger(size) && size >= MIN_GLYPH_SIZE && size <= MAX_GLYPH_SIZE;
  if (!ok) throw new ConfigError(field, size, `an integer from ${MIN_GLYPH_SIZE} to ${MAX_GLYPH_SIZE} (pixels per side)`);
  return size as number;
}

/** The first existing font file among {@link FONT_CANDIDATES}, or `undefined`. */
export function findFontFile(candidates: readonly string[] = FONT_CANDIDATES): string | undefined {
  return candidates.find((p) => existsSync(p));
}

// ---------------------------------------------------------------------------------------------
// OpenType / TrueType Collection reading (just enough to pick one face and read its cmap)
// ---------------------------------------------------------------------------------------------

interface TableRecord {
  tag: string;
  checksum: number;
  offset: number;
  length: number;
}

/** Reads the table directory of the face whose offset table starts at `at`. */
function readTableDirectory(font: Buffer, at: number): { sfntVersion: number; tables: TableRecord[] } {
  const sfntVersion = font.readUInt32BE(at);
  const numTables = font.readUInt16BE(at + 4);
  const tables: TableRecord[] = [];
  for (let i = 0; i < numTables; i++) {
    const r = at + 12 + 16 * i;
    tables.push({ tag: font.toString("latin1", r, r + 4), checksum: font.readUInt32BE(r + 4), offset: font.readUInt32BE(r + 8), length: font.readUInt32BE(r + 12) });
  }
  return { sfntVersion, tables };
}

/** Offsets of each face's offset table: several for a .ttc, one (0) for a plain .otf/.ttf. */
function faceOffsets(font: Buffer): number[] {
  if (font.toString("latin1", 0, 4) !== "ttcf") return [0];
  const n = font.readUInt32BE(8);
  return Array.from({ length: n }, (_, i) => font.readUInt32BE(12 + 4 * i));
}

/** Family names (name ID 1 and 16) recorded in a face's `name` table. */
function faceFamilies(font: Buffer, tables: readonly TableRecord[]): Set<string> {
  const families = new Set<string>();
  const name = tables.find((t) => t.tag === "name");
  if (!name) return families;
  const count = font.readUInt16BE(name.offset + 2);
  const strings = name.offset + font.readUInt16BE(name.offset + 4);
  for (let i = 0; i < count; i++) {
    const r = name.offset + 6 + 12 * i;
    const [platform, nameId, len, off] = [font.readUInt16BE(r), font.readUInt16BE(r + 6), font.readUInt16BE(r + 8), font.readUInt16BE(r + 10)];
    if (nameId !== 1 && nameId !== 16) continue;
    const bytes = font.subarray(strings + off, strings + off + len);
    families.add(platform === 3 || platform === 0 ? Buffer.from(bytes).swap16().toString("utf16le") : bytes.toString("latin1"));
  }
  return families;
}

/** Writes a standalone OpenType font holding `tables` (copied from `font`). */
function buildSfnt(font: Buffer, sfntVersion: number, tables: readonly TableRecord[]): Buffer {
  const headerLen = 12 + 16 * tables.length;
  const padded = (n: number): number => (n + 3) & ~3;
  const total = tables.reduce((acc, t) => acc + padded(t.length), headerLen);
  const out = Buffer.alloc(total);
  const entrySelector = Math.floor(Math.log2(tables.length));
  out.writeUInt32BE(sfntVersion, 0);
  out.writeUInt16BE(tables.length, 4);
  out.writeUInt16BE(16 * 2 ** entrySelector, 6);
  out.writeUInt16BE(entrySelector, 8);
  out.writeUInt16BE(16 * tables.length - 16 * 2 ** entrySelector, 10);
  let at = headerLen;
  [...tables].sort((a, b) => (a.tag < b.tag ? -1 : 1)).forEach((t, i) => {
    const r = 12 + 16 * i;
    out.write(t.tag, r, 4, "latin1");
    out.writeUInt32BE(t.checksum, r + 4);
    out.writeUInt32BE(at, r + 8);
    out.writeUInt32BE(t.length, r + 12);
    font.copy(out, at, t.offset, t.offset + t.length);
    at += padded(t.length);
  });
  return out;
}

/**
 * Cuts the face whose family name is `family` out of a font collection (.ttc) into a standalone
 * OpenType font. A plain font file is returned unchanged if its family matches. `undefined` when
 * no face has that family.
 */
export function extractCollectionFace(font: Buffer, family: string): Buffer | undefined {
  for (const at of faceOffsets(font)) {
    const { sfntVersion, tables } = readTableDirectory(font, at);
    if (!faceFamilies(font, tables).has(family)) continue;
    return at === 0 && font.toString("latin1", 0, 4) !== "ttcf" ? font : buildSfnt(font, sfntVersion, tables);
  }
  return undefined;
}

/**
 * The set of code points a standalone font maps to glyphs, from its `cmap` table
 * (format 12 if present, else format 4). Used to skip characters the font lacks, which
 * canvas would otherwise draw with a fallback font or as a blank box.
 */
export function fontCoverage(font: Buffer): Set<number> {
  const { tables } = readTableDirectory(font, 0);
  const cmap = tables.find((t) => t.tag === "cmap");
  const covered = new Set<number>();
  if (!cmap) return covered;
  const n = font.readUInt16BE(cmap.offset + 2);
  const subtables = Array.from({ length: n }, (_, i) => cmap.offset + font.readUInt32BE(cmap.offset + 4 + 8 * i + 4));
  const f12 = subtables.find((s) => font.readUInt16BE(s) === 12);
  const f4 = subtables.find((s) => font.readUInt16BE(s) === 4);
  if (f12 !== undefined) readCmap12(font, f12, covered);
  else if (f4 !== undefined) readCmap4(font, f4, covered);
  return covered;
}

function readCmap12(font: Buffer, at: number, covered: Set<number>): void {
  const groups = font.readUInt32BE(at + 12);
  for (let g = 0; g < groups; g++) {
    const r = at + 16 + 12 * g;
    const [start, end, glyph] = [font.readUInt32BE(r), font.readUInt32BE(r + 4), font.readUInt32BE(r + 8)];
    for (let cp = start; cp <= end; cp++) if (glyph + (cp - start) !== 0) covered.add(cp);
  }
}

function readCmap4(font: Buffer, at: number, covered: Set<number>): void {
  const segs = font.readUInt16BE(at + 6) / 2;
  const ends = at + 14;
  const starts = ends + 2 * segs + 2;
  const deltas = starts + 2 * segs;
  const rangeOffsets = deltas + 2 * segs;
  for (let s = 0; s < segs; s++) {
    const [end, start, delta, ro] = [font.readUInt16BE(ends + 2 * s), font.readUInt16BE(starts + 2 * s), font.readInt16BE(deltas + 2 * s), font.readUInt16BE(rangeOffsets + 2 * s)];
    for (let cp = start; cp <= end && cp !== 0xffff; cp++) {
      const glyph = ro === 0 ? (cp + delta) & 0xffff : font.readUInt16BE(rangeOffsets + 2 * s + ro + 2 * (cp - start));
      if (glyph !== 0) covered.add(cp);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Font registration and rendering
// ---------------------------------------------------------------------------------------------

/** The registered glyffuser font: where it came from and which code points it covers. */
export interface GlyphFont {
  path: string;
  family: string;
  coverage: Set<number>;
}

let registered: GlyphFont | undefined;

/**
 * Registers {@link FONT_FAMILY} with canvas (once per process) and returns it. Throws
 * {@link InputFileError} naming the font file and the Debian package when the font is absent.
 */
export function loadGlyphFont(path: string | undefined = findFontFile()): GlyphFont {
  if (registered && (path === undefined || registered.path === path)) return registered;
  const install = `install the Debian package "${FONT_DEBIAN_PACKAGE}" (apt-get install -y ${FONT_DEBIAN_PACKAGE})`;
  if (path === undefined || !existsSync(path)) throw new InputFileError(path ?? FONT_CANDIDATES.join(" or "), `font "${FONT_FAMILY}" not found; ${install}`);
  const face = extractCollectionFace(readFileSync(path), FONT_FAMILY);
  if (!face) throw new InputFileError(path, `holds no face with family "${FONT_FAMILY}"; ${install}`);
  if (GlobalFonts.register(face, FONT_FAMILY) === null) throw new InputFileError(path, `canvas could not register the "${FONT_FAMILY}" face`);
  registered = { path, family: FONT_FAMILY, coverage: fontCoverage(face) };
  return registered;
}

/** True when the glyffuser font has a glyph for `codepoint` (registers the font if needed). */
export function fontHasGlyph(codepoint: number): boolean {
  return loadGlyphFont().coverage.has(codepoint);
}

const surfaces = new Map<number, { canvas: Canvas; ctx: SKRSContext2D }>();

/** One reusable canvas per size. */
function surface(size: number): { canvas: Canvas; ctx: SKRSContext2D } {
  let s = surfaces.get(size);
  if (!s) {
    const canvas = createCanvas(size, size);
    s = { canvas, ctx: canvas.getContext("2d") };
    surfaces.set(size, s);
  }
  return s;
}

/** Ink bounding box of `char` at `fontPx`, relative to the text's alignment point (canvas convention). */
function inkBox(ctx: SKRSContext2D, char: string, fontPx: number): { left: number; right: number; ascent: number; descent: number } {
  ctx.font = `${fontPx}px "${FONT_FAMILY}"`;
  const m = ctx.measureText(char);
  return { left: m.actualBoundingBoxLeft, right: m.actualBoundingBoxRight, ascent: m.actualBoundingBoxAscent, descent: m.actualBoundingBoxDescent };
}

/**
 * Draws `char` black on white, centred by its ink box (see module doc), on the size×size canvas.
 * Returns the canvas context (its pixels are overwritten by the next call at the same size).
 */
function drawCentred(char: string, size: number): SKRSContext2D {
  const { ctx } = surface(size);
  const avail = size * (1 - 2 * MARGIN_FRACTION);
  let fontPx = avail;
  let box = inkBox(ctx, char, fontPx);
  const extent = Math.max(box.left + box.right, box.ascent + box.descent);
  if (extent > avail) {
    fontPx *= avail / extent;
    box = inkBox(ctx, char, fontPx);
  }
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000000";
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(char, size / 2 - (box.right - box.left) / 2, size / 2 + (box.ascent - box.descent) / 2);
  return ctx;
}

/**
 * Renders one character as size×size ink bytes (row-major; 0 = background, 255 = full ink).
 * Throws {@link ConfigError} for a size outside 8..128 and {@link InputFileError} when the font
 * is absent. A character the font lacks is drawn by canvas's fallback (check {@link fontHasGlyph}).
 */
export function renderGlyphBytes(char: string, size: number = DEFAULT_GLYPH_SIZE): Uint8Array {
  checkGlyphSize(size);
  if (typeof char !== "string" || [...char].length !== 1) throw new ConfigError("char", char, "exactly one Unicode character");
  loadGlyphFont();
  const rgba = drawCentred(char, size).getImageData(0, 0, size, size).data;
  const ink = new Uint8Array(size * size);
  for (let i = 0; i < ink.length; i++) ink[i] = 255 - rgba[4 * i];
  return ink;
}

/** Renders one character as size×size Float32 ink intensities in [0,1] (see {@link renderGlyphBytes}). */
export function renderGlyph(char: string, size: number = DEFAULT_GLYPH_SIZE): Float32Array {
  return Float32Array.from(renderGlyphBytes(char, size), (v) => v / 255);
}

/**
 * Draws glyph images (ink bytes, size×size each, concatenated) as a grid PNG, black ink on white,
 * each cell `scale` times enlarged: a contact sheet for looking at the data.
 */
export function inkToPng(pixels: Uint8Array, size: number, options: { columns?: number; scale?: number } = {}): Buffer {
  checkGlyphSize(size);
  const count = Math.floor(pixels.length / (size * size));
  const columns = Math.max(1, Math.min(options.columns ?? 16, count));
  const scale = options.scale ?? 4;
  const rows = Math.max(1, Math.ceil(count / columns));
  const cell = size * scale + 2;
  const canvas = createCanvas(columns * cell, rows * cell);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#c0c0ff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let g = 0; g < count; g++) {
    const x0 = (g % columns) * cell + 1;
    const y0 = Math.floor(g / columns) * cell + 1;
    for (let i = 0; i < size * size; i++) {
      const v = 255 - pixels[g * size * size + i];
      ctx.fillStyle = `rgb(${v},${v},${v})`;
      ctx.fillRect(x0 + (i % size) * scale, y0 + Math.floor(i / size) * scale, scale, scale);
    }
  }
  return canvas.toBuffer("image/png");
}
