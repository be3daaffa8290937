import { describe, expect, test } from "vitest";
import { fused } from "../adapters/fused.ts";
import { trackMemory, reachableTensors } from "../adapters/memory.ts";
import { referenceBackend } from "../adapters/reference/index.ts";
import type { Tensor } from "../reference/tensor.ts";
import type { Backend } from "../adapters/contract.ts";

/** A reference backend that counts combine passes and disposals. */
function counting() {
  const stats = { combines: 0, disposed: 0 };
  const b: Backend<Tensor> = {
    name: "counting", dtype: "float64",
    fromHost: (d, s) => referenceBackend.fromHost(d, s),
    toHost: (t) => referenceBackend.toHost(t),
    combine: (ts, cs) => { stats.combines++; return referenceBackend.combine(ts, cs); },
    clamp: (t, lo, hi) => referenceBackend.clamp(t, lo, hi),
    dispose: () => { stats.disposed++; },
  };
  return { b, stats };
}

describe("fused (deferred linear combination)", () => {
  test("a chain of combines costs one pass and equals the sequential result", async () => {
    const { b, stats } = counting();
    const f = fused(b);
    const x = await f.fromHost([1, 2, 3, 4], [1, 4]);
    const e = await f.fromHost([0.5, -1, 2, 0], [1, 4]);
    const x0 = await f.combine([x, e], [1.25, -0.5]);
    const prev = await f.combine([x0, e], [0.8, 0.3]);
    expect(stats.combines).toBe(0);
    const got = await f.toHost(prev);
    expect(stats.combines).toBe(1);
    const want = [1, 2, 3, 4].map((v, i) => 0.8 * (1.25 * v - 0.5 * [0.5, -1, 2, 0][i]) + 0.3 * [0.5, -1, 2, 0][i]);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 14));
    await f.toHost(prev);
    expect(stats.combines).toBe(1);
  });
  test("non-linear ops materialise their input; cancelling terms vanish", async () => {
    const { b, stats } = counting();
    const f = fused(b);
    const x = await f.fromHost([3, -3], [2]);
    const y = await f.combine([x, x], [1, -1]);
    expect(y.leaves.length).toBe(1);
    expect(Array.from(await f.toHost(y))).toEqual([0, 0]);
    const c = await f.clamp!(await f.combine([x], [2]), -1, 1);
    expect(Array.from(await f.toHost(c))).toEqual([1, -1]);
    expect(stats.combines).toBe(2);
  });
});

describe("memory scopes", () => {
  test("sweep disposes exactly the tensors the roots do not reach", async () => {
    const { b, stats } = counting();
    const t = trackMemory(b);
    const a = await t.fromHost([1], [1]);
    const c = await t.combine([a, a], [1, 1]);
    await t.combine([c], [2]);
    const state = { history: [c] };
    expect(t.sweep([state])).toBe(2);
    expect(stats.disposed).toBe(2);
    expect(t.liveCount).toBe(1);
  });
  test("reachability descends into arrays, maps and lazy forms", async () => {
    const f = fused(referenceBackend);
    const leaf = await f.fromHost([1], [1]);
    const form = await f.combine([leaf], [2]);
    const r = reachableTensors([{ m: new Map([["k", [form]]]) }]);
    expect(r.has(form)).toBe(true);
    expect(r.has(leaf.value)).toBe(true);
  });
});
