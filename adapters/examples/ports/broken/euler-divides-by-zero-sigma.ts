/**
 * BROKEN ON PURPOSE: an Euler step written as x' = D + σ'·(x − D)/σ' ("rescale the noise to the next level"):
 * algebraically the same, but on the last step σ' = 0 and it computes 0·∞ = NaN. Fails PORT-FINITE.
 */
import { capabilities as all, Euler } from "../float32-schedulers.ts";

export const capabilities = { ...all, name: "broken: the last step divides by σ = 0", classes: { EulerDiscreteScheduler: all.classes.EulerDiscreteScheduler } };

class DividesByZero extends Euler {
  override step(modelOutput: Float32Array, _timestep: number, sample: Float32Array) {
    const i = this.nextIndex();
    const [sigma, next] = [this.sig[i], this.sig[i + 1]];
    const x0 = Float32Array.from(sample, (x, j) => this.denoised(modelOutput[j], x, sigma));
    const noise = Float32Array.from(sample, (x, j) => ((x - x0[j]) * (next / sigma)) / next); // the noise at level σ'
    return { prevSample: Float32Array.from(x0, (d, j) => d + next * noise[j]), predOriginalSample: x0 };
  }
}
export const EulerDiscreteScheduler = (config: Record<string, unknown>) => new DividesByZero(config);
