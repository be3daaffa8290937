/**
 * DESIGN.md's one-way data flow: nothing in reference/ imports from adapters/ or conformance/. The
 * backend contract is reference/contract.ts and the Float64 reference backend reference/backend.ts;
 * adapters/contract.ts and adapters/reference/ only re-export them.
 */
import { expect, test } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const files = readdirSync("reference", { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => join("reference", f));

test("reference/ imports nothing from adapters/ or conformance/", () => {
  expect(files.length).toBeGreaterThan(20);
  const offending = files.flatMap((f) =>
    [...readFileSync(f, "utf8").matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)]
      .map((m) => m[1])
      .filter((spec) => /^\.{1,2}\/.*\b(adapters|conformance)\//.test(spec))
      .map((spec) => `${f} imports ${spec} (import the contract from reference/contract.ts, the reference backend from reference/backend.ts)`),
  );
  expect(offending).toEqual([]);
});
