/** Golden parity: every public fixture passes `diffspec fixtures verify` (compat "diffusers"), strictly. */
import { afterEach, describe, expect, test, vi } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyFixtures, verifyValue, findFixtureFiles, HANDLERS } from "../conformance/fixtures/verify.ts";
import { loadFixture, FixtureFormatError } from "../conformance/fixtures/format.ts";
import { MAX_FILE_BYTES, MAX_TRAIN_TIMESTEPS } from "../conformance/fixtures/schema.ts";
import { InputFileError } from "../reference/errors.ts";
import { main } from "../cli/main.ts";

const F = "fixtures/diffusers";
const read = (rel: string): Record<string, any> => JSON.parse(readFileSync(join(F, rel), "utf8"));
const tmp = (): string => mkdtempSync(join(tmpdir(), "diffspec-fixtures-"));

/** Runs `diffspec ...` in process; returns the exit code and what it printed. */
async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const capture = (s: string | Uint8Array): boolean => ((out += String(s)), true);
  vi.spyOn(process.stdout, "write").mockImplementation(capture);
  vi.spyOn(process.stderr, "write").mockImplementation(capture);
  try {
    return { code: await main(argv), out };
  } finally {
    vi.restoreAllMocks();
  }
}
afterEach(() => vi.restoreAllMocks());

describe("fixtures verify", () => {
  test("all public diffusers and k-diffusion fixtures pass; only torch-generator noise is skipped", async () => {
    const results = await verifyFixtures([F]);
    expect(results.length).toBe(findFixtureFiles([F]).length);
    expect(results.filter((r) => r.status === "failed").map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    const skipped = results.filter((r) => r.status === "skipped");
    expect(skipped.every((r) => /torch's CPU generator/.test(r.message ?? ""))).toBe(true);
    expect(skipped.map((r) => r.id).sort()).toEqual(["diffusers_test/ddpm/full_loop_no_noise", "diffusers_test/ddpm/full_loop_with_v_prediction", "diffusers_test/euler_ancestral/full_loop_no_noise"]);
  });

  test("a corrupt, unknown or incomplete file fails alone with its field named; the others still run", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "a-bad-json.json"), "{ not json");
    writeFileSync(join(dir, "b-unknown-kind.json"), JSON.stringify({ id: "x", kind: "teleport" }));
    writeFileSync(join(dir, "c-missing-field.json"), JSON.stringify({ ...read("schedules/linear-N1000.json"), betas: undefined }));
    writeFileSync(join(dir, "d-wrong-values.json"), JSON.stringify({ ...read("kdiffusion/sigmas_karras/n10-sd.json"), id: "z", sigmas: [...read("kdiffusion/sigmas_karras/n10-sd.json").sigmas.slice(0, 3), 0.25, ...read("kdiffusion/sigmas_karras/n10-sd.json").sigmas.slice(4)] }));
    const results = await verifyFixtures([dir, `${F}/kdiffusion/sigmas_karras`]);
    const byId = Object.fromEntries(results.map((r) => [r.id.split("/").pop(), r]));
    expect(byId["a-bad-json.json"].status).toBe("failed");
    expect(byId["a-bad-json.json"].invalid).toBe(true);
    expect(byId["a-bad-json.json"].message).toMatch(/not a readable JSON file/);
    expect(byId["b-unknown-kind.json"].message).toMatch(/\$\.kind: unknown fixture kind "teleport"/);
    expect(byId["c-missing-field.json"].message).toMatch(/c-missing-field\.json: \$\.betas: .*expected array/);
    expect(byId["z"].status).toBe("failed");
    expect(byId["z"].invalid).toBeUndefined();
    expect(byId["z"].message).toMatch(/^sigmas\[3\]: reference .* file 0\.25/);
    expect(results.filter((r) => r.status === "passed").length).toBe(3);
  });

  test("config: null and num_train_timesteps: 1e9 are errors naming file and field (no unbounded run)", async () => {
    const dir = tmp();
    const base = read("schedules/linear-N1000.json");
    writeFileSync(join(dir, "null.json"), JSON.stringify({ ...base, config: null }));
    writeFileSync(join(dir, "huge.json"), JSON.stringify({ ...base, config: { ...base.config, num_train_timesteps: 1e9 } }));
    expect(() => loadFixture(join(dir, "null.json"))).toThrow(FixtureFormatError);
    expect(() => loadFixture(join(dir, "null.json"))).toThrow(/null\.json: \$\.config: .*expected object, received null/);
    expect(() => loadFixture(join(dir, "huge.json"))).toThrow(new RegExp(`huge\\.json: \\$\\.config\\.num_train_timesteps: at most ${MAX_TRAIN_TIMESTEPS}`));
    const loopFile = read("loops/ddim/linear-leading-eps-eta0-n10.json");
    const r = await verifyValue({ ...loopFile, num_inference_steps: 1e9 }, "steps.json");
    expect(r.message).toMatch(/steps\.json: \$\.num_inference_steps: at most 1000/);
    const shaped = await verifyValue({ ...loopFile, sample_shape: [1000, 1000, 1, 1] }, "shape.json");
    expect(shaped.message).toMatch(/\$\.sample_shape: has 1000000 values; at most 65536/);
    writeFileSync(join(dir, "huge-file.json"), "");
    truncateSync(join(dir, "huge-file.json"), MAX_FILE_BYTES + 1);
    expect(() => loadFixture(join(dir, "huge-file.json"))).toThrow(/huge-file\.json: \d+ bytes; a fixture file holds at most/);
    expect((await cli("fixtures", "verify", dir)).code).toBe(2);
  });

  test("missing paths, link loops, folder cycles and non-fixture files are typed errors (exit 2), never a stack trace", async () => {
    const dir = tmp();
    symlinkSync(join(dir, "b"), join(dir, "a"));
    symlinkSync(join(dir, "a"), join(dir, "b"));
    const cyc = join(tmp(), "cyc");
    mkdirSync(cyc);
    symlinkSync("..", join(cyc, "up"));
    expect(() => findFixtureFiles([join(dir, "missing")])).toThrow(InputFileError);
    expect(() => findFixtureFiles([join(dir, "a")])).toThrow(/symbolic link loop/);
    expect(() => findFixtureFiles([cyc])).toThrow(/folder cycle/);
    expect(() => findFixtureFiles([`${F}/README.md`])).toThrow(/not a fixture file/);
    for (const p of [join(dir, "missing"), join(dir, "a"), cyc, `${F}/README.md`]) {
      const { code, out } = await cli("fixtures", "verify", p);
      expect(code, out).toBe(2);
      expect(out).toMatch(/InputFileError/);
      expect(out).not.toMatch(/\n\s+at /);
    }
  });

  test("nothing checked is exit 3 (an empty folder, every file skipped) unless --allow-empty; a pass is 0, a mismatch 1", async () => {
    const empty = tmp();
    const e = await cli("fixtures", "verify", empty);
    expect(e.code).toBe(3);
    expect(e.out).toMatch(/nothing was checked/);
    expect((await cli("fixtures", "verify", "--allow-empty", empty)).code).toBe(0);
    expect((await cli("fixtures", "verify", `${F}/diffusers_test/ddpm`)).code).toBe(3);
    expect((await cli("fixtures", "verify", `${F}/kdiffusion/sigmas_karras`)).code).toBe(0);
    const bad = tmp();
    const f = read("kdiffusion/sigmas_karras/n10-sd.json");
    writeFileSync(join(bad, "x.json"), JSON.stringify({ ...f, sigmas: f.sigmas.map((s: number, i: number) => (i === 2 ? Math.fround(s * 1.01) : s)) }));
    expect((await cli("fixtures", "verify", bad)).code).toBe(1);
  });
});

