/**
 * Issue 14, isolation: a backend that exits, throws from a timer, leaves a rejection unhandled, spins
 * synchronously or eats memory fails the property in progress with what happened, and the next property
 * runs in a fresh process and passes. The supervised process loads only the module of the property it
 * runs, so each case here costs one small process start (the properties are two tiny ones, test/isolation-properties/tiny.ts).
 */
import { describe, expect, test } from "vitest";
import { join } from "node:path";
import { loadAllProperties, type RunOptions } from "../conformance/runner.ts";
import { SupervisedBackend } from "../conformance/isolation/supervisor.ts";
import { InputFileError } from "../reference/errors.ts";

const [combine, spin, transfer] = await loadAllProperties(join(import.meta.dirname, "isolation-properties"));
const opts = (): RunOptions => ({ backend: { unavailable: "", name: "" }, backendArg: "--adapter x", seed: 1, profile: "quick", callTimeoutMs: 30_000, propertyTimeoutMs: 60_000 });

async function outcomes(adapter: string, memoryLimitMb = 4096, callTimeoutMs = 30_000): Promise<[string, string | undefined, string]> {
  const sup = new SupervisedBackend({ kind: "adapter", path: `adapters/examples/broken/${adapter}.ts` }, { memoryLimitMb, log: () => {} });
  await sup.start();
  const a = await sup.execute(combine, { ...opts(), callTimeoutMs });
  const b = await sup.execute(transfer, opts());
  await sup.close();
  return [a.status, a.message, b.status];
}

describe("a supervised backend's misbehaviour fails the property in progress, and the run resumes", () => {
  test.each([
    ["exits", /exited with code 0 during the property/],
    ["timer-throws", /uncaught exception in the backend process: RangeError: device lost in a timer callback/],
    ["unhandled-rejection", /unhandled promise rejection in the backend process: TypeError: queue submit failed/],
    ["spins", /broken-spins\.combine\(\) did not return within 400 ms: it blocked the event loop/],
  ])("%s", async (adapter, message) => {
    const [status, msg, next] = await outcomes(adapter, 4096, adapter === "spins" ? 400 : 30_000);
    expect(status).toBe("failed");
    expect(msg).toMatch(message);
    expect(next).toBe("passed");
  }, 60_000);

  test("eats-memory: stopped at --memory-limit", async () => {
    // A per-call limit far beyond the time the allocations take even on a loaded machine: only memory stops it.
    const [status, msg, next] = await outcomes("eats-memory", 300, 120_000);
    expect(status).toBe("failed");
    expect(msg).toMatch(/more than --memory-limit 300 MB|ran out of memory/);
    expect(next).toBe("passed");
  }, 60_000);

  test("a property whose own code loops synchronously is stopped at --property-timeout", async () => {
    const sup = new SupervisedBackend({ kind: "adapter", path: "adapters/examples/float32-array.ts" }, { memoryLimitMb: 1024, log: () => {} });
    await sup.start();
    const a = await sup.execute(spin, { ...opts(), propertyTimeoutMs: 300 });
    const b = await sup.execute(transfer, opts());
    await sup.close();
    expect(a.status).toBe("failed");
    expect(a.message).toMatch(/property T-SPIN property-code-loops did not finish within 300 ms \(the backend process was stopped\)/);
    expect(b.status).toBe("passed");
  }, 60_000);

  test("createBackend() throwing a plain Error is an InputFileError naming the adapter and the error", async () => {
    const sup = new SupervisedBackend({ kind: "adapter", path: "adapters/examples/broken/create-throws.ts" }, { memoryLimitMb: 1024, log: () => {} });
    const e = await sup.start().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputFileError);
    expect((e as Error).message).toMatch(/create-throws\.ts: the adapter's createBackend\(\) threw: could not open \/dev\/dri\/renderD128/);
  }, 30_000);
});
