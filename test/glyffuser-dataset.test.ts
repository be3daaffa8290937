/**
 * Glyffuser glyph dataset: Unihan parsing, subset selection, the packed file format, the committed
 * 32×32 fixture and rendering. Everything except the last two `describe`s runs without the Debian
 * packages (inline strings and the committed fixture only); those two are skipped, with the reason
 * printed, when `fonts-noto-cjk` / `unicode-data` are absent.
 */

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, InputFileError, NonFiniteError } from "../reference/errors.ts";
import {
  buildGlyphDataset,
  countRadicals,
  decodeMetadata,
  decodePackedPixels,
  DEFAULT_DATASET_PATH,
  encodePackedPixels,
  FOCUS_RADICALS,
  fromModelRange,
  glyphPixels,
  loadGlyphDataset,
  metadataPath,
  selectSubset,
  spreadPick,
  toModelRange,
  truncateDefinition,
  writePackedDataset,
  type GlyphDataset,
  type GlyphRecord,
} from "../glyffuser/dataset.ts";
import { checkGlyphSize, extractCollectionFace, findFontFile, FONT_FAMILY, renderGlyph, renderGlyphBytes } from "../glyffuser/render.ts";
import { DEFAULT_UNIHAN_DIR, loadUnihan, parseRSUnicode, parseUnicodeVersion, parseUnihan, parseUnihanLines } from "../glyffuser/unihan.ts";

const READINGS = [
  "#",
  "# Unihan_Readings.txt",
  "# Unicode version: 15.0.0",
  "#",
  "U+3400\tkDefinition\t(same as U+4E18 丘) hillock or mound",
  "U+3400\tkMandarin\tqiū",
  "U+6C34\tkDefinition\twater, liquid, lotion, juice\r",
  "U+6C35\tkDefinition\twater",
  "U+91D1\tkDefinition\tgold; metals in general; money; Kangxi radical 167",
  "U+9FA5\tkMandarin\tyù",
  "U+20000\tkDefinition\tto exhale (outside the range)",
  "U+4E00\tkDefinition\t",
  "",
].join("\n");

const RS = [
  "# Unihan_IRGSources.txt",
  "U+3400\tkRSUnicode\t1.4",
  "U+3400\tkTotalStrokes\t5",
  "U+6C34\tkRSUnicode\t85.0",
  "U+6C35\tkRSUnicode\t85'.0",
  "U+91D1\tkRSUnicode\t167.0",
  "U+9FA5\tkRSUnicode\t85.16",
  "U+20000\tkRSUnicode\t1.1",
  "U+4E00\tkRSUnicode\t1.0",
].join("\n");

describe("Unihan parsing", () => {
  it("parses kRSUnicode values, stripping simplified-radical marks and keeping the first of several", () => {
    expect(parseRSUnicode("167.3")).toEqual({ radical: 167, strokes: 3 });
    expect(parseRSUnicode("85'.5")).toEqual({ radical: 85, strokes: 5 });
    expect(parseRSUnicode("120''.3")).toEqual({ radical: 120, strokes: 3 });
    expect(parseRSUnicode("96.-1")).toEqual({ radical: 96, strokes: -1 });
    expect(parseRSUnicode("35.6 66.6")).toEqual({ radical: 35, strokes: 6 });
    expect(parseRSUnicode(" 9.3 ")).toEqual({ radical: 9, strokes: 3 });
  });

  it("rejects malformed kRSUnicode values", () => {
    for (const bad of ["", "167", "x.3", "0.1", "215.2", "167.", "167.3.1"]) expect(parseRSUnicode(bad), bad).toBeUndefined();
  });

  it("collects one field, skipping comments, blank lines, other fields and CRLF endings", () => {
    const defs = parseUnihanLines(READINGS, "kDefinition");
    expect(defs.get(0x3400)).toBe("(same as U+4E18 丘) hillock or mound");
    expect(defs.get(0x6c34)).toBe("water, liquid, lotion, juice");
    expect(defs.has(0x9fa5)).toBe(false);
    expect(parseUnihanLines(READINGS, "kMandarin").get(0x3400)).toBe("qiū");
  });

  it("joins into records in U+3400–U+9FFF that have both a definition and a radical, sorted by code point", () => {
    const records = parseUnihan(READINGS, [RS]);
    expect(records).toEqual([
      { codepoint: 0x3400, char: "㐀", definition: "(same as U+4E18 丘) hillock or mound", radical: 1, strokes: 4 },
      { codepoint: 0x6c34, char: "水", definition: "water, liquid, lotion, juice", radical: 85, strokes: 0 },
      { codepoint: 0x6c35, char: "氵", definition: "water", radical: 85, strokes: 0 },
      { codepoint: 0x91d1, char: "金", definition: "gold; metals in general; money; Kangxi radical 167", radical: 167, strokes: 0 },
    ]);
  });

  it("reads the Unicode version from a file header", () => {
    expect(parseUnicodeVersion(READINGS)).toBe("15.0.0");
    expect(parseUnicodeVersion("U+3400\tkDefinition\tx")).toBeUndefined();
  });

  it("names the missing file and the Debian package when Unihan is absent", () => {
    const dir = join(tmpdir(), "diffspec-no-unihan-here");
    expect(() => loadUnihan(dir)).toThrow(InputFileError);
    expect(() => loadUnihan(dir)).toThrow(/Unihan_Readings\.txt.*unicode-data/);
  });
});

