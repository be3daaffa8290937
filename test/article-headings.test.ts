/**
 * The spec reads beside the article: every clause's **Article.** line names one of the article's headings
 * exactly (spec/article-headings.txt) or says why the clause goes beyond the article; every heading is named
 * by a clause or says why not; every article figure is drawn by a spec figure or says why not.
 */
import { describe, expect, test } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadSpecClauses } from "../conformance/spec-index.ts";
import { extractArticleHeadings, loadArticleFigures, loadArticleHeadings, parseArticleRef, parseArticleFiguresFile, parseHeadingsFile } from "../conformance/article.ts";
import { FIGURES } from "../plot/figures.ts";

const clauses = loadSpecClauses();
const headings = loadArticleHeadings();
const names = headings.map((h) => h.heading);

describe("clauses name the article's headings", () => {
  test("the headings list has no duplicates", () => {
    expect(names.filter((h, i) => names.indexOf(h) !== i)).toEqual([]);
  });
  test("every clause of every chapter has an **Article.** line naming a heading exactly, or `none — beyond the article: <reason>`", () => {
    const bad = clauses.filter((c) => parseArticleRef(c.article, names).kind === "invalid").map((c) => `${c.chapter} ${c.id}: "${c.article}"`);
    expect(bad, `allowed: one of spec/article-headings.txt, optionally followed by " — gloss"`).toEqual([]);
  });
  test("every heading is named by at least one clause, or says why none can", () => {
    const named = new Set(clauses.map((c) => parseArticleRef(c.article, names)).flatMap((r) => (r.kind === "heading" ? [r.heading] : [])));
    expect(headings.filter((h) => !h.noClause && !named.has(h.heading)).map((h) => h.heading)).toEqual([]);
    expect(headings.filter((h) => h.noClause && named.has(h.heading)).map((h) => `${h.heading} is named: drop its "no clause" note`)).toEqual([]);
  });
  test("an Article line is read strictly", () => {
    const hs = ["Forward diffusion intuition", "Summary"];
    expect(parseArticleRef("Forward diffusion intuition", hs)).toEqual({ kind: "heading", heading: "Forward diffusion intuition" });
    expect(parseArticleRef("Summary — the last bullet", hs)).toEqual({ kind: "heading", heading: "Summary", gloss: "the last bullet" });
    expect(parseArticleRef("none — beyond the article: v-prediction", hs)).toEqual({ kind: "none", reason: "v-prediction" });
    for (const bad of ["", "—", "Forward diffusion intuition.", "The noise schedule", "Summary; Forward diffusion intuition", "none — beyond the article: ", "summary"]) expect(parseArticleRef(bad, hs).kind, bad).toBe("invalid");
  });
});

/** The article's text, where a checkout has it beside the repository (the project's shared folder); not in a clean clone. */
const ARTICLE = fileURLToPath(new URL("../../shared/article/ARTICLE.md", import.meta.url));

describe("the headings list is the article's", () => {
  test.skipIf(!existsSync(ARTICLE))("spec/article-headings.txt lists exactly the headings of ARTICLE.md, in order", () => {
    expect(names).toEqual(extractArticleHeadings(readFileSync(ARTICLE, "utf8")));
  });
  test("headings are the lines that stand alone (no-break spaces read as spaces); paragraphs, captions and bullets are not", () => {
    const text = "# title\n\nintro text.\n\n---\n\nA Visual\u00a0Guide\n\nIntro\n\nSome paragraph that says things.\n\n  • a bullet\n\nA caption of a figure.\n\nWhat is\u00a0“noise”?\n\nThen we run the loop:\n\nTakeaway\n\nTakeaway\n";
    expect(extractArticleHeadings(text)).toEqual(["A Visual Guide", "Intro", "What is “noise”?", "Takeaway"]);
  });
  test("the list file parses, and a malformed note is an error", () => {
    expect(parseHeadingsFile("# c\nIntro\nFurther reading | no clause: links\n")).toEqual([{ heading: "Intro" }, { heading: "Further reading", noClause: "links" }]);
    expect(() => parseHeadingsFile("Intro | maybe later\n")).toThrow(/no clause/);
  });
});

describe("the article's figures", () => {
  const figures = loadArticleFigures();
  test("each stands under a heading of the list and is drawn by existing spec figures, or says why it is left out", () => {
    const spec = new Set(FIGURES.map((f) => f.name));
    expect(figures.filter((f) => !names.includes(f.heading)).map((f) => `${f.id}: ${f.heading}`)).toEqual([]);
    expect(figures.flatMap((f) => f.figures.filter((n) => !spec.has(n)).map((n) => `${f.id}: ${n}`))).toEqual([]);
    expect(figures.filter((f) => f.figures.length === 0 && !f.leftOut).map((f) => f.id)).toEqual([]);
    const ids = figures.map((f) => f.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });
  test("every spec figure names the article heading it illustrates", () => {
    expect(FIGURES.filter((f) => !names.includes(f.article)).map((f) => `${f.name}: ${f.article}`)).toEqual([]);
  });
  test("a figure line needs four fields", () => {
    expect(() => parseArticleFiguresFile("A1 | Intro | caption\n")).toThrow(/expected/);
    expect(parseArticleFiguresFile("A1 | Intro | c | left out: a diagram\n")[0]).toEqual({ id: "A1", heading: "Intro", caption: "c", figures: [], leftOut: "a diagram" });
  });
});
