/**
 * The conformance registry. A property is a plain object naming the clause it checks
 * (test262 style); property modules live in conformance/properties/*.ts and export
 * `properties: PropertyDef[]`. The CLI and vitest run the same objects.
 */
import type { Backend, OptionalPrimitive } from "../adapters/contract.ts";

export type Profile = "quick" | "full";

export interface PropertyContext {
  /** The backend under test (the reference backend for `scope: "spec"` properties). */
  readonly backend: Backend<any>;
  /** The run's seed; every property derives its randomness from it. */
  readonly seed: number;
  /** fast-check replay path of one counterexample (only when replaying). */
  readonly path?: string;
  readonly profile: Profile;
  /** Number of fast-check runs for this profile. */
  readonly numRuns: number;
}

export interface PropertyDef {
  /** Spec clause ID, e.g. "FWD-MARGINAL" (must exist in spec/). */
  readonly clause: string;
  /** Property name, unique within its clause, kebab-case. */
  readonly name: string;
  /**
   * "spec": checks the reference mathematics itself (same result for every backend), run on the reference.
   * "backend": exercises the backend's primitives; run against whichever backend is under test.
   */
  readonly scope: "spec" | "backend";
  /** "property": fast-check; "statistical": a hypothesis test at level α, retried once; "example": fixed inputs. */
  readonly kind: "property" | "statistical" | "example";
  /** Optional backend primitives the property needs; a backend lacking one reports `missing`. */
  readonly needs?: readonly OptionalPrimitive[];
  /** Profiles it runs in (default both). Slow properties may be "full" only. */
  readonly profiles?: readonly Profile[];
  /** Throws (PropertyFailure or any error) when the property does not hold. */
  run(ctx: PropertyContext): void | Promise<void>;
}

export const defineProperties = (defs: PropertyDef[]): PropertyDef[] => defs;

export const fullId = (p: Pick<PropertyDef, "clause" | "name">): string => `${p.clause} ${p.name}`;
