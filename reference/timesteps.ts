/**
 * TS — timestep spacing: which of the N training timesteps an n-step sampler visits
 * (spec/06-timesteps.md; article: "Reverse diffusion in practice"). Equal to diffusers v0.40.0's
 * DDPMScheduler/DDIMScheduler `set_timesteps` (numpy rounds half to even; Math.round does not).
 */
import { ConfigError, require, requireOneOf, requirePositiveInt } from "./errors.ts";
import { linspace } from "./schedule.ts";

export type TimestepSpacing = "linspace" | "leading" | "trailing";
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ["linspace", "leading", "trailing"];

/** numpy's np.round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * TS-SPACING: the n timesteps, strictly decreasing, in [0, N−1].
 * - linspace: round(linspace(0, N−1, n)), reversed (DDIM paper §C.2 "uniform" with endpoints);
 * - leading:  k·⌊N/n⌋ + stepsOffset for k = n−1 … 0 (Stable Diffusion's choice);
 * - trailing: round(N − k·N/n) − 1 for k = 0 … n−1 (Lin et al. 2023, Table 2: starts at T − 1), with
 *   N − k·N/n evaluated as numpy's arange does.
 */
export function setTimesteps(n: number, numTrainTimesteps: number, spacing: TimestepSpacing = "leading", stepsOffset = 0): number[] {
  const N = requirePositiveInt("numTrainTimesteps", numTrainTimesteps);
  requirePositiveInt("numInferenceSteps", n);
  require(n <= N, "numInferenceSteps", n, `an integer ≤ numTrainTimesteps (${N})`);
  requireOneOf("timestepSpacing", spacing, TIMESTEP_SPACINGS);
  require(Number.isInteger(stepsOffset) && stepsOffset >= 0, "stepsOffset", stepsOffset, "a non-negative integer");
  let ts: number[];
  if (spacing === "linspace") ts = Array.from(linspace(0, N - 1, n), roundHalfEven).reverse();
  else if (spacing === "leading") {
    const ratio = Math.floor(N / n);
    ts = Array.from({ length: n }, (_, k) => (n - 1 - k) * ratio + stepsOffset);
  } else {
    // numpy's np.arange(N, 0, −N/n) fills start + k·δ with δ = (start + step) − start (numpy's
    // DOUBLE_fill), not N − k·(N/n): the two differ in the last bit, which flips a rounding at .5
    // for some (N, n) (e.g. N = 1000, n = 48: 936 vs 937). diffusers' length ⌈N/(N/n)⌉ can be n + 1
    // (an extra timestep −1); we keep exactly n (spec/06-timesteps.md, deviations).
    const delta = N - N / n - N;
    ts = Array.from({ length: n }, (_, k) => roundHalfEven(N + k * delta) - 1);
  }
  if (ts[0] > N - 1) throw new ConfigError("stepsOffset", stepsOffset, `a value keeping the first timestep ${ts[0]} within [0, ${N - 1}]`);
  return ts;
}

/**
 * TS-PREV: the timestep the sampler steps to from ts[i]: the next entry of the schedule, or −1
 * (meaning "x₀", ᾱ = 1 or the final ᾱ) after the last. diffusers' DDIM instead uses t − ⌊N/n⌋ for
 * every spacing (issue #11347); `compat: "diffusers"` reproduces that (spec/06-timesteps.md, deviations).
 */
export function previousTimestep(ts: readonly number[], i: number, compat: "math" | "diffusers" = "math", numTrainTimesteps = 1000): number {
  if (compat === "diffusers") return ts[i] - Math.floor(numTrainTimesteps / ts.length);
  return i + 1 < ts.length ? ts[i + 1] : -1;
}
