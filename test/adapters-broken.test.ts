/**
 * Deliberately broken adapters (adapters/examples/broken/) must fail the clause that names their bug,
 * and only clauses that depend on the broken primitive. Each property's run() is called directly (the
 * end-to-end run through conformance/runner.ts is tested with the CLI). The worked example
 * adapters/examples/float32-array.ts is the control: it passes every clause it implements.
 */
import { describe, expect, test } from "vitest";
import type { Backend } from "../adapters/contract.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import { properties } from "../conformance/properties/backend.ts";
import { properties as orderDistribution } from "../conformance/properties/samplers-order-distribution.ts";
import type { PropertyDef } from "../conformance/registry.ts";
import { NUM_RUNS } from "../conformance/profiles.ts";
import { guardBackend } from "../conformance/timeout.ts";
import { TimeoutError } from "../reference/errors.ts";
import { backend as float32Array } from "../adapters/examples/float32-array.ts";
import { backend as uniformNoise } from "../adapters/examples/broken/uniform-noise.ts";
import { backend as droppedCoefficient } from "../adapters/examples/broken/dropped-coefficient.ts";
import { backend as wrongShape } from "../adapters/examples/broken/wrong-shape.ts";
import { backend as nan } from "../adapters/examples/broken/nan.ts";
import { backend as throws } from "../adapters/examples/broken/throws.ts";
import { backend as hangs } from "../adapters/examples/broken/hangs.ts";
import { backend as offByOne } from "../adapters/examples/broken/off-by-one-timestep.ts";
import { backend as identicalBatch } from "../adapters/examples/broken/identical-batch-noise.ts";
import { backend as correlatedBatch } from "../adapters/examples/broken/correlated-batch-noise.ts";
import { backend as shortCounter } from "../adapters/examples/broken/short-counter.ts";
import { backend as narrowVariance } from "../adapters/examples/broken/narrow-variance.ts";
import { backend as frozenNoise } from "../adapters/examples/broken/frozen-noise.ts";
import { backend as nanThirdCall } from "../adapters/examples/broken/nan-third-call.ts";
import { NonFiniteError } from "../reference/errors.ts";

const SEED = Number(process.env.DIFFSPEC_SEED ?? 20261126);
type Outcome = { status: "passed" | "failed" | "missing"; message?: string; error?: unknown };

async function runOne(p: PropertyDef, backend: Backend<any>): Promise<Outcome> {
  const missing = (p.needs ?? []).filter((n) => typeof (backend as unknown as Record<string, unknown>)[n] !== "function");
  if (missing.length) return { status: "missing", message: missing.join(", ") };
  try {
    await p.run({ backend, seed: SEED, profile: "quick", numRuns: NUM_RUNS.quick });
    return { status: "passed" };
  } catch (e) {
    return { status: "failed", message: (e as Error)?.message ?? String(e), error: e };
  }
}

const id = (p: PropertyDef) => `${p.clause} ${p.name}`;

/** Properties the reference itself passes (a sampler another engineer has not written yet cannot be checked). */
const checkable: PropertyDef[] = [];
for (const p of properties) if ((await runOne(p, referenceBackend)).status === "passed") checkable.push(p);

async function failures(backend: Backend<any>, props = checkable): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  for (const p of props) {
    const r = await runOne(p, backend);
    if (r.status === "failed") out.set(id(p), r);
  }
  return out;
}

/** Only the properties of one clause (the noise bugs touch nothing else). */
const ofClause = (clause: string) => checkable.filter((p) => p.clause === clause);

const clausesOf = (m: Map<string, Outcome>) => new Set([...m.keys()].map((k) => k.split(" ")[0]));
/** Clauses that use `combine` (directly or through samplers and guidance). */
const COMBINE_USERS = new Set(["BACKEND-COMBINE", "BACKEND-CFG-BATCH", "BACKEND-SAMPLER-PARITY"]);

