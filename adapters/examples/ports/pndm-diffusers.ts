/**
 * An example port of diffusers' PNDMScheduler, transcribed line by line from diffusers v0.40.0 (so it
 * declares compat "diffusers"): plain TypeScript over Float32Array, nothing imported from diffspec.
 *
 *   npx diffspec conformance --scheduler adapters/examples/ports/pndm-diffusers.ts
 */
import { betas, cumprod, spacedTimesteps } from "./float32-schedulers.ts";

type Arr = Float32Array | Float64Array;

export const capabilities = {
  name: "pndm-diffusers (TypeScript example)",
  dtype: "float32",
  compat: "diffusers",
  classes: {
    PNDMScheduler: {
      config: {
        numTrainTimesteps: { min: 100, max: 1000, integer: true },
        betaSchedule: ["linear", "scaled_linear"],
        predictionType: ["epsilon", "v_prediction"],
        timestepSpacing: ["leading"],
        stepsOffset: [0, 1],
        setAlphaToOne: [false, true],
      },
      numInferenceSteps: { min: 4, max: 100 },
    },
  },
};

export class PNDM {
  readonly c: { numTrainTimesteps: number; betaStart: number; betaEnd: number; betaSchedule: string; trainedBetas: null; predictionType: string; timestepSpacing: string; stepsOffset: number; setAlphaToOne: boolean };
  readonly alphasCumprod: Float32Array;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  readonly pndmOrder = 4;
  timesteps: number[] = [];
  protected ac: number[];
  protected prkTimesteps: number[] = [];
  protected counter = 0;
  protected ets: Float64Array[] = [];
  protected curModelOutput: Float64Array | null = null;
  protected curSample: Arr | null = null;
  protected n = 0;

  constructor(config: Record<string, unknown>) {
    this.c = { numTrainTimesteps: 1000, betaStart: 0.0001, betaEnd: 0.02, betaSchedule: "linear", trainedBetas: null, predictionType: "epsilon", timestepSpacing: "leading", stepsOffset: 0, setAlphaToOne: false };
    for (const [k, v] of Object.entries(config)) if (v !== null && v !== undefined) (this.c as Record<string, unknown>)[k] = v;
    this.ac = cumprod(betas(this.c));
    this.alphasCumprod = Float32Array.from(this.ac);
  }

  setTimesteps(n: number): void {
    this.n = n;
    const N = this.c.numTrainTimesteps;
    const ts = spacedTimesteps(n, N, this.c.timestepSpacing, this.c.stepsOffset).reverse(); // ascending, as diffusers' _timesteps
    const half = Math.floor(Math.floor(N / n) / 2);
    // prk_timesteps = (ts[-4:].repeat(2) + tile([0, N//n//2], 4))[:-1].repeat(2)[1:-1][::-1]
    const withHalves = ts.slice(-this.pndmOrder).flatMap((t) => [t, t + half]);
    this.prkTimesteps = withHalves.slice(0, -1).flatMap((t) => [t, t]).slice(1, -1).reverse();
    const plms = ts.slice(0, -3).reverse();
    this.timesteps = [...this.prkTimesteps, ...plms];
    this.counter = 0;
    this.ets = [];
    this.curModelOutput = null;
    this.curSample = null;
  }

  scaleModelInput(sample: Arr): Arr {
    return sample;
  }

  step(modelOutput: Arr, timestep: number, sample: Arr) {
    return this.counter < this.prkTimesteps.length ? this.stepPrk(modelOutput, timestep, sample) : this.stepPlms(modelOutput, timestep, sample);
  }

  /** The timestep whose ᾱ a PRK stage starts from: prk_timesteps[counter // 4 * 4]. */
  protected prkStart(): number {
    return this.prkTimesteps[Math.floor(this.counter / 4) * 4];
  }

  stepPrk(modelOutput: Arr, timestep: number, sample: Arr) {
    const N = this.c.numTrainTimesteps;
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(Math.floor(N / this.n) / 2);
    const prevTimestep = timestep - diffToPrev;
    const t = this.prkStart();
    let out = Float64Array.from(modelOutput);
    const cur = this.curModelOutput ?? new Float64Array(out.length);
    const stage = this.counter % 4;
    if (stage === 0) {
      this.curModelOutput = cur.map((v, j) => v + out[j] / 6);
      this.ets.push(out);
      this.curSample = sample;
    } else if (stage === 1 || stage === 2) {
      this.curModelOutput = cur.map((v, j) => v + out[j] / 3);
    } else {
      out = cur.map((v, j) => v + out[j] / 6);
      this.curModelOutput = null;
    }
    const prevSample = this.prevSample(this.curSample ?? sample, t, prevTimestep, out);
    this.counter++;
    return { prevSample };
  }

  stepPlms(modelOutput: Arr, timestep: number, sample: Arr) {
    const ratio = Math.floor(this.c.numTrainTimesteps / this.n);
    let prevTimestep = timestep - ratio;
    const mo = Float64Array.from(modelOutput);
    if (this.counter !== 1) {
      this.ets = [...this.ets.slice(-3), mo];
    } else {
      prevTimestep = timestep;
      timestep = timestep + ratio;
    }
    const e = this.ets;
    const k = e.length;
    let out: Float64Array;
    let base: Arr = sample;
    if (k === 1 && this.counter === 0) {
      out = mo;
      this.curSample = sample;
    } else if (k === 1 && this.counter === 1) {
      out = mo.map((v, j) => (v + e[k - 1][j]) / 2);
      base = this.curSample!;
      this.curSample = null;
    } else if (k === 2) out = e[1].map((v, j) => (3 * v - e[0][j]) / 2);
    else if (k === 3) out = e[2].map((v, j) => (23 * v - 16 * e[1][j] + 5 * e[0][j]) / 12);
    else out = e[3].map((v, j) => (55 * v - 59 * e[2][j] + 37 * e[1][j] - 9 * e[0][j]) / 24);
    const prevSample = this.prevSample(base, timestep, prevTimestep, out);
    this.counter++;
    return { prevSample };
  }

  /** diffusers' _get_prev_sample: the transfer (eq. 11 of Liu et al. 2022). */
  protected prevSample(sample: Arr, t: number, prev: number, out: Float64Array): Float32Array {
    const aT = this.ac[t];
    const aPrev = prev >= 0 ? this.ac[prev] : this.c.setAlphaToOne ? 1 : this.ac[0];
    const [bT, bPrev] = [1 - aT, 1 - aPrev];
    const eps = this.c.predictionType === "v_prediction" ? out.map((v, j) => Math.sqrt(aT) * v + Math.sqrt(bT) * sample[j]) : out;
    const sampleCoeff = Math.sqrt(aPrev / aT);
    const denom = aT * Math.sqrt(bPrev) + Math.sqrt(aT * bT * aPrev);
    return Float32Array.from(sample, (x, j) => sampleCoeff * x - ((aPrev - aT) * eps[j]) / denom);
  }
}

export function PNDMScheduler(config: Record<string, unknown>): PNDM {
  return new PNDM(config);
}
