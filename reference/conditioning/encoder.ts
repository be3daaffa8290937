/**
 * COND — the text-encoder contract (spec/11-conditioning.md; article: "Conditioning": text becomes an
 * (n, d) tensor through a pretrained encoder).
 *
 * An encoder maps a batch of prompts to token embeddings [B, n, d] and a padding mask [B, n]
 * (1 = token, 0 = padding). Every prompt is padded (or truncated) to the encoder's `maxLength` n, so
 * the encodings of any two batches can be concatenated along the batch axis (CFG batching).
 *
 * The null condition (CFG's "unconditional" input, and what condition dropout substitutes during
 * training) is `encodeNull(B)`: by convention the encoding of the empty prompt, which for T5 is the
 * single end-of-sequence token `</s>` and for CLIP `<|startoftext|><|endoftext|>` (Stable Diffusion
 * and the glyffuser both train with "" as the dropped caption). It always has at least one unmasked
 * token, so attention over it is defined (COND-ATTN-MASK). `encode` itself rejects empty and
 * whitespace-only prompts with a ConfigError: a missing definition must not silently become an
 * unconditional sample; ask for the null condition explicitly.
 */
import { ConfigError } from "../errors.ts";
import type { Tensor } from "../tensor.ts";

/** Token embeddings and padding mask of a batch of prompts. COND-ENCODER. */
export interface TextEncoding {
  /** [B, n, d] Float64; rows at padded positions carry no meaning (the embedded encoder sets them to 0). */
  readonly embeddings: Tensor;
  /** [B, n]: 1 = token, 0 = padding. The ones form a prefix of each row. */
  readonly mask: Tensor;
}

/** COND-ENCODER: text → (n × d) token embeddings plus a padding mask. */
export interface TextEncoder {
  /** Short name for reports, e.g. "embedded-v1" or "transformers:t5-small". */
  readonly name: string;
  /** Embedding width d. */
  readonly dim: number;
  /** Sequence length n every encoding is padded or truncated to. */
  readonly maxLength: number;
  /** Encodes non-empty prompts. Empty or whitespace-only prompts are a ConfigError. */
  encode(prompts: readonly string[]): Promise<TextEncoding>;
  /** COND-NULL: the null condition, `batch` times (the encoding of the empty prompt; see the module comment). */
  encodeNull(batch: number): Promise<TextEncoding>;
}

/** COND-NULL, COND-INPUT-ERRORS: a batch of prompts has at least one, each a string with a non-whitespace character. */
export function checkPrompts(prompts: readonly string[]): void {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new ConfigError("prompts", prompts, "a non-empty array of strings");
  prompts.forEach((p, i) => {
    if (typeof p !== "string") throw new ConfigError(`prompts[${i}]`, p, "a string");
    if (p.trim() === "") {
      throw new ConfigError(`prompts[${i}]`, p, "a prompt with at least one non-whitespace character (for the unconditional input use encodeNull(batch), the null condition)");
    }
  });
}
