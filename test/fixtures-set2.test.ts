/**
 * The set-2 fixtures of the flow / LCM / TCD / EDM / iPNDM / SA-Solver schedulers (fixtures/diffusers/{timesteps,
 * loops}/): all 42 pass `fixtures verify` with every array compared (the mutation check of every file is
 * test/fixtures-mutation.test.ts; recorded numpy noise is compared value by value, conformance/fixtures/numpy-rng.ts).
 */
import { describe, expect, test } from "vitest";
import { verifyFixtures } from "../conformance/fixtures/verify.ts";

const SET2_CLASSES = ["flow_match_euler", "flow_match_heun", "lcm", "tcd", "edm_euler", "edm_dpmsolver_multistep", "ipndm", "sasolver"];

describe("set-2 scheduler fixtures", () => {
  test("every set-2 file of the flow / LCM / TCD / EDM / iPNDM / SA-Solver classes passes", async () => {
    const results = await verifyFixtures(SET2_CLASSES.flatMap((c) => [`fixtures/diffusers/loops/${c}`, `fixtures/diffusers/timesteps/${c}`]));
    expect(results.length).toBe(42);
    expect(results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.message}`)).toEqual([]);
  });
});
