/**
 * The shared BACKEND- clauses (conformance/properties/backend.ts) run against "wasm-simd"
 * (adapters/wasm/index.ts): the same property objects `diffspec conformance --backend wasm-simd` runs.
 * Also against the same backend behind `fused` + `trackMemory` (sweepingFused), the configuration the
 * samplers and bench/sampler-overhead.ts use: deferred linear combinations must satisfy the same clauses.
 * The "f64" combine mode (coefficients and accumulation in Float64) is checked on the clauses its kernels
 * change: BACKEND-COMBINE and BACKEND-SAMPLER-PARITY.
 */
import { afterAll, expect, test } from "vitest";
import { registerProperties } from "../conformance/vitest.ts";
import { properties } from "../conformance/properties/backend.ts";
import { createBackend } from "../adapters/index.ts";
import { createWasmBackend, sweepingFused, type WasmBackend } from "../adapters/wasm/index.ts";

const backend = (await createBackend("wasm-simd")) as WasmBackend;
const forFused = await createWasmBackend();
const fusedBackend = sweepingFused(forFused);
const f64 = await createWasmBackend({ combine: "f64" });
afterAll(() => { backend.close(); forFused.close(); f64.close(); });

test('createBackend("wasm-simd") is the float32 wasm-simd backend', () => {
  expect(backend.name).toBe("wasm-simd");
  expect(backend.dtype).toBe("float32");
});

registerProperties(properties, { backend, label: "wasm-simd", timeoutMs: 120_000 });
registerProperties(properties, { backend: fusedBackend, label: "wasm-simd fused+tracked", timeoutMs: 120_000 });
registerProperties(properties.filter((p) => p.clause === "BACKEND-COMBINE" || p.clause === "BACKEND-SAMPLER-PARITY"), { backend: f64, label: "wasm-simd f64 combine", timeoutMs: 120_000 });
