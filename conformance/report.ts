/**
 * Report formats: the console summary (last line "N passed, N failed[, N skipped]"), JSON
 * ({ backend, seed, results: [{ clause, property, status, message?, seed?, path? }] } plus more
 * fields), JUnit XML for CI systems and a Markdown/HTML clause table.
 */
import { counts, summaryLine, type Report, type Result } from "./runner.ts";

/** The project's one atomic writer (temporary file in the same folder, removed on failure; only regular files are replaced). */
export { writeFileAtomic } from "../glyffuser/checkpoint.ts";

const MARK: Record<Result["status"], string> = { passed: "ok  ", failed: "FAIL", skipped: "skip", xfail: "xfail", missing: "MISS" };

/** Clause-by-clause console text: one line per clause, details for failures, then the summary. */
export function consoleReport(r: Report): string {
  const lines: string[] = [];
  lines.push(`diffspec conformance — backend ${r.backend}${r.detail ? ` (${r.detail})` : ""}, profile ${r.profile}, seed ${r.seed}`);
  if (r.unavailable) lines.push(`backend ${r.backend} unavailable: ${r.unavailable}`);
  const byClause = new Map<string, Result[]>();
  for (const res of r.results) byClause.set(res.clause, [...(byClause.get(res.clause) ?? []), res]);
  for (const [clause, rs] of byClause) {
    const worst = (["failed", "missing", "xfail", "skipped", "passed"] as const).find((s) => rs.some((x) => x.status === s))!;
    const ms = rs.reduce((a, x) => a + x.durationMs, 0);
    lines.push(`${MARK[worst]} ${clause.padEnd(28)} ${rs.filter((x) => x.status === "passed").length}/${rs.length} properties  ${ms} ms`);
    for (const x of rs) {
      if (x.status === "passed") continue;
      lines.push(`       ${x.status.padEnd(7)} ${x.property}: ${x.message ?? ""}`);
      if (x.status === "failed") {
        if (x.seed !== undefined) lines.push(`               seed ${x.seed}${x.path ? `, path ${x.path}` : ""}`);
        if (x.replay) lines.push(`               replay: ${x.replay}`);
      }
    }
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.interrupted) lines.push(`interrupted (${r.interrupted}): ${r.notRun ?? "the remaining"} selected properties did not run`);
  const c = counts(r.results);
  const extra = [c.missing ? `${c.missing} missing counted as failed` : "", c.xfail ? `${c.xfail} xfail counted as skipped` : ""].filter(Boolean).join("; ");
  lines.push(`${new Set(r.results.map((x) => x.clause)).size} clauses, ${r.results.length} properties in ${(r.wallMs / 1000).toFixed(1)} s${extra ? ` (${extra})` : ""}`);
  lines.push(summaryLine(c));
  return lines.join("\n");
}

export function jsonReport(r: Report): string {
  return JSON.stringify(r, null, 2) + "\n";
}

/**
 * Characters XML 1.0 cannot hold at all (C0 controls but tab/LF/CR, DEL and C1, lone surrogates, U+FFFE/U+FFFF),
 * e.g. the ANSI colour escapes of an error message or a NUL, written visibly as \u{…} instead.
 */
const UNREPRESENTABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
export const visible = (s: string): string => s.replace(UNREPRESENTABLE, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);

/** Text for XML and HTML (element content and quoted attributes): markup escaped, unrepresentable characters made visible. */
export const xml = (s: string): string => visible(s).replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);

/** Text for one Markdown table cell: HTML and Markdown markup escaped, one line, unrepresentable characters visible. */
export const markdownCell = (s: string): string =>
  xml(s).replace(/\r?\n|\r/g, " ").replace(/[\\`*_[\]|#]/g, (c) => `\\${c}`);

/** JUnit XML: one testsuite per clause, one testcase per property. */
export function junitReport(r: Report): string {
  const c = counts(r.results);
  const clauses = [...new Set(r.results.map((x) => x.clause))];
  const suites = clauses.map((clause) => {
    const rs = r.results.filter((x) => x.clause === clause);
    const cases = rs.map((x) => {
      const body =
        x.status === "failed" || x.status === "missing"
          ? `<failure message="${xml(x.message ?? x.status)}" type="${x.status}">${xml([x.message, x.replay ? `replay: ${x.replay}` : ""].filter(Boolean).join("\n"))}</failure>`
          : x.status === "skipped" || x.status === "xfail"
            ? `<skipped message="${xml(x.message ?? x.status)}"/>`
            : "";
      return `    <testcase classname="${xml(`${r.backend}.${clause}`)}" name="${xml(x.property)}" time="${(x.durationMs / 1000).toFixed(3)}">${body}</testcase>`;
    });
    const f = rs.filter((x) => x.status === "failed" || x.status === "missing").length;
    const s = rs.filter((x) => x.status === "skipped" || x.status === "xfail").length;
    return `  <testsuite name="${xml(clause)}" tests="${rs.length}" failures="${f}" skipped="${s}">\n${cases.join("\n")}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="diffspec conformance ${xml(r.backend)}" tests="${r.results.length}" failures="${c.failed}" skipped="${c.skipped}" time="${(r.wallMs / 1000).toFixed(3)}">\n${suites.join("\n")}\n</testsuites>\n`;
}

/** A Markdown clause table (also embedded in the HTML report). */
export function markdownReport(r: Report): string {
  const rows = r.results.map((x) => `| ${markdownCell(x.clause)} | ${markdownCell(x.property)} | ${x.status} | ${markdownCell((x.message ?? "").slice(0, 300))} |`);
  return [
    `# diffspec conformance: ${markdownCell(r.backend)}`,
    "",
    `Profile ${r.profile}, seed ${r.seed}, ${r.date}, ${(r.wallMs / 1000).toFixed(1)} s. ${summaryLine(counts(r.results))}.`,
    r.unavailable ? `\nBackend unavailable: ${markdownCell(r.unavailable)}\n` : "",
    r.interrupted ? `\nInterrupted (${markdownCell(r.interrupted)}): ${r.notRun ?? "the remaining"} selected properties did not run.\n` : "",
    "| clause | property | status | message |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

export function htmlReport(r: Report): string {
  const color: Record<string, string> = { passed: "#1a7f37", failed: "#cf222e", missing: "#cf222e", skipped: "#9a6700", xfail: "#9a6700" };
  const rows = r.results
    .map((x) => `<tr><td>${xml(x.clause)}</td><td>${xml(x.property)}</td><td style="color:${color[x.status]}">${x.status}</td><td>${xml(x.message ?? "")}${x.replay ? `<br><code>${xml(x.replay)}</code>` : ""}</td></tr>`)
    .join("\n");
  return `<!doctype html><meta charset="utf-8"><title>diffspec conformance: ${xml(r.backend)}</title>
<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}code{font-size:12px}</style>
<h1>diffspec conformance: ${xml(r.backend)}</h1>
<p>Profile ${r.profile}, seed ${r.seed}, ${xml(r.date)}, ${(r.wallMs / 1000).toFixed(1)} s. <b>${summaryLine(counts(r.results))}</b>.${r.unavailable ? ` Unavailable: ${xml(r.unavailable)}` : ""}${r.interrupted ? ` Interrupted (${xml(r.interrupted)}): ${r.notRun ?? "the remaining"} selected properties did not run.` : ""}</p>
<table><tr><th>clause</th><th>property</th><th>status</th><th>message</th></tr>
${rows}
</table>
`;
}
