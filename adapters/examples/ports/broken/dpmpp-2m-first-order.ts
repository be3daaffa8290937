/** BROKEN ON PURPOSE: DPM-Solver++(2M) without its second-order term (every step is the first-order one). Fails SAMP-ORDER. */
import { capabilities as all, DPMSolverPP2M } from "../float32-schedulers.ts";

export const capabilities = { ...all, name: "broken: DPM-Solver++(2M) without the second-order term", classes: { DPMSolverMultistepScheduler: all.classes.DPMSolverMultistepScheduler } };

class FirstOrderOnly extends DPMSolverPP2M {
  override step(modelOutput: Float32Array, timestep: number, sample: Float32Array) {
    this.previous = null; // forget the history: the second-order correction is never applied
    return super.step(modelOutput, timestep, sample);
  }
}
export const DPMSolverMultistepScheduler = (config: Record<string, unknown>) => new FirstOrderOnly(config);
