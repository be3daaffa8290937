/**
 * SAMP-KDIFF-SIGMAS, SAMP-KDIFF-ODE, SAMP-KDIFF-EULER, SAMP-KDIFF-EULER-ANCESTRAL, SAMP-KDIFF-HEUN,
 * SAMP-KDIFF-DPM2, SAMP-KDIFF-LMS, SAMP-KDIFF-DPMPP-2M, SAMP-KDIFF-DPMPP-2M-SDE, SAMP-KDIFF-NFE,
 * SAMP-FINITE-KDIFF (spec/07-samplers-kdiffusion.md).
 *
 * "backend" properties run k-diffusion's samplers (reference/samplers/kdiffusion.ts) on the backend
 * under test: the denoiser is evaluated on the host and uploaded, every update goes through the
 * backend's `combine`, noise through a host NoiseProvider. Comparisons with exact values use the
 * "sampler" row of conformance/tolerances.ts. "spec" properties check the scalar mathematics
 * (ancestral split, LMS weights) in Float64. Random tensors come from a GaussianStream seeded by a
 * fast-check integer, so every counterexample replays.
 */
import fc from "fast-check";
import { fileURLToPath } from "node:url";
import type { Backend, BTensor } from "../../adapters/contract.ts";
import { defineProperties, type PropertyContext } from "../registry.ts";
import { checkProperty, expect, expectAllClose, expectClose } from "../check.ts";
import { tolerance } from "../tolerances.ts";
import { ConfigError } from "../../reference/errors.ts";
import { GaussianStream } from "../../reference/rng.ts";
import type { Shape } from "../../reference/tensor.ts";
import { KDIFFUSION_SAMPLERS, type KDiffusionSamplerName } from "../../reference/samplers/index.ts";
import { KDIFFUSION, getAncestralStep, linearMultistepCoeff, kdiffusionEvaluations, type KDenoiser, type KSamplerOptions } from "../../reference/samplers/kdiffusion.ts";
import { hostNoise, type NoiseProvider } from "../../reference/samplers/scheduler.ts";
import { loadFixture, numbers, arrays, camelConfig } from "../fixtures/format.ts";
import { FIXTURE_TOLERANCES } from "../fixtures/verify.ts";

const SHAPE: Shape = [2, 3];
export const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** A strictly decreasing σ schedule: n ∈ [1, 8] steps from σ₀ ∈ [0.05, 100], ratios in [0.05, 0.95], optionally ending at 0. */
export const sigmasArb = fc
  .record({
    sigma0: fc.double({ min: 0.05, max: 100, noNaN: true }),
    ratios: fc.array(fc.double({ min: 0.05, max: 0.95, noNaN: true }), { minLength: 1, maxLength: 8 }),
    zero: fc.boolean(),
  })
  .map(({ sigma0, ratios, zero }) => {
    const s = [sigma0];
    for (const r of ratios) s.push(s[s.length - 1] * r);
    if (zero) s[s.length - 1] = 0;
    return Float64Array.from(s);
  });

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** A denoiser evaluated on the host, elementwise: D(x, σ)ᵢ = f(xᵢ, σ). Counts its evaluations and records σ. */
export function hostDenoiser<T extends BTensor>(b: Backend<T>, f: (v: number, sigma: number) => number): KDenoiser<T> & { calls: number[] } {
  const calls: number[] = [];
  const d = async (x: T, sigma: number): Promise<T> => {
    calls.push(sigma);
    const h = await b.toHost(x);
    return b.fromHost(Float64Array.from(h, (v) => f(v, sigma)), x.shape);
  };
  return Object.assign(d, { calls });
}

/** Host noise from a seeded stream that counts its draws. */
export function countingNoise<T extends BTensor>(b: Backend<T>, seed: number): NoiseProvider<T> & { draws: number } {
  const inner = hostNoise(b, new GaussianStream(`kdiff-noise/${seed}`));
  const p = { draws: 0, next: async (shape: Shape) => { p.draws++; return inner.next(shape); } };
  return p;
}

