/**
 * BROKEN ON PURPOSE: DDIM's previous timestep computed as t − ⌊N/n⌋ (diffusers' stride, issue #11347) while
 * declaring compat "math", where a step lands on the next visited timestep. Fails TS-PREV.
 */
import { capabilities as all, DDIM } from "../float32-schedulers.ts";

export const capabilities = { ...all, name: "broken: DDIM previous-timestep stride", classes: { DDIMScheduler: all.classes.DDIMScheduler } };

class DDIMStride extends DDIM {
  override previousTimestep(i: number): number {
    return this.timesteps[i] - Math.floor(this.c.numTrainTimesteps / this.timesteps.length);
  }
}
export const DDIMScheduler = (config: Record<string, unknown>) => new DDIMStride(config);
