/** Golden parity: every public fixture passes `diffspec fixtures verify` (compat "diffusers"). */
import { describe, expect, test } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyFixtures } from "../conformance/fixtures/verify.ts";

describe("fixtures verify", () => {
  test("all public diffusers and k-diffusion fixtures pass; only torch-generator noise is skipped", async () => {
    const results = await verifyFixtures(["fixtures/diffusers"]);
    expect(results.length).toBe(90);
    expect(results.filter((r) => r.status === "failed").map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    const skipped = results.filter((r) => r.status === "skipped");
    expect(skipped.every((r) => /torch's CPU generator/.test(r.message ?? ""))).toBe(true);
    expect(skipped.map((r) => r.id).sort()).toEqual(["diffusers_test/ddpm/full_loop_no_noise", "diffusers_test/ddpm/full_loop_with_v_prediction", "diffusers_test/euler_ancestral/full_loop_no_noise"]);
  });

  test("a corrupt, unknown or incomplete file fails alone with a message; the others still run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "diffspec-fixtures-"));
    writeFileSync(join(dir, "a-bad-json.json"), "{ not json");
    writeFileSync(join(dir, "b-unknown-kind.json"), JSON.stringify({ id: "x", kind: "teleport" }));
    writeFileSync(join(dir, "c-missing-field.json"), JSON.stringify({ id: "y", kind: "schedule", config: {} }));
    writeFileSync(join(dir, "d-wrong-values.json"), JSON.stringify({ id: "z", kind: "kdiffusion_sigmas_karras", args: { n: 2, sigma_min: 0.1, sigma_max: 10, rho: 7 }, sigmas: [10, 0.2, 0] }));
    const results = await verifyFixtures([dir, "fixtures/diffusers/kdiffusion/sigmas_karras"]);
    const byId = Object.fromEntries(results.map((r) => [r.id.split("/").pop(), r]));
    expect(byId["a-bad-json.json"].status).toBe("failed");
    expect(byId["a-bad-json.json"].message).toMatch(/not a readable JSON file/);
    expect(byId["b-unknown-kind.json"].message).toMatch(/unknown fixture kind "teleport"/);
    expect(byId["c-missing-field.json"].message).toMatch(/needs the field\(s\) betas, alphas_cumprod/);
    expect(byId["z"].status).toBe("failed");
    expect(byId["z"].message).toMatch(/sigmas: index 1/);
    expect(results.filter((r) => r.status === "passed").length).toBe(2);
  });
});