describe("adapters/examples", () => {
  test("float32-array (the README's worked example) passes every clause it implements", async () => {
    const f = await failures(float32Array);
    expect([...f.entries()].map(([k, v]) => `${k}: ${v.message}`)).toEqual([]);
  });

  test("the reference passes all backend clauses whose samplers exist", () => {
    expect(checkable.filter((p) => p.clause !== "BACKEND-SAMPLER-PARITY").length).toBe(properties.filter((p) => p.clause !== "BACKEND-SAMPLER-PARITY").length);
  });
});

describe("adapters/examples/broken: the suite names the right clause", () => {
  test("uniform-noise fails BACKEND-RANDN ks-normality, and nothing else", async () => {
    const f = await failures(uniformNoise);
    expect([...f.keys()]).toEqual(["BACKEND-RANDN ks-normality"]);
    expect(f.get("BACKEND-RANDN ks-normality")!.message).toMatch(/rejected at α = 0\.001 on two independent samples/);
  });

  test("dropped-coefficient fails BACKEND-COMBINE (and only clauses built on combine)", async () => {
    const f = await failures(droppedCoefficient);
    expect([...f.keys()]).toContain("BACKEND-COMBINE matches-reference-within-rounding");
    for (const c of clausesOf(f)) expect(COMBINE_USERS).toContain(c);
  });

  test("wrong-shape fails BACKEND-COMBINE with a shape message", async () => {
    const f = await failures(wrongShape);
    expect(f.get("BACKEND-COMBINE matches-reference-within-rounding")?.message).toMatch(/shape \[\d+, 1\], expected \[/);
    for (const c of clausesOf(f)) expect(COMBINE_USERS).toContain(c);
  });

  test("nan fails BACKEND-COMBINE naming the NaN element", async () => {
    const f = await failures(nan);
    expect(f.get("BACKEND-COMBINE matches-reference-within-rounding")?.message).toMatch(/got NaN/);
    for (const c of clausesOf(f)) expect(COMBINE_USERS).toContain(c);
  });

  test("throws fails BACKEND-COMBINE with the backend's error; other clauses still pass", async () => {
    const f = await failures(throws);
    expect(f.get("BACKEND-COMBINE matches-reference-within-rounding")?.message).toMatch(/device lost/);
    expect(f.has("BACKEND-TRANSFER round-trip-equals-rounded-values")).toBe(false);
    expect(f.has("BACKEND-RANDN ks-normality")).toBe(false);
    for (const c of clausesOf(f)) expect(COMBINE_USERS).toContain(c);
  });

  test("hangs fails BACKEND-COMBINE with a TimeoutError under a per-call limit; BACKEND-TRANSFER still passes", async () => {
    const guarded = guardBackend(hangs, 150);
    const props = checkable.filter((p) => p.clause === "BACKEND-COMBINE" || p.clause === "BACKEND-TRANSFER" || p.clause === "BACKEND-CFG-BATCH");
    const f = await failures(guarded, props);
    const combine = f.get("BACKEND-COMBINE cancellation-and-identity");
    expect(combine?.error).toBeInstanceOf(TimeoutError);
    expect(f.get("BACKEND-COMBINE matches-reference-within-rounding")?.message).toMatch(/did not finish within 150 ms/);
    expect(f.has("BACKEND-TRANSFER round-trip-equals-rounded-values")).toBe(false);
  });

  test("off-by-one-timestep fails BACKEND-MODEL (and BACKEND-CFG-BATCH, which uses the model), nothing else", async () => {
    const f = await failures(offByOne);
    expect([...f.keys()]).toContain("BACKEND-MODEL mlp-matches-reference");
    expect(f.get("BACKEND-MODEL mlp-matches-reference")!.message).toMatch(/MLP\(dim \d+, hidden \d+, E \d+\) at t = /);
    for (const c of clausesOf(f)) expect(["BACKEND-MODEL", "BACKEND-CFG-BATCH"]).toContain(c);
  });

  test("identical-batch-noise fails BACKEND-RANDN batch-items-differ-and-are-uncorrelated, naming the identical items", async () => {
    const f = await failures(identicalBatch, ofClause("BACKEND-RANDN"));
    expect([...f.keys()]).toContain("BACKEND-RANDN batch-items-differ-and-are-uncorrelated");
    // The grid's draws are batched too ([2, 32]): their repeated item is a collision within a draw.
    for (const k of f.keys()) expect(["BACKEND-RANDN batch-items-differ-and-are-uncorrelated", "BACKEND-RANDN distinct-over-a-seed-index-grid"]).toContain(k);
    expect(f.get("BACKEND-RANDN batch-items-differ-and-are-uncorrelated")!.message).toMatch(/batch items 0 and 1 are identical/);
  });

  test("correlated-batch-noise (ρ = 0.2) fails only BACKEND-RANDN batch-items-differ-and-are-uncorrelated, by its correlation test", async () => {
    const f = await failures(correlatedBatch, ofClause("BACKEND-RANDN"));
    expect([...f.keys()]).toEqual(["BACKEND-RANDN batch-items-differ-and-are-uncorrelated"]);
    expect(f.get("BACKEND-RANDN batch-items-differ-and-are-uncorrelated")!.message).toMatch(/rejected at α = 0\.001 on two independent samples/);
  });

  test("short-counter (a 16-bit index) fails only BACKEND-RANDN distinct-over-a-seed-index-grid, naming the colliding draws", async () => {
    const f = await failures(shortCounter, ofClause("BACKEND-RANDN"));
    expect([...f.keys()]).toEqual(["BACKEND-RANDN distinct-over-a-seed-index-grid"]);
    expect(f.get("BACKEND-RANDN distinct-over-a-seed-index-grid")!.message).toMatch(/two noise streams collide: \(seed \d+, index \d+\) at element 0 repeats \(seed \d+, index \d+\) at element 0/);
  });

  test("narrow-variance (variance 0.98) fails BACKEND-RANDN variance-detects-2-percent", async () => {
    const f = await failures(narrowVariance, ofClause("BACKEND-RANDN"));
    expect([...f.keys()]).toContain("BACKEND-RANDN variance-detects-2-percent");
    for (const k of f.keys()) expect(["BACKEND-RANDN variance-detects-2-percent", "BACKEND-RANDN mean-and-variance"]).toContain(k);
  });

  test("frozen-noise (index ignored) fails BACKEND-RANDN distinct-over-a-seed-index-grid", async () => {
    const f = await failures(frozenNoise, ofClause("BACKEND-RANDN"));
    expect([...f.keys()]).toContain("BACKEND-RANDN distinct-over-a-seed-index-grid");
  });

  test("frozen-noise fails SAMP-DISTRIBUTION's backend-randn variants (the sampler's law); the reference and the float32-array example pass them", async () => {
    const variants = orderDistribution.filter((p) => p.clause === "SAMP-DISTRIBUTION" && p.name.includes("backend-randn"));
    expect(variants.map((p) => p.name)).toEqual(["ddpm-backend-randn-matches-the-2d-mixture", "euler-ancestral-backend-randn-matches-the-2d-mixture"]);
    for (const p of variants) {
      expect((await runOne(p, referenceBackend)).status).toBe("passed");
      expect((await runOne(p, float32Array)).status).toBe("passed");
      const r = await runOne(p, frozenNoise);
      expect(r.status, p.name).toBe("failed");
      expect(r.message).toMatch(/rejected at α = 0\.01 on two independent samples/);
    }
  }, 120_000);

  test("nan-third-call fails BACKEND-MODEL sampling-loop-finite-and-matching with a NonFiniteError naming step 2; a single evaluation passes", async () => {
    const f = await failures(nanThirdCall, checkable.filter((p) => p.clause === "BACKEND-MODEL"));
    expect([...f.keys()]).toEqual(["BACKEND-MODEL sampling-loop-finite-and-matching"]);
    const e = f.get("BACKEND-MODEL sampling-loop-finite-and-matching")!.error;
    expect(e).toBeInstanceOf(NonFiniteError);
    expect((e as Error).message).toMatch(/^model output at step 2 \(timestep \d+(\.\d+)?\) holds a non-finite value NaN/);
  });
});