/** n synthetic records: radical cycles through `radicals`, strokes = index (so none is ≤ 0 unless asked). */
function synthetic(n: number, radicals: readonly number[]): GlyphRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const codepoint = 0x4e00 + i;
    return { codepoint, char: String.fromCodePoint(codepoint), definition: `glyph ${i}`, radical: radicals[i % radicals.length], strokes: 1 + (i % 7) };
  });
}

describe("subset selection", () => {
  it("spreads picks evenly and deterministically", () => {
    expect(spreadPick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5)).toEqual([1, 3, 5, 7, 9]);
    expect(spreadPick([1, 2, 3], 5)).toEqual([1, 2, 3]);
    expect(spreadPick([1, 2, 3], 0)).toEqual([]);
  });

  it("caps focus radicals, keeps their own forms, fills with others, sorts by code point", () => {
    const pool = synthetic(3000, [167, 85, 1, 2, 3, 4]);
    pool[6] = { ...pool[6], strokes: 0 }; // a radical-167 form
    const { records, selection } = selectSubset(pool, { total: 600, focusRadicals: [167, 85], capPerRadical: 100 });
    expect(records).toHaveLength(600);
    expect(selection.focus).toEqual({ 167: { available: 500, taken: 100 }, 85: { available: 500, taken: 100 } });
    expect(selection.others).toEqual({ available: 2000, taken: 400 });
    expect(records.some((r) => r.codepoint === pool[6].codepoint)).toBe(true);
    expect(countRadicals(records)).toMatchObject({ 167: 100, 85: 100 });
    expect(records.map((r) => r.codepoint)).toEqual([...records.map((r) => r.codepoint)].sort((a, b) => a - b));
    expect(new Set(records.map((r) => r.codepoint)).size).toBe(600);
    expect(selectSubset([...pool].reverse(), { total: 600, focusRadicals: [167, 85], capPerRadical: 100 }).records).toEqual(records);
  });

  it("rejects a non-positive total with a ConfigError naming the field", () => {
    expect(() => selectSubset([], { total: 0 })).toThrow(/total = 0/);
  });

  it("truncates long definitions at a word boundary", () => {
    expect(truncateDefinition("short")).toBe("short");
    const long = "to follow, to trust to; to put confidence in; ".repeat(5);
    const cut = truncateDefinition(long, 40);
    expect([...cut].length).toBeLessThanOrEqual(40);
    expect(cut.endsWith("…")).toBe(true);
    expect(long.startsWith(cut.slice(0, -1))).toBe(true);
  });
});

