/**
 * BROKEN ON PURPOSE: diffusers' `self.prk_timesteps[self.counter // 4 * 4]` ported as `counter / 4 * 4`
 * (JavaScript's `/` is true division), so each Runge–Kutta stage starts from the wrong timestep. Fails SAMP-PNDM.
 */
import { capabilities as all, PNDM } from "../pndm-diffusers.ts";

export const capabilities = { ...all, name: "broken: PNDM PRK counter with true division" };

class TrueDivision extends PNDM {
  protected override prkStart(): number {
    return this.prkTimesteps[(this.counter / 4) * 4];
  }
}
export const PNDMScheduler = (config: Record<string, unknown>) => new TrueDivision(config);
