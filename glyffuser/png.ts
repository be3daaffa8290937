/**
 * Glyph images as PNG (pngjs): a grid of glyphs, black ink on white, each pixel scaled up `scale` times.
 * Model values in [−1, 1] (ink +1) are clipped first, as raw diffusion samples leave the range slightly.
 */
import { PNG } from "pngjs";
import { require as requireThat } from "../reference/errors.ts";
import { writeFileAtomic } from "./checkpoint.ts";

export interface GridOptions {
  /** Glyphs per row (default ⌈√count⌉). */
  readonly columns?: number;
  /** Pixel scale (default 2). */
  readonly scale?: number;
  /** Gap between glyphs in output pixels (default 2), drawn light grey. */
  readonly gap?: number;
}

/** Encodes `count` glyphs of size×size model values (row-major, one after another) as a PNG grid. */
export function glyphGridPng(values: ArrayLike<number>, count: number, size: number, o: GridOptions = {}): Uint8Array {
  requireThat(Number.isInteger(count) && count >= 1, "glyph count", count, "an integer ≥ 1");
  requireThat(values.length === count * size * size, "glyph values", values.length, `${count}·${size}² values`);
  const cols = o.columns ?? Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  const scale = o.scale ?? 2;
  const gap = o.gap ?? 2;
  const cell = size * scale;
  const width = cols * cell + (cols + 1) * gap;
  const height = rows * cell + (rows + 1) * gap;
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  png.data = Buffer.alloc(width * height * 4, 0);
  const set = (x: number, y: number, v: number) => {
    const i = 4 * (y * width + x);
    png.data[i] = png.data[i + 1] = png.data[i + 2] = v;
    png.data[i + 3] = 255;
  };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) set(x, y, 200);
  for (let k = 0; k < count; k++) {
    const ox = gap + (k % cols) * (cell + gap);
    const oy = gap + Math.floor(k / cols) * (cell + gap);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = Math.min(1, Math.max(-1, values[k * size * size + y * size + x]));
        const ink = Number.isFinite(v) ? (v + 1) / 2 : 1;
        const g = Math.round(255 * (1 - ink));
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) set(ox + x * scale + dx, oy + y * scale + dy, g);
      }
    }
  }
  return PNG.sync.write(png, { colorType: 0, inputColorType: 6 });
}

/** Writes a glyph grid atomically. */
export function writeGlyphGrid(path: string, values: ArrayLike<number>, count: number, size: number, o: GridOptions = {}): void {
  writeFileAtomic(path, glyphGridPng(values, count, size, o));
}
