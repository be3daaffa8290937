/**
 * DDPM / DDIM / PNDM (spec/07-samplers-ddpm-ddim-pndm.md): golden vectors, typed errors for bad input,
 * model-evaluation counts, the diffusers-test loop styles.
 */
import { describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { referenceBackend as ref } from "../adapters/reference/index.ts";
import { verifyFixtures, findFixtureFiles } from "../conformance/fixtures/verify.ts";
import { camelConfig, loadFixture, type Fixture } from "../conformance/fixtures/format.ts";
import { runDiffusersTest } from "../conformance/fixtures/diffusers-test.ts";
import { dummySampleDeter, fixtureModel } from "../conformance/fixtures/models.ts";
import { ConfigError, DiffspecError, InputFileError, ShapeError, StateError } from "../reference/errors.ts";
import { GaussianStream, RecordedNoise } from "../reference/rng.ts";
import type { Tensor } from "../reference/tensor.ts";
import { createScheduler } from "../reference/samplers/index.ts";
import { hostNoise, runPipeline, type Scheduler } from "../reference/samplers/scheduler.ts";
import { DDPMScheduler, createDDPMScheduler } from "../reference/samplers/ddpm.ts";
import { DDIMScheduler, createDDIMScheduler, ddimCoefficients } from "../reference/samplers/ddim.ts";
import { PNDMScheduler, createPNDMScheduler } from "../reference/samplers/pndm.ts";

const F = "fixtures/diffusers";
const MINE = ["loops/ddim", "loops/ddpm", "loops/pndm", "timesteps/ddim", "timesteps/ddpm", "diffusers_test/ddim", "diffusers_test/ddpm", "diffusers_test/pndm"].map((d) => `${F}/${d}`);
const SHAPE = [2, 1, 2, 2];
const x8 = (v = 0.5): Tensor => ref.fromHost(new Float64Array(8).fill(v), SHAPE);
const noise = () => hostNoise(ref, new GaussianStream(1));
const counting = (f: (x: Tensor, t: number) => Tensor = (x) => x) => {
  const m = { predictionType: "epsilon" as const, calls: 0, async evaluate(x: Tensor, t: number) { m.calls++; return f(x, t); } };
  return m;
};

describe("golden vectors (diffusers v0.40.0)", () => {
  test("every DDPM / DDIM / PNDM fixture passes (diffusers_test with torch's generator: skipped)", async () => {
    const results = await verifyFixtures(MINE);
    expect(results.length).toBe(findFixtureFiles(MINE).length);
    expect(results.length).toBeGreaterThanOrEqual(24);
    for (const r of results) {
      if (r.status === "skipped") expect(loadFixture(r.path).uses_torch_generator, `${r.id}: ${r.message}`).toBe(true);
      else expect(r.status, `${r.id}: ${r.message}`).toBe("passed");
    }
  }, 120_000);

  test("each class accepts every key of its diffusers full_config", async () => {
    for (const path of findFixtureFiles(MINE)) {
      const f = loadFixture(path);
      const cls = (f.source as { class: string }).class;
      const s = await createScheduler(cls, { ...camelConfig(f.full_config as Record<string, unknown>), compat: "diffusers" }, ref);
      expect(s.config.compat).toBe("diffusers");
    }
  });

  test("the registry builds these classes", async () => {
    expect(await createScheduler("DDPMScheduler", {}, ref)).toBeInstanceOf(DDPMScheduler);
    expect(await createScheduler("DDIMScheduler", {}, ref)).toBeInstanceOf(DDIMScheduler);
    expect(await createScheduler("PNDMScheduler", {}, ref)).toBeInstanceOf(PNDMScheduler);
  });

  test("defaults are diffusers' (DDPM/DDIM clip_sample = True, DDIM set_alpha_to_one = True, PNDM False)", () => {
    expect(createDDPMScheduler({}, ref).config.clipSample).toBe(true);
    expect(createDDIMScheduler({}, ref).config).toMatchObject({ clipSample: true, setAlphaToOne: true });
    expect(createPNDMScheduler({}, ref).config).toMatchObject({ setAlphaToOne: false, skipPrkSteps: false });
  });
});

describe("bad input gets typed errors", () => {
  const all = (): Scheduler<Tensor>[] => [createDDPMScheduler({}, ref), createDDIMScheduler({}, ref), createPNDMScheduler({}, ref)];

  test("step before setTimesteps → StateError", async () => {
    for (const s of all()) await expect(s.step(x8(), 0, x8(), { noise: noise() })).rejects.toThrow(StateError);
  });

  test("a timestep not in the schedule → ConfigError naming it", async () => {
    for (const s of all()) {
      s.setTimesteps(10);
      await expect(s.step(x8(), 901, x8(), { noise: noise() })).rejects.toThrow(ConfigError);
      await expect(s.step(x8(), 901, x8(), { noise: noise() })).rejects.toThrow(/timestep = 901/);
    }
  });

  test("n not a positive integer, or n > numTrainTimesteps → ConfigError", () => {
    for (const s of all()) {
      for (const n of [0, -1, 1.5, NaN]) expect(() => s.setTimesteps(n)).toThrow(ConfigError);
      expect(() => s.setTimesteps(1001)).toThrow(/≤ numTrainTimesteps/);
    }
  });

  test("unknown config keys and bad values → ConfigError naming the field", () => {
    expect(() => createDDPMScheduler({ varianceTyp: "fixed_small" }, ref)).toThrow(/DDPMScheduler.varianceTyp/);
    expect(() => createDDPMScheduler({ varianceType: "fixed" }, ref)).toThrow(/fixed_small_log/);
    expect(() => createDDIMScheduler({ eta: 0.5 }, ref)).toThrow(ConfigError); // η is a step option, as in diffusers
    expect(() => createDDIMScheduler({ setAlphaToOne: "yes" }, ref)).toThrow(/setAlphaToOne/);
    expect(() => createDDIMScheduler({ thresholding: true, sampleMaxValue: 0 }, ref)).toThrow(/sampleMaxValue/);
    expect(() => createDDIMScheduler({ thresholding: true, sampleMaxValue: 0.5 }, ref)).not.toThrow(); // diffusers' DPM test uses 0.5
    expect(() => createDDIMScheduler({ thresholding: true, dynamicThresholdingRatio: 1.5 }, ref)).toThrow(/dynamicThresholdingRatio/);
    expect(() => createDDIMScheduler({ stepsOffset: -1 }, ref)).toThrow(/stepsOffset/);
    expect(() => createPNDMScheduler({ clipSample: true }, ref)).toThrow(/PNDMScheduler.clipSample/);
    expect(() => createPNDMScheduler({ predictionType: "sample", compat: "diffusers" }, ref)).toThrow(/"epsilon", "v_prediction"/);
    expect(() => createPNDMScheduler({ predictionType: "sample" }, ref)).not.toThrow();
    expect(() => createDDPMScheduler({ betaSchedule: "cosine" }, ref)).toThrow(/betaSchedule/);
  });

  test("thresholding with sampleMaxValue < 1 is a clip to ±max and a division by max (torch.clamp(q, 1, max) = max)", async () => {
    const s = createDDIMScheduler({ predictionType: "sample", thresholding: true, sampleMaxValue: 0.5 }, ref);
    s.setTimesteps(10);
    const out = ref.fromHost([-2, -0.3, 0, 0.1, 0.49, 0.5, 0.7, 3], SHAPE);
    const r = await s.step(out, 900, x8());
    expect(Array.from(r.predOriginalSample!.data)).toEqual([-1, -0.6, 0, 0.2, 0.98, 1, 1, 1]);
  });

  test("a stochastic step without noise → ConfigError naming options.noise", async () => {
    const ddpm = createDDPMScheduler({}, ref);
    ddpm.setTimesteps(10);
    await expect(ddpm.step(x8(), 900, x8())).rejects.toThrow(/options.noise/);
    const ddim = createDDIMScheduler({}, ref);
    ddim.setTimesteps(10);
    await expect(ddim.step(x8(), 900, x8(), { eta: 0.3 })).rejects.toThrow(/options.noise/);
    await expect(ddim.step(x8(), 900, x8(), { eta: 0 })).resolves.toBeDefined();
  });

  test("DDIM η must be finite, ≥ 0, and small enough that σₜ(η)² ≤ 1 − ᾱ_prev", async () => {
    const s = createDDIMScheduler({}, ref);
    s.setTimesteps(10);
    for (const eta of [-0.1, NaN, Infinity]) await expect(s.step(x8(), 900, x8(), { eta, noise: noise() })).rejects.toThrow(/eta/);
    await expect(s.step(x8(), 900, x8(), { eta: 50, noise: noise() })).rejects.toThrow(/σₜ\(η\)²/);
    expect(() => ddimCoefficients(0.5, 0.6, 1)).not.toThrow();
    expect(ddimCoefficients(0, 0.6, 1).eps).toBe(0); // η = 1 from ᾱₜ = 0: exactly 0, not √(rounding)
  });

  test("ε-prediction on a schedule that visits ᾱ = 0 (zero terminal SNR) → ConfigError at setTimesteps", () => {
    for (const make of [createDDPMScheduler, createDDIMScheduler]) {
      const s = make({ rescaleBetasZeroSnr: true, timestepSpacing: "trailing" }, ref);
      expect(() => s.setTimesteps(10)).toThrow(/predictionType/);
      const v = make({ rescaleBetasZeroSnr: true, timestepSpacing: "trailing", predictionType: "v_prediction" }, ref);
      expect(() => v.setTimesteps(10)).not.toThrow();
      const leading = make({ rescaleBetasZeroSnr: true }, ref);
      expect(() => leading.setTimesteps(10)).not.toThrow(); // leading never visits t = 999
    }
  });

  test("learned variance types need 2× channels (ShapeError); 'learned' needs v ≥ 0", async () => {
    const s = createDDPMScheduler({ varianceType: "learned", clipSample: false }, ref);
    s.setTimesteps(10);
    await expect(s.step(x8(), 900, x8(), { noise: noise() })).rejects.toThrow(ShapeError);
    const out = ref.fromHost(Float64Array.from({ length: 16 }, (_, i) => (i % 8 < 4 ? 0.1 : -1)), [2, 2, 2, 2]);
    const err = await s.step(out, 900, x8(), { noise: noise() }).catch((e) => e);
    expect(err).toBeInstanceOf(DiffspecError);
    expect((err as DiffspecError).code).toBe("E_DOMAIN");
    const ok = ref.fromHost(Float64Array.from({ length: 16 }, (_, i) => (i % 8 < 4 ? 0.1 : 0.01)), [2, 2, 2, 2]);
    const r = await s.step(ok, 900, x8(), { noise: noise() });
    expect(r.prevSample.shape).toEqual(SHAPE);
  });

  test("custom DDPM timesteps must be strictly decreasing integers in [0, N − 1]", () => {
    const s = createDDPMScheduler({}, ref);
    expect(() => s.setCustomTimesteps([500, 500])).toThrow(/strictly decreasing/);
    expect(() => s.setCustomTimesteps([1000, 3])).toThrow(/\[0, 999\]/);
    expect(() => s.setCustomTimesteps([])).toThrow(ConfigError);
    s.setCustomTimesteps([700, 100, 3]);
    expect(s.timesteps).toEqual([700, 100, 3]);
    expect([0, 1, 2].map((i) => s.previousTimestep(i))).toEqual([100, 3, -1]);
  });

  test("PNDM: calls must come in order; PLMS before the warm-up and steps past the end → StateError", async () => {
    const s = createPNDMScheduler({}, ref);
    s.setTimesteps(10);
    await expect(s.stepPlms(x8(), 600, x8())).rejects.toThrow(StateError);
    await expect(s.stepPrk(x8(), 850, x8())).rejects.toThrow(/next timestep, 900/);
    let x = x8();
    for (const t of s.timesteps) x = (await s.step(x8(0.1), t, x)).prevSample;
    await expect(s.step(x8(), 0, x)).rejects.toThrow(/all 19 calls/);
    const d = createPNDMScheduler({ compat: "diffusers" }, ref);
    expect(() => d.setTimesteps(3)).toThrow(/≥ 4/);
    expect(() => createPNDMScheduler({}, ref).setTimesteps(3)).not.toThrow();
  });
});

describe("model evaluations per run", () => {
  test.each([1, 2, 7, 10, 50])("DDPM and DDIM: n = %i evaluations", async (n) => {
    for (const s of [createDDPMScheduler({ clipSample: false }, ref), createDDIMScheduler({ clipSample: false }, ref)]) {
      s.setTimesteps(n);
      const m = counting();
      await runPipeline(s, m, x8(), { noise: noise(), eta: 1 });
      expect(m.calls).toBe(n);
    }
  });

  test.each([4, 7, 10, 25])("PNDM: n + 9 with the PRK warm-up, n + 1 with skipPrkSteps (n = %i), as len(timesteps)", async (n) => {
    for (const compat of ["math", "diffusers"]) {
      for (const skipPrkSteps of [false, true]) {
        const s = createPNDMScheduler({ compat, skipPrkSteps }, ref);
        s.setTimesteps(n);
        const m = counting();
        await runPipeline(s, m, x8());
        expect(m.calls).toBe(skipPrkSteps ? n + 1 : n + 9);
        expect(s.timesteps.length).toBe(m.calls);
      }
    }
  });

  test("PNDM math with n < 4: min(3, n − 1) RK steps, then PLMS", () => {
    const count = (n: number) => { const s = createPNDMScheduler({}, ref); s.setTimesteps(n); return s.timesteps.length; };
    expect([1, 2, 3].map(count)).toEqual([1, 4 + 1, 8 + 1]);
  });
});

describe("PNDM warm-up timesteps (floor division, the diffusers.js bug)", () => {
  test("n = 7: half step ⌊⌊1000/7⌋/2⌋ = 71, never 1000/7/2 = 71.43", () => {
    for (const compat of ["math", "diffusers"]) {
      const s = createPNDMScheduler({ compat }, ref);
      s.setTimesteps(7);
      expect(s.prkTimesteps).toEqual([852, 781, 781, 710, 710, 639, 639, 568, 568, 497, 497, 426]);
      expect(s.plmsTimesteps).toEqual([426, 284, 142, 0]);
    }
  });

  test("n = 10 reproduces diffusers' lists", () => {
    const s = createPNDMScheduler({ compat: "diffusers" }, ref);
    s.setTimesteps(10);
    expect(s.timesteps).toEqual([900, 850, 850, 800, 800, 750, 750, 700, 700, 650, 650, 600, 600, 500, 400, 300, 200, 100, 0]);
    const k = createPNDMScheduler({ skipPrkSteps: true, stepsOffset: 1 }, ref);
    k.setTimesteps(10);
    expect(k.timesteps).toEqual([901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    expect(k.prkTimesteps).toEqual([]);
  });
});

describe("deviations between compat 'math' and 'diffusers'", () => {
  test("DDIM previous timestep: the next visited one vs t − ⌊N/n⌋ (diffusers #11347)", () => {
    const m = createDDIMScheduler({ timestepSpacing: "linspace" }, ref);
    const d = createDDIMScheduler({ timestepSpacing: "linspace", compat: "diffusers" }, ref);
    m.setTimesteps(10);
    d.setTimesteps(10);
    expect(m.previousTimestep(0)).toBe(888);
    expect(d.previousTimestep(0)).toBe(899);
  });

  test("DDPM: diffusers adds noise on the step to x₀ when its t > 0 (trailing), math never", async () => {
    for (const [compat, draws] of [["math", 9], ["diffusers", 10]] as const) {
      const s = createDDPMScheduler({ timestepSpacing: "trailing", compat, clipSample: false }, ref);
      s.setTimesteps(10);
      let k = 0;
      const provider = { async next(shape: readonly number[]) { k++; return ref.fromHost(new Float64Array(shape.reduce((a, b) => a * b, 1)), shape); } };
      await runPipeline(s, counting(), x8(), { noise: provider });
      expect(k).toBe(draws);
    }
  });

  test("DDPM fixed_large_log: diffusers' √(log β) is NaN; diffspec uses √β (same as fixed_large), finite", async () => {
    const run = async (varianceType: string) => {
      const s = createDDPMScheduler({ varianceType, compat: "diffusers", clipSample: false }, ref);
      s.setTimesteps(10);
      return runPipeline(s, counting(), x8(), { noise: hostNoise(ref, new GaussianStream(3)) });
    };
    const a = await run("fixed_large_log");
    expect(a.data.every(Number.isFinite)).toBe(true);
    expect(Array.from(a.data)).toEqual(Array.from((await run("fixed_large")).data));
  });
});

describe("diffusers_test loop styles", () => {
  const base = JSON.parse(readFileSync(`${F}/diffusers_test/ddpm/full_loop_no_noise.json`, "utf8"));

  test("ddpm_train: every train timestep N − 1 … 0 with prev = t − 1, recorded noise when present", async () => {
    const N = 12;
    const shape = [1, 2, 2, 2];
    const g = new GaussianStream(5);
    const noiseArrays = Array.from({ length: N - 1 }, () => Array.from(g.normals(8)));
    // the same loop written out: DDPM over N inference steps is the train loop
    const s = createDDPMScheduler({ numTrainTimesteps: N, compat: "diffusers" }, ref);
    s.setTimesteps(N);
    expect(s.timesteps).toEqual(Array.from({ length: N }, (_, k) => N - 1 - k));
    const model = fixtureModel("diffusers_dummy");
    let x: Tensor = dummySampleDeter(shape);
    const rec = hostNoise(ref, new RecordedNoise(noiseArrays));
    for (const t of s.timesteps) x = (await s.step(model(x, t), t, x, { noise: rec })).prevSample;
    const sum = x.data.reduce((a, v) => a + Math.abs(v), 0);
    const f: Fixture = { ...base, id: "synthetic", path: "synthetic.json", kind: "diffusers_test", config: { ...base.config, num_train_timesteps: N }, num_inference_steps: N, sample_shape: shape, noise: noiseArrays, uses_torch_generator: false, final_abs_sum: sum, final_abs_mean: sum / 8, diffusers_test_expected: undefined };
    expect(await runDiffusersTest(f)).toBeLessThan(1e-12);
    await expect(runDiffusersTest({ ...f, final_abs_sum: sum * 1.001 })).rejects.toThrow(/final_abs_sum/);
    await expect(runDiffusersTest({ ...f, noise: undefined })).rejects.toThrow(/options.noise/);
  });

  test("the asserted numbers of the diffusers test are checked with its tolerances", async () => {
    const f = loadFixture(`${F}/diffusers_test/ddim/full_loop_no_noise.json`);
    await expect(runDiffusersTest(f)).resolves.toBeLessThan(1e-4);
    const exp = f.diffusers_test_expected as Record<string, number>;
    await expect(runDiffusersTest({ ...f, diffusers_test_expected: { ...exp, sum: exp.sum + 0.02 } })).rejects.toThrow(/asserted by test_full_loop_no_noise/);
  });

  test("an unknown loop_style is an InputFileError", async () => {
    const f = loadFixture(`${F}/diffusers_test/ddim/full_loop_no_noise.json`);
    await expect(runDiffusersTest({ ...f, loop_style: "sideways" })).rejects.toThrow(InputFileError);
  });
});
