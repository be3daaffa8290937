/**
 * SAMP-KDIFF-DPM2-ANCESTRAL, SAMP-KDIFF-DPMPP-2S-ANCESTRAL, SAMP-KDIFF-DPMPP-3M-SDE, SAMP-KDIFF-DPM-FAST,
 * SAMP-KDIFF-DPM-ADAPTIVE, SAMP-KDIFF-SIGMAS-POLYEXP, SAMP-KDIFF-SIGMAS-VP, SAMP-KDPM2, SAMP-KDPM2-ANCESTRAL
 * (spec/07-samplers-kdiffusion-more.md), and their entries in SAMP-DISTRIBUTION (spec/08-order.md; their
 * SAMP-ORDER entries are in reference/samplers/order.ts and run by samplers-order-distribution.ts).
 *
 * "backend" properties run the samplers on the backend under test (updates through `combine`, noise
 * through a host NoiseProvider, the denoiser on the host); comparisons with exact values use the
 * "sampler" row of conformance/tolerances.ts. The golden vectors are replayed on the backend here
 * (`diffspec fixtures verify` replays them on the reference with every field compared). Distribution
 * tests: the energy-distance permutation test of SAMP-DISTRIBUTION (α = 0.01, retried once).
 */
import fc from "fast-check";
import { fileURLToPath } from "node:url";
import type { Backend, BTensor } from "../../adapters/contract.ts";
import { defineProperties, type PropertyContext, type PropertyDef } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose } from "../check.ts";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { exponentialSigmas } from "../../reference/schedule.ts";
import { KDIFFUSION, getAncestralStep } from "../../reference/samplers/kdiffusion.ts";
import { PidStepSizeController, dpmFastOrders, sampleDpmAdaptive, sampleDpmFast, type DpmSolverInfo } from "../../reference/samplers/kdiffusion-dpm-solver.ts";
import { polyexponentialSigmas, vpSigmas } from "../../reference/samplers/sigmas.ts";
import { createScheduler } from "../../reference/samplers/index.ts";
import { hostNoise } from "../../reference/samplers/scheduler.ts";
import { ORDER_PROBLEM, exactFlow, orderData, veOracle } from "../../reference/samplers/order.ts";
import { loadFixture, numbers, arrays, camelConfig } from "../fixtures/format.ts";
import { FIXTURE_TOLERANCES } from "../fixtures/verify.ts";
import { fixtureModel } from "../fixtures/models.ts";
import { countingNoise, expectConfigError, fixtureProperty, hostDenoiser, samplerTol, seedArb, sigmasArb, upload } from "./samplers-kdiffusion.ts";
import { diffusersRunner, distributionProperty, kdiffusionRunner, maxAbs, type DistSampler } from "./samplers-order-distribution.ts";

const fixturePath = (rel: string): string => fileURLToPath(new URL(`../../fixtures/diffusers/${rel}`, import.meta.url));

/** Replays a `kdiffusion_dpm_solver` fixture on the backend: every info-callback state and the final sample. */
async function replayDpmSolver(ctx: PropertyContext, rel: string): Promise<void> {
  const b = ctx.backend as Backend<BTensor>;
  const f = loadFixture(fixturePath(rel));
  const a = f.args as { n?: number; sigma_min: number; sigma_max: number };
  let k = 0;
  const noise = f.noise ? hostNoise(b, { randn: (s) => ({ shape: [...s], data: Float64Array.from(arrays(f.noise)[k++]) }) }) : undefined;
  const model = hostDenoiser(b, (v, s) => v * (1 / (s * s + 1)) + 0.05 * Math.tanh(v));
  const x = await b.fromHost(numbers(f.initial_sample), numbers(f.sample_shape));
  const infos: DpmSolverInfo<BTensor>[] = [];
  const opts = { ...camelConfig((f.sampler_kwargs as Record<string, unknown>) ?? {}), noise, infoCallback: (i: DpmSolverInfo<BTensor>) => infos.push(i) };
  const out = f.sampler === "sample_dpm_fast" ? await sampleDpmFast(b, model, x, a.sigma_min, a.sigma_max, a.n as number, opts) : (await sampleDpmAdaptive(b, model, x, a.sigma_min, a.sigma_max, opts)).x;
  const theirs = f.info_callbacks as { x: number[] }[];
  expect(infos.length === theirs.length, `${f.id}: ${infos.length} info callbacks, the fixture has ${theirs.length}`);
  // The adaptive path's σ differ from float32 upstream by up to 1e-3 relative (conformance/fixtures/verify-kdiffusion.ts).
  const [rtol, atol] = f.sampler === "sample_dpm_adaptive" ? [3e-3, 3e-4] : FIXTURE_TOLERANCES.trajectory;
  for (let i = 0; i < theirs.length; i++) expectAllClose(`${f.id} info_callbacks[${i}].x`, await b.toHost(infos[i].x), theirs[i].x, rtol, atol + samplerTol(ctx, 3 * (i + 1), maxAbs(theirs[i].x)));
  const final = numbers(f.final);
  const [frtol, fatol] = FIXTURE_TOLERANCES.trajectory;
  expectAllClose(`${f.id} final`, await b.toHost(out), final, frtol, fatol + samplerTol(ctx, 3 * theirs.length, maxAbs(final)));
  if (f.noise) expect(k === arrays(f.noise).length, `${f.id}: ${k} noise draws, the fixture recorded ${arrays(f.noise).length}`);
}

