/** `diffspec sample`: draw glyphs from a prompt with the trained glyffuser (glyffuser/sample.ts) and write a PNG grid. */
import { parse, intOption, numberOption, seedOption } from "./args.ts";
import { checkOutputFile } from "./output.ts";
import { statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../reference/errors.ts";
import { namedTextEncoder } from "../reference/conditioning/embedded.ts";
import { GLYFFUSER_BACKENDS, SAMPLER_NAMES, sampleGlyphs, droppedTokens, unknownWords, validateSampleOptions, type SampleOptions } from "../glyffuser/sample.ts";
import { loadModel } from "../glyffuser/model.ts";
import { writeGlyphGrid } from "../glyffuser/png.ts";

export const SAMPLE_HELP = `Usage: diffspec sample --prompt TEXT [options]

Draws glyphs for an English prompt with the glyffuser (default: the committed checkpoint
fixtures/glyffuser/glyffuser.json) and writes them as a PNG grid.

Options:
  --prompt TEXT        the definition to draw (repeatable: one glyph per prompt; with --count, cycled)
  --count N            number of glyphs (default 16, or the number of prompts when several are given)
  --steps N            sampling steps, ≥ 1 (default 20)
  --sampler NAME       ${SAMPLER_NAMES.join(", ")} (default dpmpp-2m)
  --guidance W         classifier-free guidance weight, 0 = unconditional, 1 = conditional (default 3)
  --seed N             in [0, 2^32 − 1] (default 0)
  --backend NAME       ${GLYFFUSER_BACKENDS.join(", ")} (default onnxruntime-cpu)
  --model PATH         model .json (or its .onnx) (default the committed checkpoint)
  --out FILE.png       (default glyphs.png; an existing folder: FOLDER/glyphs.png)
  --frames FILE.png    also write the denoising trajectory: one row per glyph (at most 8), one column per step
  --scale N            pixels per glyph pixel (default 3)
`;

/** A prompt quoted for a message (at most 60 characters, then …). */
const short = (p: string): string => JSON.stringify(p.length > 60 ? `${p.slice(0, 60)}…` : p);

function isFolder(path: string | undefined): boolean {
  try {
    return path !== undefined && statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export async function sampleCommand(argv: string[]): Promise<number> {
  const { values: o } = parse(
    argv,
    {
      prompt: { type: "string", multiple: true }, count: { type: "string" }, steps: { type: "string" }, sampler: { type: "string" },
      guidance: { type: "string" }, seed: { type: "string" }, backend: { type: "string" }, model: { type: "string" }, out: { type: "string" },
      frames: { type: "string" }, scale: { type: "string" },
    },
    "sample",
  );
  if (o.help) { process.stdout.write(SAMPLE_HELP); return 0; }
  const prompts = o.prompt ?? [];
  if (prompts.length === 0) throw new ConfigError("--prompt", undefined, "at least one prompt, e.g. --prompt gold");
  const guidance = numberOption("guidance", o.guidance, 3, { min: 0, max: 50 });
  const count = intOption("count", o.count, prompts.length > 1 ? prompts.length : 16);
  const scale = intOption("scale", o.scale, 3);
  if (scale < 1 || scale > 16) throw new ConfigError("--scale", scale, "an integer in [1, 16]");
  const out = isFolder(o.out) ? join(o.out!, "glyphs.png") : (o.out ?? "glyphs.png");
  if (!out.toLowerCase().endsWith(".png")) throw new ConfigError("--out", out, "a path ending in .png, or an existing folder");
  if (o.frames !== undefined && !o.frames.toLowerCase().endsWith(".png")) throw new ConfigError("--frames", o.frames, "a path ending in .png");
  checkOutputFile("--out", out, { stdout: false });
  checkOutputFile("--frames", o.frames, { stdout: false });
  const cycled = prompts.length > 1 ? Array.from({ length: count }, (_, i) => prompts[i % prompts.length]) : prompts;
  const base: SampleOptions = {
    prompts: cycled,
    count,
    steps: intOption("steps", o.steps, 20),
    sampler: o.sampler ?? "dpmpp-2m",
    guidance,
    seed: seedOption("seed", o.seed, 0),
    backend: o.backend ?? "onnxruntime-cpu",
  };
  validateSampleOptions(base); // before loading anything: argument errors come first
  const model = loadModel(o.model);
  const encoder = namedTextEncoder(model.manifest.encoder);
  encoder.encodeSync(prompts); // a prompt the encoder cannot tokenise fails here, before any work
  for (const p of new Set(prompts)) {
    const unknown = unknownWords(encoder, p);
    if (unknown.length) process.stderr.write(`note: ${unknown.map((w) => JSON.stringify(w)).join(", ")} in ${short(p)} ${unknown.length > 1 ? "are" : "is"} not in the encoder's vocabulary (hashed to a random vector that carries no meaning)\n`);
    const dropped = droppedTokens(encoder, p);
    if (dropped.length) process.stderr.write(`note: the encoder reads the first ${encoder.maxLength - 1} tokens of ${short(p)}; the last ${dropped.length} are cut, from ${JSON.stringify(dropped[0])} on\n`);
  }
  const frameRows = Math.min(count, 8);
  const frames: Float64Array[] = [];
  const result = await sampleGlyphs({
    ...base,
    model,
    onStep: o.frames ? (_i, _t, x) => { frames.push(x.slice(0, frameRows * x.length / count)); } : undefined,
  });
  const S = result.size;
  writeGlyphGrid(out, result.images, result.batch, S, { scale });
  process.stdout.write(`wrote ${out}: ${result.batch} glyphs for ${JSON.stringify(prompts.length === 1 ? prompts[0] : prompts)}, ${base.sampler} ${base.steps} steps, guidance ${guidance}, seed ${base.seed}, ${result.backend}, ${result.modelEvaluations} model calls, ${result.seconds.toFixed(1)} s\n`);
  if (o.frames) {
    const cols = Math.min(frames.length, 20);
    const pick = Array.from({ length: cols }, (_, j) => Math.round((j * (frames.length - 1)) / Math.max(1, cols - 1)));
    const per = S * S;
    const grid = new Float64Array(frameRows * cols * per);
    for (let r = 0; r < frameRows; r++) pick.forEach((f, c) => grid.set(frames[f].subarray(r * per, (r + 1) * per), (r * cols + c) * per));
    writeGlyphGrid(o.frames, grid, frameRows * cols, S, { columns: cols, scale: Math.max(1, scale - 1) });
    process.stdout.write(`wrote ${o.frames}: the trajectory at ${cols} of ${frames.length} steps (columns), ${frameRows} glyphs (rows)\n`);
  }
  return 0;
}
