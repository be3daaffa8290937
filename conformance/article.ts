/**
 * The article beside the spec: its headings (spec/article-headings.txt) and figures
 * (spec/article-figures.txt), and the **Article.** line of every clause, which names one heading exactly
 * (`**Article.** Heading` or `**Article.** Heading — gloss`) or says `**Article.** none — beyond the
 * article: <reason>`. test/article-headings.test.ts checks every chapter against these lists; the
 * coverage table of spec/README.md is built from them (conformance/spec-readme.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SPEC_DIR } from "./spec-index.ts";

export const HEADINGS_FILE = join(SPEC_DIR, "article-headings.txt");
export const ARTICLE_FIGURES_FILE = join(SPEC_DIR, "article-figures.txt");

export interface ArticleHeading {
  readonly heading: string;
  /** Why no clause names this heading (absent: at least one clause must). */
  readonly noClause?: string;
}

export interface ArticleFigure {
  readonly id: string;
  readonly heading: string;
  readonly caption: string;
  /** Spec figures (spec/figures/NAME.svg) that draw it. */
  readonly figures: readonly string[];
  /** Why it is not drawn (absent when `figures` is non-empty). */
  readonly leftOut?: string;
}

/** What a clause's **Article.** line says. */
export type ArticleRef =
  | { readonly kind: "heading"; readonly heading: string; readonly gloss?: string }
  | { readonly kind: "none"; readonly reason: string }
  | { readonly kind: "invalid"; readonly text: string };

/** The article writes some headings with no-break spaces; the lists and the clauses use plain spaces. */
export const normaliseSpaces = (s: string): string => s.replace(/[\u00a0\u2009\u202f]/g, " ");

/**
 * The headings of the article's plain text: after the `---` rule, the lines that stand alone — not
 * indented, not a bullet, at most 80 characters, and not ending like a sentence or caption (. : ! … ]).
 */
export function extractArticleHeadings(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const rule = lines.indexOf("---");
  const out: string[] = [];
  for (const line of lines.slice(rule + 1)) {
    if (line === "" || line !== line.trim() || line.startsWith("•") || line.length > 80 || /[.:!…\]]$/.test(line)) continue;
    const h = normaliseSpaces(line);
    if (!out.includes(h)) out.push(h);
  }
  return out;
}

const dataLines = (text: string): string[] => text.split(/\r?\n/).filter((l) => l.trim() !== "" && !l.startsWith("#"));

export function parseHeadingsFile(text: string): ArticleHeading[] {
  return dataLines(text).map((line) => {
    const [heading, note] = line.split(" | ");
    const m = note === undefined ? null : /^no clause: (.+)$/.exec(note);
    if (note !== undefined && !m) throw new Error(`article-headings.txt: "${line}" — after " | " write "no clause: <reason>"`);
    return m ? { heading: heading.trim(), noClause: m[1] } : { heading: heading.trim() };
  });
}

export function parseArticleFiguresFile(text: string): ArticleFigure[] {
  return dataLines(text).map((line) => {
    const parts = line.split(" | ");
    if (parts.length !== 4) throw new Error(`article-figures.txt: "${line.slice(0, 60)}…" — expected "ID | heading | caption | figures or left out: why"`);
    const [id, heading, caption, what] = parts.map((p) => p.trim());
    const left = /^left out: (.+)$/.exec(what);
    return left ? { id, heading, caption, figures: [], leftOut: left[1] } : { id, heading, caption, figures: what.split(",").map((s) => s.trim()) };
  });
}

export const loadArticleHeadings = (path = HEADINGS_FILE): ArticleHeading[] => parseHeadingsFile(readFileSync(path, "utf8"));
export const loadArticleFigures = (path = ARTICLE_FIGURES_FILE): ArticleFigure[] => parseArticleFiguresFile(readFileSync(path, "utf8"));

const NONE = "none — beyond the article: ";

/** Read one **Article.** line (the text after "**Article.** ") against the headings. */
export function parseArticleRef(text: string, headings: readonly string[]): ArticleRef {
  const t = text.trim();
  if (t.startsWith(NONE) && t.length > NONE.length) return { kind: "none", reason: t.slice(NONE.length) };
  for (const h of [...headings].sort((a, b) => b.length - a.length)) {
    if (t === h) return { kind: "heading", heading: h };
    if (t.startsWith(`${h} — `) && t.length > h.length + 3) return { kind: "heading", heading: h, gloss: t.slice(h.length + 3) };
  }
  return { kind: "invalid", text: t };
}
