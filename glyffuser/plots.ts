/** The training loss curve as SVG (plot/vega.ts): the logged loss and its running average against the step. */
import { renderSvg, baseConfig } from "../plot/vega.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import type { LogEntry } from "./train.ts";

export async function lossCurveSvg(entries: readonly LogEntry[], title = "glyffuser training: ε-loss (min-SNR weighted)"): Promise<string> {
  const values = entries.flatMap((e) => [
    { step: e.step, loss: e.loss, series: "loss (one batch)" },
    { step: e.step, loss: e.lossSmooth, series: "running average (α = 0.02)" },
  ]);
  return renderSvg({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 560,
    height: 300,
    data: { values },
    mark: { type: "line", strokeWidth: 1.2 },
    encoding: {
      x: { field: "step", type: "quantitative", title: "optimizer step" },
      y: { field: "loss", type: "quantitative", title: "loss", scale: { type: "log" } },
      color: { field: "series", type: "nominal", title: null, legend: { orient: "top-right" } },
      opacity: { condition: { test: "datum.series === 'loss (one batch)'", value: 0.35 }, value: 1 },
    },
    config: baseConfig,
  });
}

export async function writeLossCurve(path: string, entries: readonly LogEntry[]): Promise<void> {
  if (entries.length === 0) return;
  writeFileAtomic(path, await lossCurveSvg(entries));
}
