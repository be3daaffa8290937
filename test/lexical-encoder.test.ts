/**
 * The lexical text encoder (fixtures/text-encoder/build-lexical.ts, issue 17): the embedded encoder's format
 * and tokenizer, with word vectors that carry WordNet meaning, so that "gold", "metal", "iron", "silver" and
 * "copper" share meaning where the embedded encoder's random vectors do not.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, test } from "vitest";
import { ConfigError } from "../reference/errors.ts";
import { EMBEDDED_ENCODER_DIR, LEXICAL_ENCODER_DIR, encoderFolder, loadEmbeddedTable, namedTextEncoder, type EmbeddedTable } from "../reference/conditioning/embedded.ts";

const tmp = mkdtempSync(join(tmpdir(), "diffspec-lexical-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cosine(t: EmbeddedTable, a: string, b: string): number {
  const d = t.manifest.dim;
  const [i, j] = [t.index.get(a)!, t.index.get(b)!];
  let s = 0, na = 0, nb = 0;
  for (let k = 0; k < d; k++) {
    const x = t.table[i * d + k], y = t.table[j * d + k];
    s += x * y; na += x * x; nb += y * y;
  }
  return s / Math.sqrt(na * nb);
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pairs = <T>(xs: readonly T[]): [T, T][] => xs.flatMap((a, i) => xs.slice(i + 1).map((b) => [a, b] as [T, T]));

const METALS = ["gold", "metal", "iron", "silver", "copper"];
/** The other adherence groups' prompts (glyffuser/adherence.ts) and a few everyday words. */
const OTHERS = ["river", "grass", "plant", "hand", "strike", "person", "people", "tree", "happy", "walk", "speak", "eye"];

describe("lexical encoder (lexical-v1)", () => {
  const lexical = loadEmbeddedTable(LEXICAL_ENCODER_DIR);
  const embedded = loadEmbeddedTable(EMBEDDED_ENCODER_DIR);

  test("is named by its manifest and found by name; an unknown name is a ConfigError naming the known ones", () => {
    expect(namedTextEncoder({ name: "lexical-v1", maxLength: 16 }).name).toBe("lexical-v1");
    expect(namedTextEncoder({ name: "embedded-v1", maxLength: 16 }).name).toBe("embedded-v1");
    expect(() => encoderFolder("t5-large")).toThrow(ConfigError);
    expect(() => encoderFolder("t5-large")).toThrow(/embedded-v1, lexical-v1/);
    expect(() => encoderFolder("__proto__")).toThrow(ConfigError);
  });

  test("keeps the embedded vocabulary's ids and adds the captions' words and common English ones", () => {
    expect(lexical.words.slice(0, embedded.words.length)).toEqual(embedded.words);
    for (const w of [...METALS, ...OTHERS]) expect(lexical.index.has(w), w).toBe(true);
    expect(embedded.index.has("copper")).toBe(false); // hashed in the embedded encoder
  });

  test("the metal words share meaning: their mean pairwise cosine is well above their mean cosine to other words, unlike the embedded table's", () => {
    const within = (t: EmbeddedTable) => mean(pairs(METALS.filter((w) => t.index.has(w))).map(([a, b]) => cosine(t, a, b)));
    const across = (t: EmbeddedTable) => mean(METALS.flatMap((a) => OTHERS.map((b) => cosine(t, a, b))));
    // Random 64-d vectors: cosines ≈ 𝒩(0, 1/64), so a mean over the 6 pairs of the embedded table's four metal
    // words (it has no "copper") has σ ≈ 0.05. The table is fixed, so this is a fact about it, not a chance event.
    expect(Math.abs(within(embedded))).toBeLessThan(0.1);
    expect(within(lexical)).toBeGreaterThan(0.2);
    expect(within(lexical) - across(lexical)).toBeGreaterThan(0.15);
    // Each metal word is closer to the other metals, on average, than to the other words.
    for (const m of METALS) {
      const toMetals = mean(METALS.filter((x) => x !== m).map((x) => cosine(lexical, m, x)));
      const toOthers = mean(OTHERS.map((x) => cosine(lexical, m, x)));
      expect(toMetals, m).toBeGreaterThan(toOthers + 0.05);
    }
  });

  test("rows have the embedded table's scale (‖row‖ ≈ 1)", () => {
    const d = lexical.manifest.dim;
    for (const w of ["gold", "the", "river"]) {
      const i = lexical.index.get(w)!;
      expect(Math.hypot(...lexical.table.subarray(i * d, (i + 1) * d)), w).toBeCloseTo(1, 1);
    }
  });

  test("the build reproduces the committed bytes", () => {
    const out = join(tmp, "lexical");
    execFileSync(process.execPath, ["--import", "tsx", "fixtures/text-encoder/build-lexical.ts", "--out", out], { stdio: "pipe" });
    for (const f of ["embedded.json", "vocab.txt", "embeddings-f32.bin"]) expect(readFileSync(join(out, f)).equals(readFileSync(join(LEXICAL_ENCODER_DIR, f))), f).toBe(true);
  }, 120_000);
});
