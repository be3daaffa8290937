/**
 * Every backend-scope clause beyond BACKEND- (samplers, guidance, …) on each built-in CPU backend, so
 * CI checks what `npx diffspec conformance --backend NAME` checks (the BACKEND- clauses are registered
 * per backend in test/conformance-backend-*.test.ts).
 */
import { afterAll } from "vitest";
import { createBackend } from "../adapters/index.ts";
import { loadAllProperties } from "../conformance/runner.ts";
import { registerProperties } from "../conformance/vitest.ts";

const props = (await loadAllProperties()).filter((p) => p.scope === "backend" && !p.clause.startsWith("BACKEND-") && (!p.profiles || p.profiles.includes("quick")));
const backends = await Promise.all(["tfjs-cpu", "tfjs-wasm", "onnxruntime-cpu", "wasm-simd"].map((name) => createBackend(name)));
for (const backend of backends) registerProperties(props, { backend, label: backend.name, timeoutMs: 120_000 });
afterAll(async () => { for (const b of backends) await b.close?.(); });
