/** Three tiny properties for test/outcomes-isolation.test.ts: the supervised process loads only this module. */
import type { PropertyDef } from "../../conformance/registry.ts";

export const properties: PropertyDef[] = [
  {
    clause: "T-COMBINE", name: "once", scope: "backend", kind: "example",
    run: async ({ backend }) => {
      const a = await backend.fromHost(new Float64Array([1, 2]), [2]);
      await backend.combine([a], [2]);
    },
  },
  {
    clause: "T-TRANSFER", name: "round-trip", scope: "backend", kind: "example",
    run: async ({ backend }) => {
      const h = await backend.toHost(await backend.fromHost(new Float64Array([1, 2]), [2]));
      if (h[1] !== 2) throw new Error(`round trip gave ${h[1]}`);
    },
  },
  {
    clause: "T-SPIN", name: "property-code-loops", scope: "backend", kind: "example",
    run: () => {
      for (;;) { /* synchronous, outside any backend call: only the per-property limit can stop it */ }
    },
  },
];
