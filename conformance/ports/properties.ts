/**
 * The clauses a scheduler port is checked against (spec/14-scheduler-ports.md lists them). Each is the
 * same claim as the clause of the same ID for diffspec's own samplers, made of the port's outputs:
 * schedule values, timesteps and σ's, the previous-timestep rule, closed-form noising, finiteness, the
 * convergence order, step parity and whole-trajectory parity with the reference (on the exact oracle and
 * on the fixtures' toy models), and the law of stochastic samplers driven by suite-supplied noise.
 * Properties are listed in dependency order (declaration → schedule → timesteps → noising → finiteness →
 * order → steps → trajectories → law), so the first failure of a port names the root cause.
 */
import fc from "fast-check";
import { referenceBackend } from "../../adapters/reference/index.ts";
import { checkProperty, expect, expectAllClose, statisticalTest, PropertyFailure } from "../check.ts";
import type { Profile } from "../registry.ts";
import { fixtureModel } from "../fixtures/models.ts";
import { MIXTURE_2D } from "../properties/samplers-order-distribution.ts";
import { GaussianMixture } from "../../reference/distributions.ts";
import { epsilonStar } from "../../reference/oracle.ts";
import { scheduleNoiseLevel } from "../../reference/conditioning/oracle.ts";
import { GaussianStream } from "../../reference/rng.ts";
import { makeSchedule, type Schedule } from "../../reference/schedule.ts";
import { energyPermutationTest } from "../../reference/stats.ts";
import type { Tensor } from "../../reference/tensor.ts";
import { measureOrder, ORDER_TOLERANCE, orderData, type OrderSamplerDef } from "../../reference/samplers/order.ts";
import type { NoiseProvider, Scheduler } from "../../reference/samplers/scheduler.ts";
import type { ClassCapabilities, PortCapabilities } from "../../reference/samplers/port.ts";
import { PORT_CLASSES, orderConfig, type PortClassSpec } from "./classes.ts";
import { STEP_CAP, configArb, outsideSpace, referenceFor, stepsRange, trainSteps } from "./configs.ts";
import type { PortDriver, PortInstance, PortTimesteps } from "./driver.ts";
import { maxAbs, scheduleRtol, sigmaAtol, stepAtol } from "./tolerance.ts";

export interface PortPropertyContext {
  readonly driver: PortDriver;
  readonly seed: number;
  readonly path?: string;
  readonly profile: Profile;
  readonly numRuns: number;
}

export interface PortProperty {
  readonly clause: string;
  readonly name: string;
  readonly kind: "property" | "statistical" | "example";
  /** Why it does not apply to what the port declares (reported skipped, never passed). */
  readonly skip?: string;
  run(ctx: PortPropertyContext): Promise<void>;
}

/** fast-check's context for checkProperty (the registry's PropertyContext minus the backend). */
const fcContext = (ctx: PortPropertyContext) => ({ backend: referenceBackend, seed: ctx.seed, path: ctx.path, profile: ctx.profile, numRuns: ctx.numRuns });

const SHAPE = [2, 3] as const;
const SIZE = 6;

/** The Float64 train schedule of a config (the same function the reference schedulers call). */
const scheduleOfConfig = (config: Record<string, unknown>): Schedule => {
  const keys = ["numTrainTimesteps", "betaStart", "betaEnd", "betaSchedule", "trainedBetas", "rescaleBetasZeroSnr"];
  return makeSchedule(Object.fromEntries(keys.filter((k) => config[k] !== undefined && config[k] !== null).map((k) => [k, config[k]])));
};

/** One drawn case: config, step count, seed of the data. */
interface Case { readonly config: Record<string, unknown>; readonly n: number; readonly seed: number }
const caseArb = (caps: ClassCapabilities, cap: number): fc.Arbitrary<Case> =>
  configArb(caps).chain((config) => {
    const r = stepsRange(caps, trainSteps(config), cap);
    return fc.record({ config: fc.constant(config), n: fc.integer(r), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }) });
  });

/** The reference and the port set up for a case, or a fast-check precondition failure when the reference rejects it. */
async function setUp(ctx: PortPropertyContext, className: string, c: Case): Promise<{ ref: Scheduler<Tensor>; port: PortInstance; ts: PortTimesteps }> {
  const ref = await referenceFor(className, c.config, ctx.driver.info.capabilities, c.n);
  fc.pre(ref !== undefined);
  const port = await ctx.driver.create(className, c.config);
  const ts = await port.setTimesteps(c.n);
  return { ref: ref!, port, ts };
}

