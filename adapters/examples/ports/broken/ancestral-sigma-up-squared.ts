/** BROKEN ON PURPOSE: Euler ancestral with σ_up² in place of σ_up (the square root forgotten). Fails SAMP-EULER-ANCESTRAL. */
import { capabilities as all, EulerAncestral } from "../float32-schedulers.ts";

export const capabilities = { ...all, name: "broken: ancestral σ_up without its square root", classes: { EulerAncestralDiscreteScheduler: all.classes.EulerAncestralDiscreteScheduler } };

class NoSquareRoot extends EulerAncestral {
  override ancestral(sigma: number, sigmaNext: number): { up: number; down: number } {
    const up = (sigmaNext ** 2 * (sigma ** 2 - sigmaNext ** 2)) / sigma ** 2;
    return { up, down: Math.sqrt(Math.max(0, sigmaNext ** 2 - up ** 2)) };
  }
}
export const EulerAncestralDiscreteScheduler = (config: Record<string, unknown>) => new NoSquareRoot(config);
