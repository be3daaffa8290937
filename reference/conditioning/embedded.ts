/**
 * COND-ENCODER, the embedded default: a text encoder that needs no download.
 *
 * HONEST STATEMENT: this is a stand-in for T5 with the same interface and none of its meaning. It is
 * a bag of word vectors plus positions: a deterministic word-level tokenizer, a fixed table of random
 * Gaussian word vectors (entries 𝒩(0, 1/d), so distinct words are nearly orthogonal unit-norm vectors)
 * and sinusoidal position embeddings. There is no context: "gold" has the same vector in "gold coin"
 * and "fool's gold", and synonyms are unrelated. It exists so that conditioning, cross-attention and
 * guidance can be specified, tested and benchmarked offline with realistic shapes; for meaning, load a
 * real encoder with `transformersTextEncoder` (reference/conditioning/transformers.ts).
 *
 * Tokenizer (COND-ENCODER): lowercase; tokens are maximal runs of ASCII letters, maximal runs of
 * digits, and every other single non-whitespace character. Ids: 0 = <pad>, 1 = </s> (end of sequence,
 * appended to every prompt like T5), 2 … V+1 = the vocabulary (fixtures/text-encoder/vocab.txt: the V
 * most frequent words of the Unihan English definitions, the glyffuser's captions), and V+2 … V+H+1 =
 * H hash buckets (FNV-1a of the token, mod H) for every other token, so any prompt with a
 * non-whitespace character can be embedded. Prompts longer than n − 1 tokens are truncated (the
 * </s> is kept). The null condition is "</s>" alone, as T5 encodes "".
 *
 * Embedding of token i with id k: table[k] + P[i], P[i, 2j] = sin(i/10000^{2j/d})/√d,
 * P[i, 2j+1] = cos(i/10000^{2j/d})/√d. Padded positions are exactly 0.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, InputFileError, require, requirePositiveInt } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import { checkPrompts, type TextEncoder, type TextEncoding } from "./encoder.ts";

/** Where the committed table lives (built by fixtures/text-encoder/build.ts). */
export const EMBEDDED_ENCODER_DIR = fileURLToPath(new URL("../../fixtures/text-encoder/", import.meta.url));
export const EMBEDDED_MANIFEST = "embedded.json";
/** The lexical table (fixtures/text-encoder/build-lexical.ts): word vectors that carry WordNet meaning. */
export const LEXICAL_ENCODER_DIR = fileURLToPath(new URL("../../fixtures/text-encoder/lexical/", import.meta.url));

/** The committed tables by encoder name (what a model manifest's `encoder.name` says it was trained with). */
export const NAMED_ENCODER_DIRS: Readonly<Record<string, string>> = { "embedded-v1": EMBEDDED_ENCODER_DIR, "lexical-v1": LEXICAL_ENCODER_DIR };

/** The folder of a committed encoder table by name; ConfigError naming the known names otherwise. */
export function encoderFolder(name: string): string {
  const dir = Object.hasOwn(NAMED_ENCODER_DIRS, name) ? NAMED_ENCODER_DIRS[name] : undefined;
  if (!dir) throw new ConfigError("text encoder", name, `one of ${Object.keys(NAMED_ENCODER_DIRS).join(", ")}`);
  return dir;
}
export const PAD_ID = 0;
export const EOS_ID = 1;
export const DEFAULT_MAX_LENGTH = 16;

/** The manifest fixtures/text-encoder/embedded.json. */
export interface EmbeddedManifest {
  format: "diffspec-text-encoder";
  version: 1;
  /** The encoder's name in reports and model manifests (default `embedded-v<version>`). */
  name?: string;
  dim: number;
  /** Number of vocabulary words V (lines of the vocab file). */
  vocabSize: number;
  hashBuckets: number;
  /** Rows of the table: 2 + V + H. */
  rows: number;
  dtype: "float32-le";
  seed: string;
  table: string;
  vocab: string;
  sha256: { table: string; vocab: string };
  [k: string]: unknown;
}

/** COND-ENCODER: the token strings of a prompt (before truncation). */
export function tokenize(prompt: string): string[] {
  return prompt.toLowerCase().match(/[a-z]+|[0-9]+|[^\sa-z0-9]/gu) ?? [];
}

/** FNV-1a, 32 bit, over the UTF-16 code units of `s`. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** Sinusoidal position embedding of position `i`, scaled by 1/√d (Vaswani et al. 2017). */
export function positionEmbedding(i: number, d: number): Float64Array {
  const out = new Float64Array(d);
  for (let j = 0; 2 * j < d; j++) {
    const angle = i / 10000 ** ((2 * j) / d);
    out[2 * j] = Math.sin(angle) / Math.sqrt(d);
    if (2 * j + 1 < d) out[2 * j + 1] = Math.cos(angle) / Math.sqrt(d);
  }
  return out;
}

/** The loaded table and vocabulary. */
export interface EmbeddedTable {
  readonly manifest: EmbeddedManifest;
  readonly words: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  /** rows × dim, row-major. */
  readonly table: Float32Array;
}

const cache = new Map<string, EmbeddedTable>();