describe("strict comparison: every array at its exact length", () => {
  const fails = async (rel: string, change: (f: Record<string, any>) => void, why: RegExp): Promise<void> => {
    const f = read(rel);
    change(f);
    const r = await verifyValue(f, rel);
    expect(r.status, `${rel}: ${r.message}`).toBe("failed");
    expect(r.message).toMatch(why);
  };

  test("k-diffusion trajectories are compared in full", async () => {
    await fails("kdiffusion/sample_euler/n10-sd.json", (f) => f.trajectory.pop(), /\$\.trajectory: has 9 entries; num_inference_steps says 10/);
    await fails("kdiffusion/sample_euler/n10-sd.json", (f) => (f.trajectory[3] = f.trajectory[3].slice(0, 1)), /\$\.trajectory\[3\]: holds 1 values; sample_shape says/);
  });

  test("zero-SNR schedules check length and type", async () => {
    await fails("schedules/linear-zerosnr-N1000.json", (f) => (f.alphas_cumprod = f.alphas_cumprod.slice(0, 1)), /\$\.alphas_cumprod: has 1 entries; num_train_timesteps says 1000/);
    await fails("schedules/linear-zerosnr-N1000.json", (f) => (f.betas[10] = String(f.betas[10])), /\$\.betas\[10\]: .*expected number/);
    await fails("schedules/linear-zerosnr-N1000.json", (f) => (f.betas[999] = Math.fround(f.betas[999] * 0.9)), /^betas\[999\]: reference/);
  });

  test("loop fixtures compare sigmas, final, the initial sample and which step drew each noise array", async () => {
    const loop = "loops/euler/scaled_linear-linspace-eps-n10.json";
    await fails(loop, (f) => f.sigmas.pop(), /^sigmas: the reference gives 11 values, the file holds 10/);
    await fails(loop, (f) => (f.final[0] = Math.fround(f.final[0] + 0.5)), /\$\.final: differs from trajectory\[-1\]/);
    await fails(loop, (f) => { f.final[0] = Math.fround(f.final[0] + 0.5); f.trajectory[9][0] = f.final[0]; }, /^trajectory\[9\]\[0\]: reference/);
    await fails(loop, (f) => (f.initial_sample[5] = Math.fround(f.initial_sample[5] * 1.001)), /^initial_sample\[5\]/);
    const noisy = "loops/euler_ancestral/scaled_linear-linspace-eps-n10.json";
    await fails(noisy, (f) => { f.noise.pop(); f.noise_step_index.pop(); }, /noise: step call 9 draws noise array 9, the file holds 9/);
    await fails(noisy, (f) => (f.noise_step_index[3] = 4), /^noise_step_index\[3\]: reference 3, file 4/);
  });

  test("a handler that leaves an array unread fails the file instead of passing it", async () => {
    const f = read("kdiffusion/sigmas_karras/n10-sd.json");
    const original = HANDLERS.kdiffusion_sigmas_karras!;
    HANDLERS.kdiffusion_sigmas_karras = async () => {};
    try {
      const r = await verifyValue(f, "k.json");
      expect(r.status).toBe("failed");
      expect(r.message).toMatch(/verifies no value of: sigmas/);
    } finally {
      HANDLERS.kdiffusion_sigmas_karras = original;
    }
  });

  test("every file under fixtures/diffusers parses (set-2 files too, once copied there)", () => {
    for (const p of findFixtureFiles([F])) expect(() => loadFixture(p)).not.toThrow();
  });
});

