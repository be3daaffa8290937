/**
 * A port instance seen as a reference Scheduler over the Float64 reference backend, so the suite's own
 * pipeline loop (SAMP-PIPELINE, `runPipeline`) and oracles drive a port exactly as they drive the reference.
 * A stochastic step gets one fresh draw from the suite's NoiseProvider, the same array the reference gets.
 */
import { referenceBackend } from "../../adapters/reference/index.ts";
import type { Tensor } from "../../reference/tensor.ts";
import type { Scheduler, StepOptions, StepOutput } from "../../reference/samplers/scheduler.ts";
import type { PortInstance, PortTimesteps } from "./driver.ts";

export class PortAsScheduler implements Scheduler<Tensor> {
  readonly backend = referenceBackend;
  private schedule: PortTimesteps | undefined;

  constructor(
    readonly className: string,
    readonly port: PortInstance,
    readonly config: Readonly<Record<string, unknown>>,
    /** Draw noise for every step (ancestral classes, DDIM with η > 0). */
    readonly drawsNoise: boolean,
  ) {}

  /** setTimesteps is asynchronous over a port: call `prepare(n)` instead. */
  setTimesteps(): void {
    throw new Error("PortAsScheduler: use `await prepare(n)`");
  }
  async prepare(n: number): Promise<PortTimesteps> {
    this.schedule = await this.port.setTimesteps(n);
    return this.schedule;
  }
  get timesteps(): readonly number[] {
    return this.schedule?.timesteps ?? [];
  }
  get sigmas(): Float64Array | undefined {
    return this.schedule?.sigmas;
  }
  get initNoiseSigma(): number {
    return this.schedule?.initNoiseSigma ?? this.port.initNoiseSigma;
  }
  get order(): number {
    return this.schedule?.order ?? this.port.order;
  }
  async scaleModelInput(sample: Tensor, timestep: number): Promise<Tensor> {
    return { shape: [...sample.shape], data: await this.port.scaleModelInput(sample.data, sample.shape, timestep) };
  }
  async step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions<Tensor> = {}): Promise<StepOutput<Tensor>> {
    const noise = this.drawsNoise && options.noise ? (await options.noise.next(sample.shape)).data : undefined;
    const r = await this.port.step(modelOutput.data, timestep, sample.data, sample.shape, { eta: options.eta, noise });
    return { prevSample: { shape: [...sample.shape], data: r.prevSample }, predOriginalSample: r.predOriginalSample && { shape: [...sample.shape], data: r.predOriginalSample } };
  }
}
