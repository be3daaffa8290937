/** numpy's default_rng standard normals (conformance/fixtures/numpy-rng.ts) reproduce every recorded fixture draw. */
import { describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { findFixtureFiles } from "../conformance/fixtures/verify.ts";
import { numpyFloat32Normals, seedSequenceState } from "../conformance/fixtures/numpy-rng.ts";

describe("numpy default_rng", () => {
  test("every fixture with a numpy noise_seed: the recorded noise is the generator's float32 stream, bit for bit", () => {
    let files = 0;
    let values = 0;
    for (const path of findFixtureFiles(["fixtures/diffusers"])) {
      const f = JSON.parse(readFileSync(path, "utf8")) as { noise_seed?: unknown; noise_source?: string; noise?: number[][] };
      if (typeof f.noise_seed !== "number" || !f.noise || (f.noise_source && f.noise_source !== "numpy_default_rng")) continue;
      const next = numpyFloat32Normals(f.noise_seed);
      const got = f.noise.flat();
      const want = got.map(() => next());
      expect(got, path).toEqual(want);
      files++;
      values += got.length;
    }
    expect(files).toBeGreaterThanOrEqual(19); // 10 of set 1 and 9 of the set-2 files here (more as other set-2 classes are added)
    expect(values).toBeGreaterThan(2000);
  });

  test("SeedSequence spreads nearby seeds apart (no two of 0…99 share a state word)", () => {
    const words = new Set(Array.from({ length: 100 }, (_, s) => seedSequenceState([s], 1)[0]));
    expect(words.size).toBe(100);
  });
});