export const upload = async <T extends BTensor>(b: Backend<T>, g: GaussianStream, scale: number): Promise<T> =>
  b.fromHost(Float64Array.from(g.normals(SHAPE[0] * SHAPE[1]), (v) => v * scale), SHAPE);

/** The sampler-loop tolerance for `steps` model evaluations at state scale `scale` (conformance/tolerances.ts). */
export const samplerTol = (ctx: PropertyContext, steps: number, scale: number): number => tolerance(ctx.backend.dtype, "sampler", { steps, scale }).atol;

/** Every deterministic configuration: the samplers with options that draw no noise. */
const DETERMINISTIC: readonly [KDiffusionSamplerName, Record<string, unknown>][] = [
  ["sample_euler", {}],
  ["sample_euler_ancestral", { eta: 0 }],
  ["sample_heun", {}],
  ["sample_dpm_2", {}],
  ["sample_lms", { order: 1 }],
  ["sample_lms", { order: 2 }],
  ["sample_lms", { order: 3 }],
  ["sample_lms", { order: 4 }],
  ["sample_dpmpp_2m", {}],
  ["sample_dpmpp_2m_sde", { eta: 0, solverType: "midpoint" }],
  ["sample_dpmpp_2m_sde", { eta: 0, solverType: "heun" }],
  ["sample_dpm_2_ancestral", { eta: 0 }],
  ["sample_dpmpp_2s_ancestral", { eta: 0 }],
  ["sample_dpmpp_3m_sde", { eta: 0 }],
];

/** Every sampler with every option value that changes its code path (for finiteness and counts). */
const ALL_CONFIGS: readonly [KDiffusionSamplerName, Record<string, unknown>][] = [
  ...DETERMINISTIC,
  ["sample_euler", { sChurn: 40, sNoise: 1.003 }],
  ["sample_euler", { sChurn: 2, sTmin: 0.1, sTmax: 10 }],
  ["sample_heun", { sChurn: 40 }],
  ["sample_dpm_2", { sChurn: 40, sNoise: 0.5 }],
  ["sample_euler_ancestral", {}],
  ["sample_euler_ancestral", { eta: 0.5, sNoise: 1.2 }],
  ["sample_dpmpp_2m_sde", {}],
  ["sample_dpmpp_2m_sde", { eta: 0.3, sNoise: 0.9, solverType: "heun" }],
  ["sample_dpm_2_ancestral", {}],
  ["sample_dpm_2_ancestral", { eta: 1.7, sNoise: 0.8 }],
  ["sample_dpmpp_2s_ancestral", {}],
  ["sample_dpmpp_2s_ancestral", { eta: 0.5 }],
  ["sample_dpmpp_3m_sde", {}],
  ["sample_dpmpp_3m_sde", { eta: 0.4, sNoise: 1.1 }],
];

const configArb = fc.constantFrom(...ALL_CONFIGS);

/** Replays fixtures/diffusers/kdiffusion/<sampler>/* on the backend under test. */
async function replayFixture(ctx: PropertyContext, file: string): Promise<void> {
  const b = ctx.backend as Backend<BTensor>;
  const f = loadFixture(fileURLToPath(new URL(`../../fixtures/diffusers/kdiffusion/${file}`, import.meta.url)));
  const shape = numbers(f.sample_shape);
  const sigmas = Float64Array.from(numbers(f.sigmas));
  let draws = 0;
  const noise = f.noise ? hostNoise(b, { randn: (s) => ({ shape: [...s], data: Float64Array.from(arrays(f.noise)[draws++]) }) }) : undefined;
  const model = hostDenoiser(b, (v, s) => v * (1 / (s * s + 1)) + 0.05 * Math.tanh(v));
  const got: BTensor[] = [];
  const x = await b.fromHost(numbers(f.initial_sample), shape);
  await KDIFFUSION[f.sampler as KDiffusionSamplerName](b, model, x, sigmas, {
    ...camelConfig((f.sampler_kwargs as Record<string, unknown>) ?? {}),
    noise,
    callback: (i: number, xi: BTensor) => { got[i] = xi; },
  });
  const traj = arrays(f.trajectory);
  const [rtol, atol] = FIXTURE_TOLERANCES.trajectory;
  for (let i = 0; i < traj.length; i++) {
    expect(got[i] !== undefined, `${f.id}: no state reported after iteration ${i}`);
    const data = await b.toHost(got[i]);
    expectAllClose(`${f.id} trajectory[${i}]`, data, traj[i], rtol, atol + samplerTol(ctx, 2 * (i + 1), maxAbs(traj[i])));
  }
  if (f.noise) expect(draws === arrays(f.noise).length, `${f.id}: ${draws} noise draws, the fixture recorded ${arrays(f.noise).length}`);
}

