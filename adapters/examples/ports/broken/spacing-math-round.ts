/** BROKEN ON PURPOSE: DDIM timesteps rounded with Math.round (halves up) instead of numpy's round-half-even. Fails TS-SPACING. */
import { capabilities as all, DDIM, spacedTimesteps } from "../float32-schedulers.ts";

export const capabilities = { ...all, name: "broken: Math.round in the spacing", classes: { DDIMScheduler: all.classes.DDIMScheduler } };

class DDIMMathRound extends DDIM {
  override setTimesteps(n: number): void {
    const { numTrainTimesteps: N, timestepSpacing, stepsOffset } = this.c;
    if (timestepSpacing === "linspace") this.timesteps = Array.from({ length: n }, (_, k) => Math.round(n === 1 ? 0 : ((n - 1 - k) * (N - 1)) / (n - 1)));
    else if (timestepSpacing === "trailing") this.timesteps = Array.from({ length: n }, (_, k) => Math.round(N - (k * N) / n) - 1);
    else this.timesteps = spacedTimesteps(n, N, timestepSpacing, stepsOffset);
  }
}
export const DDIMScheduler = (config: Record<string, unknown>) => new DDIMMathRound(config);