/** Replays a diffusers `loop` fixture of a KDPM2 class on the backend (tanh_mix / diffusers_dummy models on the host). */
async function replayLoop(ctx: PropertyContext, rel: string): Promise<void> {
  const b = ctx.backend as Backend<BTensor>;
  const f = loadFixture(fixturePath(rel));
  const s = await createScheduler((f.source as { class: string }).class, { ...camelConfig(f.config as Record<string, unknown>), compat: "diffusers" }, b);
  s.setTimesteps(f.num_inference_steps as number);
  const shape = numbers(f.sample_shape);
  const model = fixtureModel(f.model as string);
  let k = 0;
  const noise = f.noise ? hostNoise(b, { randn: (sh) => ({ shape: [...sh], data: Float64Array.from(arrays(f.noise)[k++]) }) }) : undefined;
  const traj = arrays(f.trajectory);
  expect(s.timesteps.length === traj.length, `${f.id}: ${s.timesteps.length} step calls, the fixture has ${traj.length}`);
  let sample = await b.fromHost(numbers(f.initial_sample), shape);
  for (let i = 0; i < s.timesteps.length; i++) {
    const t = s.timesteps[i];
    const input = await b.toHost(await s.scaleModelInput(sample, t));
    const out = await b.fromHost(model({ shape, data: Float64Array.from(input) }, t).data, shape);
    sample = (await s.step(out, t, sample, { noise })).prevSample;
    const [rtol, atol] = FIXTURE_TOLERANCES.trajectory;
    expectAllClose(`${f.id} trajectory[${i}]`, await b.toHost(sample), traj[i], rtol, atol + samplerTol(ctx, 2 * (i + 1), maxAbs(traj[i])));
  }
  if (f.noise) expect(k === arrays(f.noise).length, `${f.id}: ${k} noise draws, the fixture recorded ${arrays(f.noise).length}`);
}

/** The draws k-diffusion makes: one per step with σᵢ₊₁ > 0 (ancestral), and only when η ≠ 0 for 3M SDE. */
const expectedDraws = (sigmas: Float64Array, eta: number, sde: boolean): number => (sde && !eta ? 0 : Array.from(sigmas.slice(1)).filter((s) => s > 0).length);

/** Runs sample_dpm_adaptive on the Gaussian order problem; returns the RMS error to the exact flow at σ_min and the counts. */
async function adaptiveOnGaussian(rtol: number, atol: number, infos?: DpmSolverInfo<BTensor>[]) {
  const b = referenceBackend;
  const p = ORDER_PROBLEM;
  const [sigmaMin, sigmaMax] = [0.002, 80];
  const g = new GaussianStream(`dpm-adaptive/${rtol}/${atol}`);
  const xT = Float64Array.from(g.normals(p.batch * p.dim), (z) => p.mean + Math.sqrt(p.std ** 2 + sigmaMax ** 2) * z);
  const oracle = veOracle(b, orderData(p));
  let evaluations = 0;
  const counting: typeof oracle = (x, s) => { evaluations++; return oracle(x, s); };
  const r = await sampleDpmAdaptive(b, counting, b.fromHost(xT, [p.batch, p.dim]), sigmaMin, sigmaMax, { rtol, atol, infoCallback: infos ? (i) => infos.push(i as DpmSolverInfo<BTensor>) : undefined });
  const exact = exactFlow(xT, p.mean, p.std, sigmaMax, sigmaMin);
  let e = 0;
  r.x.data.forEach((v, i) => (e += (v - exact[i]) ** 2));
  return { error: Math.sqrt(e / exact.length), info: r.info, evaluations };
}

