/**
 * The spec's clauses, parsed from spec/*.md: each clause is a level-3 heading
 * "### CLAUSE-ID — title" followed by its Statement, Equation, Article, Reference and Properties.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export interface SpecClause {
  readonly id: string;
  readonly title: string;
  readonly chapter: string;
  /** The text of the **Reference.** line (function names in backticks). */
  readonly reference: string;
  /** The text of the **Article.** paragraph (its lines joined by spaces); "" when the clause has none. */
  readonly article: string;
}

export const SPEC_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "spec");
const HEADING = /^### ([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+) — (.+)$/;

export function parseSpecChapter(text: string, chapter: string): SpecClause[] {
  const lines = text.split(/\r?\n/);
  const out: SpecClause[] = [];
  lines.forEach((line, i) => {
    const m = HEADING.exec(line.trim());
    if (!m) return;
    let reference = "";
    let article = "";
    for (let j = i + 1; j < lines.length && !lines[j].startsWith("### "); j++) {
      const r = /^\*\*Reference\.\*\*\s*(.*)$/.exec(lines[j].trim());
      if (r && !reference) reference = r[1];
      const a = /^\*\*Article\.\*\*\s*(.*)$/.exec(lines[j].trim());
      if (a && !article) {
        const para = [a[1]];
        for (let k = j + 1; k < lines.length && lines[k].trim() !== "" && !lines[k].trim().startsWith("**"); k++) para.push(lines[k].trim());
        article = para.join(" ");
      }
    }
    out.push({ id: m[1], title: m[2].trim(), chapter, reference, article });
  });
  return out;
}

/** Every clause of every chapter (files named NN-*.md), in chapter order. */
export function loadSpecClauses(dir = SPEC_DIR): SpecClause[] {
  return readdirSync(dir)
    .filter((f) => /^\d\d-.*\.md$/.test(f))
    .sort()
    .flatMap((f) => parseSpecChapter(readFileSync(join(dir, f), "utf8"), f));
}
