/** The spec and the suite name the same clauses: every clause has a property, every property a clause. */
import { describe, expect, test } from "vitest";
import { loadSpecClauses, parseSpecChapter } from "../conformance/spec-index.ts";
import { loadAllProperties } from "../conformance/runner.ts";

const clauses = loadSpecClauses();
const properties = await loadAllProperties();

describe("spec ↔ conformance", () => {
  test("every property module loads", () => {
    expect(properties.filter((p) => p.clause === "SUITE-LOAD").map((p) => p.name)).toEqual([]);
  });
  test("clause IDs are unique", () => {
    const ids = clauses.map((c) => c.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });
  test("every clause has at least one property", () => {
    const withProps = new Set(properties.map((p) => p.clause));
    expect(clauses.filter((c) => !withProps.has(c.id)).map((c) => `${c.chapter}: ${c.id}`)).toEqual([]);
  });
  test("every property names a clause of the spec", () => {
    const ids = new Set(clauses.map((c) => c.id));
    expect(properties.filter((p) => !ids.has(p.clause)).map((p) => `${p.clause} ${p.name}`)).toEqual([]);
  });
  test("every clause cites its reference function", () => {
    expect(clauses.filter((c) => !c.reference).map((c) => c.id)).toEqual([]);
  });
  test("property names are unique within a clause", () => {
    const ids = properties.map((p) => `${p.clause} ${p.name}`);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });
  test("the parser reads a wrapped **Article.** paragraph up to the next field", () => {
    const c = parseSpecChapter("### FWD-CHAIN — The chain\n**Article.** Forward diffusion intuition — the chain\nof Gaussians\n**Reference.** `f`\n", "04.md");
    expect(c[0].article).toBe("Forward diffusion intuition — the chain of Gaussians");
  });
  test("the parser reads a clause heading and its reference", () => {
    const c = parseSpecChapter("### FWD-CHAIN — The chain\n**Statement.** x\n**Reference.** `reference/forward.ts` → `chainCoefficients`\n", "04.md");
    expect(c).toEqual([{ id: "FWD-CHAIN", title: "The chain", chapter: "04.md", reference: "`reference/forward.ts` → `chainCoefficients`", article: "" }]);
  });
});