const show = (c: Case): string => `${JSON.stringify({ ...c.config, trainedBetas: c.config.trainedBetas ? `[${(c.config.trainedBetas as number[]).length} betas]` : undefined })}, n = ${c.n}`;

/** Timesteps of port and reference agree (integers exactly; fractional ones to the schedule's rounding). */
function expectTimesteps(what: string, got: readonly number[], want: readonly number[], port: PortCapabilities, N: number): void {
  expect(got.length === want.length, `${what}: ${got.length} timesteps, the reference has ${want.length} (${want.slice(0, 8).join(", ")}${want.length > 8 ? ", …" : ""}); the port: ${got.slice(0, 8).join(", ")}${got.length > 8 ? ", …" : ""}`);
  want.forEach((w, i) => {
    const ok = Number.isInteger(w) ? got[i] === w : Math.abs(got[i] - w) <= scheduleRtol(port.dtype, N) * Math.abs(w);
    expect(ok, `${what}: timestep ${i} is ${got[i]}, the reference's is ${w} (timesteps ${want.slice(Math.max(0, i - 2), i + 3).join(", ")} around it)`);
  });
}

/** A NoiseProvider that returns `z` (the one draw of this step), for the reference side of a lockstep run. */
const fixedNoise = (z: Float64Array): NoiseProvider<Tensor> => ({ next: async (shape) => ({ shape: [...shape], data: z }) });

const tensorOf = (data: Float64Array, shape: readonly number[] = SHAPE): Tensor => ({ shape: [...shape], data });

const firstNonFinite = (a: ArrayLike<number>): number => {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
};

type Model = (x: Tensor, t: number) => Promise<Tensor> | Tensor;

/**
 * Runs reference and port side by side over the whole schedule. `forced`: every step gets the same
 * (sample, model output) on both sides — the reference's — so each step is compared on its own (step
 * parity); otherwise each side evolves from its own sample (trajectory parity, bound growing with the
 * step index). `check` sees every step's results.
 */
async function lockstep(o: {
  ref: Scheduler<Tensor>; port: PortInstance; ts: PortTimesteps; x: Float64Array; shape: readonly number[]; model: Model | "random";
  stream: GaussianStream; eta?: number; drawsNoise: boolean; forced: boolean; dtype: PortCapabilities["dtype"]; what: string;
  /** Check only that the port's outputs are finite (PORT-FINITE), not their values. */
  finiteOnly?: boolean;
}): Promise<void> {
  let xr = tensorOf(Float64Array.from(o.x, (v) => v * o.ref.initNoiseSigma), o.shape);
  let xp: Float64Array<ArrayBufferLike> = Float64Array.from(o.x, (v) => v * o.ts.initNoiseSigma);
  const size = o.x.length;
  for (let i = 0; i < o.ref.timesteps.length; i++) {
    const [tr, tp] = [o.ref.timesteps[i], o.ts.timesteps[i]];
    const inR = await o.ref.scaleModelInput(xr, tr);
    const inP = await o.port.scaleModelInput(o.forced ? xr.data : xp, o.shape, tp);
    const badIn = firstNonFinite(inP);
    expect(badIn < 0, `${o.what}: scaleModelInput at step ${i} (t = ${tp}) returned ${inP[badIn]} at index ${badIn}`);
    const scale0 = maxAbs(inR.data, xr.data);
    if (!o.finiteOnly) expectAllClose(`${o.what}: scaleModelInput at step ${i} (t = ${tr})`, inP, inR.data, 0, stepAtol(o.dtype, scale0, o.forced ? 1 : i + 1));
    const outR = o.model === "random" ? tensorOf(o.stream.normals(size), o.shape) : await o.model(inR, tr);
    const outP = o.model === "random" || o.forced ? outR.data : (await o.model(tensorOf(inP, o.shape), tp)).data;
    const z = o.drawsNoise ? o.stream.normals(size) : undefined;
    const r = await o.ref.step(outR, tr, xr, { eta: o.eta, noise: z ? fixedNoise(z) : undefined });
    const p = await o.port.step(outP, tp, o.forced ? xr.data : xp, o.shape, { eta: o.eta, noise: z });
    const scale = maxAbs(xr.data, outR.data, r.prevSample.data, r.predOriginalSample?.data);
    for (const [what, a] of [["prevSample", p.prevSample], ["predOriginalSample", p.predOriginalSample]] as const) {
      const bad = a ? firstNonFinite(a) : -1;
      const sigmas = o.ts.sigmas ? `, σ ${o.ts.sigmas[i]} → ${o.ts.sigmas[i + 1]}` : "";
      expect(bad < 0, `${o.what}: ${what} of step ${i} of ${o.ref.timesteps.length} (t = ${tp}${sigmas}) is ${a?.[bad]} at index ${bad}`);
    }
    if (!o.finiteOnly) expectAllClose(`${o.what}: prevSample of step ${i} of ${o.ref.timesteps.length} (t = ${tr})`, p.prevSample, r.prevSample.data, 0, stepAtol(o.dtype, scale, o.forced ? 1 : i + 1));
    xr = r.prevSample;
    xp = p.prevSample;
  }
}

