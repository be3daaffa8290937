/**
 * SCORE-LOW-DENSITY — a learned noise predictor beside the exact oracle (spec/09-oracle.md).
 *
 * The smallest model that is *trained* the way the article trains its network: at one noise level
 * (α, σ), ε̂(x) = Σₖ wₖ φₖ(x) with Gaussian bumps φₖ(x) = exp(−‖x − cₖ‖²/(2h²)) around centres cₖ, and the
 * weights minimise the ε-loss (LOSS-EPS) over training pairs (xₜ = αx₀ + σε, ε) plus a ridge λ‖w‖²:
 * a linear least-squares problem, solved exactly (normal equations, Cholesky). It learns ε* where the
 * training pairs are; where there are none, the loss says nothing and the bumps make ε̂ fade to 0.
 */
import { require } from "./errors.ts";

export interface RbfNoisePredictor {
  /** ε̂(x). */
  (x: ArrayLike<number>): Float64Array;
}

/** φₖ(x) = exp(−‖x − cₖ‖²/(2h²)) for every centre. */
export function rbfFeatures(x: ArrayLike<number>, centres: readonly ArrayLike<number>[], h: number): Float64Array {
  return Float64Array.from(centres, (c) => {
    let d = 0;
    for (let i = 0; i < x.length; i++) d += (x[i] - c[i]) ** 2;
    return Math.exp(-d / (2 * h * h));
  });
}

/** Solves A w = b for a symmetric positive-definite A (row-major K×K) by Cholesky. */
export function choleskySolve(a: Float64Array, b: Float64Array, k: number): Float64Array {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j];
      for (let m = 0; m < j; m++) s -= l[i * k + m] * l[j * k + m];
      if (i === j) {
        require(s > 0, "choleskySolve matrix", s, "a positive-definite matrix (add a ridge)");
        l[i * k + i] = Math.sqrt(s);
      } else l[i * k + j] = s / l[j * k + j];
    }
  }
  const y = new Float64Array(k);
  for (let i = 0; i < k; i++) { let s = b[i]; for (let m = 0; m < i; m++) s -= l[i * k + m] * y[m]; y[i] = s / l[i * k + i]; }
  const w = new Float64Array(k);
  for (let i = k - 1; i >= 0; i--) { let s = y[i]; for (let m = i + 1; m < k; m++) s -= l[m * k + i] * w[m]; w[i] = s / l[i * k + i]; }
  return w;
}

/**
 * SCORE-LOW-DENSITY: fit ε̂ = Σₖ wₖ φₖ by minimising Σₙ ‖ε̂(xₙ) − εₙ‖² + λ Σₖ ‖wₖ‖² (one output at a time:
 * (ΦᵀΦ + λI) w_d = Φᵀ ε_d for each coordinate d).
 */
export function fitRbfNoisePredictor(xs: readonly ArrayLike<number>[], eps: readonly ArrayLike<number>[], centres: readonly ArrayLike<number>[], h: number, ridge: number): RbfNoisePredictor {
  require(xs.length > 0 && xs.length === eps.length, "training pairs", `${xs.length} inputs, ${eps.length} targets`, "as many noise targets as inputs, at least one");
  require(h > 0 && ridge > 0, "h, ridge", `${h}, ${ridge}`, "a bandwidth > 0 and a ridge > 0");
  const k = centres.length;
  const dim = eps[0].length;
  const gram = new Float64Array(k * k);
  const rhs = Array.from({ length: dim }, () => new Float64Array(k));
  xs.forEach((x, n) => {
    const phi = rbfFeatures(x, centres, h);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) gram[i * k + j] += phi[i] * phi[j];
      for (let d = 0; d < dim; d++) rhs[d][i] += phi[i] * eps[n][d];
    }
  });
  for (let i = 0; i < k; i++) gram[i * k + i] += ridge;
  const w = rhs.map((b) => choleskySolve(gram, b, k));
  return (x) => {
    const phi = rbfFeatures(x, centres, h);
    return Float64Array.from(w, (wd) => wd.reduce((s, v, i) => s + v * phi[i], 0));
  };
}
