/**
 * Sampling the glyffuser (spec/13-glyffuser.md; article: "Sampling" and "Classifier-free guidance"):
 * prompt → embedded text encoder → guided denoiser (reference/guidance.ts) → any of the project's
 * samplers (reference/samplers/) on any backend that can run the U-Net → glyphs in [−1, 1].
 *
 * Backends: onnxruntime-* run the committed ONNX graph (loadOnnxDenoiser); tfjs-* run the same weights
 * through the tfjs implementation of the U-Net (glyffuser/unet-tfjs.ts). The Float64 reference backend
 * has no U-Net (it is not required to run one) and is refused with a ConfigError naming the others.
 * Noise (initial and per-step) is drawn on the host from seeded streams, so a seed gives the same glyphs
 * on every backend up to Float32 rounding.
 */
import type { Backend, BTensor, Conditioning, Denoiser } from "../adapters/contract.ts";
import { BUILTIN_BACKENDS, createBackend } from "../adapters/index.ts";
import { trackMemory } from "../adapters/memory.ts";
import { ConfigError, require as requireThat, requireFinite } from "../reference/errors.ts";
import { namedTextEncoder, tokenize, type EmbeddedTextEncoder } from "../reference/conditioning/embedded.ts";
import { guidedDenoiser } from "../reference/guidance.ts";
import { childStream, GaussianStream } from "../reference/rng.ts";
import { createScheduler } from "../reference/samplers/index.ts";
import { hostNoise, runPipeline } from "../reference/samplers/scheduler.ts";
import { loadModel, modelWeights, type LoadedModel } from "./model.ts";
import type { UNetConfig } from "./unet.ts";
import { withOptional } from "../reference/optional.ts";

/**
 * x̂₀ clipping for the multistep solvers: dynamic thresholding with sampleMaxValue 1 clamps the predicted x₀
 * to [−1, 1] at every step (the glyphs' range), which diffusers' DDPM and DDIM do by default (clipSample).
 * A small, briefly trained model's ε at the noisiest timesteps is rough, and x̂₀ = (x − σε̂)/α amplifies the
 * error by 1/α ≈ 157 at t = 999; unclipped, DPM-Solver++ 2M turns some of those glyphs into black or noisy
 * squares (measured on the committed model, spec/13-glyffuser.md). The σ-space samplers (Euler, Heun, LMS,
 * PNDM) have no such option in diffusers and run unclipped.
 */
const CLIP_X0 = { thresholding: true, sampleMaxValue: 1, dynamicThresholdingRatio: 0.995 } as const;

/** Sampler names of the CLI → diffusers scheduler class and config (DPM-Solver++ 2M/3M/2M-SDE as in diffusers' docs). */
export const SAMPLERS: Record<string, { readonly className: string; readonly config: Readonly<Record<string, unknown>> }> = {
  ddpm: { className: "DDPMScheduler", config: { clipSample: true } },
  ddim: { className: "DDIMScheduler", config: { clipSample: true } },
  euler: { className: "EulerDiscreteScheduler", config: {} },
  "euler-a": { className: "EulerAncestralDiscreteScheduler", config: {} },
  heun: { className: "HeunDiscreteScheduler", config: {} },
  lms: { className: "LMSDiscreteScheduler", config: {} },
  "dpmpp-2m": { className: "DPMSolverMultistepScheduler", config: { algorithmType: "dpmsolver++", solverOrder: 2, ...CLIP_X0 } },
  "dpmpp-3m": { className: "DPMSolverMultistepScheduler", config: { algorithmType: "dpmsolver++", solverOrder: 3, ...CLIP_X0 } },
  "dpmpp-2m-sde": { className: "DPMSolverMultistepScheduler", config: { algorithmType: "sde-dpmsolver++", solverOrder: 2, ...CLIP_X0 } },
  unipc: { className: "UniPCMultistepScheduler", config: { ...CLIP_X0 } },
  deis: { className: "DEISMultistepScheduler", config: { ...CLIP_X0 } },
  pndm: { className: "PNDMScheduler", config: {} },
  "dpmsolver-sde": { className: "DPMSolverSDEScheduler", config: {} },
};
export const SAMPLER_NAMES = Object.keys(SAMPLERS);