/**
 * Step counts: E‖x‖² of N = 2000 samples in 64-D against the data's 29.26 (a proxy for the variance bias),
 * measured at the quick counts: ancestral DPM-2 +0.4 %, ancestral DPM-Solver++(2S) −0.9 %, DPM-Solver++(3M)
 * SDE +0.6 %, KDPM2 ancestral −0.3 % (100 steps); Euler with churn S_churn = 10 −5.2 % at 200 steps (plain
 * Euler −2.1 %; S_churn = 80 at 200 steps: −13.5 %, hence the milder churn and 300 / 500 steps).
 */
const NEW_DISTRIBUTION: readonly DistSampler[] = [
  { name: "k-dpm-2-ancestral", stochastic: true, steps: [100, 200], run: kdiffusionRunner("sample_dpm_2_ancestral") },
  { name: "k-dpmpp-2s-ancestral", stochastic: true, steps: [100, 200], run: kdiffusionRunner("sample_dpmpp_2s_ancestral") },
  { name: "k-dpmpp-3m-sde", stochastic: true, steps: [100, 200], run: kdiffusionRunner("sample_dpmpp_3m_sde") },
  { name: "k-euler-churn", stochastic: true, steps: [300, 500], run: kdiffusionRunner("sample_euler", { sChurn: 10, sTmin: 0.05, sTmax: 50 }) },
  { name: "kdpm2-ancestral", stochastic: true, steps: [100, 200], run: diffusersRunner("KDPM2AncestralDiscreteScheduler", { betaStart: 0.0001, betaEnd: 0.02 }) },
];