/** The oracle ε*(xₜ, t) of `data` for the train schedule (VP; the model input of σ-based classes is VP too). */
const oracleModel = (data: GaussianMixture, schedule: Schedule): Model => {
  const level = scheduleNoiseLevel(schedule);
  return (x, t) => {
    const { alpha, sigma } = level(t);
    return { shape: [...x.shape], data: Float64Array.from(epsilonStar(data, x, alpha, sigma).data) };
  };
};

/** DDIM's η for a case: 0 unless the class declares an η range, then drawn in it. */
const etaArb = (caps: ClassCapabilities): fc.Arbitrary<number | undefined> => (caps.eta ? fc.double({ min: caps.eta.min, max: caps.eta.max, noNaN: true }) : fc.constant(undefined));
const drawsNoise = (spec: PortClassSpec, eta: number | undefined): boolean => spec.stochastic || (eta !== undefined && eta > 0);

/** The properties of one declared class (empty list and one skipped entry when the suite does not know it). */
export function classProperties(className: string, port: PortCapabilities): PortProperty[] {
  const caps = port.classes[className];
  const spec = PORT_CLASSES[className];
  if (!spec) {
    return [{ clause: "PORT-DECLARE", name: `${className}-is-a-known-class`, kind: "example", skip: `the suite has no clauses for ${className} (it checks ${Object.keys(PORT_CLASSES).join(", ")})`, run: async () => {} }];
  }
  const dtype = port.dtype;
  const p = (clause: string, name: string, kind: PortProperty["kind"], run: PortProperty["run"], skip?: string): PortProperty => ({ clause, name: `${className}-${name}`, kind, run, skip });
  const betaSchedules = Array.isArray(caps.config.betaSchedule) ? (caps.config.betaSchedule as string[]) : ["linear"];
  const SCHED_CLAUSE: Record<string, string> = { linear: "SCHED-LINEAR", scaled_linear: "SCHED-SCALED-LINEAR", squaredcos_cap_v2: "SCHED-COSINE", sigmoid: "SCHED-SIGMOID" };
  const withSchedule = (b: string): ClassCapabilities => {
    const { trainedBetas: _, ...named } = caps.config;
    return { ...caps, config: { ...named, betaSchedule: [b] } };
  };
  /** `caps` with some declared keys narrowed to one value (undeclared keys stay undeclared: the default). */
  const narrowed = (values: Record<string, unknown>): ClassCapabilities => ({
    ...caps, config: { ...caps.config, ...Object.fromEntries(Object.entries(values).filter(([k]) => k in caps.config).map(([k, v]) => [k, [v as string]])) },
  });

  const alphasProperty = (clause: string, name: string, capsFor: ClassCapabilities, mustTrain: boolean): PortProperty =>
    p(clause, name, "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(configArb(capsFor), async (config) => {
      fc.pre(!mustTrain || Array.isArray(config.trainedBetas));
      const ref = await referenceFor(className, config, port, stepsRange(caps, trainSteps(config)).min);
      fc.pre(ref !== undefined);
      const s = await ctx.driver.create(className, config);
      const want = scheduleOfConfig(config).alphasCumprod;
      expect(s.alphasCumprod.length === want.length, `alphasCumprod has ${s.alphasCumprod.length} values, expected numTrainTimesteps = ${want.length}`);
      expectAllClose(`alphasCumprod for ${JSON.stringify({ ...config, trainedBetas: config.trainedBetas ? "[…]" : undefined })}`, s.alphasCumprod, want, scheduleRtol(dtype, want.length), 0);
    })));

  const props: PortProperty[] = [];

  // PORT-DECLARE: every declared value is accepted, and `order` is the reference's.
  props.push(p("PORT-DECLARE", "accepts-every-declared-value", "example", async (ctx) => {
    for (const [key, space] of Object.entries(caps.config)) {
      const values = Array.isArray(space) ? space : space === "betas" ? [] : [(space as { min: number }).min, (space as { max: number }).max];
      for (const v of values) {
        const n = stepsRange(caps, trainSteps({ [key]: v })).min;
        const ref = await referenceFor(className, { [key]: v }, port, n);
        if (!ref) continue;
        const s = await ctx.driver.create(className, { [key]: v });
        const ts = await s.setTimesteps(n);
        expect(ts.order === ref.order, `${className} with ${key} = ${JSON.stringify(v)}: order ${ts.order}, diffusers' is ${ref.order}`);
      }
    }
  }));

  // Schedule values: one property per declared beta schedule, and trained betas (SCHED-CUMPROD).
  for (const b of Object.keys(SCHED_CLAUSE)) {
    const name = `alphas-cumprod-match-reference-${b.replace(/_/g, "-")}`;
    props.push(betaSchedules.includes(b)
      ? alphasProperty(SCHED_CLAUSE[b], name, withSchedule(b), false)
      : p(SCHED_CLAUSE[b], name, "property", async () => {}, `betaSchedule "${b}" is not declared`));
  }
  props.push(caps.config.trainedBetas === "betas"
    ? alphasProperty("SCHED-CUMPROD", "alphas-cumprod-of-trained-betas", caps, true)
    : p("SCHED-CUMPROD", "alphas-cumprod-of-trained-betas", "property", async () => {}, `trainedBetas is not declared ("betas")`));

  // Timesteps (and σ's) after setTimesteps(n), over the declared step range.
  props.push(p(spec.scheduleClause, "timesteps-match-reference", "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(caseArb(caps, Infinity), async (c) => {
    const { ref, ts } = await setUp(ctx, className, c);
    const N = trainSteps(c.config);
    expectTimesteps(`${show(c)}`, ts.timesteps, ref.timesteps, port, N);
    if (ref.sigmas) {
      expect(ts.sigmas !== undefined, `${show(c)}: the port exposes no sigmas (a σ-based class must)`);
      expect(ts.sigmas!.length === ref.sigmas.length, `${show(c)}: ${ts.sigmas!.length} sigmas, the reference has ${ref.sigmas.length} (n + 1 with the final σ)`);
      ref.sigmas.forEach((w, i) => expect(Math.abs(ts.sigmas![i] - w) <= sigmaAtol(dtype, N, w), `${show(c)}: sigma ${i} is ${ts.sigmas![i]}, the reference's is ${w}`));
    }
    expect(Math.abs(ts.initNoiseSigma - ref.initNoiseSigma) <= scheduleRtol(dtype, N) * Math.max(1, ref.initNoiseSigma), `${show(c)}: initNoiseSigma ${ts.initNoiseSigma}, the reference's is ${ref.initNoiseSigma}`);
  }))));

  // TS-PREV, read off a DDIM step: with ε̂ = 0 the step multiplies x by √(ᾱ_prev/ᾱₜ).
  if (spec.previousTimestepProbe) {
    const eps = narrowed({ predictionType: "epsilon", clipSample: false, thresholding: false });
    props.push(p("TS-PREV", "step-lands-on-the-previous-timestep", "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(caseArb(eps, STEP_CAP), async (c) => {
      const { ref, port: s, ts } = await setUp(ctx, className, c);
      const ac = scheduleOfConfig(c.config).alphasCumprod;
      const final = c.config.setAlphaToOne === false ? ac[0] : 1;
      for (let i = 0; i < ts.timesteps.length; i++) {
        const t = ref.timesteps[i];
        const prev = (ref as unknown as { previousTimestep(i: number): number }).previousTimestep(i);
        const want = prev >= 0 ? ac[prev] : final;
        // x = ½√ᾱₜ and ε̂ = 0 give x̂₀ = ½ (no clipping) and a step result ½√ᾱ_prev.
        const r = await s.step(new Float64Array(1), ts.timesteps[i], Float64Array.of(0.5 * Math.sqrt(ac[t])), [1, 1]);
        const got = (2 * r.prevSample[0]) ** 2;
        const hit = ac.findIndex((a) => Math.abs(a - got) <= scheduleRtol(dtype, ac.length) * a);
        expect(Math.abs(got - want) <= scheduleRtol(dtype, ac.length) * want, `${show(c)}: step ${i} from t = ${t} lands on ᾱ = ${got} (${hit >= 0 ? `t = ${hit}` : "no train timestep"}); the ${port.compat === "math" ? "next visited timestep" : "previous timestep"} is ${prev} (ᾱ = ${want})`);
      }
    }))));
  }

  // Closed-form noising where offered.
  const noisingProperty = (clause: string, name: string, op: "addNoise" | "getVelocity"): PortProperty =>
    p(clause, name, "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(caseArb(caps, STEP_CAP), fc.nat(), async (c, k) => {
      const { ref, port: s, ts } = await setUp(ctx, className, c);
      const g = new GaussianStream(`port-noising/${c.seed}`);
      const [x0, z] = [g.normals(SIZE), g.normals(SIZE)];
      const i = k % ts.timesteps.length;
      const ac = scheduleOfConfig(c.config).alphasCumprod;
      const t = ref.timesteps[i];
      let want: Float64Array;
      if (spec.view === "ve" && op === "addNoise") {
        const sigma = ref.sigmas![i];
        want = x0.map((v, j) => v + sigma * z[j]);
      } else {
        const [a, sg] = [Math.sqrt(ac[t]), Math.sqrt(1 - ac[t])];
        want = op === "addNoise" ? x0.map((v, j) => a * v + sg * z[j]) : x0.map((v, j) => a * z[j] - sg * v);
      }
      const got = await s[op](x0, z, SHAPE, ts.timesteps[i]);
      expectAllClose(`${show(c)}: ${op} at t = ${t}`, got, want, 0, stepAtol(dtype, maxAbs(x0, z, want)));
    })));
  props.push(caps.addNoise ? noisingProperty("FWD-MARGINAL", "add-noise-is-the-closed-form", "addNoise") : p("FWD-MARGINAL", "add-noise-is-the-closed-form", "property", async () => {}, "addNoise is not declared"));
  if (spec.view === "vp") props.push(caps.getVelocity ? noisingProperty("FWD-VELOCITY", "get-velocity-is-the-closed-form", "getVelocity") : p("FWD-VELOCITY", "get-velocity-is-the-closed-form", "property", async () => {}, "getVelocity is not declared"));

  // PORT-FINITE: finite inputs give finite outputs at every step of an oracle run, the last (to σ = 0 / ᾱ = 1)
  // included. Each step gets the reference's state (finite by SAMP- clauses), so what is checked is the step itself.
  props.push(p("PORT-FINITE", "every-step-is-finite", "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(caseArb(caps, STEP_CAP), etaArb(caps), async (c, eta) => {
    const { ref, port: s, ts } = await setUp(ctx, className, c);
    expectTimesteps(show(c), ts.timesteps, ref.timesteps, port, trainSteps(c.config));
    const g = new GaussianStream(`port-finite/${c.seed}`);
    const shape = [4, MIXTURE_2D.dim];
    await lockstep({ ref, port: s, ts, x: g.normals(8), shape, model: oracleModel(MIXTURE_2D, scheduleOfConfig(c.config)), stream: g, eta, drawsNoise: drawsNoise(spec, eta), forced: true, finiteOnly: true, dtype, what: `${show(c)}, exact oracle` });
  }))));

  // SAMP-ORDER on the exact Gaussian problem, when the measurement's configuration is declared.
  if (spec.order) {
    const config = orderConfig(spec);
    const outside = outsideSpace(caps, config, spec.defaults);
    const expected = spec.order.expected;
    props.push(p("SAMP-ORDER", `converges-at-order-${expected}`, "example", async (ctx) => {
      const m = await measureOrder(portOrderEntry(ctx.driver, className, spec, config, dtype));
      const table = m.steps.map((n, i) => `n = ${n}: ${m.errors[i].toExponential(3)}`).join(", ");
      expect(Math.abs(m.fittedOrder - expected) <= ORDER_TOLERANCE, `${className}: fitted order ${m.fittedOrder.toFixed(3)}, theory ${expected} (tolerance ±${ORDER_TOLERANCE}); errors ${table}`);
      m.errors.forEach((e, i) => expect(Number.isFinite(e) && (i === 0 || e < m.errors[i - 1]), `${className}: the error does not decrease with n (${table})`));
    }, outside && `the order is measured with ${JSON.stringify({ ...config, trainedBetas: "[1024 betas]" })}; ${outside}`));
  }

  // The sampler's own clause: one step at a time, then whole trajectories.
  props.push(p(spec.stepClause, "step-matches-reference", "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(caseArb(caps, STEP_CAP), etaArb(caps), async (c, eta) => {
    const { ref, port: s, ts } = await setUp(ctx, className, c);
    expectTimesteps(show(c), ts.timesteps, ref.timesteps, port, trainSteps(c.config));
    const g = new GaussianStream(`port-step/${c.seed}`);
    await lockstep({ ref, port: s, ts, x: g.normals(SIZE), shape: SHAPE, model: "random", stream: g, eta, drawsNoise: drawsNoise(spec, eta), forced: true, dtype, what: `${show(c)}${eta ? `, η = ${eta}` : ""}` });
  }))));
  props.push(p(spec.stepClause, "trajectory-matches-reference-on-the-oracle", "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(caseArb(caps, STEP_CAP), etaArb(caps), async (c, eta) => {
    const { ref, port: s, ts } = await setUp(ctx, className, c);
    expectTimesteps(show(c), ts.timesteps, ref.timesteps, port, trainSteps(c.config));
    const g = new GaussianStream(`port-trajectory/${c.seed}`);
    const shape = [4, MIXTURE_2D.dim];
    await lockstep({ ref, port: s, ts, x: g.normals(8), shape, model: oracleModel(MIXTURE_2D, scheduleOfConfig(c.config)), stream: g, eta, drawsNoise: drawsNoise(spec, eta), forced: false, dtype, what: `${show(c)}, exact oracle` });
  }))));
  props.push(p(spec.stepClause, "trajectory-matches-reference-on-toy-models", "property", (ctx) => checkProperty(fcContext(ctx), fc.asyncProperty(caseArb(caps, STEP_CAP), fc.constantFrom("diffusers_dummy", "tanh_mix"), etaArb(caps), async (c, name, eta) => {
    const { ref, port: s, ts } = await setUp(ctx, className, c);
    expectTimesteps(show(c), ts.timesteps, ref.timesteps, port, trainSteps(c.config));
    const g = new GaussianStream(`port-toy/${c.seed}`);
    const f = fixtureModel(name);
    await lockstep({ ref, port: s, ts, x: g.normals(SIZE), shape: SHAPE, model: (x, t) => f(x, t), stream: g, eta, drawsNoise: drawsNoise(spec, eta), forced: false, dtype, what: `${show(c)}, model ${name}` });
  }))));

  // SAMP-DISTRIBUTION: the law of a stochastic sampler's samples, with suite-supplied noise.
  const stochasticEta = caps.eta && caps.eta.min <= 1 && caps.eta.max >= 1 ? 1 : undefined;
  if (spec.stochastic || caps.eta) {
    const skip = spec.stochastic || stochasticEta ? undefined : `the law is checked at η = 1, outside the declared η range [${caps.eta!.min}, ${caps.eta!.max}]`;
    props.push(p("SAMP-DISTRIBUTION", "matches-the-2d-mixture", "statistical", (ctx) => distribution(ctx, className, spec, caps, port, stochasticEta), skip));
  }
  return props;
}

