/**
 * COND-ENCODER through transformers.js: a pretrained T5 encoder (the glyffuser used t5-small's) or a
 * CLIP text encoder, loaded from a local folder the user points at. Nothing is downloaded:
 * `env.allowRemoteModels = false` and `local_files_only`.
 *
 * The folder is a transformers.js model folder (what `optimum-cli export onnx` or the Xenova/* repos
 * hold): `config.json`, `tokenizer.json` (+ `tokenizer_config.json`) and one ONNX encoder graph in
 * `onnx/`: `encoder_model.onnx` (T5), `text_model.onnx` (CLIP) or `model.onnx` (an encoder-only export),
 * each also accepted with the `_quantized` or `_fp16` suffix. The graph takes `input_ids` and
 * `attention_mask` and returns `last_hidden_state` [B, n, d], which becomes the embeddings (Float64).
 *
 * Tokens: the tokenizer's own ids with its special tokens (T5 appends `</s>`; CLIP wraps in
 * `<|startoftext|> … <|endoftext|>`), truncated to n keeping the final special token (as Python
 * transformers truncates before adding special tokens), right-padded with the pad id. The null
 * condition is the encoding of "" (T5: `</s>` alone), like the glyffuser's dropped captions.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputFileError, require, requirePositiveInt } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import { checkPrompts, type TextEncoder, type TextEncoding } from "./encoder.ts";
import { withOptional } from "../optional.ts";

/** ONNX encoder files looked for, in order, with the transformers.js dtype each suffix means. */
export const ENCODER_FILES = ["encoder_model", "text_model", "model"] as const;
const SUFFIXES = [["", "fp32"], ["_quantized", "q8"], ["_fp16", "fp16"]] as const;

const EXPECTED =
  "a transformers.js model folder with config.json, tokenizer.json, tokenizer_config.json and onnx/encoder_model.onnx (T5), onnx/text_model.onnx (CLIP) or onnx/model.onnx (optionally with the _quantized or _fp16 suffix)";

/** The ONNX file and dtype to load from `folder`, or an InputFileError saying what is expected. */
export function findEncoderFiles(folder: string): { modelFileName: string; dtype: string } {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new InputFileError(folder, `no such folder; expected ${EXPECTED}`);
  for (const f of ["config.json", "tokenizer.json"]) {
    if (!existsSync(join(folder, f))) throw new InputFileError(folder, `has no ${f}; expected ${EXPECTED}`);
  }
  for (const name of ENCODER_FILES) {
    for (const [suffix, dtype] of SUFFIXES) if (existsSync(join(folder, "onnx", `${name}${suffix}.onnx`))) return { modelFileName: name, dtype };
  }
  throw new InputFileError(folder, `has no ONNX encoder graph; expected ${EXPECTED}`);
}

export interface TransformersEncoderOptions {
  /** Sequence length n (default 16). */
  maxLength?: number;
}

/** COND-ENCODER: a T5 or CLIP text encoder from a local folder, run by transformers.js (onnxruntime-node). */
export async function transformersTextEncoder(folder: string, opts: TransformersEncoderOptions = {}): Promise<TextEncoder> {
  const n = requirePositiveInt("maxLength", opts.maxLength ?? 16);
  require(n >= 2, "maxLength", n, "an integer ≥ 2");
  const path = resolve(folder); // absolute, so transformers.js never treats it as a hub model id
  const { modelFileName, dtype } = findEncoderFiles(path);
  const tf = await withOptional("the text encoder (COND-ENCODER)", () => import("@huggingface/transformers"));
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  const level = tf.env.logLevel;
  tf.env.logLevel = tf.LogLevel.ERROR; // a T5 folder loaded encoder-only warns that "t5" is not an encoder type
  let tokenizer: Awaited<ReturnType<typeof tf.AutoTokenizer.from_pretrained>>;
  let model: Awaited<ReturnType<typeof tf.PreTrainedModel.from_pretrained>>;
  try {
    tokenizer = await tf.AutoTokenizer.from_pretrained(path, { local_files_only: true });
    model = await tf.PreTrainedModel.from_pretrained(path, { local_files_only: true, model_file_name: modelFileName, dtype: dtype as "fp32" });
  } catch (e) {
    throw new InputFileError(path, `transformers.js could not load it (${(e as Error).message}); expected ${EXPECTED}`);
  } finally {
    tf.env.logLevel = level;
  }
  const config = model.config as unknown as Record<string, any>;
  const dim: number = config.d_model ?? config.hidden_size ?? config.text_config?.hidden_size;
  if (!Number.isInteger(dim)) throw new InputFileError(join(path, "config.json"), "names no width (d_model, hidden_size or text_config.hidden_size)");
  const padId = tokenizer.pad_token_id ?? 0;

  const run = async (prompts: readonly string[]): Promise<TextEncoding> => {
    const B = prompts.length;
    const ids = new BigInt64Array(B * n).fill(BigInt(padId));
    const mask = new Float64Array(B * n);
    prompts.forEach((p, b) => {
      let row = tokenizer.encode(p) as number[];
      if (row.length > n) row = [...row.slice(0, n - 1), row[row.length - 1]];
      row.forEach((id, i) => {
        ids[b * n + i] = BigInt(id);
        mask[b * n + i] = 1;
      });
    });
    const input_ids = new tf.Tensor("int64", ids, [B, n]);
    const attention_mask = new tf.Tensor("int64", BigInt64Array.from(mask, (m) => BigInt(m)), [B, n]);
    const out = (await model({ input_ids, attention_mask })) as { last_hidden_state?: { dims: number[]; data: ArrayLike<number> } };
    const h = out.last_hidden_state;
    if (!h || h.dims.length !== 3 || h.dims[0] !== B || h.dims[1] !== n || h.dims[2] !== dim) {
      throw new InputFileError(join(path, "onnx", `${modelFileName}.onnx`), `returned ${h ? `last_hidden_state of shape [${h.dims.join(", ")}]` : "no last_hidden_state"}, expected [${B}, ${n}, ${dim}]`);
    }
    return { embeddings: { shape: [B, n, dim], data: Float64Array.from(h.data) } as Tensor, mask: { shape: [B, n], data: mask } as Tensor };
  };

  return {
    name: `transformers:${config.model_type ?? "encoder"}:${path}`,
    dim,
    maxLength: n,
    async encode(prompts) {
      checkPrompts(prompts);
      return run(prompts);
    },
    async encodeNull(batch) {
      requirePositiveInt("batch", batch);
      return run(Array.from({ length: batch }, () => ""));
    },
  };
}
