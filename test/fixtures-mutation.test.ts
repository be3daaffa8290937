/**
 * The mutation check of `fixtures verify` (decision 3; fixtures/README.md, "Strictness"): every
 * non-empty array of every fixture file under fixtures/diffusers (discovered now, so files added
 * later are covered) is emptied, cut to one element, truncated by one, and — for arrays of
 * numbers — has one value nudged just past the bound the verification applies to it. Every mutant
 * of a passing file must fail; a mutant of a skipped file must not pass. The only exception is
 * listed, not hidden: a recorded noise draw whose unit change moves no computed value (the sampler
 * multiplies it by 0 or by DDPM's 1e-10 variance floor), which no comparison of outputs can see —
 * possible only for draws not from numpy: numpy draws are compared with the generator re-derived from
 * noise_seed (conformance/fixtures/numpy-rng.ts).
 * The full cross product runs here (about 3 300 mutants of 85 files, a few seconds).
 */
import { describe, expect, test } from "vitest";
import { findFixtureFiles } from "../conformance/fixtures/verify.ts";
import { mutationCheck } from "../conformance/fixtures/mutation.ts";

describe("fixtures verify fails every mutated fixture", () => {
  test("emptied, one element, truncated by one, one value nudged past its bound: all fail", async () => {
    const files = findFixtureFiles(["fixtures/diffusers"]);
    const r = await mutationCheck(files);
    expect(r.files).toBe(files.length);
    // three structural mutants per array (two when it has one element) plus a nudge per numeric array
    expect(r.mutants).toBeGreaterThanOrEqual(3 * r.arrays);
    expect(r.survivors.map((s) => `${s.file} ${s.path} ${s.kind} ${s.detail}: ${s.status}`)).toEqual([]);
    for (const s of r.inert) expect(s.path, `${s.file}: only recorded noise can be inert`).toMatch(/^noise\[\d+\]$/);
    expect(r.notPassing.every((v) => v.status === "skipped")).toBe(true);
  }, 120_000);
});
