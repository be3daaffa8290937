/** The spec's figures are regenerated from the reference byte for byte, and every chapter embeds its current figures. */
import { describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateFigures, withFigureBlock } from "../cli/figures.ts";
import { FIGURES } from "../plot/figures.ts";
import { SPEC_DIR } from "../conformance/spec-index.ts";

describe("spec figures", () => {
  test("at least the nine article figures exist", () => {
    expect(FIGURES.length).toBeGreaterThanOrEqual(9);
  });
  test("regenerating reproduces the committed SVG files byte for byte", async () => {
    const dir = mkdtempSync(join(tmpdir(), "diffspec-figures-"));
    const files = await generateFigures(dir);
    for (const f of files) {
      const name = f.split("/").pop()!;
      expect(readFileSync(f, "utf8") === readFileSync(join(SPEC_DIR, "figures", name), "utf8"), `${name} differs from spec/figures/${name}: run npm run figures`).toBe(true);
    }
  }, 300_000);
  test("each chapter embeds its figures with their current captions", () => {
    for (const chapter of new Set(FIGURES.map((f) => f.chapter))) {
      const text = readFileSync(join(SPEC_DIR, chapter), "utf8");
      expect(withFigureBlock(text, chapter) === text, `${chapter} has a stale figure block: run npm run figures`).toBe(true);
    }
  });
});
