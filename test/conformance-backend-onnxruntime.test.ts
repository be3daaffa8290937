/**
 * The shared BACKEND- clauses (conformance/properties/backend.ts) run against "onnxruntime-cpu": the same
 * property objects `diffspec conformance --backend onnxruntime-cpu` runs. The webgpu and cuda providers
 * are not registered here (they need a GPU; test/adapters-onnxruntime.test.ts checks that they report
 * UnavailableError quickly where there is none).
 */
import { afterAll } from "vitest";
import { registerProperties } from "../conformance/vitest.ts";
import { properties } from "../conformance/properties/backend.ts";
import { createOnnxruntimeBackend } from "../adapters/onnxruntime/index.ts";

const backend = await createOnnxruntimeBackend("cpu");
afterAll(() => backend.close());

registerProperties(properties, { backend, timeoutMs: 120_000 });
