/** `diffspec adherence`: measure the glyffuser's prompt adherence against chance (glyffuser/adherence.ts). */
import { relative } from "node:path";
import { parse, intOption, seedOption } from "./args.ts";
import { checkOutputFile, writeOutputs } from "./output.ts";
import { ConfigError } from "../reference/errors.ts";
import { adherenceTable, judgeLine, measureAdherence, RADICAL_GROUPS } from "../glyffuser/adherence.ts";
import { loadJudge } from "../glyffuser/judge.ts";
import { loadGlyphDataset } from "../glyffuser/dataset.ts";
import { loadModel } from "../glyffuser/model.ts";
import { validateSampleOptions } from "../glyffuser/sample.ts";

export const ADHERENCE_HELP = `Usage: diffspec adherence [options]

For prompts whose meaning has a semantic radical (${RADICAL_GROUPS.map((g) => `${g.prompts.join("/")} → ${g.glyph} ${g.radical}`).join(", ")}),
samples glyphs and reports the share the radical judge (a classifier trained on the real glyphs; its held-out
accuracy is printed first) assigns that radical, with 95% Wilson score intervals, against chance (the radical's
share of the training set, and the rate at which this judge calls a real glyph that radical), for each guidance
weight and step count; also the share of near-copies of a training glyph (memorisation).

Options:
  --guidance LIST      comma-separated CFG weights (default 0,1,3,7)
  --steps LIST         comma-separated step counts (default 5,20)
  --per-prompt N       glyphs per prompt (default 8; ${RADICAL_GROUPS.reduce((s, g) => s + g.prompts.length, 0)} prompts)
  --sampler NAME       (default dpmpp-2m)
  --seed N             (default 0)
  --backend NAME       (default onnxruntime-cpu)
  --model PATH         (default the committed checkpoint)
  --judge PATH         radical judge manifest (default fixtures/glyffuser/judge.json)
  --json FILE          also write the report as JSON
  --markdown FILE      also write the table as Markdown
`;

const list = (name: string, v: string | undefined, fallback: number[]): number[] => {
  if (v === undefined) return fallback;
  const xs = v.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x) || String(x) === "")) throw new ConfigError(`--${name}`, v, "a comma-separated list of numbers");
  return xs;
};

export async function adherenceCommand(argv: string[]): Promise<number> {
  const { values: o } = parse(
    argv,
    { guidance: { type: "string" }, steps: { type: "string" }, "per-prompt": { type: "string" }, sampler: { type: "string" }, seed: { type: "string" }, backend: { type: "string" }, model: { type: "string" }, judge: { type: "string" }, json: { type: "string" }, markdown: { type: "string" } },
    "adherence",
  );
  if (o.help) { process.stdout.write(ADHERENCE_HELP); return 0; }
  const guidances = list("guidance", o.guidance, [0, 1, 3, 7]);
  const stepCounts = list("steps", o.steps, [5, 20]);
  const perPrompt = intOption("per-prompt", o["per-prompt"], 8);
  if (perPrompt < 1 || perPrompt > 256) throw new ConfigError("--per-prompt", perPrompt, "an integer in [1, 256]");
  const sampler = o.sampler ?? "dpmpp-2m";
  const seed = seedOption("seed", o.seed, 0);
  checkOutputFile("--json", o.json);
  checkOutputFile("--markdown", o.markdown);
  const backend = o.backend ?? "onnxruntime-cpu";
  for (const steps of stepCounts) for (const guidance of guidances) validateSampleOptions({ prompts: ["x"], steps, guidance, sampler, seed, backend });
  const model = loadModel(o.model);
  const judge = loadJudge(o.judge);
  const dataset = loadGlyphDataset();
  const t0 = performance.now();
  const report = await measureAdherence({
    model, dataset, judge, guidances, stepCounts, perPrompt, sampler, seed, backend,
    onRow: (r) => process.stderr.write(`steps ${r.steps}, w ${r.guidance}: ${(100 * r.pooled.k / r.pooled.n).toFixed(1)}% judged to carry the radical (chance ${(100 * r.chance).toFixed(1)}%), ${(100 * r.memorised).toFixed(1)}% near-copies, ${r.glyphs} glyphs, ${r.seconds.toFixed(1)} s\n`),
  });
  const table = adherenceTable(report);
  process.stdout.write(`${judgeLine(report)}\n\n${table}\n\ncells: share judged to carry the group's radical (${report.interval}); model ${model.manifestPath}; ${sampler}; ${perPrompt} glyphs per prompt; seed ${seed}; near-copy: L2 < ${report.nearCopyThreshold.toFixed(2)} (half the median train-train NN distance ${report.medianTrainNN.toFixed(2)}); ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  const failed = writeOutputs([
    { path: o.json, content: () => JSON.stringify({ model: relative(process.cwd(), model.manifestPath), ...report, judge: { ...report.judge, path: relative(process.cwd(), report.judge.path) } }, null, 2) + "\n" },
    { path: o.markdown, content: () => `${judgeLine(report)}\n\n${table}\n\nCells: share judged to carry the group's radical (${report.interval}).\n` },
  ]);
  for (const f of failed) process.stderr.write(`diffspec adherence: not written: ${f}\n`);
  return failed.length ? 2 : 0;
}
