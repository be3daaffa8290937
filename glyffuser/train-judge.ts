/**
 * Trains the radical judge (glyffuser/judge.ts) on the committed glyphs and writes it with its held-out
 * accuracy. Deterministic: the same data and hyper-parameters give the same bytes.
 *
 *   npx tsx glyffuser/train-judge.ts [--out fixtures/glyffuser/judge.json]
 */
import { createHash } from "node:crypto";
import { relative } from "node:path";
import { parse as parseCli } from "../cli/args.ts";
import { loadGlyphDataset } from "./dataset.ts";
import { DEFAULT_JUDGE_PATH, evaluateJudge, JUDGE_HYPER, JUDGE_SPLIT_RULE, judgeData, saveJudge, shiftedData, trainJudge } from "./judge.ts";

export async function trainJudgeCommand(argv: string[]): Promise<number> {
  const { values } = parseCli(argv, { out: { type: "string" } }, "train-judge");
  if (values.help) { process.stdout.write("Usage: npx tsx glyffuser/train-judge.ts [--out FILE.json]\n"); return 0; }
  const out = values.out ?? DEFAULT_JUDGE_PATH;
  const ds = loadGlyphDataset();
  const train = judgeData(ds, "train");
  const heldOut = judgeData(ds, "heldout");
  const t0 = performance.now();
  const w = trainJudge(train, JUDGE_HYPER, (e, loss) => process.stdout.write(`epoch ${e}/${JUDGE_HYPER.epochs}: mean training loss ${loss.toFixed(4)}\n`));
  const trainSeconds = (performance.now() - t0) / 1000;
  const ev = evaluateJudge(w, heldOut);
  const m = saveJudge(out, w, {
    hyper: JUDGE_HYPER,
    split: JUDGE_SPLIT_RULE,
    dataset: { pixelsSha256: createHash("sha256").update(ds.pixels).digest("hex"), train: train.labels.length, heldOut: heldOut.labels.length },
    heldOut: ev,
    heldOutShifted: Object.fromEntries(([["right", 1, 0], ["left", -1, 0], ["down", 0, 1], ["up", 0, -1]] as const).map(([k, dx, dy]) => [k, evaluateJudge(w, shiftedData(heldOut, dx, dy)).accuracy])),
    trainSeconds: Number(trainSeconds.toFixed(1)),
    retrain: "npx tsx glyffuser/train-judge.ts",
  });
  console.log(`trained on ${train.labels.length} glyphs in ${trainSeconds.toFixed(1)} s; held-out accuracy ${(100 * ev.accuracy).toFixed(1)}% (${ev.correct}/${ev.count})`);
  console.log(`held out, moved by one pixel: ${Object.entries(m.heldOutShifted).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`).join(", ")}`);
  for (const p of ev.perClass) console.log(`  ${p.label.padStart(5)}: ${(100 * p.accuracy).toFixed(1)}% (${p.correct}/${p.count})`);
  console.log(`wrote ${relative(process.cwd(), out)}`);
  return 0;
}

// Run directly: npx tsx glyffuser/train-judge.ts ...
if (process.argv[1]?.endsWith("train-judge.ts")) process.exitCode = await trainJudgeCommand(process.argv.slice(2));
