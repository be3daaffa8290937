/**
 * PORT-DECLARE, PORT-PROTOCOL, PORT-FINITE (spec/14-scheduler-ports.md) as registry properties: what the
 * port machinery itself must satisfy, checked on the reference. The clauses a user's port is checked
 * against run through `diffspec conformance --scheduler / --scheduler-cmd` (conformance/ports/).
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect } from "../check.ts";
import { InputFileError } from "../../reference/errors.ts";
import { parseCapabilities } from "../ports/capabilities.ts";
import { decodeTensor, encodeTensor } from "../ports/protocol.ts";
import { classProperties } from "../ports/properties.ts";
import { REFERENCE_PORT_CAPABILITIES, referencePort } from "../ports/reference-port.ts";

/** Runs the port properties of `clause` for every class of the reference port. */
async function referencePortClause(clause: string, ctx: { seed: number; profile: "quick" | "full"; numRuns: number; path?: string }): Promise<void> {
  const driver = referencePort();
  for (const cls of Object.keys(REFERENCE_PORT_CAPABILITIES.classes)) {
    for (const p of classProperties(cls, REFERENCE_PORT_CAPABILITIES).filter((x) => x.clause === clause && !x.skip)) {
      await p.run({ driver, seed: ctx.seed, profile: ctx.profile, numRuns: Math.max(3, Math.ceil(ctx.numRuns / 5)), path: ctx.path });
    }
  }
}

export const properties = defineProperties([
  {
    clause: "PORT-PROTOCOL",
    name: "tensor-encoding-round-trips",
    scope: "spec",
    kind: "property",
    run: (ctx) => checkProperty(ctx, fc.property(fc.constantFrom("float32" as const, "float64" as const), fc.array(fc.double(), { maxLength: 40 }), (dtype, values) => {
      const back = decodeTensor(encodeTensor(dtype, [values.length], values));
      const want = dtype === "float32" ? values.map(Math.fround) : values;
      expect(back.length === want.length && want.every((v, i) => Object.is(v, back[i])), `${dtype}: ${JSON.stringify(values)} came back as ${JSON.stringify(Array.from(back))}`);
    })),
  },
  {
    clause: "PORT-PROTOCOL",
    name: "tensor-encoding-known-bytes",
    scope: "spec",
    kind: "example",
    run() {
      // float32 [1, −2] is 00 00 80 3F 00 00 00 C0; float64 [1] is 00 00 00 00 00 00 F0 3F (little-endian IEEE 754).
      expect(encodeTensor("float32", [1, 2], [1, -2]).data === "AACAPwAAAMA=", "float32 [1, -2] must encode as AACAPwAAAMA=");
      expect(encodeTensor("float64", [1], [1]).data === "AAAAAAAA8D8=", "float64 [1] must encode as AAAAAAAA8D8=");
      let threw = false;
      try {
        decodeTensor({ dtype: "float32", shape: [3], data: "AACAPwAAAMA=" });
      } catch {
        threw = true;
      }
      expect(threw, "8 bytes decoded as shape [3] of float32 (12 bytes) must be an error");
    },
  },
  {
    clause: "PORT-DECLARE",
    name: "declarations-are-validated",
    scope: "spec",
    kind: "example",
    run() {
      expect(parseCapabilities(REFERENCE_PORT_CAPABILITIES, "x").name === "reference", "a valid declaration is accepted");
      const bad = [
        { ...REFERENCE_PORT_CAPABILITIES, dtype: "float16" },
        { ...REFERENCE_PORT_CAPABILITIES, classes: {} },
        { ...REFERENCE_PORT_CAPABILITIES, classes: { DDIMScheduler: { config: { betaStart: { min: 1, max: 0 } } } } },
        { ...REFERENCE_PORT_CAPABILITIES, classes: { DDIMScheduler: { config: { clipSample: [] } } } },
        { ...REFERENCE_PORT_CAPABILITIES, extra: true },
      ];
      for (const b of bad) {
        let err: unknown;
        try {
          parseCapabilities(b, "port.ts");
        } catch (e) {
          err = e;
        }
        expect(err instanceof InputFileError && /capabilities/.test((err as Error).message), `${JSON.stringify(b).slice(0, 120)} must be an InputFileError naming the field, got ${String(err)}`);
      }
    },
  },
  {
    clause: "PORT-DECLARE",
    name: "reference-port-honours-its-declaration",
    scope: "spec",
    kind: "example",
    run: (ctx) => referencePortClause("PORT-DECLARE", ctx),
  },
  {
    clause: "PORT-FINITE",
    name: "reference-schedulers-as-a-port-are-finite",
    scope: "spec",
    kind: "property",
    run: (ctx) => referencePortClause("PORT-FINITE", ctx),
  },
]);
