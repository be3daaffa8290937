/**
 * TS-SPACING, TS-PREV, TS-VALIDATE (spec/06-timesteps.md).
 *
 * The reference `setTimesteps` is compared with (1) diffusers' own outputs (the golden files
 * fixtures/diffusers/timesteps/{ddpm,ddim}/*.json) and (2) an independent re-implementation of
 * diffusers' numpy code written here with numpy's exact semantics: np.linspace (i·step + start,
 * last = stop), np.arange (numpy's DOUBLE_fill: start + i·δ with δ = (start + step) − start, length
 * ⌈(stop − start)/step⌉) and np.round (half to even).
 */
import fc from "fast-check";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect } from "../check.ts";
import { ConfigError } from "../../reference/errors.ts";
import { previousTimestep, setTimesteps, TIMESTEP_SPACINGS, type TimestepSpacing } from "../../reference/timesteps.ts";
import { camelConfig, loadFixture, numbers } from "../fixtures/format.ts";
import { expectTypedError } from "./distributions.ts";

const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "diffusers", "timesteps");

/** np.round: to nearest, halves to the even neighbour (written independently of the reference's roundHalfEven). */
function npRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** np.linspace(start, stop, num) for num ≥ 1. */
function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const y = Array.from({ length: num }, (_, i) => i * step + start);
  y[num - 1] = stop;
  return y;
}

/** np.arange(start, stop, step) for floats, with numpy's length and fill rule. */
function npArange(start: number, stop: number, step: number): number[] {
  const len = Math.max(0, Math.ceil((stop - start) / step));
  const out: number[] = [];
  if (len > 0) out.push(start);
  if (len > 1) out.push(start + step);
  const delta = len > 1 ? out[1] - out[0] : 0;
  for (let i = 2; i < len; i++) out.push(start + i * delta);
  return out;
}

/**
 * diffusers v0.40.0 DDPMScheduler/DDIMScheduler.set_timesteps, transcribed:
 *   linspace: np.linspace(0, N − 1, n).round()[::-1]
 *   leading:  (np.arange(0, n) * (N // n)).round()[::-1] + steps_offset
 *   trailing: np.round(np.arange(N, 0, −N / n)) − 1
 */
export function diffusersTimesteps(n: number, N: number, spacing: TimestepSpacing, stepsOffset: number): number[] {
  if (spacing === "linspace") return npLinspace(0, N - 1, n).map(npRound).reverse();
  if (spacing === "leading") {
    const ratio = Math.floor(N / n);
    return Array.from({ length: n }, (_, i) => npRound(i * ratio)).reverse().map((t) => t + stepsOffset);
  }
  return npArange(N, 0, -N / n).map((v) => npRound(v) - 1);
}

const spacingArb = fc.constantFrom(...TIMESTEP_SPACINGS);
/** (N, n) with N ∈ [1, 1000] (often 1000) and n ∈ [1, N]. */
const nNArb = fc.oneof(fc.constant(1000), fc.integer({ min: 1, max: 1000 })).chain((N) => fc.tuple(fc.integer({ min: 1, max: N }), fc.constant(N)));

function compareWithDiffusers(n: number, N: number, spacing: TimestepSpacing, offset: number): void {
  const theirs = diffusersTimesteps(n, N, spacing, offset);
  if (theirs[0] > N - 1) {
    // leading with a too-large stepsOffset: diffusers would index past ᾱ; the reference refuses.
    expectTypedError(`setTimesteps(${n}, ${N}, ${spacing}, ${offset})`, () => setTimesteps(n, N, spacing, offset), ConfigError, "stepsOffset");
    return;
  }
  const ours = setTimesteps(n, N, spacing, offset);
  // Deviation (spec/06-timesteps.md): numpy's arange length ⌈N/(N/n)⌉ is n + 1 for some (N, n), and
  // diffusers then returns an extra final timestep −1. The reference returns the first n.
  if (theirs.length === n + 1) expect(theirs[n] === -1, `diffusers' extra trailing timestep is ${theirs[n]}, expected −1`);
  const expected = theirs.slice(0, n);
  expect(ours.length === n && ours.every((t, i) => t === expected[i]), `setTimesteps(${n}, ${N}, ${spacing}, ${offset}) = [${ours}], diffusers (numpy semantics) = [${expected}]`);
}