describe("k-diffusion set 2 (issue 16): DPM-Solver records, callback fields, recorded noise", () => {
  test("a changed record, callback field or unused noise draw fails the file, naming the field", async () => {
    const dir = tmp();
    const cases: [string, string, (f: Record<string, any>) => void, RegExp][] = [
      // Step 0 of this file has σ = 80 > s_tmax = 50, so γ = 0 and its draw is unused: only regenerating
      // default_rng(noise_seed) can see a change there.
      ["a", "kdiffusion/sample_heun/n7-edm-churn40-tmin0.05-tmax50.json", (f) => (f.noise[0][3] = Math.fround(f.noise[0][3] + 1e-3)), /^noise\[0\]\[3\]/],
      ["b", "kdiffusion/sample_dpmpp_3m_sde/n10-sd.json", (f) => (f.denoised[4][2] = Math.fround(f.denoised[4][2] + 1e-2)), /^denoised\[4\]\[2\]/],
      ["c", "kdiffusion/sample_euler/n10-sd-churn1.json", (f) => (f.callback_sigma_hat[3] = Math.fround(f.callback_sigma_hat[3] * 1.001)), /^callback_sigma_hat\[3\]/],
      ["d", "kdiffusion/sample_dpm_adaptive/sd-order3.json", (f) => (f.info_callbacks[3].n_reject += 1), /^info_callbacks\[3\]\.n_reject/],
      ["e", "kdiffusion/sample_dpm_adaptive/sd-order3.json", (f) => (f.info_callbacks[5].h = Math.fround(f.info_callbacks[5].h * 1.01)), /^info_callbacks\[5\]\.h/],
      ["f", "kdiffusion/sample_dpm_fast/n12-sd-eta1.json", (f) => f.info_callbacks.pop(), /info_callbacks: the reference reports 5 records, the file holds 4/],
      ["g", "kdiffusion/sigmas_vp/n10-default.json", (f) => (f.sigmas[9] = Math.fround(f.sigmas[9] * 1.001)), /^sigmas\[9\]/],
      ["h", "loops/k_dpm_2_ancestral/N1000-scaled_linear-linspace-eps-n10.json", (f) => (f.noise[8][0] = Math.fround(f.noise[8][0] + 1e-3)), /^noise\[8\]\[0\]/],
    ];
    for (const [name, file, mutate] of cases) {
      const f = read(file);
      mutate(f);
      writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...f, id: name }));
    }
    const results = await verifyFixtures([dir]);
    for (const [name, , , message] of cases) {
      const r = results.find((x) => x.path.endsWith(`/${name}.json`))!;
      expect(r.status, name).toBe("failed");
      expect(r.message, name).toMatch(message);
    }
  });
});

