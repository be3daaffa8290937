/**
 * Skip and xfail files (array-api-tests style): one clause ID, clause prefix or "CLAUSE property"
 * per line, followed by a `#` comment giving the reason (required). Blank lines and lines that are
 * only a comment are ignored.
 */
import { readFileSync } from "node:fs";
import { InputFileError } from "../reference/errors.ts";

export interface Rule {
  readonly pattern: string;
  readonly reason: string;
  readonly line: number;
  readonly file: string;
}

export function parseRules(text: string, file: string): Rule[] {
  const rules: Rule[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const hash = line.indexOf("#");
    if (hash < 0 || !line.slice(hash + 1).trim()) throw new InputFileError(file, `line ${i + 1}: "${line}" needs a reason after "#" (e.g. \`BACKEND-THRESHOLD  # no sort on this device\`)`);
    rules.push({ pattern: line.slice(0, hash).trim(), reason: line.slice(hash + 1).trim(), line: i + 1, file });
  });
  return rules;
}

export function loadRules(file: string): Rule[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputFileError(file, `cannot read it (${(e as Error).message})`);
  }
  return parseRules(text, file);
}

/** A rule matches a property when its pattern is a prefix of the clause ID or equals "CLAUSE name". */
export function ruleMatches(rule: Rule, clause: string, name: string): boolean {
  return clause.startsWith(rule.pattern) || `${clause} ${name}` === rule.pattern;
}

export function findRule(rules: readonly Rule[], clause: string, name: string): Rule | undefined {
  return rules.find((r) => ruleMatches(r, clause, name));
}