describe("committed 32×32 fixture", () => {
  const ds = loadGlyphDataset();
  const meta = JSON.parse(readFileSync(metadataPath(DEFAULT_DATASET_PATH), "utf8"));

  it("has the expected count, size and pixel length", () => {
    expect(ds.size).toBe(32);
    expect(ds.records.length).toBe(meta.count);
    expect(ds.records.length).toBeGreaterThanOrEqual(3000);
    expect(ds.pixels.length).toBe(ds.records.length * 32 * 32);
  });

  it("has radical counts in the metadata that match the records", () => {
    const recount: Record<string, number> = {};
    for (const r of ds.records) recount[r.radical] = (recount[r.radical] ?? 0) + 1;
    expect(meta.radicalCounts).toEqual(recount);
    for (const radical of FOCUS_RADICALS) {
      expect(recount[radical]).toBe(meta.selection.focus[radical].taken);
      expect(recount[radical]).toBeGreaterThanOrEqual(300);
    }
    expect(meta.selection.method).toMatch(/spread evenly/);
  });

  it("holds well-formed records with unique code points in U+3400–U+9FFF", () => {
    const seen = new Set<number>();
    for (const r of ds.records) {
      expect(r.codepoint >= 0x3400 && r.codepoint <= 0x9fff).toBe(true);
      expect(r.char).toBe(String.fromCodePoint(r.codepoint));
      expect([...r.definition].length).toBeLessThanOrEqual(meta.definitionMaxChars);
      seen.add(r.codepoint);
    }
    expect(seen.size).toBe(ds.records.length);
    expect(ds.records.find((r) => r.char === "金")?.definition).toMatch(/gold/);
    expect(ds.records.find((r) => r.char === "水")?.radical).toBe(85);
  });

  it("stores ink bytes: blank borders, some ink in every glyph, full range used", () => {
    let min = 255;
    let max = 0;
    for (let i = 0; i < ds.records.length; i++) {
      const g = glyphPixels(ds, i);
      let ink = 0;
      for (const v of g) {
        ink += v;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(ink, ds.records[i].char).toBeGreaterThan(255 * 4);
      expect(g[0] + g[31] + g[31 * 32] + g[32 * 32 - 1], ds.records[i].char).toBe(0);
    }
    expect([min, max]).toEqual([0, 255]);
  });
});

describe("packed file format", () => {
  const size = 8;
  const records: GlyphRecord[] = [
    { codepoint: 0x91d1, char: "金", definition: "gold", radical: 167, strokes: 0 },
    { codepoint: 0x6c34, char: "水", definition: "water", radical: 85, strokes: 0 },
  ];
  const pixels = Uint8Array.from({ length: 2 * size * size }, (_, i) => (i * 37) % 256);
  const ds: GlyphDataset = { size, records, pixels };
  const good = encodePackedPixels(size, 2, pixels);

  it("decodes what it encodes", () => {
    const d = decodePackedPixels(good);
    expect([d.size, d.count]).toEqual([size, 2]);
    expect(d.pixels).toEqual(pixels);
  });

  it("rejects a truncated buffer", () => {
    expect(() => decodePackedPixels(good.subarray(0, good.length - 5), "t.bin")).toThrow(InputFileError);
    expect(() => decodePackedPixels(good.subarray(0, good.length - 5), "t.bin")).toThrow(/t\.bin: truncated/);
    expect(() => decodePackedPixels(good.subarray(0, 10), "t.bin")).toThrow(/truncated/);
  });

  it("rejects a wrong magic", () => {
    const bad = Buffer.from(good);
    bad.write("PNGPNGPN", 0, "latin1");
    expect(() => decodePackedPixels(bad, "w.bin")).toThrow(/w\.bin: wrong magic/);
  });

  it("rejects an unknown version, trailing bytes, a corrupt payload and a count mismatch", () => {
    const v2 = Buffer.from(good);
    v2.writeUInt32LE(2, 8);
    expect(() => decodePackedPixels(v2)).toThrow(/version 2/);
    expect(() => decodePackedPixels(Buffer.concat([good, Buffer.from([0])]))).toThrow(/trailing bytes/);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 6] ^= 0xff; // inside the gzip CRC-32
    expect(() => decodePackedPixels(flipped)).toThrow(/corrupt gzip payload/);
    expect(() => decodePackedPixels(encodePackedPixels(size, 3, pixels))).toThrow(/length mismatch/);
  });

  it("writes atomically and loads back, leaving no temporary files", () => {
    const dir = mkdtempSync(join(tmpdir(), "glyphs-"));
    try {
      const { bin, json } = writePackedDataset(ds, join(dir, "glyphs-8.bin"), { selection: "test" });
      expect(readdirSync(dir).sort()).toEqual(["glyphs-8.bin", "glyphs-8.json"]);
      expect(json).toBe(join(dir, "glyphs-8.json"));
      const back = loadGlyphDataset(bin);
      expect(back.records).toEqual(records);
      expect(back.pixels).toEqual(pixels);
      expect(back.info?.selection).toBe("test");
      expect(back.info?.radicalCounts).toEqual({ 85: 1, 167: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects metadata that disagrees with the pixels", () => {
    const dir = mkdtempSync(join(tmpdir(), "glyphs-"));
    try {
      const { json } = writePackedDataset(ds, join(dir, "g.bin"));
      const meta = JSON.parse(readFileSync(json, "utf8"));
      const decoded = decodePackedPixels(good);
      expect(() => decodeMetadata({ ...meta, pixelsSha256: "0".repeat(64) }, decoded, "m.json")).toThrow(/pixelsSha256/);
      expect(() => decodeMetadata({ ...meta, records: meta.records.slice(1) }, decoded, "m.json")).toThrow(/length mismatch/);
      expect(() => decodeMetadata({ ...meta, radicalCounts: { 85: 2 } }, decoded, "m.json")).toThrow(/radicalCounts/);
      const wrongChar = meta.records.map((r: unknown[], i: number) => (i === 0 ? [r[0], "X", ...r.slice(2)] : r));
      expect(() => decodeMetadata({ ...meta, records: wrongChar }, decoded, "m.json")).toThrow(/records\[0\] has char "X"/);
      expect(() => loadGlyphDataset(join(dir, "missing.bin"))).toThrow(/missing\.bin: glyph pixel file not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to write pixels that do not match the records", () => {
    expect(() => writePackedDataset({ size, records, pixels: pixels.subarray(1) }, join(tmpdir(), "never.bin"))).toThrow(ConfigError);
    expect(existsSync(join(tmpdir(), "never.bin"))).toBe(false);
  });
});

describe("model range", () => {
  it("maps ink bytes to [-1, 1] with 2v/255 − 1", () => {
    const x = toModelRange(Uint8Array.from([0, 51, 255]));
    expect(x).toBeInstanceOf(Float32Array);
    expect(x[0]).toBe(-1);
    expect(x[1]).toBeCloseTo(-0.6, 6);
    expect(x[2]).toBe(1);
    const all = toModelRange(loadGlyphDataset().pixels.subarray(0, 32 * 32 * 50));
    expect(Math.min(...all)).toBe(-1);
    expect(Math.max(...all)).toBe(1);
  });

  it("round-trips every byte", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromModelRange(toModelRange(bytes))).toEqual(bytes);
  });

  it("rejects out-of-range or non-finite values unless asked to clip", () => {
    expect(() => fromModelRange([0, 1.5])).toThrow(ConfigError);
    expect(() => fromModelRange([0, 1.5])).toThrow(/values\[1\] = 1.5/);
    expect(() => fromModelRange([Number.NaN], { clip: true })).toThrow(NonFiniteError);
    expect(fromModelRange([-3, 0, 3], { clip: true })).toEqual(Uint8Array.from([0, 128, 255]));
  });
});

describe("glyph size", () => {
  it("accepts integers 8..128 and names the field otherwise", () => {
    expect(checkGlyphSize(8)).toBe(8);
    expect(checkGlyphSize(128)).toBe(128);
    for (const bad of [7, 129, 32.5, "32", Number.NaN]) expect(() => checkGlyphSize(bad)).toThrow(ConfigError);
    expect(() => checkGlyphSize(7)).toThrow(/size = 7 is not allowed: an integer from 8 to 128/);
  });

  it("reports a missing font with the Debian package to install", () => {
    const records: GlyphRecord[] = [{ codepoint: 0x91d1, char: "金", definition: "gold", radical: 167, strokes: 0 }];
    expect(() => buildGlyphDataset({ records, fontPath: "/nonexistent/NotoSansCJK-Regular.ttc" })).toThrow(/NotoSansCJK-Regular\.ttc.*fonts-noto-cjk/);
  });
});

const fontFile = findFontFile();
if (!fontFile) console.warn("SKIPPED glyffuser rendering tests: no Noto Sans CJK font found (install the Debian package fonts-noto-cjk)");

/** Ink bounding box (pixels > threshold) of a size×size image: margins left, right, top, bottom. */
function margins(img: ArrayLike<number>, size: number, threshold: number): [number, number, number, number] {
  let [x0, x1, y0, y1] = [size, -1, size, -1];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (img[y * size + x] <= threshold) continue;
      [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
    }
  }
  return [x0, size - 1 - x1, y0, size - 1 - y1];
}

describe.skipIf(!fontFile)("rendering (needs fonts-noto-cjk)", () => {
  it("finds the SC face in the collection", () => {
    const font = readFileSync(fontFile!);
    expect(extractCollectionFace(font, FONT_FAMILY)?.subarray(0, 4)).toEqual(Buffer.from([0x4f, 0x54, 0x54, 0x4f])); // "OTTO" (CFF)
    expect(extractCollectionFace(font, "No Such Family")).toBeUndefined();
  });

  it("renders ink in [0, 1] on a blank background, centred with a margin", () => {
    for (const char of ["金", "水", "林"]) {
      const g = renderGlyph(char, 32);
      expect(g).toHaveLength(32 * 32);
      expect(Math.min(...g)).toBe(0);
      expect(Math.max(...g)).toBe(1);
      const [l, r, t, b] = margins(g, 32, 0.1);
      expect(Math.min(l, r, t, b), char).toBeGreaterThanOrEqual(1);
      expect(Math.abs(l - r), char).toBeLessThanOrEqual(1);
      expect(Math.abs(t - b), char).toBeLessThanOrEqual(1);
      expect(Math.max(l, r, t, b), char).toBeLessThanOrEqual(5);
    }
  });

  it("draws every glyph at one scale: 一 stays a thin stroke", () => {
    const [, , t, b] = margins(renderGlyph("一", 32), 32, 0.1);
    expect(32 - t - b).toBeLessThanOrEqual(4);
  });

  it("works at every allowed size and rejects others", () => {
    for (const size of [8, 17, 64, 128]) expect(renderGlyphBytes("木", size)).toHaveLength(size * size);
    expect(() => renderGlyph("木", 7)).toThrow(ConfigError);
    expect(() => renderGlyph("木", 129)).toThrow(/size = 129/);
    expect(() => renderGlyph("木林", 32)).toThrow(/char/);
  });

  it("reproduces the committed fixture", () => {
    const ds = loadGlyphDataset();
    for (const char of ["金", "水", "木"]) {
      const i = ds.records.findIndex((r) => r.char === char);
      const fresh = renderGlyphBytes(char, 32);
      const stored = glyphPixels(ds, i);
      let diff = 0;
      for (let k = 0; k < fresh.length; k++) diff += Math.abs(fresh[k] - stored[k]);
      expect(diff / fresh.length, char).toBeLessThan(4);
    }
  });
});

const unihanPresent = existsSync(join(DEFAULT_UNIHAN_DIR, "Unihan_Readings.txt.bz2")) || existsSync(join(DEFAULT_UNIHAN_DIR, "Unihan_Readings.txt"));
if (!unihanPresent) console.warn(`SKIPPED glyffuser build test: no Unihan files in ${DEFAULT_UNIHAN_DIR} (install the Debian package unicode-data)`);

describe.skipIf(!fontFile || !unihanPresent)("building from Unihan (needs unicode-data and fonts-noto-cjk)", () => {
  it("builds a filtered, limited dataset", () => {
    const ds = buildGlyphDataset({ size: 16, limit: 5, filter: (r) => r.radical === 167 });
    expect(ds.records).toHaveLength(5);
    expect(ds.records.every((r) => r.radical === 167)).toBe(true);
    expect(ds.pixels.length).toBe(5 * 16 * 16);
    expect(() => buildGlyphDataset({ size: 16, limit: 0 })).toThrow(/limit = 0/);
  });
});
