/**
 * SAMP-BROWNIAN-TREE — a Brownian motion W on [t₀, t₁] that can be queried at any time, in any order,
 * always giving the same path: the noise of DPMSolverSDEScheduler and k-diffusion's `sample_dpmpp_sde`
 * (spec/07-samplers-dpmsolver-sde.md; torchsde's BrownianInterval plays this part in diffusers).
 *
 * Lévy's construction: W(t₀) = 0, W(t₁) = √(t₁ − t₀)·z_root, and the midpoint m of any node [a, b] of
 * the dyadic tree is the Brownian bridge W(m) = (W(a) + W(b))/2 + (√(b − a)/2)·z_node, with z_node ~ 𝒩(0, I)
 * drawn from a stream keyed by (seed, depth, index) alone. W(t) walks down the nodes containing t until t is
 * an end point or the node cannot be split in Float64 (then the two ends are one ulp apart and W(t) is their
 * interpolation). So W is a fixed function of t: an increment over a coarse step is exactly the sum of the
 * increments over any refinement of it (up to rounding), and W(t) − W(s) ~ 𝒩(0, |t − s|·I).
 *
 * torchsde draws from torch's generator, so its numbers cannot be reproduced here; the fixtures replay the
 * normalised increments it returned (fixtures/diffusers/README.md, "DPMSolverSDEScheduler and torchsde").
 */
import { childStream, type Seed } from "./rng.ts";
import type { Shape, Tensor } from "./tensor.ts";
import { size } from "./tensor.ts";
import { require } from "./errors.ts";

export class BrownianTree {
  private readonly wEnd: Float64Array;

  constructor(
    readonly t0: number,
    readonly t1: number,
    /** Elements of W(t). */
    readonly n: number,
    readonly seed: Seed,
  ) {
    require(Number.isFinite(t0) && Number.isFinite(t1) && t1 > t0, "BrownianTree [t0, t1]", `[${t0}, ${t1}]`, "finite times with t0 < t1");
    require(Number.isInteger(n) && n >= 1, "BrownianTree size", n, "an integer ≥ 1");
    this.wEnd = this.normals("root").map((z) => Math.sqrt(t1 - t0) * z);
  }

  private normals(key: string): Float64Array {
    return childStream(this.seed, `brownian/${key}`).normals(this.n);
  }

  /** W(t) for t ∈ [t₀, t₁] (W(t₀) = 0). */
  at(t: number): Float64Array {
    require(t >= this.t0 && t <= this.t1, "BrownianTree time", t, `a time in [${this.t0}, ${this.t1}]`);
    let [a, b] = [this.t0, this.t1];
    let wa: Float64Array = new Float64Array(this.n);
    let wb = this.wEnd;
    for (let depth = 0, index = 0; ; depth++) {
      if (t === a) return wa;
      if (t === b) return wb;
      const m = a + (b - a) / 2;
      if (m <= a || m >= b) return wa.map((v, i) => v + ((t - a) / (b - a)) * (wb[i] - v));
      const z = this.normals(`${depth}/${index}`);
      const half = Math.sqrt(b - a) / 2;
      const wm = wa.map((v, i) => (v + wb[i]) / 2 + half * z[i]);
      if (t < m) { b = m; wb = wm; index = 2 * index; }
      else { a = m; wa = wm; index = 2 * index + 1; }
    }
  }

  /** W(tb) − W(ta), signed (ta may be after tb). */
  increment(ta: number, tb: number): Float64Array {
    const wa = this.at(ta);
    return this.at(tb).map((v, i) => v - wa[i]);
  }
}

/**
 * SAMP-BROWNIAN-TREE: k-diffusion's / diffusers' `BrownianTreeNoiseSampler`: a tree on [σ_min, σ_max] (the
 * schedule's smallest positive and largest σ; σ itself is the tree's time), and each call
 * (σ, σ_next) returns the normalised increment (W(σ_next) − W(σ))/√|σ_next − σ|, a standard-normal tensor.
 */
export class BrownianTreeNoiseSampler {
  private readonly tree: BrownianTree;

  constructor(sigmaMin: number, sigmaMax: number, readonly shape: Shape, seed: Seed) {
    this.tree = new BrownianTree(sigmaMin, sigmaMax, size(shape), seed);
  }

  /**
   * The tree's time of σ. A σ at most 10⁻⁹ (relative) outside [σ_min, σ_max] is a rounding of an end
   * (σ = e^{−(−log σ)} can move an ulp; torchsde warns and continues) and is read as that end; further
   * outside is a ConfigError.
   */
  private time(sigma: number): number {
    const { t0, t1 } = this.tree;
    require(sigma >= t0 * (1 - 1e-9) && sigma <= t1 * (1 + 1e-9), "BrownianTreeNoiseSampler σ", sigma, `a noise level in [σ_min, σ_max] = [${t0}, ${t1}]`);
    return Math.min(t1, Math.max(t0, sigma));
  }

  sample(sigma: number, sigmaNext: number): Tensor {
    const [ta, tb] = [this.time(sigma), this.time(sigmaNext)];
    require(ta !== tb, "BrownianTreeNoiseSampler interval", `[${sigma}, ${sigmaNext}]`, "two different noise levels");
    const scale = 1 / Math.sqrt(Math.abs(tb - ta));
    return { shape: [...this.shape], data: this.tree.increment(ta, tb).map((v) => v * scale) };
  }
}
