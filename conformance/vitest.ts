/**
 * Bridge: registers conformance properties as vitest tests, so a vitest suite runs exactly the
 * objects `diffspec conformance` runs. Each test is named "<CLAUSE> <property>".
 *
 * In your own project (`npm install -D vitest diffspec`), one test file checks your backend:
 *
 *   // my-backend.conformance.test.ts
 *   import { registerConformance } from "diffspec/vitest";
 *   import { backend } from "./my-backend.ts";
 *   await registerConformance(backend, { clauses: ["BACKEND-", "SAMP-"], skips: "skips.txt" });
 *
 * It counts as the CLI does: a property that needs a primitive your backend lacks is a failing test
 * (`missing: "skip"` makes it a skipped one instead); a skips-file line makes it a skipped test.
 */
import { test } from "vitest";
import type { Backend } from "../reference/contract.ts";
import { referenceBackend } from "../reference/backend.ts";
import { MissingPrimitiveError } from "../reference/errors.ts";
import type { PropertyDef, Profile } from "./registry.ts";
import { NUM_RUNS } from "./profiles.ts";
import { findRule, loadRules, type Rule } from "./rules.ts";
import { isReferenceBackend, loadAllProperties, selectProperties } from "./runner.ts";

export interface VitestBridgeOptions {
  backend?: Backend<any>;
  seed?: number;
  profile?: Profile;
  /** Per-test timeout in ms (statistical tests can take seconds). */
  timeoutMs?: number;
  /** Prefix for the test names ("[label] CLAUSE property"), to register one set of properties for several backends. */
  label?: string;
  /** Skip rules, as `--skips` takes them: a file path or parsed rules; a matching property is registered as a skipped test. */
  skips?: string | readonly Rule[];
  /** A property needing a primitive the backend lacks: "fail" (the default, as `diffspec conformance` counts it) or "skip". */
  missing?: "fail" | "skip";
}

/** What was registered: the counts `diffspec conformance` would print before running. */
export interface Registered {
  readonly tests: number;
  readonly skipped: number;
  /** Properties whose backend lacks a primitive they need ("CLAUSE property: primitive, …"). */
  readonly missing: readonly string[];
}

/** Registers each property as a vitest test (see the module comment for how missing primitives and skips count). */
export function registerProperties(props: readonly PropertyDef[], opts: VitestBridgeOptions = {}): Registered {
  const profile = opts.profile ?? "quick";
  const seed = opts.seed ?? Number(process.env.DIFFSPEC_SEED ?? 20261126);
  const skips = typeof opts.skips === "string" ? loadRules(opts.skips) : (opts.skips ?? []);
  let tests = 0;
  let skipped = 0;
  const missing: string[] = [];
  for (const p of props) {
    if (p.profiles && !p.profiles.includes(profile)) continue;
    const backend = p.scope === "spec" ? referenceBackend : (opts.backend ?? referenceBackend);
    const name = `${opts.label ? `[${opts.label}] ` : ""}${p.clause} ${p.name}`;
    const skip = findRule(skips, p.clause, p.name);
    if (skip) {
      test.skip(`${name} (skips: ${skip.reason})`, () => {});
      skipped++;
      continue;
    }
    const lacks = (p.needs ?? []).filter((n) => typeof (backend as unknown as Record<string, unknown>)[n] !== "function");
    if (lacks.length) {
      missing.push(`${p.clause} ${p.name}: ${lacks.join(", ")}`);
      if (opts.missing === "skip") {
        test.skip(`${name} (missing: ${lacks.join(", ")})`, () => {});
        skipped++;
      } else {
        test(`${name} (missing: ${lacks.join(", ")})`, () => {
          throw new MissingPrimitiveError(lacks.join(", "), backend.name);
        });
        tests++;
      }
      continue;
    }
    test(name, async () => {
      await p.run({ backend, seed, profile, numRuns: NUM_RUNS[profile] });
    }, opts.timeoutMs ?? 60_000);
    tests++;
  }
  return { tests, skipped, missing };
}

/**
 * Registers what `diffspec conformance` runs for `backend`: every property of the suite (or those of
 * `clauses`, ID prefixes as `--clause` takes them), the spec-scope ones only for the reference backend.
 */
export async function registerConformance(backend: Backend<any>, opts: Omit<VitestBridgeOptions, "backend"> & { clauses?: readonly string[] } = {}): Promise<Registered> {
  const selected = selectProperties(await loadAllProperties(), { clauses: opts.clauses, profile: opts.profile ?? "quick" }, isReferenceBackend(backend));
  return registerProperties(selected, { ...opts, backend, label: opts.label ?? backend.name });
}
