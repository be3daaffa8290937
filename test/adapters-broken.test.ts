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
});
