/**
 * Output paths of the commands (`--json`, `--junit`, `--html`, bench `--plots`, sample `--out`, …): checked
 * before any work starts, written atomically at the end. A file output is `-` (standard output, where the
 * option allows it), an existing regular file, or a new file whose nearest existing folder is writable;
 * a folder output is an existing writable folder or a new one under a writable folder. A write that fails
 * anyway (disk full, permissions changed) leaves no temporary file and is reported by the caller.
 */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, InputFileError } from "../reference/errors.ts";
import { regularFileTarget, statKind, writeFileAtomic } from "../glyffuser/checkpoint.ts";

export const STDOUT = "-";

function writableFolder(option: string, path: string, dir: string): void {
  let d = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(d);
    } catch {
      const up = dirname(d);
      if (up === d) break;
      d = up;
      continue;
    }
    if (!st.isDirectory()) throw new ConfigError(option, path, `a path under a folder, but ${d} is ${statKind(st)}`);
    try {
      accessSync(d, constants.W_OK | constants.X_OK);
    } catch {
      throw new ConfigError(option, path, `a path in a writable folder; ${d} is not writable`);
    }
    return;
  }
}

/** Checks a file output before the run: ConfigError naming the option when it cannot be written. */
export function checkOutputFile(option: string, path: string | undefined, o: { stdout?: boolean } = {}): void {
  if (path === undefined) return;
  if (path === STDOUT) {
    if (o.stdout === false) throw new ConfigError(option, path, "a file path (this output is binary or several files; standard output is not allowed)");
    return;
  }
  if (path === "" || path.endsWith("/")) throw new ConfigError(option, path, "a file path");
  let target: string;
  try {
    target = regularFileTarget(path);
  } catch (e) {
    throw new ConfigError(option, path, `a regular file or a new file: ${(e as Error).message}`);
  }
  writableFolder(option, path, dirname(target));
  try {
    statSync(target);
    accessSync(target, constants.W_OK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new ConfigError(option, path, "a writable file (this one is not writable)");
  }
}

/** Checks a folder output before the run (an existing writable folder, or one that can be created). */
export function checkOutputFolder(option: string, path: string | undefined): void {
  if (path === undefined) return;
  if (path === "" || path === STDOUT) throw new ConfigError(option, path, "a folder path");
  let st;
  try {
    st = statSync(path);
  } catch {
    writableFolder(option, path, dirname(resolve(path)));
    return;
  }
  if (!st.isDirectory()) throw new ConfigError(option, path, `a folder, but it is ${statKind(st)}`);
  writableFolder(option, path, path);
}

/** Writes one output: standard output for `-`, else atomically. Errors become InputFileError naming the path. */
export function writeOutput(path: string, content: string | Uint8Array): void {
  if (path === STDOUT) {
    process.stdout.write(content);
    return;
  }
  try {
    writeFileAtomic(path, content);
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(path, `could not be written: ${(e as Error).message}`);
  }
}

/**
 * Writes every output it is given, each independently (one failing write does not stop the others),
 * and returns the messages of those that failed (for the caller to print after its summary).
 */
export function writeOutputs(outputs: readonly { path: string | undefined; content: () => string | Uint8Array }[]): string[] {
  const failed: string[] = [];
  for (const o of outputs) {
    if (o.path === undefined) continue;
    try {
      writeOutput(o.path, o.content());
    } catch (e) {
      failed.push((e as Error).message);
    }
  }
  return failed;
}
