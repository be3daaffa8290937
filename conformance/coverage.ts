/**
 * The coverage table of spec/README.md: each heading of the article → the clauses that cite it, their
 * reference functions and the spec figures that illustrate it; each figure of the article → the spec
 * figures that draw it; what is left out, with why. Built from the **Article.** lines of spec/*.md,
 * spec/article-headings.txt, spec/article-figures.txt and the `article` field of plot/figures.ts.
 */
import { parseArticleRef, type ArticleFigure, type ArticleHeading } from "./article.ts";
import type { SpecClause } from "./spec-index.ts";

/** A spec figure, as far as the table needs it. */
export interface CoveredFigure {
  readonly name: string;
  readonly article: string;
}

/** The function names of a **Reference.** line: the backticked names after each "→". */
export function referenceFunctions(reference: string): string[] {
  return reference.split(";").flatMap((part) => {
    const arrow = part.indexOf("→");
    return arrow < 0 ? [] : [...part.slice(arrow + 1).matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  });
}

const cell = (s: string): string => s.replace(/\|/g, "\\|");
const figLink = (name: string): string => `[${name}](figures/${name}.svg)`;

export function coverageSection(clauses: readonly SpecClause[], headings: readonly ArticleHeading[], articleFigures: readonly ArticleFigure[], figures: readonly CoveredFigure[]): string[] {
  const names = headings.map((h) => h.heading);
  const refs = clauses.map((c) => ({ clause: c, ref: parseArticleRef(c.article, names) }));
  const beyond = refs.filter((r) => r.ref.kind === "none");
  const drawn = articleFigures.filter((f) => f.figures.length > 0);
  const lines: string[] = [
    "## Coverage of the article",
    "",
    `${headings.length} headings of the article (spec/article-headings.txt), ${articleFigures.length} of its figures (spec/article-figures.txt), ` +
      `${clauses.length} clauses: ${clauses.length - beyond.length} cite a heading, ${beyond.length} go beyond the article. ` +
      `${headings.filter((h) => !h.noClause).length} headings are cited by clauses; ${drawn.length} article figures are drawn by spec figures, ${articleFigures.length - drawn.length} left out.`,
    "",
    "| article heading | clauses | reference functions | spec figures | article figures |",
    "|---|---|---|---|---|",
  ];
  for (const h of headings) {
    const cs = refs.filter((r) => r.ref.kind === "heading" && r.ref.heading === h.heading).map((r) => r.clause);
    const fns = [...new Set(cs.flatMap((c) => referenceFunctions(c.reference)))];
    const figs = figures.filter((f) => f.article === h.heading).map((f) => figLink(f.name));
    const afs = articleFigures.filter((f) => f.heading === h.heading).map((f) => f.id);
    const clauseCell = cs.length ? `${cs.length}: ${cs.map((c) => c.id).join(", ")}` : `0 — ${h.noClause ?? ""}`;
    lines.push(`| ${cell(h.heading)} | ${cell(clauseCell)} | ${cell(fns.map((f) => `\`${f}\``).join(", "))} | ${figs.join(", ")} | ${afs.join(", ")} |`);
  }
  lines.push("", "| article figure | under | spec figures |", "|---|---|---|");
  for (const f of articleFigures) lines.push(`| ${f.id}. ${cell(f.caption)} | ${cell(f.heading)} | ${f.figures.length ? f.figures.map(figLink).join(", ") : `left out: ${cell(f.leftOut ?? "")}`} |`);
  lines.push("", `Clauses beyond the article (${beyond.length}), with why:`, "");
  for (const { clause, ref } of beyond) if (ref.kind === "none") lines.push(`- **${clause.id}** — ${ref.reason}`);
  lines.push("");
  return lines;
}