/** Loads (and verifies) the table in `folder`; InputFileError naming the file when missing or corrupt. */
export function loadEmbeddedTable(folder: string = EMBEDDED_ENCODER_DIR): EmbeddedTable {
  const hit = cache.get(folder);
  if (hit) return hit;
  const read = (name: string): Buffer => {
    const p = join(folder, name);
    if (!existsSync(p)) throw new InputFileError(p, "missing; the embedded text encoder needs embedded.json, vocab.txt and the table it names (rebuild with `npx tsx fixtures/text-encoder/build.ts`)");
    return readFileSync(p);
  };
  const manifestPath = join(folder, EMBEDDED_MANIFEST);
  let manifest: EmbeddedManifest;
  try {
    manifest = JSON.parse(read(EMBEDDED_MANIFEST).toString("utf8"));
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(manifestPath, `not valid JSON (${(e as Error).message})`);
  }
  if (manifest.format !== "diffspec-text-encoder" || manifest.version !== 1 || manifest.dtype !== "float32-le") {
    throw new InputFileError(manifestPath, `unknown format ${JSON.stringify([manifest.format, manifest.version, manifest.dtype])}; expected diffspec-text-encoder, version 1, float32-le`);
  }
  const vocabBytes = read(manifest.vocab);
  const tableBytes = read(manifest.table);
  const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
  if (sha(vocabBytes) !== manifest.sha256.vocab) throw new InputFileError(join(folder, manifest.vocab), "SHA-256 differs from embedded.json (corrupt or edited; rebuild)");
  if (sha(tableBytes) !== manifest.sha256.table) throw new InputFileError(join(folder, manifest.table), "SHA-256 differs from embedded.json (corrupt or edited; rebuild)");
  const words = vocabBytes.toString("utf8").split("\n").filter((w) => w !== "");
  if (words.length !== manifest.vocabSize || manifest.rows !== 2 + manifest.vocabSize + manifest.hashBuckets || tableBytes.length !== manifest.rows * manifest.dim * 4) {
    throw new InputFileError(manifestPath, `sizes disagree: ${words.length} words, ${tableBytes.length} table bytes, manifest ${manifest.vocabSize} words × ${manifest.dim} dims, ${manifest.rows} rows`);
  }
  const table = new Float32Array(manifest.rows * manifest.dim);
  const view = new DataView(tableBytes.buffer, tableBytes.byteOffset, tableBytes.byteLength);
  for (let i = 0; i < table.length; i++) table[i] = view.getFloat32(4 * i, true);
  const out: EmbeddedTable = { manifest, words, index: new Map(words.map((w, i) => [w, 2 + i])), table };
  cache.set(folder, out);
  return out;
}

/** COND-ENCODER: token ids of one prompt, truncated to n − 1 tokens, then </s>. */
export function tokenIds(t: EmbeddedTable, prompt: string, maxLength: number): number[] {
  const { vocabSize, hashBuckets } = t.manifest;
  const ids = tokenize(prompt)
    .slice(0, maxLength - 1)
    .map((tok) => t.index.get(tok) ?? 2 + vocabSize + (fnv1a(tok) % hashBuckets));
  return [...ids, EOS_ID];
}

export interface EmbeddedEncoderOptions {
  /** Sequence length n (default 16, a short definition). At least 2 (one token and </s>). */
  maxLength?: number;
  /** Folder holding embedded.json (default fixtures/text-encoder/). */
  folder?: string;
}

/** The embedded encoder, with synchronous variants for properties and tests. */
export interface EmbeddedTextEncoder extends TextEncoder {
  encodeSync(prompts: readonly string[]): TextEncoding;
  encodeNullSync(batch: number): TextEncoding;
  /** The token ids each prompt becomes (with </s>, before padding). */
  ids(prompt: string): number[];
  /** V: ids 2 … V+1 are vocabulary words, larger ids hash buckets. */
  readonly vocabSize: number;
}

/** COND-ENCODER: the embedded default encoder (d = 64, n = 16 unless given). */
export function embeddedTextEncoder(opts: EmbeddedEncoderOptions = {}): EmbeddedTextEncoder {
  const n = requirePositiveInt("maxLength", opts.maxLength ?? DEFAULT_MAX_LENGTH);
  require(n >= 2, "maxLength", n, "an integer ≥ 2 (one token and </s>)");
  const t = loadEmbeddedTable(opts.folder ?? EMBEDDED_ENCODER_DIR);
  const d = t.manifest.dim;
  const positions = Array.from({ length: n }, (_, i) => positionEmbedding(i, d));
  const embedIds = (rows: readonly number[][]): TextEncoding => {
    const B = rows.length;
    const emb = new Float64Array(B * n * d);
    const mask = new Float64Array(B * n);
    rows.forEach((ids, b) =>
      ids.forEach((id, i) => {
        mask[b * n + i] = 1;
        const o = (b * n + i) * d;
        for (let k = 0; k < d; k++) emb[o + k] = t.table[id * d + k] + positions[i][k];
      }),
    );
    return { embeddings: { shape: [B, n, d], data: emb } as Tensor, mask: { shape: [B, n], data: mask } as Tensor };
  };
  const enc: EmbeddedTextEncoder = {
    name: t.manifest.name ?? `embedded-v${t.manifest.version}`,
    dim: d,
    maxLength: n,
    ids: (prompt) => tokenIds(t, prompt, n),
    vocabSize: t.manifest.vocabSize,
    encodeSync(prompts) {
      checkPrompts(prompts);
      return embedIds(prompts.map((p) => tokenIds(t, p, n)));
    },
    /** COND-NULL: </s> alone at position 0, mask (1, 0, …, 0). */
    encodeNullSync(batch) {
      requirePositiveInt("batch", batch);
      return embedIds(Array.from({ length: batch }, () => [EOS_ID]));
    },
    encode: async (prompts) => enc.encodeSync(prompts),
    encodeNull: async (batch) => enc.encodeNullSync(batch),
  };
  return enc;
}

/** The encoder a model manifest names (`encoder: { name, maxLength }`), from the committed tables. */
export function namedTextEncoder(encoder: { readonly name: string; readonly maxLength: number }): EmbeddedTextEncoder {
  return embeddedTextEncoder({ maxLength: encoder.maxLength, folder: encoderFolder(encoder.name) });
}
