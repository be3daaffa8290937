/**
 * The data the benchmark measures quality on, all with the exact oracle (DESIGN.md "The exact oracle"):
 *
 * (a) `gaussian`: x₀ ~ 𝒩(μ, s²I) with μ = 0.3, s = 0.5 in the workload's dimension (1·R·R). Its
 *     probability-flow ODE has a closed form (order.ts `exactFlow`), so a deterministic sampler's error
 *     is the RMS difference between its sample and the exact solution from the same x_T, at the noise
 *     level the sampler ends at.
 * (b) `mixture2d`: 8 isotropic Gaussians (std 0.08) on a circle of radius 0.8; `mixture64d`: 16
 *     Gaussians (std 0.2) with seeded means in [−1, 1]⁶⁴. Quality is the energy distance (reference/stats.ts)
 *     between the generated points and as many fresh data points; every sampler, stochastic ones included.
 *
 * Every run starts from x̃_T drawn from the exact noised marginal at the train schedule's largest σ
 * (x̃_T = x₀ + σ_T z), so no error comes from the prior.
 */
import { GaussianMixture } from "../reference/distributions.ts";
import { childStream } from "../reference/rng.ts";
import { makeSchedule, type Schedule } from "../reference/schedule.ts";
import { exactFlow } from "../reference/samplers/order.ts";

/** The train schedule of every benchmark model: diffusers' default linear β, N = 1000. */
export const benchSchedule = (): Schedule => makeSchedule();

export const GAUSSIAN = { mean: 0.3, std: 0.5 } as const;

export function gaussianData(dim: number): GaussianMixture {
  return new GaussianMixture([{ mean: new Float64Array(dim).fill(GAUSSIAN.mean), std: GAUSSIAN.std, weight: 1 }]);
}

export function mixture2d(): GaussianMixture {
  const K = 8;
  return new GaussianMixture(Array.from({ length: K }, (_, k) => ({ mean: Float64Array.of(0.8 * Math.cos((2 * Math.PI * k) / K), 0.8 * Math.sin((2 * Math.PI * k) / K)), std: 0.08, weight: 1 })));
}

export function mixture64d(seed: number): GaussianMixture {
  const s = childStream(seed, "mixture64d-means");
  return new GaussianMixture(Array.from({ length: 16 }, () => ({ mean: Float64Array.from({ length: 64 }, () => 2 * s.uniform() - 1), std: 0.2, weight: 1 })));
}

export type MixtureName = "mixture2d" | "mixture64d";
export const mixtureData = (name: MixtureName, seed: number): GaussianMixture => (name === "mixture2d" ? mixture2d() : mixture64d(seed));

/** x̃_T ~ q(x̃ | σ_T) for the Gaussian problem, flattened [batch·dim]. */
export function gaussianStart(batch: number, dim: number, sigmaT: number, seed: number): Float64Array {
  const z = childStream(seed, `gaussian-xT/${batch}x${dim}`).normals(batch * dim);
  const scale = Math.sqrt(GAUSSIAN.std ** 2 + sigmaT ** 2);
  return Float64Array.from(z, (v) => GAUSSIAN.mean + scale * v);
}

/** x̃_T = x₀ + σ_T z with x₀ drawn from the mixture, flattened [n·dim]. */
export function mixtureStart(data: GaussianMixture, n: number, sigmaT: number, seed: number, name: string): Float64Array {
  const s = childStream(seed, `${name}-xT`);
  const out = new Float64Array(n * data.dim);
  for (let i = 0; i < n; i++) {
    const x0 = data.sample(s).x;
    for (let d = 0; d < data.dim; d++) out[i * data.dim + d] = x0[d] + sigmaT * s.normal();
  }
  return out;
}

/** Fresh data points to compare generated samples with (the same for every configuration of a run). */
export function dataSample(data: GaussianMixture, n: number, seed: number, name: string): Float64Array[] {
  return data.sampleMany(n, childStream(seed, `${name}-reference-data`));
}

/** The exact PF-ODE solution at σ_final in the sampler's coordinates (x = α x̃), for the Gaussian problem. */
export function gaussianExact(xTildeT: Float64Array, sigmaT: number, sigmaFinal: number, alphaFinal: number): Float64Array {
  return exactFlow(xTildeT, GAUSSIAN.mean, GAUSSIAN.std, sigmaT, sigmaFinal).map((v) => v * alphaFinal);
}

export function rms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

/** Rows of a flat [n·dim] array as points. */
export const points = (flat: Float64Array, dim: number): Float64Array[] => Array.from({ length: flat.length / dim }, (_, i) => flat.subarray(i * dim, (i + 1) * dim));

/**
 * Energy distance (reference/stats.ts) of generated points (flat, in data coordinates) to the reference
 * data. Imported on first use: reference/stats.ts loads mathjs, seconds of start-up a timing-only run
 * does not need.
 */
export async function energyTo(generated: Float64Array, dim: number, reference: readonly Float64Array[]): Promise<number> {
  const { energyDistance } = await import("../reference/stats.ts");
  return energyDistance(points(generated, dim), reference);
}