export const properties = defineProperties([
  {
    clause: "TS-SPACING",
    name: "strictly-decreasing-within-range",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(nNArb, spacingArb, fc.integer({ min: 0, max: 2 }), ([n, N], spacing, offset) => {
          fc.pre(spacing !== "leading" || (n - 1) * Math.floor(N / n) + offset <= N - 1);
          const ts = setTimesteps(n, N, spacing, offset);
          expect(ts.length === n, `${ts.length} timesteps for n = ${n}`);
          ts.forEach((t, i) => {
            expect(Number.isInteger(t) && t >= 0 && t <= N - 1, `t${i} = ${t} outside [0, ${N - 1}]`);
            if (i > 0) expect(t < ts[i - 1], `not strictly decreasing at ${i}: ${ts[i - 1]}, ${t}`);
          });
          if (spacing === "trailing") expect(ts[0] === N - 1, `trailing starts at ${ts[0]}, not T = N − 1 = ${N - 1}`);
          // linspace includes both ends; with n = 1 numpy's linspace(0, N − 1, 1) is [0] (spec/06, deviations).
          if (spacing === "linspace") expect(n === 1 ? ts[0] === 0 : ts[0] === N - 1 && ts[n - 1] === 0, `linspace gives [${ts[0]} … ${ts[n - 1]}]`);
          if (spacing === "leading") expect(ts[n - 1] === offset, `leading ends at ${ts[n - 1]}, not stepsOffset ${offset}`);
        }),
      ),
  },
  {
    clause: "TS-SPACING",
    name: "matches-numpy-semantics-reimplementation",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(nNArb, spacingArb, fc.integer({ min: 0, max: 3 }), ([n, N], spacing, offset) => compareWithDiffusers(n, N, spacing, offset)), ctx.numRuns * 4),
  },
  {
    clause: "TS-SPACING",
    name: "matches-numpy-semantics-for-every-n-at-N-1000",
    scope: "spec",
    kind: "example",
    run: () => {
      for (const spacing of TIMESTEP_SPACINGS) for (let n = 1; n <= 1000; n++) compareWithDiffusers(n, 1000, spacing, spacing === "leading" ? 1 : 0);
    },
  },
  {
    clause: "TS-SPACING",
    name: "matches-diffusers-golden-files",
    scope: "spec",
    kind: "example",
    run: () => {
      let checked = 0;
      for (const cls of ["ddpm", "ddim"]) {
        for (const file of readdirSync(join(FIXTURE_DIR, cls)).filter((f) => f.endsWith(".json"))) {
          const f = loadFixture(join(FIXTURE_DIR, cls, file));
          const config = camelConfig(f.config as Record<string, unknown>);
          const ts = setTimesteps(f.num_inference_steps as number, (config.numTrainTimesteps as number) ?? 1000, (config.timestepSpacing as TimestepSpacing) ?? "leading", (config.stepsOffset as number) ?? 0);
          const expected = numbers(f.timesteps);
          expect(ts.length === expected.length && ts.every((t, i) => t === expected[i]), `${f.id}: [${ts}] vs diffusers [${expected}]`);
          checked++;
        }
      }
      expect(checked >= 7, `only ${checked} golden files found under ${FIXTURE_DIR}`);
    },
  },
  {
    clause: "TS-PREV",
    name: "math-previous-is-the-next-entry-then-minus-one",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(nNArb, spacingArb, ([n, N], spacing) => {
          const ts = setTimesteps(n, N, spacing);
          ts.forEach((t, i) => {
            const p = previousTimestep(ts, i, "math", N);
            expect(p === (i + 1 < n ? ts[i + 1] : -1) && p < t, `previousTimestep(${i}) = ${p}`);
          });
        }),
      ),
  },
  {
    clause: "TS-PREV",
    name: "diffusers-compat-is-t-minus-floor-ratio",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(nNArb, spacingArb, ([n, N], spacing) => {
          const ts = setTimesteps(n, N, spacing);
          const ratio = Math.floor(N / n);
          ts.forEach((t, i) => {
            const p = previousTimestep(ts, i, "diffusers", N);
            expect(p === t - ratio, `diffusers-compat previousTimestep(${i}) = ${p}, expected ${t} − ${ratio}`);
            // For "leading" the two conventions agree: same index inside the schedule, both < 0 after it.
            if (spacing === "leading") {
              const m = previousTimestep(ts, i, "math", N);
              expect(i + 1 < n ? m === p : m < 0 && p < 0, `leading: math ${m} vs diffusers ${p} at step ${i}`);
            }
          });
        }),
      ),
  },
  {
    clause: "TS-VALIDATE",
    name: "bad-arguments-are-config-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      expectTypedError("n > N", () => setTimesteps(1001, 1000), ConfigError, "numInferenceSteps");
      for (const n of [0, -1, 2.5, NaN]) expectTypedError(`n = ${n}`, () => setTimesteps(n, 1000), ConfigError, "numInferenceSteps");
      for (const N of [0, 10.5]) expectTypedError(`N = ${N}`, () => setTimesteps(1, N), ConfigError, "numTrainTimesteps");
      expectTypedError("unknown spacing", () => setTimesteps(10, 1000, "karras" as TimestepSpacing), ConfigError, "timestepSpacing");
      for (const o of [-1, 0.5]) expectTypedError(`stepsOffset = ${o}`, () => setTimesteps(10, 1000, "leading", o), ConfigError, "stepsOffset");
      expectTypedError("offset past N − 1", () => setTimesteps(1000, 1000, "leading", 1), ConfigError, "stepsOffset");
    },
  },
]);
