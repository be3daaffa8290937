/**
 * Issue 14, inputs and outputs of the glyffuser commands: numbers named and bounded before any work,
 * `sample --out DIR`, no silent prompt changes, a manifest confined to its folder, a torn log line.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../cli/main.ts";
import { appendLog, readLog, type LogEntry } from "../glyffuser/train.ts";
import { loadModel } from "../glyffuser/model.ts";
import { InputFileError } from "../reference/errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "diffspec-inputs-"));
const stderrOf = async (f: () => Promise<unknown>): Promise<[unknown, string]> => {
  let err = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  const spyOut = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    return [await f(), err];
  } finally {
    spy.mockRestore();
    spyOut.mockRestore();
  }
};
afterEach(() => vi.restoreAllMocks());

describe("train: numbers are checked, named and bounded before a backend starts (exit 2)", () => {
  test.each([
    [["--limit", "0"], /--limit = "0" is not allowed: an integer in \[1, /],
    [["--limit=-5"], /--limit = "-5"/],
    [["--batch", "100000"], /--batch = "100000" is not allowed: an integer in \[1, 1024\]/],
    [["--channels", "abc"], /--channels = "abc" is not allowed/],
    [["--seed", "4294967296"], /--seed/],
  ])("train %j", async (args, message) => {
    const [code, err] = await stderrOf(() => main(["train", ...args, "--out", join(tmp, "run")]));
    expect(code).toBe(2);
    expect(err).toMatch(message);
  });
});

describe("bench: bounded step counts (exit 2)", () => {
  test.each([["1e9"], ["1000000000"], ["0"]])("--steps %s", async (steps) => {
    const [code, err] = await stderrOf(() => main(["bench", "--quick", "--steps", steps, "--no-learned"]));
    expect(code).toBe(2);
    expect(err).toMatch(/--steps = .* each in \[1, 10000\]/);
  });
});

describe("safe writes", () => {
  test("the atomic writer never replaces a non-regular file, and a failed write leaves no temporary file", async () => {
    const { writeFileAtomic } = await import("../conformance/report.ts");
    const { writeOutputs } = await import("../cli/output.ts");
    expect(() => writeFileAtomic("/dev/null", "x")).toThrow(/is a device; diffspec writes only regular files/);
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
    const file = join(tmp, "a-file");
    writeFileSync(file, "");
    const failed = writeOutputs([{ path: join(file, "report.json"), content: () => "{}" }, { path: join(tmp, "ok.json"), content: () => "{}" }]);
    expect(failed).toHaveLength(1);
    expect(readFileSync(join(tmp, "ok.json"), "utf8")).toBe("{}");
    expect(readdirSync(tmp).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });
});

describe("train-log.jsonl", () => {
  test("a torn last line does not swallow the next entry", () => {
    const path = join(tmp, "train-log.jsonl");
    const e = (step: number): LogEntry => ({ step, epoch: 0, loss: 1, lossSmooth: 1, lr: 1e-3, gradNorm: 1, samplesPerSecond: 1, wallSeconds: step, backend: "x" });
    appendLog(path, e(10));
    writeFileSync(path, readFileSync(path, "utf8") + '{"step":20,"epoch":0,"lo'); // a crash mid-append
    appendLog(path, e(30));
    expect(readLog(path).map((x) => x.step)).toEqual([10, 30]);
  });
});

describe("model manifest", () => {
  test("an onnx field pointing outside the manifest's folder is an InputFileError", () => {
    const manifest = JSON.parse(readFileSync("fixtures/glyffuser/glyffuser.json", "utf8"));
    for (const onnx of ["../glyffuser.onnx", "/etc/passwd.onnx", "sub/glyffuser.onnx"]) {
      const path = join(tmp, "m.json");
      writeFileSync(path, JSON.stringify({ ...manifest, onnx }));
      expect(() => loadModel(path)).toThrow(InputFileError);
      expect(() => loadModel(path)).toThrow(/a file name ending in \.onnx in the manifest's own folder/);
    }
  });
});

describe("sample", () => {
  test("--out DIR writes DIR/glyphs.png; a non-ASCII-only prompt and a 10 kB prompt are named on stderr, not silently changed", async () => {
    copyFileSync("fixtures/glyffuser/glyffuser.json", join(tmp, "glyffuser.json"));
    const long = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(" ");
    expect(long.length).toBeGreaterThan(10_000);
    const [code, err] = await stderrOf(() => main(["sample", "--prompt", "金木水", "--prompt", long, "--count", "2", "--steps", "1", "--out", tmp]));
    expect(code).toBe(0);
    expect(existsSync(join(tmp, "glyphs.png"))).toBe(true);
    expect(err).toMatch(/"金", "木", "水" in "金木水" are not in the encoder's vocabulary/);
    expect(err).toMatch(/note: the encoder reads the first \d+ tokens of "w0 w1 .*…"; the last \d+ are cut, from ".+" on/);
  }, 60_000);
});
