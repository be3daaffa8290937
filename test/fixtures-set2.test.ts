/**
 * Set-2 scheduler fixtures (conformance/fixtures/set2.ts): every array field is compared at its exact length.
 * Each array of a sample of files is mutated (emptied, one element, truncated by one, one value nudged past
 * tolerance) and the mutated file must fail `fixtures verify` — recorded noise included, also draws the sampler
 * multiplies by 0, which are checked against numpy's generator (conformance/fixtures/numpy-rng.ts).
 */
import { describe, expect, test } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyFixtureFile, verifyFixtures } from "../conformance/fixtures/verify.ts";

const SET2_CLASSES = ["flow_match_euler", "flow_match_heun", "lcm", "tcd", "edm_euler", "edm_dpmsolver_multistep", "ipndm", "sasolver"];
export const SAMPLE_FILES = [
  "loops/flow_match_heun/N1000-shift3-churn-n7.json",
  "loops/lcm/N1000-eps-n4.json",
  "loops/edm_euler/karras-eps-churn-n10.json",
  "loops/edm_dpmsolver_multistep/sde-dpmpp-order2-eps-n10.json",
  "loops/sasolver/N1000-scaled_linear-p3c1-v-karras-n13.json",
  "loops/tcd/N1000-eps-gamma0.3-n4.json",
  "timesteps/flow_match_euler/N1000-dynamic-linear-mu0.8-terminal0.02-n10.json",
  "loops/flow_match_euler/N1000-shift3-stochastic-n10.json",
];

type Json = Record<string, unknown>;
type Mutation = { what: string; apply: (f: Json) => void };

/** The numeric leaf arrays of a fixture as [getter, setter, label, isNoise, isInteger]. */
function leafArrays(f: Json): { label: string; get: (f: Json) => number[]; set: (f: Json, v: number[]) => void; noise: boolean; integer: boolean }[] {
  const out: ReturnType<typeof leafArrays> = [];
  const isNums = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number");
  const isNested = (v: unknown): v is number[][] => Array.isArray(v) && v.length > 0 && v.every(isNums);
  const visit = (label: string, get: (f: Json) => unknown, set: (f: Json, v: unknown) => void, noise: boolean, integer: boolean): void => {
    const v = get(f);
    if (isNums(v)) out.push({ label, get: get as (f: Json) => number[], set, noise, integer: integer || v.every(Number.isInteger) && label !== "initial_sample" });
    else if (isNested(v)) {
      out.push({ label: `${label} (outer)`, get: get as unknown as (f: Json) => number[], set: set as (f: Json, v: number[]) => void, noise: true, integer: false });
      for (const k of [0, v.length - 1]) visit(`${label}[${k}]`, (g) => (get(g) as number[][])[k], (g, x) => { (get(g) as unknown[])[k] = x; }, noise, integer);
    }
  };
  for (const key of Object.keys(f)) {
    if (key === "step_outputs") {
      for (const k of Object.keys(f.step_outputs as Json)) visit(`step_outputs.${k}`, (g) => (g.step_outputs as Json)[k], (g, x) => { (g.step_outputs as Json)[k] = x; }, false, false);
    } else visit(key, (g) => g[key], (g, x) => { g[key] = x; }, key === "noise", key === "noise_step_index" || key === "sample_shape" || (key === "timesteps" && f.timesteps_dtype === "int64"));
  }
  return out;
}

function mutations(f: Json): Mutation[] {
  const out: Mutation[] = [];
  for (const a of leafArrays(f)) {
    out.push({ what: `${a.label} emptied`, apply: (g) => a.set(g, []) });
    out.push({ what: `${a.label} one element`, apply: (g) => a.set(g, a.get(g).slice(0, 1)) });
    out.push({ what: `${a.label} truncated by one`, apply: (g) => a.set(g, a.get(g).slice(0, -1)) });
    if (a.label.endsWith("(outer)")) continue;
    out.push({
      what: `${a.label} one value nudged`,
      apply: (g) => {
        const v = [...a.get(g)];
        const i = Math.floor(v.length / 2);
        v[i] = a.integer ? v[i] + 1 : v[i] + 1e-2 * (1 + Math.abs(v[i]));
        a.set(g, v);
      },
    });
  }
  return out;
}

describe("set-2 scheduler fixtures", () => {
  test("every set-2 file of the flow / LCM / TCD / EDM / iPNDM / SA-Solver classes passes", async () => {
    const results = await verifyFixtures(SET2_CLASSES.flatMap((c) => [`fixtures/diffusers/loops/${c}`, `fixtures/diffusers/timesteps/${c}`]));
    expect(results.length).toBe(42);
    expect(results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.message}`)).toEqual([]);
  });

  test("every array of a sample of files, mutated, makes the file fail", async () => {
    const dir = mkdtempSync(join(tmpdir(), "diffspec-set2-"));
    const survived: string[] = [];
    let count = 0;
    for (const rel of SAMPLE_FILES) {
      const original = JSON.parse(readFileSync(join("fixtures/diffusers", rel), "utf8")) as Json;
      for (const m of mutations(original)) {
        const f = structuredClone(original);
        m.apply(f);
        const path = join(dir, `m${count++}.json`);
        writeFileSync(path, JSON.stringify(f));
        const r = await verifyFixtureFile(path);
        if (r.status !== "failed") survived.push(`${rel}: ${m.what} → ${r.status}`);
      }
    }
    expect(count).toBeGreaterThan(150);
    expect(survived).toEqual([]);
  });
});
