/** BROKEN ON PURPOSE: Euler stepping to σ_next² instead of σ_next (a squared-σ slip). Fails SAMP-ORDER first. */
import { capabilities as all, Euler } from "../float32-schedulers.ts";

export const capabilities = { ...all, name: "broken: Euler with σ_next²", classes: { EulerDiscreteScheduler: all.classes.EulerDiscreteScheduler } };

class EulerSigmaNextSquared extends Euler {
  override step(modelOutput: Float32Array, _timestep: number, sample: Float32Array) {
    const i = this.nextIndex();
    return this.eulerStep(modelOutput, sample, this.sig[i], this.sig[i + 1] ** 2);
  }
}
export const EulerDiscreteScheduler = (config: Record<string, unknown>) => new EulerSigmaNextSquared(config);