/** Backends that can run the glyffuser's U-Net. */
export const GLYFFUSER_BACKENDS = BUILTIN_BACKENDS.filter((b) => b !== "reference");

export interface SampleOptions {
  /** One prompt per glyph, or one prompt for all (with `count`). */
  readonly prompts: readonly string[];
  readonly count?: number;
  readonly steps: number;
  readonly sampler: string;
  /** CFG weight w (0 = unconditional, 1 = conditional, > 1 = guided). */
  readonly guidance: number;
  readonly seed: number;
  /** Backend name (default onnxruntime-cpu). */
  readonly backend?: string;
  /** Model manifest or ONNX path (default the committed checkpoint). */
  readonly model?: string | LoadedModel;
  /** Extra scheduler config (camelCase diffusers names). */
  readonly schedulerConfig?: Record<string, unknown>;
  /** Called after every step with the step index and the current sample (host copy, [B, 1, S, S]). */
  readonly onStep?: (i: number, t: number, sample: Float64Array) => void | Promise<void>;
}

export interface SampleResult {
  /** [B, 1, S, S] in model range (not clipped). */
  readonly images: Float64Array;
  readonly batch: number;
  readonly size: number;
  readonly prompts: readonly string[];
  readonly backend: string;
  readonly sampler: string;
  readonly modelEvaluations: number;
  readonly seconds: number;
}

/** SAMPLE-ARGS: validates what a user asks for; ConfigError naming what is allowed. */
export function validateSampleOptions(o: SampleOptions): void {
  requireThat(SAMPLER_NAMES.includes(o.sampler), "--sampler", o.sampler, `one of ${SAMPLER_NAMES.join(", ")}`);
  requireThat(Number.isInteger(o.steps) && o.steps >= 1, "--steps", o.steps, "an integer ≥ 1");
  requireThat(o.steps <= 1000, "--steps", o.steps, "at most 1000 (the number of training timesteps)");
  requireFinite("--guidance", o.guidance);
  requireThat(o.guidance >= 0 && o.guidance <= 50, "--guidance", o.guidance, "a number in [0, 50] (0 = unconditional, 1 = conditional, 3–7 typical)");
  requireThat(Number.isInteger(o.seed), "--seed", o.seed, "an integer");
  requireThat(Array.isArray(o.prompts) && o.prompts.length >= 1, "--prompt", o.prompts, "at least one prompt");
  if (o.count !== undefined) requireThat(Number.isInteger(o.count) && o.count >= 1 && o.count <= 1024, "--count", o.count, "an integer in [1, 1024]");
  if (o.backend !== undefined) requireThat((GLYFFUSER_BACKENDS as readonly string[]).includes(o.backend), "--backend", o.backend, `one of ${GLYFFUSER_BACKENDS.join(", ")} (the reference backend does not run the U-Net)`);
}

/**
 * The words of a prompt that are not in the encoder's vocabulary (they map to hash buckets: no caption had
 * them as words), in any script: a non-ASCII letter is a token of its own and is never in the English vocabulary.
 */
export function unknownWords(encoder: EmbeddedTextEncoder, prompt: string): string[] {
  return [...new Set(tokenize(prompt).filter((w) => /\p{L}/u.test(w) && encoder.ids(w)[0] >= 2 + encoder.vocabSize))];
}

/** The tokens of a prompt past the encoder's window (COND-ENCODER keeps the first maxLength − 1): what it cuts. */
export function droppedTokens(encoder: EmbeddedTextEncoder, prompt: string): string[] {
  return tokenize(prompt).slice(encoder.maxLength - 1);
}

/** A Denoiser for the U-Net on `backend` (onnxruntime: the ONNX graph; tfjs: the tfjs implementation). */
export async function glyffuserDenoiser(backend: Backend<any>, model: LoadedModel): Promise<Denoiser<any>> {
  if (backend.name.startsWith("onnxruntime")) {
    const { loadOnnxDenoiser } = await import("../adapters/onnxruntime/index.ts");
    return loadOnnxDenoiser(backend, model.onnx, { predictionType: "epsilon" });
  }
  if (backend.name.startsWith("tfjs")) return tfjsDenoiser(model.manifest.unet, model);
  throw new ConfigError("--backend", backend.name, `one of ${GLYFFUSER_BACKENDS.join(", ")} (the reference backend does not run the U-Net)`);
}

