/**
 * SAMP-KDIFF-DPMPP-SDE — k-diffusion's `sample_dpmpp_sde` (commit 4601bf0): DPM-Solver++ (stochastic) with a
 * substep at ratio r of each interval in λ = −log σ (spec/07-samplers-dpmsolver-sde.md; article: "Fun extras").
 * For σᵢ → σᵢ₊₁ > 0, with λ, λ' and s = λ + r(λ' − λ), D = D(x, σᵢ):
 *   x₂ = (σ_d/σᵢ) x + (1 − σ_d/σᵢ) D + σ_u S z₁,  (σ_d, σ_u) = ancestral split of σᵢ → σ_s (η),
 *   D_d = (1 − 1/(2r)) D + (1/(2r)) D(x₂, σ_s),
 *   x ← (σ_d/σᵢ) x + (1 − σ_d/σᵢ) D_d + σ_u S z₂,  (σ_d, σ_u) = ancestral split of σᵢ → σᵢ₊₁ (η),
 * z₁, z₂ = the noise sampler at (σᵢ, σ_s) and (σᵢ, σᵢ₊₁) — both drawn even when η = 0 (then scaled by 0);
 * the last step to σ = 0 is an Euler step. Noise: `options.noise` (recorded, consumed in call order) or a
 * Brownian tree on [min σ > 0, max σ] seeded by `options.seed` (k-diffusion's `extra_args["seed"]`).
 */
import type { Backend, BTensor } from "../contract.ts";
import { ConfigError, require } from "../errors.ts";
import { BrownianTreeNoiseSampler } from "../brownian.ts";
import type { NoiseProvider } from "./scheduler.ts";
import { getAncestralStep, type KDenoiser } from "./kdiffusion.ts";

export interface DpmppSdeOptions<T extends BTensor> {
  eta?: number;
  sNoise?: number;
  r?: number;
  /** Seed of the Brownian tree when `noise` is absent (default 0). */
  seed?: number;
  noise?: NoiseProvider<T>;
  /** The state after iteration i (the fixtures' trajectory[i]) and k-diffusion's callback dict: the input x, σ̂ and the first denoiser output of iteration i. */
  callback?: (i: number, x: T, info: { x: T; sigmaHat: number; denoised: T }) => void;
  /** The (σ, σ_next) of each noise draw, in order. */
  onNoise?: (step: number, sigma: number, sigmaNext: number) => void;
}

const KNOWN = ["eta", "sNoise", "r", "seed", "noise", "callback", "onNoise"];
const tFn = (sigma: number): number => -Math.log(sigma);
const sigmaFn = (t: number): number => Math.exp(-t);

export async function sampleDpmppSde<T extends BTensor>(backend: Backend<T>, model: KDenoiser<T>, x: T, sigmas: Float64Array, options: DpmppSdeOptions<T> = {}): Promise<T> {
  for (const k of Object.keys(options)) if (!KNOWN.includes(k)) throw new ConfigError(`sample_dpmpp_sde options.${k}`, (options as Record<string, unknown>)[k], `a known option: ${KNOWN.join(", ")}`);
  const { eta = 1, sNoise = 1, r = 0.5, seed = 0 } = options;
  require(Number.isFinite(eta) && eta >= 0, "sample_dpmpp_sde options.eta", eta, "a finite number ≥ 0");
  require(Number.isFinite(sNoise) && sNoise >= 0, "sample_dpmpp_sde options.sNoise", sNoise, "a finite number ≥ 0");
  require(Number.isFinite(r) && r > 0 && r <= 1, "sample_dpmpp_sde options.r", r, "a number in (0, 1]");
  require(sigmas.length >= 2, "sample_dpmpp_sde sigmas", `length ${sigmas.length}`, "at least 2 noise levels");
  for (let i = 0; i < sigmas.length; i++) {
    require(Number.isFinite(sigmas[i]) && sigmas[i] >= 0, `sample_dpmpp_sde sigmas[${i}]`, sigmas[i], "a finite number ≥ 0");
    if (i > 0) require(sigmas[i] < sigmas[i - 1], `sample_dpmpp_sde sigmas[${i}]`, sigmas[i], `a value < sigmas[${i - 1}] (σ must strictly decrease)`);
  }
  const positive = Array.from(sigmas).filter((s) => s > 0);
  let tree: BrownianTreeNoiseSampler | undefined;
  const draw = async (i: number, sigma: number, sigmaNext: number): Promise<T> => {
    options.onNoise?.(i, sigma, sigmaNext);
    if (options.noise) return options.noise.next(x.shape, [sigma, sigmaNext]);
    tree ??= new BrownianTreeNoiseSampler(Math.min(...positive), Math.max(...positive), x.shape, seed);
    const z = tree.sample(sigma, sigmaNext);
    return backend.fromHost(z.data, z.shape);
  };
  for (let i = 0; i < sigmas.length - 1; i++) {
    const [input, denoised] = [x, await model(x, sigmas[i])];
    if (sigmas[i + 1] === 0) {
      const dt = sigmas[i + 1] - sigmas[i];
      x = await backend.combine([x, denoised], [1 + dt / sigmas[i], -dt / sigmas[i]]);
    } else {
      const [t, tNext] = [tFn(sigmas[i]), tFn(sigmas[i + 1])];
      const s = t + (tNext - t) * r;
      const fac = 1 / (2 * r);
      const [sigmaT, sigmaS] = [sigmaFn(t), sigmaFn(s)];
      const sub = getAncestralStep(sigmaT, sigmaS, eta);
      const z1 = await draw(i, sigmaT, sigmaS);
      const x2 = await backend.combine([x, denoised, z1], [sub.sigmaDown / sigmaT, 1 - sub.sigmaDown / sigmaT, sub.sigmaUp * sNoise]);
      const denoised2 = await model(x2, sigmaS);
      const full = getAncestralStep(sigmaT, sigmaFn(tNext), eta);
      const z2 = await draw(i, sigmaT, sigmaFn(tNext));
      const w = 1 - full.sigmaDown / sigmaT;
      x = await backend.combine([x, denoised, denoised2, z2], [full.sigmaDown / sigmaT, w * (1 - fac), w * fac, full.sigmaUp * sNoise]);
    }
    options.callback?.(i, x, { x: input, sigmaHat: sigmas[i], denoised });
  }
  return x;
}
