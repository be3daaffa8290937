/**
 * Bridge: registers conformance properties as vitest tests, so `npm test` runs exactly the
 * objects `diffspec conformance` runs. Each test is named "<CLAUSE> <property>".
 */
import { test } from "vitest";
import type { Backend } from "../adapters/contract.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import type { PropertyDef, Profile } from "./registry.ts";
import { NUM_RUNS } from "./profiles.ts";

export interface VitestBridgeOptions {
  backend?: Backend<any>;
  seed?: number;
  profile?: Profile;
  /** Per-test timeout in ms (statistical tests can take seconds). */
  timeoutMs?: number;
  /** Prefix for the test names ("[label] CLAUSE property"), to register one set of properties for several backends. */
  label?: string;
}

export function registerProperties(props: readonly PropertyDef[], opts: VitestBridgeOptions = {}): void {
  const profile = opts.profile ?? "quick";
  const seed = opts.seed ?? Number(process.env.DIFFSPEC_SEED ?? 20261126);
  for (const p of props) {
    if (p.profiles && !p.profiles.includes(profile)) continue;
    const backend = p.scope === "spec" ? referenceBackend : (opts.backend ?? referenceBackend);
    // A primitive the backend lacks makes the property "missing" in `diffspec conformance`; vitest does not register it.
    if ((p.needs ?? []).some((n) => typeof (backend as unknown as Record<string, unknown>)[n] !== "function")) continue;
    test(`${opts.label ? `[${opts.label}] ` : ""}${p.clause} ${p.name}`, async () => {
      await p.run({ backend, seed, profile, numRuns: NUM_RUNS[profile] });
    }, opts.timeoutMs ?? 60_000);
  }
}
