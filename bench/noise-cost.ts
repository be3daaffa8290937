/**
 * The cost of noise per MiB, against a copy of the same bytes (issue 18):
 *
 *   npx tsx bench/noise-cost.ts [--reps N]
 *
 * One draw = 2¹⁸ normals (16×1×128×128: 1 MiB as float32). Per backend, the `randn` draw and a copy of the
 * bytes it writes (reference: a Float64Array copy, 2 MiB; wasm-simd: a tensor copy inside the WASM memory,
 * 1 MiB; the old host stream: seedrandom ARC4 + Box–Muller into a Float64Array), interleaved rep by rep and
 * timed by this process's CPU time (so other processes' load is left out). Reports the median ms per
 * draw, per MiB written, and randn ÷ copy.
 */
import { pathToFileURL } from "node:url";
import { referenceBackend } from "../adapters/reference/index.ts";
import { createWasmBackend } from "../adapters/wasm/index.ts";
import { GaussianStream } from "../reference/rng.ts";

const SHAPE = [16, 1, 128, 128];
const N = 16 * 128 * 128;

const cpuMs = (f: () => void): number => {
  const t0 = process.cpuUsage();
  f();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export interface NoiseCostRow {
  generator: string;
  bytes: number;
  msPerDraw: number;
  msPerMiB: number;
  copyMsPerMiB: number;
  ratio: number;
}

export async function noiseCost(reps = 15): Promise<NoiseCostRow[]> {
  const wasm = await createWasmBackend();
  const src64 = new Float64Array(N).fill(0.5);
  const wsrc = wasm.fromHost(src64, SHAPE);
  const cases = [
    { generator: "reference randn (Philox4x32-10, JS, Float64)", bytes: 8 * N, draw: (k: number) => void referenceBackend.randn(SHAPE, 1, k), copy: () => void src64.slice() },
    { generator: "wasm-simd randn (Philox4x32-10, SIMD kernel, float32)", bytes: 4 * N, draw: (k: number) => wasm.dispose(wasm.randn(SHAPE, 1, k)), copy: () => wasm.dispose(wasm.concat([wsrc])) },
    { generator: "host GaussianStream (seedrandom ARC4 + Box–Muller, before)", bytes: 8 * N, draw: (k: number) => void new GaussianStream(`1:${k}`).normals(N), copy: () => void src64.slice() },
  ];
  const draws = cases.map(() => [] as number[]);
  const copies = cases.map(() => [] as number[]);
  for (let r = -2; r < reps; r++) {
    cases.forEach((c, i) => {
      const d = cpuMs(() => c.draw(r + 10));
      const cp = cpuMs(() => { for (let k = 0; k < 10; k++) c.copy(); }) / 10;
      if (r >= 0) { draws[i].push(d); copies[i].push(cp); }
    });
  }
  return cases.map((c, i) => {
    const mib = c.bytes / 2 ** 20;
    const d = median(draws[i]);
    const cp = median(copies[i]);
    return { generator: c.generator, bytes: c.bytes, msPerDraw: d, msPerMiB: d / mib, copyMsPerMiB: cp / mib, ratio: d / cp };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const i = process.argv.indexOf("--reps");
  const rows = await noiseCost(i > 0 ? Number(process.argv[i + 1]) : 15);
  console.log(`randn of ${SHAPE.join("×")} (2¹⁸ normals), median CPU time over interleaved reps`);
  for (const r of rows) console.log(`${r.generator.padEnd(62)} ${(r.bytes / 2 ** 20).toFixed(0)} MiB  ${r.msPerDraw.toFixed(2).padStart(7)} ms/draw  ${r.msPerMiB.toFixed(2).padStart(7)} ms/MiB  copy ${r.copyMsPerMiB.toFixed(3)} ms/MiB  randn/copy ${r.ratio.toFixed(1)}×`);
}
