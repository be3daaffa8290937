/**
 * NOISE — seeded Gaussian noise.
 * Clause NOISE-STREAM: a stream is determined by its seed; the same seed gives the same numbers.
 * Clause NOISE-FINITE: every draw is finite. Box–Muller takes u₁ ∈ (0, 1], never 0, so
 * √(−2 ln u₁) is finite (the ∞ bug of a popular ONNX Runtime example draws u₁ = 0).
 */
import seedrandom from "seedrandom";
import type { Shape, Tensor } from "./tensor.ts";
import { size } from "./tensor.ts";
import { ShapeError, StateError } from "./errors.ts";

/** Anything that supplies standard-normal tensors: a seeded stream, or recorded noise (fixtures). */
export interface NoiseSource {
  /** The next standard-normal tensor of `shape`. */
  randn(shape: Shape): Tensor;
}

export type Seed = number | string;

/** NOISE-STREAM: a seeded source of U(0,1) and N(0,1) numbers (seedrandom's ARC4 generator). */
export class GaussianStream implements NoiseSource {
  private readonly rng: seedrandom.PRNG;
  private spare: number | null = null;

  constructor(readonly seed: Seed) {
    this.rng = seedrandom(String(seed));
  }

  /** U(0, 1] with 53 random bits: 1 − [0, 1). Never 0. */
  uniformOpenAtZero(): number {
    return 1 - this.rng.double();
  }

  /** U[0, 1) with 53 random bits. */
  uniform(): number {
    return this.rng.double();
  }

  /** NOISE-FINITE: Box–Muller; |z| ≤ √(−2 ln 2⁻⁵³) ≈ 8.57. */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniformOpenAtZero()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  normals(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  randn(shape: Shape): Tensor {
    return { shape: [...shape], data: this.normals(size(shape)) };
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}

/** A child stream: independent of its parent for practical purposes (distinct seed string). */
export function childStream(seed: Seed, name: string): GaussianStream {
  return new GaussianStream(`${seed}/${name}`);
}

/** Replays recorded noise arrays in order (used by the fixtures). Throws when exhausted. */
export class RecordedNoise implements NoiseSource {
  private k = 0;
  constructor(private readonly arrays: readonly ArrayLike<number>[]) {}
  randn(shape: Shape): Tensor {
    if (this.k >= this.arrays.length) throw new StateError(`recorded noise exhausted after ${this.k} draws`);
    const a = this.arrays[this.k++];
    if (a.length !== size(shape)) throw new ShapeError(`recorded noise ${this.k - 1} length`, a.length, `${size(shape)} (the size of shape [${shape.join(", ")}])`);
    return { shape: [...shape], data: Float64Array.from(a) };
  }
  get used(): number {
    return this.k;
  }
}
