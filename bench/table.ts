/** The console table of a bench report, and the GPU goals summary. */
import { table } from "./compare.ts";
import { GOAL_REFERENCES } from "./run.ts";
import type { BenchReport, BenchRow, GoalReport } from "./types.ts";

const num = (v: number | null | undefined, digits = 3): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return a >= 100 ? v.toFixed(0) : v.toPrecision(digits);
};
/** Long messages are cut in the table (the JSON has them whole). */
const short = (s: string, n = 110): string => (s.length > n ? s.slice(0, n - 1) + "…" : s);
const sci = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? "—" : v.toExponential(2));

export function resultsTable(rows: readonly BenchRow[]): string {
  const head = ["backend", "model", "shape", "sampler", "steps", "NFE", "ms/batch", "±95%", "p10–p90 ms", "runs", "model ms/step", "sampler ms/step", "loop/model", "RMS err", "ED 2-D", "ED 64-D", "learned err", "RSS MB", "note"];
  const body = rows.map((r) => [
    r.backend, r.model, `${r.resolution}²×${r.batch}`, r.sampler, String(r.steps), r.evaluations === undefined ? "—" : String(r.evaluations),
    num(r.msPerBatch),
    r.timing?.rme === null || r.timing?.rme === undefined ? "—" : `${r.timing.rme.toFixed(1)}%${r.timing.met === false ? "!" : ""}`,
    r.timing?.p10Ms === undefined ? "—" : `${num(r.timing.p10Ms)}–${num(r.timing.p90Ms)}`,
    r.timing ? String(r.timing.iterations) : "—",
    num(r.msPerStepModel), num(r.msPerStepSampler), r.loopOverModel === undefined ? "—" : r.loopOverModel.toFixed(3),
    sci(r.quality?.rmsError), sci(r.quality?.energyDistance2d), sci(r.quality?.energyDistance64d), sci(r.quality?.learnedRmsError),
    r.memory ? r.memory.peakRssMB.toFixed(0) : "—",
    short(r.error ? `ERROR ${r.error}` : r.quality?.errors ? `quality: ${Object.entries(r.quality.errors).map(([k, v]) => `${k} ${v}`).join("; ")}` : ""),
  ]);
  const note = "±95%: relative 95 % half-width of the typical time (t-interval of the mean log run time); ! = the run cap stopped the runs before the target precision. p10–p90: the spread of the timed runs (interleaved across the workload's configurations).";
  return table(head, body, [false, false, false, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true, false]).join("\n") + "\n" + note + "\n";
}

export function modelPassTable(report: Pick<BenchReport, "modelPasses">): string {
  const head = ["backend", "model", "shape", "params", "passes", "ms/pass", "note"];
  const body = report.modelPasses.map((p) => [p.backend, p.model, `${p.resolution}²×${p.batch}`, p.parameters ? `${(p.parameters / 1e6).toFixed(2)} M` : "—", String(p.passes), num(p.msPerPass), short(p.error ?? "")]);
  return table(head, body, [false, false, false, true, true, true, false]).join("\n") + "\n";
}

export function goalsText(g: GoalReport): string {
  const lines: string[] = [];
  lines.push(`GPU goal 1 — the full 20-step DPM-Solver++(2M) loop costs at most ${GOAL_REFERENCES.loopOverModelTarget}× its 20 model passes:`);
  if (!g.loopOverModel.length) lines.push("  (no dpmpp-2m 20-step configuration was measured)");
  for (const r of g.loopOverModel) {
    const head = `  ${r.backend.padEnd(20)} ${r.model} ${r.resolution}²×${r.batch}`;
    if (r.ratio === null) lines.push(`${head}: not measured — ${short(r.error ?? "no model pass time", 300)}`);
    else lines.push(`${head}: loop ${num(r.msPerBatch)} ms vs 20 × ${num(r.msPerPass)} ms = ${num(20 * r.msPerPass!)} ms → ${r.ratio.toFixed(3)}× ${r.met ? "MET" : "NOT MET"}`);
  }
  lines.push(`GPU goal 2 — one glyffuser-size U-Net pass (128², batch 16) as fast as possible (PyTorch eager CUDA: ${GOAL_REFERENCES.pytorchEagerCudaFp32Ms} ms fp32, ${GOAL_REFERENCES.pytorchEagerCudaFp16Ms} ms fp16; onnxruntime webgpu seen at ${GOAL_REFERENCES.onnxruntimeWebgpuFp32MsLow}–${GOAL_REFERENCES.onnxruntimeWebgpuFp32MsHigh} ms fp32, ${GOAL_REFERENCES.onnxruntimeWebgpuFp16Ms} ms fp16):`);
  if (!g.unetPass.length) lines.push("  (no U-Net pass was measured)");
  for (const p of g.unetPass) {
    const head = `  ${p.backend.padEnd(20)} ${p.model} ${p.resolution}²×${p.batch}${p.parameters ? ` (${(p.parameters / 1e6).toFixed(1)} M params)` : ""}`;
    const comparable = p.model === "unet-full" && p.resolution === 128 && p.batch === 16;
    const precision = p.precision ?? "fp32";
    const torchMs = precision === "fp16" ? GOAL_REFERENCES.pytorchEagerCudaFp16Ms : GOAL_REFERENCES.pytorchEagerCudaFp32Ms;
    const rate = p.gflop && p.msPerPass ? `, ${num(p.gflop / 1000)} TFLOP a pass → ${num(p.gflop / p.msPerPass)} TFLOP/s` : "";
    lines.push(p.msPerPass === null ? `${head}: not measured — ${short(p.error ?? "unknown", 300)}` : `${head}: ${num(p.msPerPass)} ms per pass, ${precision}${rate}${p.attention ? `, attention ${p.attention}` : ""}${comparable ? ` (${(p.msPerPass / torchMs).toFixed(1)}× PyTorch eager ${precision})` : " (not the goal's shape: no comparison)"}`);
  }
  return lines.join("\n") + "\n";
}

export function summaryText(report: BenchReport): string {
  const avail = report.backends.filter((b) => b.available).map((b) => (b.detail && b.name.includes("webgpu") ? `${b.name} [${b.detail}]` : b.name));
  const unavail = report.backends.filter((b) => !b.available);
  const lines = [
    `diffspec bench (${report.preset}) — ${report.machine.cpuModel}, ${report.machine.cores} cores, ${report.machine.totalMemoryGB} GB, node ${report.machine.node}; ${report.results.length} configurations in ${report.durationS.toFixed(1)} s`,
    `backends: ${avail.join(", ") || "none"}${unavail.length ? `; unavailable: ${unavail.map((b) => `${b.name} (${(b.reason ?? "").slice(0, 120)})`).join("; ")}` : ""}`,
  ];
  if (report.skipped.length) lines.push(`skipped: ${report.skipped.length} configurations (time cap or no implementation; see "skipped" in the JSON)`);
  return lines.join("\n") + "\n";
}