export const fixtureProperty = (clause: string, file: string) => ({
  clause,
  name: "matches-k-diffusion-fixture",
  scope: "backend" as const,
  kind: "example" as const,
  run: (ctx: PropertyContext) => replayFixture(ctx, file),
});

/** Runs `name` with `options` on the backend under test and returns the final state on the host. */
async function run<T extends BTensor>(b: Backend<T>, name: KDiffusionSamplerName, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: KSamplerOptions<T>): Promise<Float64Array> {
  return Float64Array.from(await b.toHost(await KDIFFUSION[name](b, model, x, sigmas, options)));
}

/** Fails unless `f` rejects with a ConfigError (any other error, or success, is reported with `what`). */
export const expectConfigError = async (what: string, f: () => Promise<unknown>): Promise<void> => {
  try {
    await f();
  } catch (e) {
    if (e instanceof ConfigError) return;
    throw new Error(`${what}: expected a ConfigError, got ${(e as Error).name}: ${(e as Error).message}`);
  }
  throw new Error(`${what}: expected a ConfigError, but the call succeeded`);
};

export const properties = defineProperties([
  {
    clause: "SAMP-KDIFF-SIGMAS",
    name: "bad-input-is-a-config-error",
    scope: "spec",
    kind: "example",
    async run(ctx) {
      const b = ctx.backend as Backend<BTensor>;
      const x = await b.fromHost([1, 2, 3, 4, 5, 6], SHAPE);
      const model = hostDenoiser(b, (v) => 0.5 * v);
      const bad: [string, number[]][] = [["empty", []], ["one level", [1]], ["increasing", [1, 2]], ["repeated", [2, 2, 0]], ["negative", [1, -0.5]], ["NaN", [1, NaN]], ["infinite", [Infinity, 1]], ["zero before the end", [1, 0, 0]]];
      for (const name of KDIFFUSION_SAMPLERS) {
        for (const [what, s] of bad) await expectConfigError(`${name} sigmas ${what}`, () => KDIFFUSION[name](b, model, x, Float64Array.from(s), {}));
        await expectConfigError(`${name} unknown option`, () => KDIFFUSION[name](b, model, x, Float64Array.from([2, 1, 0]), { sChrun: 1 }));
      }
      const s = Float64Array.from([2, 1, 0]);
      await expectConfigError("sample_lms order 5", () => KDIFFUSION.sample_lms(b, model, x, s, { order: 5 }));
      await expectConfigError("sample_lms order 0", () => KDIFFUSION.sample_lms(b, model, x, s, { order: 0 }));
      await expectConfigError("sample_dpmpp_2m_sde solverType", () => KDIFFUSION.sample_dpmpp_2m_sde(b, model, x, s, { solverType: "euler" }));
      await expectConfigError("sample_euler_ancestral eta < 0", () => KDIFFUSION.sample_euler_ancestral(b, model, x, s, { eta: -1 }));
      await expectConfigError("sample_euler sChurn NaN", () => KDIFFUSION.sample_euler(b, model, x, s, { sChurn: NaN }));
      await expectConfigError("sample_euler_ancestral without noise", () => KDIFFUSION.sample_euler_ancestral(b, model, x, s, {}));
      await expectConfigError("sample_dpmpp_2m_sde without noise", () => KDIFFUSION.sample_dpmpp_2m_sde(b, model, x, s, {}));
      await expectConfigError("sample_euler churn without noise", () => KDIFFUSION.sample_euler(b, model, x, s, { sChurn: 10 }));
    },
  },
  {
    clause: "SAMP-KDIFF-SIGMAS",
    name: "callback-reports-each-iteration",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(configArb, sigmasArb, seedArb, async ([name, opts], sigmas, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const seen: number[] = [];
        let last: BTensor | undefined;
        const out = await KDIFFUSION[name](b, hostDenoiser(b, (v) => 0.8 * v), await upload(b, new GaussianStream(seed), sigmas[0]), sigmas, {
          ...opts,
          noise: countingNoise(b, seed),
          callback: (i, xi) => { seen.push(i); last = xi; },
        });
        expect(seen.join(",") === Array.from({ length: sigmas.length - 1 }, (_, i) => i).join(","), `${name}: callback indices ${seen.join(",")} for ${sigmas.length - 1} iterations`);
        expect(last === out, `${name}: the last callback state is not the returned sample`);
      })),
  },
  {
    clause: "SAMP-KDIFF-ODE",
    name: "constant-denoiser-is-integrated-exactly",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.constantFrom(...DETERMINISTIC), sigmasArb, fc.double({ min: -3, max: 3, noNaN: true }), seedArb, async ([name, opts], sigmas, c, seed) => {
        // D ≡ c: the ODE dx/dσ = (x − c)/σ has the solution x(σ) = c + (x₀ − c)·σ/σ₀, linear in σ, which
        // every one of these methods (Euler, Heun, DPM-2, LMS, the exponential integrators) integrates exactly.
        const b = ctx.backend as Backend<BTensor>;
        const x0 = await upload(b, new GaussianStream(seed), sigmas[0]);
        const h0 = await b.toHost(x0);
        const got = await run(b, name, hostDenoiser(b, () => c), x0, sigmas, opts);
        const sn = sigmas[sigmas.length - 1];
        const want = Float64Array.from(h0, (v) => c + ((v - c) * sn) / sigmas[0]);
        expectAllClose(`${name} ${JSON.stringify(opts)}`, got, want, 0, samplerTol(ctx, 2 * sigmas.length, maxAbs(h0) + Math.abs(c)) * 16);
      })),
  },
  fixtureProperty("SAMP-KDIFF-EULER", "sample_euler/n10-sd.json"),
  {
    clause: "SAMP-KDIFF-EULER",
    name: "churn-raises-sigma-and-draws-noise",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(fc.constantFrom<KDiffusionSamplerName>("sample_euler", "sample_heun", "sample_dpm_2"), sigmasArb, fc.double({ min: 0, max: 60, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), seedArb, async (name, sigmas, sChurn, sTmin, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const model = hostDenoiser(b, (v) => 0.5 * v);
        const noise = countingNoise(b, seed);
        await KDIFFUSION[name](b, model, await upload(b, new GaussianStream(seed), sigmas[0]), sigmas, { sChurn, sTmin, noise });
        const n = sigmas.length - 1;
        const gammas = Array.from({ length: n }, (_, i) => (sChurn > 0 && sigmas[i] >= sTmin ? Math.min(sChurn / n, Math.SQRT2 - 1) : 0));
        const draws = gammas.filter((g) => g > 0).length;
        expect(noise.draws === draws, `${name}: ${noise.draws} noise draws, expected one per step with γ > 0 (${draws})`);
        // The (first) evaluation of each step is at σ̂ = σᵢ(1 + γᵢ) (Karras et al. 2022, Alg. 2 line 5).
        if (name === "sample_euler") model.calls.forEach((s, i) => expectClose(`sample_euler: evaluation ${i} at σ̂`, s, sigmas[i] * (1 + gammas[i]), 1e-15));
        else expectClose(`${name}: first evaluation at σ̂₀`, model.calls[0], sigmas[0] * (1 + gammas[0]), 1e-15);
      })),
  },
  fixtureProperty("SAMP-KDIFF-EULER-ANCESTRAL", "sample_euler_ancestral/n10-sd.json"),
  {
    clause: "SAMP-KDIFF-EULER-ANCESTRAL",
    name: "ancestral-step-splits-the-variance",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.double({ min: 1e-3, max: 1e3, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), (from, r, eta) => {
        const to = from * r;
        const { sigmaDown, sigmaUp } = getAncestralStep(from, to, eta);
        expect(sigmaUp >= 0 && sigmaUp <= to && sigmaDown >= 0 && sigmaDown <= to, `σ_up = ${sigmaUp}, σ_down = ${sigmaDown} outside [0, σ_to = ${to}]`);
        expectClose("σ_down² + σ_up²", sigmaDown ** 2 + sigmaUp ** 2, to ** 2, 1e-12, 1e-300);
        if (eta === 1) expectClose("σ_up² (η = 1: the DDPM posterior variance in the VE view)", sigmaUp ** 2, (to ** 2 * (from ** 2 - to ** 2)) / from ** 2, 1e-12, 1e-300);
        return true;
      })),
  },
  {
    clause: "SAMP-KDIFF-EULER-ANCESTRAL",
    name: "eta-zero-is-euler-and-noise-is-drawn-before-each-nonzero-sigma",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(sigmasArb, seedArb, async (sigmas, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const f = (v: number, s: number): number => Math.tanh(v) / (1 + s);
        const x = await upload(b, new GaussianStream(seed), sigmas[0]);
        const noise = countingNoise(b, seed);
        const anc = await run(b, "sample_euler_ancestral", hostDenoiser(b, f), x, sigmas, { eta: 0, noise });
        const eul = await run(b, "sample_euler", hostDenoiser(b, f), x, sigmas, {});
        expectAllClose("euler_ancestral(η = 0) vs euler", anc, eul, 0, 2 * samplerTol(ctx, sigmas.length, sigmas[0] + 1));
        const draws = Array.from(sigmas.slice(1)).filter((s) => s > 0).length;
        expect(noise.draws === draws, `${noise.draws} noise draws, expected one per step with σᵢ₊₁ > 0 (${draws}), as k-diffusion calls noise_sampler`);
      })),
  },
  fixtureProperty("SAMP-KDIFF-HEUN", "sample_heun/n10-sd.json"),
  fixtureProperty("SAMP-KDIFF-DPM2", "sample_dpm_2/n10-sd.json"),
  fixtureProperty("SAMP-KDIFF-LMS", "sample_lms/n10-sd.json"),
  {
    clause: "SAMP-KDIFF-LMS",
    name: "weights-integrate-polynomials-exactly",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.double({ min: 0.1, max: 0.95, noNaN: true }), { minLength: 4, maxLength: 4 }), fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }), (order, ratios, poly) => {
        // σ₋₃ > σ₋₂ > σ₋₁ > σ₀ > σ₁ = t[4]; step i = 3 integrates from t[3] to t[4].
        const t = [10];
        for (const r of ratios) t.push(t[t.length - 1] * r);
        const i = 3;
        const p = (x: number): number => poly.slice(0, order).reduce((s, c, k) => s + c * x ** k, 0);
        const P = (x: number): number => poly.slice(0, order).reduce((s, c, k) => s + (c * x ** (k + 1)) / (k + 1), 0);
        let lms = 0;
        for (let j = 0; j < order; j++) lms += linearMultistepCoeff(order, t, i, j) * p(t[i - j]);
        expectClose(`Σⱼ cⱼ p(σ_{i−j}) vs ∫ p (order ${order})`, lms, P(t[i + 1]) - P(t[i]), 1e-9, 1e-12);
        return true;
      })),
  },
  fixtureProperty("SAMP-KDIFF-DPMPP-2M", "sample_dpmpp_2m/n10-sd.json"),
  fixtureProperty("SAMP-KDIFF-DPMPP-2M-SDE", "sample_dpmpp_2m_sde/n10-sd-midpoint.json"),
  {
    clause: "SAMP-KDIFF-DPMPP-2M-SDE",
    name: "eta-zero-midpoint-is-dpmpp-2m",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(sigmasArb, seedArb, async (sigmas, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const f = (v: number, s: number): number => Math.tanh(v) / (1 + s * s) + 0.1 * v;
        const x = await upload(b, new GaussianStream(seed), sigmas[0]);
        const noise = countingNoise(b, seed);
        const sde = await run(b, "sample_dpmpp_2m_sde", hostDenoiser(b, f), x, sigmas, { eta: 0, solverType: "midpoint", noise });
        const ode = await run(b, "sample_dpmpp_2m", hostDenoiser(b, f), x, sigmas, {});
        expectAllClose("dpmpp_2m_sde(η = 0, midpoint) vs dpmpp_2m", sde, ode, 0, 2 * samplerTol(ctx, sigmas.length, sigmas[0] + 1));
        expect(noise.draws === 0, `η = 0 drew ${noise.draws} noise tensors (k-diffusion draws only when η ≠ 0)`);
      })),
  },
  {
    clause: "SAMP-KDIFF-DPMPP-2M-SDE",
    name: "noise-is-drawn-before-each-nonzero-sigma",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(sigmasArb, fc.double({ min: 0.01, max: 1.5, noNaN: true }), fc.constantFrom("midpoint", "heun"), seedArb, async (sigmas, eta, solverType, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const noise = countingNoise(b, seed);
        await KDIFFUSION.sample_dpmpp_2m_sde(b, hostDenoiser(b, (v) => 0.5 * v), await upload(b, new GaussianStream(seed), sigmas[0]), sigmas, { eta, solverType, noise });
        const draws = Array.from(sigmas.slice(1)).filter((s) => s > 0).length;
        expect(noise.draws === draws, `${noise.draws} draws, expected ${draws} (one per step with σᵢ₊₁ > 0)`);
      })),
  },
  {
    clause: "SAMP-KDIFF-NFE",
    name: "model-evaluations-per-run",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(configArb, sigmasArb, seedArb, async ([name, opts], sigmas, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const model = hostDenoiser(b, (v) => 0.9 * v);
        await KDIFFUSION[name](b, model, await upload(b, new GaussianStream(seed), sigmas[0]), sigmas, { ...opts, noise: countingNoise(b, seed) });
        const want = kdiffusionEvaluations(name, sigmas, opts);
        expect(model.calls.length === want, `${name}: ${model.calls.length} model evaluations for ${sigmas.length - 1} steps, expected ${want}`);
        expect(model.calls.every((s) => s > 0 && Number.isFinite(s)), `${name}: the model was evaluated at σ = ${model.calls.find((s) => !(s > 0))} (only σ > 0 is allowed)`);
      })),
  },
  {
    clause: "SAMP-FINITE-KDIFF",
    name: "finite-inputs-give-finite-samples",
    scope: "backend",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.asyncProperty(configArb, sigmasArb, fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), seedArb, async ([name, opts], sigmas, a, c, seed) => {
        const b = ctx.backend as Backend<BTensor>;
        const states: BTensor[] = [];
        await KDIFFUSION[name](b, hostDenoiser(b, (v, s) => a * Math.tanh(v) + (c * v) / (1 + s * s)), await upload(b, new GaussianStream(seed), 3 * sigmas[0]), sigmas, {
          ...opts,
          noise: countingNoise(b, seed),
          callback: (_, xi) => states.push(xi),
        });
        for (let i = 0; i < states.length; i++) {
          const h = await b.toHost(states[i]);
          const bad = h.findIndex((v) => !Number.isFinite(v));
          expect(bad < 0, `${name} ${JSON.stringify(opts)}: state after iteration ${i} holds ${h[bad]} at index ${bad} (σ = ${Array.from(sigmas).join(", ")})`);
        }
      })),
  },
]);
