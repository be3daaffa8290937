/**
 * The DPMSolverSDEScheduler / sample_dpmpp_sde golden vectors are checked field by field
 * (conformance/fixtures/verify-sde.ts): every array of each file, emptied, cut to one element, truncated by
 * one or (outputs and schedules) nudged past tolerance, makes the file fail. The recorded `noise` rows are
 * inputs: a nudge of one of them is only visible through σ_u·z, which is 0 for η = 0 (n7-edm-eta0) and below
 * the trajectory tolerance for the last small σ, so they are mutated in length only.
 */
import { describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyFixtureFile } from "../conformance/fixtures/verify.ts";

const FILES = [
  "fixtures/diffusers/loops/dpmsolver_sde/N1000-scaled_linear-karras-v-seed42-n7.json",
  "fixtures/diffusers/loops/dpmsolver_sde/N1000-scaled_linear-linspace-eps-seed0-n10.json",
  "fixtures/diffusers/timesteps/dpmsolver_sde/N1000-scaled_linear-linspace-n10.json",
  "fixtures/diffusers/kdiffusion/sample_dpmpp_sde/n10-sd.json",
  "fixtures/diffusers/kdiffusion/sample_dpmpp_sde/n7-edm-eta0.json",
];

type Path = (string | number)[];

/** Paths of every array in the file; of a 2-D array's rows, the first, middle and last. */
function arrayPaths(v: unknown, p: Path = []): Path[] {
  if (Array.isArray(v)) {
    const rows = v.map((x, i) => (Array.isArray(x) ? i : -1)).filter((i) => i >= 0);
    const pick = [...new Set([rows[0], rows[rows.length >> 1], rows[rows.length - 1]])].filter((i) => i !== undefined);
    return [p, ...pick.flatMap((i) => arrayPaths(v[i], [...p, i]))];
  }
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => arrayPaths(x, [...p, k]));
  return [];
}

function mutate(base: unknown, path: Path, kind: string): unknown | undefined {
  const d = JSON.parse(JSON.stringify(base));
  let o = d;
  for (const k of path.slice(0, -1)) o = o[k];
  const key = path[path.length - 1];
  const a = o[key] as unknown[];
  if (kind === "empty") o[key] = [];
  else if (kind === "one") o[key] = a.slice(0, 1);
  else if (kind === "truncated") o[key] = a.slice(0, -1);
  else {
    if (path[0] === "noise") return undefined;
    const j = a.length >> 1;
    if (typeof a[j] !== "number") return undefined;
    a[j] = (a[j] as number) + 1e-2 * (1 + Math.abs(a[j] as number));
  }
  return d;
}

describe("DPMSolverSDE and sample_dpmpp_sde golden vectors", () => {
  test("all five pass", async () => {
    for (const f of FILES) expect((await verifyFixtureFile(f)).status, f).toBe("passed");
  });
  test("every array, emptied, cut to one, truncated or nudged, fails the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "diffspec-sde-"));
    const survivors: string[] = [];
    for (const file of FILES) {
      const base = JSON.parse(readFileSync(file, "utf8"));
      for (const path of arrayPaths(base)) {
        for (const kind of ["empty", "one", "truncated", "nudged"]) {
          const m = mutate(base, path, kind);
          if (m === undefined) continue;
          const out = join(dir, "m.json");
          writeFileSync(out, JSON.stringify(m));
          if ((await verifyFixtureFile(out)).status !== "failed") survivors.push(`${file.split("/").pop()} ${path.join(".")} ${kind}`);
        }
      }
    }
    expect(survivors).toEqual([]);
  }, 60_000);
});