/** SAMP-ORDER for a port: diffusersEntry's measurement (reference/samplers/order.ts) with the port as the scheduler. */
function portOrderEntry(driver: PortDriver, className: string, spec: PortClassSpec, config: Record<string, unknown>, dtype: PortCapabilities["dtype"]): OrderSamplerDef {
  const schedule = scheduleOfConfig(config);
  const ac = schedule.alphasCumprod;
  const veSigma = (t: number): number => Math.sqrt((1 - ac[t]) / ac[t]);
  const N = ac.length;
  // float32 round-off (≈ 1e-7 of a unit sample) is reached by second-order methods near n = 128: stop at 64.
  const steps = dtype === "float32" ? [8, 16, 32, 64] : [8, 16, 32, 64, 128];
  return {
    name: `${driver.info.name} ${className}`,
    expectedOrder: spec.order!.expected,
    description: `${className} of the port on the SAMP-ORDER problem`,
    steps,
    sigmaStart: () => veSigma(N - 1),
    async run(n, xTilde, problem) {
      const s = await driver.create(className, config);
      const ts = await s.setTimesteps(n);
      if (ts.timesteps[0] !== N - 1) throw new PropertyFailure(`${className}: the first trailing timestep is ${ts.timesteps[0]}, expected ${N - 1}`);
      const model = oracleModel(orderData(problem), schedule);
      const shape = [problem.batch, problem.dim];
      let x: Float64Array<ArrayBufferLike> = Float64Array.from(xTilde, (v) => v * Math.sqrt(ac[N - 1]) * ts.initNoiseSigma);
      for (const t of ts.timesteps) {
        const out = await model(tensorOf(await s.scaleModelInput(x, shape, t), shape), t);
        x = (await s.step(out.data, t, x, shape)).prevSample;
      }
      return spec.order!.sigmaFinal === "zero" ? { sample: x, sigmaFinal: 0, alphaFinal: 1 } : { sample: x, sigmaFinal: veSigma(0), alphaFinal: Math.sqrt(ac[0]) };
    },
  };
}