export const properties = defineProperties([
  fixtureProperty("SAMP-KDIFF-DPM2-ANCESTRAL", "sample_dpm_2_ancestral/n10-sd.json"),
  {
    clause: "SAMP-KDIFF-DPM2-ANCESTRAL",
    name: "eta-zero-is-dpm-2",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(sigmasArb, seedArb, async (sigmas, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const f = (v: number, s: number): number => Math.tanh(v) / (1 + s) + 0.2 * v;
        const x = await upload(b, new GaussianStream(seed), sigmas[0]);
        const noise = countingNoise(b, seed);
        const anc = await KDIFFUSION.sample_dpm_2_ancestral(b, hostDenoiser(b, f), x, sigmas, { eta: 0, noise });
        const dpm2 = await KDIFFUSION.sample_dpm_2(b, hostDenoiser(b, f), x, sigmas, {});
        expectAllClose("dpm_2_ancestral(η = 0) vs dpm_2", await b.toHost(anc), await b.toHost(dpm2), 0, 2 * samplerTol(ctx, 2 * sigmas.length, sigmas[0] + 1));
        expect(noise.draws === expectedDraws(sigmas, 0, false), `${noise.draws} draws, expected one per step with σᵢ₊₁ > 0 (scaled by σ_up = 0)`);
      })),
  },
  fixtureProperty("SAMP-KDIFF-DPMPP-2S-ANCESTRAL", "sample_dpmpp_2s_ancestral/n10-sd.json"),
  {
    clause: "SAMP-KDIFF-DPMPP-2S-ANCESTRAL",
    name: "ancestral-samplers-draw-before-each-nonzero-sigma",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.constantFrom("sample_dpm_2_ancestral", "sample_dpmpp_2s_ancestral", "sample_dpmpp_3m_sde"), sigmasArb, fc.double({ min: 0, max: 1.5, noNaN: true }), seedArb, async (name, sigmas, eta, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const noise = countingNoise(b, seed);
        await KDIFFUSION[name](b, hostDenoiser(b, (v) => 0.5 * v), await upload(b, new GaussianStream(seed), sigmas[0]), sigmas, { eta, noise });
        const want = expectedDraws(sigmas, eta, name === "sample_dpmpp_3m_sde");
        expect(noise.draws === want, `${name} η = ${eta}: ${noise.draws} draws, expected ${want}`);
      })),
  },
  {
    clause: "SAMP-KDIFF-DPMPP-2S-ANCESTRAL",
    name: "one-step-is-the-dpm-solver-pp-2s-formula",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.double({ min: 0.1, max: 50, noNaN: true }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true }), async (sigma, ratio, eta, a) => {
        // Scalar state, linear denoiser D(x, σ) = a·x/(1 + σ²): the step written out by hand from Lu et al. (2022b), Alg. 1.
        const b = referenceBackend;
        const D = (x: number, s: number): number => (a * x) / (1 + s * s);
        const next = sigma * ratio;
        const { sigmaDown, sigmaUp } = getAncestralStep(sigma, next, eta);
        const x0 = 1.7 * sigma;
        const h = Math.log(sigma / sigmaDown);
        const sigmaS = Math.sqrt(sigma * sigmaDown);
        const u = (sigmaS / sigma) * x0 + (1 - Math.exp(-h / 2)) * D(x0, sigma);
        const want = (sigmaDown / sigma) * x0 + (1 - Math.exp(-h)) * D(u, sigmaS) + sigmaUp * 0.25;
        const noise = { next: async () => b.fromHost([0.25], [1]) };
        const out = await KDIFFUSION.sample_dpmpp_2s_ancestral(b, async (x, s) => b.fromHost([D(x.data[0], s)], [1]), b.fromHost([x0], [1]), Float64Array.of(sigma, next), { eta, noise });
        expectClose("x after one DPM-Solver++(2S) ancestral step", out.data[0], want, 1e-12, 1e-12 * x0);
      })),
  },
  fixtureProperty("SAMP-KDIFF-DPMPP-3M-SDE", "sample_dpmpp_3m_sde/n10-sd.json"),
  {
    clause: "SAMP-KDIFF-DPMPP-3M-SDE",
    name: "first-two-steps-are-dpmpp-2m-sde-heun",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.double({ min: 0.5, max: 80, noNaN: true }), fc.double({ min: 0.1, max: 0.9, noNaN: true }), fc.double({ min: 0.1, max: 0.9, noNaN: true }), fc.double({ min: 0, max: 1.5, noNaN: true }), seedArb, async (s0, r1, r2, eta, seed) => {
        // With one previous D the 3M update's φ₂ = expm1(−hη)/hη + 1 is 2M SDE's "heun" weight, for every η.
        const b = ctx.backend as Backend<BTensor>;
        const sigmas = Float64Array.of(s0, s0 * r1, s0 * r1 * r2);
        const f = (v: number, s: number): number => Math.tanh(v) / (1 + s * s) + 0.1 * v;
        const x = await upload(b, new GaussianStream(seed), s0);
        const m3 = await KDIFFUSION.sample_dpmpp_3m_sde(b, hostDenoiser(b, f), x, sigmas, { eta, noise: hostNoise(b, new GaussianStream(`3m/${seed}`)) });
        const m2 = await KDIFFUSION.sample_dpmpp_2m_sde(b, hostDenoiser(b, f), x, sigmas, { eta, solverType: "heun", noise: hostNoise(b, new GaussianStream(`3m/${seed}`)) });
        expectAllClose("dpmpp_3m_sde vs dpmpp_2m_sde(heun) over two steps", await b.toHost(m3), await b.toHost(m2), 0, 4 * samplerTol(ctx, 4, s0 + 1));
      })),
  },
  {
    clause: "SAMP-KDIFF-DPM-FAST",
    name: "matches-k-diffusion-fixture",
    scope: "backend",
    kind: "example",
    async run(ctx) {
      await replayDpmSolver(ctx, "kdiffusion/sample_dpm_fast/n10-sd.json");
      await replayDpmSolver(ctx, "kdiffusion/sample_dpm_fast/n12-sd-eta1.json");
    },
  },
  {
    clause: "SAMP-KDIFF-DPM-FAST",
    name: "spends-exactly-nfe-evaluations",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 2, max: 100, noNaN: true }), seedArb, async (nfe, sigmaMin, sigmaMax, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const model = hostDenoiser(b, (v, s) => Math.tanh(v) / (1 + s));
        const steps: number[] = [];
        const out = await sampleDpmFast(b, model, await upload(b, new GaussianStream(seed), sigmaMax), sigmaMin, sigmaMax, nfe, { infoCallback: (i) => steps.push(i.i) });
        const orders = dpmFastOrders(nfe);
        expect(orders.reduce((s, o) => s + o, 0) === nfe && orders.every((o) => o >= 1 && o <= 3), `orders ${orders.join(",")} do not spend nfe = ${nfe}`);
        expect(model.calls.length === nfe, `nfe = ${nfe}: the model was evaluated ${model.calls.length} times`);
        expect(steps.length === Math.floor(nfe / 3) + 1, `nfe = ${nfe}: ${steps.length} steps, expected ⌊nfe/3⌋ + 1`);
        expectClose("first evaluation at σ_max", model.calls[0], sigmaMax, 1e-14);
        const h = await b.toHost(out);
        expect(h.every(Number.isFinite), `nfe = ${nfe}: non-finite sample`);
        await expectConfigError("sample_dpm_fast σ_min = 0", () => sampleDpmFast(b, model, out, 0, sigmaMax, nfe));
        await expectConfigError("sample_dpm_fast σ_min > σ_max", () => sampleDpmFast(b, model, out, sigmaMax, sigmaMin, nfe));
        await expectConfigError("sample_dpm_fast nfe = 0", () => sampleDpmFast(b, model, out, sigmaMin, sigmaMax, 0));
        await expectConfigError("sample_dpm_fast η > 0 without noise", () => sampleDpmFast(b, model, out, sigmaMin, sigmaMax, nfe, { eta: 1 }));
      })),
  },
  {
    clause: "SAMP-KDIFF-DPM-ADAPTIVE",
    name: "matches-k-diffusion-fixture",
    scope: "backend",
    kind: "example",
    run: (ctx) => replayDpmSolver(ctx, "kdiffusion/sample_dpm_adaptive/sd-order3.json"),
  },
  {
    clause: "SAMP-KDIFF-DPM-ADAPTIVE",
    name: "accepted-steps-respect-the-tolerance-and-nfe-is-reported",
    scope: "spec",
    kind: "example",
    async run() {
      const bound = PidStepSizeController.acceptedErrorBound(1, 3, 0.81);
      const infos: DpmSolverInfo<BTensor>[] = [];
      const r = await adaptiveOnGaussian(0.05, 0.0078, infos);
      let accepted = 0;
      infos.forEach((info, k) => {
        const isAccept = info.nAccept !== (k === 0 ? 0 : infos[k - 1].nAccept);
        if (isAccept) {
          accepted++;
          expect((info.error as number) <= bound, `attempt ${k}: accepted with error estimate ${info.error} > ${bound.toFixed(4)} (the controller's acceptance bound)`);
        } else expect((info.error as number) > bound * 0.999, `attempt ${k}: rejected with error estimate ${info.error} ≤ the acceptance bound ${bound}`);
      });
      expect(accepted === r.info.nAccept && r.info.nAccept + r.info.nReject === r.info.steps, `counts: ${JSON.stringify(r.info)}, ${accepted} accepted attempts seen`);
      expect(r.info.nfe === 3 * r.info.steps && r.evaluations === r.info.nfe, `nfe ${r.info.nfe} reported, ${r.evaluations} model evaluations, ${r.info.steps} attempts of 3`);
      expectClose("the last accepted state is at σ_min", infos[infos.length - 1].sigma, 0.002, 1e-12);
    },
  },
  {
    clause: "SAMP-KDIFF-DPM-ADAPTIVE",
    name: "tighter-tolerance-costs-more-and-errs-less",
    scope: "spec",
    kind: "example",
    async run() {
      // Gaussian data, exact oracle: the error against the exact PF-ODE solution at σ_min.
      const runs = [];
      for (const tol of [1e-1, 1e-2, 1e-3, 1e-4]) runs.push({ tol, ...(await adaptiveOnGaussian(tol, tol / 10)) });
      const table = runs.map((r) => `rtol ${r.tol}: error ${r.error.toExponential(2)}, nfe ${r.info.nfe}`).join("; ");
      for (let i = 1; i < runs.length; i++) {
        expect(runs[i].info.nfe > runs[i - 1].info.nfe, `nfe does not grow as the tolerance shrinks (${table})`);
        expect(runs[i].error < runs[i - 1].error, `the error does not shrink with the tolerance (${table})`);
      }
      // Tolerance proportionality: 10× tighter tolerance, error at least 3× smaller at the tight end.
      expect(runs[3].error < runs[2].error / 3, `rtol 1e-4 gains less than 3× over 1e-3 (${table})`);
    },
  },
  {
    clause: "SAMP-KDIFF-DPM-ADAPTIVE",
    name: "bad-options-are-config-errors",
    scope: "spec",
    kind: "example",
    async run() {
      const b = referenceBackend;
      const x = b.fromHost([1, 2], [1, 2]);
      const m = async (v: typeof x) => v;
      for (const [what, o] of [["order 4", { order: 4 }], ["rtol < 0", { rtol: -1 }], ["rtol = atol = 0", { rtol: 0, atol: 0 }], ["hInit 0", { hInit: 0 }], ["acceptSafety 0", { acceptSafety: 0 }], ["eta NaN", { eta: NaN }]] as const) {
        await expectConfigError(`sample_dpm_adaptive ${what}`, () => sampleDpmAdaptive(b, m, x, 0.1, 10, o as Record<string, number>));
      }
      await expectConfigError("sample_dpm_adaptive σ_max ≤ σ_min", () => sampleDpmAdaptive(b, m, x, 1, 1));
    },
  },
  {
    clause: "SAMP-KDIFF-SIGMAS-POLYEXP",
    name: "rho-one-is-exponential-and-log-sigma-follows-the-ramp",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.integer({ min: 2, max: 50 }), fc.double({ min: 1e-3, max: 1, noNaN: true }), fc.double({ min: 1.5, max: 200, noNaN: true }), fc.double({ min: 0.2, max: 8, noNaN: true }), (n, lo, hi, rho) => {
        expectAllClose("ρ = 1 vs exponential", polyexponentialSigmas(n, lo, hi, 1), exponentialSigmas(n, lo, hi), 1e-13, 0);
        const s = polyexponentialSigmas(n, lo, hi, rho);
        expect(s.length === n + 1 && s[n] === 0, `length ${s.length}, last ${s[n]}`);
        expectClose("σ₀ = σ_max", s[0], hi, 1e-13);
        expectClose("σₙ₋₁ = σ_min", s[n - 1], lo, 1e-13);
        // (log σᵢ − log σ_min)/(log σ_max − log σ_min) = rᵢ^ρ, rᵢ = 1 − i/(n − 1): strictly decreasing for ρ > 0.
        for (let i = 0; i < n; i++) expectClose(`log σᵢ/σ_min ÷ log σ_max/σ_min at i = ${i}`, Math.log(s[i] / lo) / Math.log(hi / lo), (1 - i / (n - 1)) ** rho, 1e-9, 1e-12);
        for (let i = 1; i < n; i++) expect(s[i] < s[i - 1], `σ not decreasing at ${i}: ${s[i - 1]}, ${s[i]}`);
        return true;
      })),
  },
  {
    clause: "SAMP-KDIFF-SIGMAS-VP",
    name: "is-the-vp-sde-marginal-in-the-ve-view",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.integer({ min: 2, max: 40 }), fc.double({ min: 0, max: 30, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 1e-4, max: 0.1, noNaN: true }), (n, betaD, betaMin, epsS) => {
        // ᾱ(t) = exp(−∫₀ᵗ β(s) ds) with β(s) = β_min + β_d·s (Song et al. 2021), the integral by Simpson's rule
        // (exact for the linear β), and σ(t)² = 1/ᾱ(t) − 1.
        const s = vpSigmas(n, betaD, betaMin, epsS);
        expect(s.length === n + 1 && s[n] === 0, `length ${s.length}, last ${s[n]}`);
        for (let i = 0; i < n; i++) {
          const t = 1 + ((epsS - 1) * i) / (n - 1);
          const beta = (u: number): number => betaMin + betaD * u;
          const integral = (t / 6) * (beta(0) + 4 * beta(t / 2) + beta(t));
          expectClose(`σ(t = ${t})² vs 1/ᾱ(t) − 1`, s[i] ** 2, Math.expm1(integral), 1e-12, 0);
          if (i > 0) expect(s[i] < s[i - 1], `σ not decreasing at ${i}`);
        }
        return true;
      })),
  },
  {
    clause: "SAMP-KDPM2",
    name: "matches-diffusers-fixture",
    scope: "backend",
    kind: "example",
    async run(ctx) {
      await replayLoop(ctx, "loops/k_dpm_2/N1000-scaled_linear-linspace-eps-n10.json");
      await replayLoop(ctx, "loops/k_dpm_2/N1000-scaled_linear-karras-v-n7.json");
    },
  },
  {
    clause: "SAMP-KDPM2",
    name: "schedule-interleaves-geometric-midpoints",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.constantFrom("linspace", "leading", "trailing"), fc.constantFrom({}, { useKarrasSigmas: true }, { useExponentialSigmas: true }), fc.boolean(), async (n, timestepSpacing, ramp, ancestral) => {
        const b = referenceBackend;
        const cls = ancestral ? "KDPM2AncestralDiscreteScheduler" : "KDPM2DiscreteScheduler";
        const s = await createScheduler(cls, { timestepSpacing, ...ramp }, b);
        s.setTimesteps(n);
        const sig = s.sigmas as Float64Array;
        expect(s.timesteps.length === 2 * n - 1, `${cls}: ${s.timesteps.length} timesteps for n = ${n}, expected 2n − 1`);
        expect(sig.length === 2 * n + 2 && sig[2 * n] === 0 && sig[2 * n + 1] === 0, `${cls}: sigmas ${Array.from(sig).join(", ")}`);
        // Feed D = 0 (ε = x̃/σ): each interval σ → σ_to becomes x̃·σ_to/σ exactly — the ODE x̃(σ) ∝ σ —
        // and the midpoint σ_mid = √(σ σ_to) is where the second evaluation happens (scaleModelInput reveals it).
        let x = b.fromHost([1], [1]);
        const noise = { next: async () => b.fromHost([0], [1]) };
        for (let k = 0; k < s.timesteps.length; k++) {
          const t = s.timesteps[k];
          const scaled = (await s.scaleModelInput(x, t)).data[0];
          const sigmaEval = Math.sqrt(1 / (scaled / x.data[0]) ** 2 - 1);
          const j = k >> 1;
          const [from, next] = [sig[j === 0 ? 0 : 2 * j], sig[2 * j + 1]];
          const to = ancestral ? getAncestralStep(from, next, 1).sigmaDown : next;
          const want = k % 2 === 0 ? from : Math.sqrt(from * to);
          expectClose(`${cls} n = ${n}: evaluation ${k} at σ`, sigmaEval, want, 1e-9);
          x = (await s.step(b.fromHost([x.data[0] / sigmaEval], [1]), t, x, { noise })).prevSample;
        }
        expectClose(`${cls} n = ${n}: final sample with D ≡ 0`, x.data[0], 0, 0, 1e-12);
      })),
  },
  {
    clause: "SAMP-KDPM2-ANCESTRAL",
    name: "matches-diffusers-fixture",
    scope: "backend",
    kind: "example",
    async run(ctx) {
      await replayLoop(ctx, "loops/k_dpm_2_ancestral/N1000-scaled_linear-linspace-eps-n10.json");
      await replayLoop(ctx, "loops/k_dpm_2_ancestral/N1000-linear-leading-off1-v-n7.json");
    },
  },
  // The 2-D test runs in both profiles; the 64-D one (1.3–2.2 s each on the reference) only in "full", to keep
  // `npm test` short: a wrong coefficient already moves the 2-D law far beyond the test's resolution.
  ...NEW_DISTRIBUTION.flatMap((s): PropertyDef[] => [distributionProperty(s, 2), { ...distributionProperty(s, 64), profiles: ["full"] }]),
]);
