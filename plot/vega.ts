/**
 * Plots as SVG through vega-lite (compiled to vega, rendered headless in Node). Deterministic:
 * the same spec gives the same bytes, which the figure test relies on.
 */
import * as vl from "vega-lite";
import * as vega from "vega";
import type { TopLevelSpec } from "vega-lite";

export type VegaLiteSpec = TopLevelSpec;

/** Renders a vega-lite spec to an SVG string. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Common look for every diffspec plot. */
export const baseConfig = {
  font: "DejaVu Sans, Helvetica, Arial, sans-serif",
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.4 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: "start" as const },
  view: { stroke: "#ccc" },
};