/**
 * SAMP-DISTRIBUTION for a port: N samples from pure noise with the exact oracle on the 2-D mixture (the
 * default linear schedule, trailing timesteps where declared), against N fresh data draws: the energy-distance
 * permutation test at α = 0.01, retried once on a fresh sample (spec/08-order.md).
 */
async function distribution(ctx: PortPropertyContext, className: string, spec: PortClassSpec, caps: ClassCapabilities, port: PortCapabilities, eta: number | undefined): Promise<void> {
  const config: Record<string, unknown> = Array.isArray(caps.config.timestepSpacing) && caps.config.timestepSpacing.includes("trailing") ? { timestepSpacing: "trailing" } : {};
  if (className === "DDIMScheduler" && Array.isArray(caps.config.clipSample) && caps.config.clipSample.includes(false)) config.clipSample = false;
  const N = ctx.profile === "quick" ? 400 : 800;
  const steps = ctx.profile === "quick" ? 300 : 500;
  const schedule = scheduleOfConfig(config);
  const model = oracleModel(MIXTURE_2D, schedule);
  await statisticalTest(fcContext(ctx), `SAMP-DISTRIBUTION ${port.name} ${className}`, 0.01, async (stream) => {
    const s = await ctx.driver.create(className, config);
    const ts = await s.setTimesteps(steps);
    const shape = [N, MIXTURE_2D.dim];
    let x: Float64Array<ArrayBufferLike> = Float64Array.from(stream.normals(N * MIXTURE_2D.dim), (v) => v * ts.initNoiseSigma);
    for (const t of ts.timesteps) {
      const out = await model(tensorOf(await s.scaleModelInput(x, shape, t), shape), t);
      x = (await s.step(out.data, t, x, shape, { eta, noise: drawsNoise(spec, eta) ? stream.normals(x.length) : undefined })).prevSample;
    }
    const bad = firstNonFinite(x);
    if (bad >= 0) throw new Error(`${className}: sample value ${x[bad]} at flat index ${bad}`);
    const split = Array.from({ length: N }, (_, i) => x.subarray(i * 2, i * 2 + 2));
    return energyPermutationTest(split, MIXTURE_2D.sampleMany(N, stream), stream, 199).pValue;
  });
}

/** Every property of a port, in dependency order across its declared classes (stage-major). */
export function portProperties(port: PortCapabilities): PortProperty[] {
  const perClass = Object.keys(port.classes).map((c) => classProperties(c, port));
  const stage = (x: PortProperty): number => STAGES.findIndex((s) => s(x.clause));
  return perClass.flat().map((x, i) => ({ x, i })).sort((a, b) => stage(a.x) - stage(b.x) || a.i - b.i).map(({ x }) => x);
}

const STAGES: ((clause: string) => boolean)[] = [
  (c) => c === "PORT-DECLARE",
  (c) => c.startsWith("SCHED-"),
  (c) => c === "TS-SPACING" || c === "SAMP-SIGMAS" || c === "SAMP-EXPINT-SCHEDULE" || c === "SAMP-PNDM-WARMUP",
  (c) => c === "TS-PREV",
  (c) => c.startsWith("FWD-"),
  (c) => c === "PORT-FINITE",
  (c) => c === "SAMP-ORDER",
  (c) => c !== "SAMP-DISTRIBUTION",
  () => true,
];
