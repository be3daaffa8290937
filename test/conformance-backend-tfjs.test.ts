/**
 * The BACKEND- clauses (conformance/properties/backend.ts) against the reference, tfjs-cpu and tfjs-wasm,
 * and — where this machine has them — tfjs-webgpu and tfjs-node. A backend that cannot run here must
 * say so with UnavailableError within seconds (never crash, never hang, never pass).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import type { Backend } from "../adapters/contract.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import { createTfjsBackend, type TfjsKind } from "../adapters/tfjs/index.ts";
import { properties } from "../conformance/properties/backend.ts";
import { registerProperties } from "../conformance/vitest.ts";
import { toleranceTableMarkdown } from "../conformance/tolerances.ts";
import { UnavailableError } from "../reference/errors.ts";

const runnable = properties;

interface Attempt {
  kind: TfjsKind;
  backend?: Backend<any>;
  error?: unknown;
  ms: number;
}

async function attempt(kind: TfjsKind): Promise<Attempt> {
  const t0 = performance.now();
  try {
    return { kind, backend: await createTfjsBackend(kind), ms: performance.now() - t0 };
  } catch (error) {
    return { kind, error, ms: performance.now() - t0 };
  }
}

const cpu = await attempt("cpu");
const wasm = await attempt("wasm");
const webgpu = await attempt("webgpu");
const node = await attempt("node");

registerProperties(runnable, { backend: referenceBackend, label: "reference" });

describe("tfjs-cpu and tfjs-wasm are available on every machine", () => {
  for (const a of [cpu, wasm]) {
    test(`tfjs-${a.kind} was created`, () => {
      expect(a.error).toBeUndefined();
      expect(a.backend!.name).toBe(`tfjs-${a.kind}`);
      expect(a.backend!.dtype).toBe("float32");
    });
  }
});

for (const a of [cpu, wasm, webgpu, node]) {
  if (a.backend) {
    registerProperties(runnable, { backend: a.backend, label: a.backend.name, timeoutMs: 120_000 });
  } else if (a.kind === "webgpu" || a.kind === "node") {
    test(`tfjs-${a.kind} is unavailable here and says why, within seconds`, () => {
      expect(a.error).toBeInstanceOf(UnavailableError);
      const e = a.error as UnavailableError;
      expect(e.backend).toBe(`tfjs-${a.kind}`);
      expect(e.reason.length).toBeGreaterThan(20);
      if (a.kind === "node") expect(e.reason).toMatch(/npm install @tensorflow\/tfjs-node/);
      if (a.kind === "webgpu") expect(e.reason).toMatch(/adapter|webgpu|Dawn/i);
      expect(a.ms).toBeLessThan(5_000);
    });
  }
}

describe("spec/10-backends.md", () => {
  const text = readFileSync(fileURLToPath(new URL("../spec/10-backends.md", import.meta.url)), "utf8");
  test("its Tolerances table is TOLERANCE_TABLE (regenerate with toleranceTableMarkdown())", () => {
    const m = /<!-- TOLERANCE_TABLE:BEGIN -->\n([\s\S]*?)\n<!-- TOLERANCE_TABLE:END -->/.exec(text);
    expect(m?.[1]).toBe(toleranceTableMarkdown());
  });
  test("every BACKEND- property is listed under its clause", () => {
    for (const p of properties) {
      const section = text.split(/^### /m).find((s) => s.startsWith(`${p.clause} — `));
      expect(section, p.clause).toBeDefined();
      expect(/\*\*Properties\.\*\*(.*)/.exec(section!)?.[1], `${p.clause} ${p.name}`).toContain(`\`${p.name}\``);
    }
  });
});
