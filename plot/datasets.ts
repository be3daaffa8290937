/** Datasets the figures share (plot/figures.ts, plot/figures-article.ts). */
import { GaussianMixture } from "../reference/distributions.ts";

/** The article's structured 2-D dataset: eight Gaussian blobs on a ring, labelled by half (y ∈ {0, 1}). */
export function ringData(std = 0.08): GaussianMixture {
  return new GaussianMixture(
    Array.from({ length: 8 }, (_, k) => ({
      mean: Float64Array.of(Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)),
      std,
      weight: 1,
      label: k < 4 ? 0 : 1,
    })),
  );
}