async function tfjsDenoiser(config: UNetConfig, model: LoadedModel): Promise<Denoiser<any>> {
  const tf = await withOptional("the glyffuser U-Net on tfjs", () => import("@tensorflow/tfjs"));
  const { tfjsParams, tfjsUNetForward } = await import("./unet-tfjs.ts");
  const params = tfjsParams(tf, modelWeights(model));
  type H = { shape: readonly number[]; tensor: import("@tensorflow/tfjs").Tensor };
  return {
    predictionType: "epsilon",
    evaluate(sample: H, t: number, cond?: Conditioning<H>): H {
      if (!cond) throw new ConfigError("conditioning", undefined, "token embeddings: the glyffuser is a conditional model (use the null condition for unconditional samples)");
      const out = tf.tidy(() =>
        tfjsUNetForward(tf, config, params, { sample: sample.tensor, timestep: tf.fill([sample.shape[0]], t), context: cond.embeddings.tensor, mask: cond.mask?.tensor }, { im2col: false }),
      );
      return { shape: [...out.shape], tensor: out };
    },
  };
}

/** Draws glyphs for prompts (SAMPLE-PIPELINE). */
export async function sampleGlyphs(o: SampleOptions): Promise<SampleResult> {
  validateSampleOptions(o);
  const t0 = performance.now();
  const model = typeof o.model === "object" ? o.model : loadModel(o.model);
  const m = model.manifest;
  const B = o.count ?? o.prompts.length;
  const prompts = o.prompts.length === 1 ? Array.from({ length: B }, () => o.prompts[0]) : [...o.prompts];
  requireThat(prompts.length === B, "--count", B, `the number of prompts (${o.prompts.length}) or omitted`);
  const encoder = namedTextEncoder(m.encoder);
  const cond = encoder.encodeSync(prompts); // ConfigError for empty / whitespace-only prompts
  const nul = encoder.encodeNullSync(B);
  const base = await createBackend(o.backend ?? "onnxruntime-cpu");
  const backend = trackMemory(base);
  try {
    const S = m.unet.sampleSize;
    const C = m.unet.inChannels;
    const entry = SAMPLERS[o.sampler];
    const scheduleKeys = { numTrainTimesteps: m.schedule.numTrainTimesteps, betaStart: m.schedule.betaStart, betaEnd: m.schedule.betaEnd, betaSchedule: m.schedule.betaSchedule };
    // DPMSolverSDE draws its own Brownian-tree noise (SAMP-BROWNIAN-TREE), seeded by the run's seed.
    const brownian = entry.className === "DPMSolverSDEScheduler";
    const scheduler = await createScheduler(entry.className, { ...scheduleKeys, ...entry.config, ...(brownian ? { noiseSamplerSeed: o.seed } : {}), ...o.schedulerConfig }, backend);
    scheduler.setTimesteps(o.steps);
    const raw = await glyffuserDenoiser(base, model);
    let evaluations = 0;
    const counted: Denoiser<any> = { predictionType: raw.predictionType, evaluate: async (x, t, c) => { evaluations++; return raw.evaluate(x, t, c); } };
    const up = async (t: { data: Float64Array; shape: readonly number[] }) => backend.keep(await backend.fromHost(t.data, t.shape));
    const c: Conditioning<any> = { embeddings: await up(cond.embeddings), mask: await up(cond.mask) };
    const n: Conditioning<any> = { embeddings: await up(nul.embeddings), mask: await up(nul.mask) };
    const denoiser = guidedDenoiser(counted, backend, c, n, o.guidance);
    const init = new GaussianStream(o.seed).randn([B, C, S, S]);
    const initial = await backend.fromHost(init.data.map((v) => v * scheduler.initNoiseSigma), [B, C, S, S]);
    const noise = brownian ? undefined : hostNoise(backend, childStream(o.seed, "sampler"));
    const out = await runPipeline(scheduler, denoiser, initial, {
      cond: c,
      noise,
      onStep: o.onStep ? async (i, t, x) => o.onStep!(i, t, await backend.toHost(x)) : undefined,
    });
    const images = await backend.toHost(out);
    return { images, batch: B, size: S, prompts, backend: base.name, sampler: o.sampler, modelEvaluations: evaluations, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await base.close?.();
  }
}
