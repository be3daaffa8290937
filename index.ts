/**
 * diffspec's main entry point (`import … from "diffspec"`): what an adapter needs — the backend
 * contract, the typed errors, the seeded noise stream — and the Float64 reference backend to compare
 * against. The other entry points: `diffspec/contract`, `diffspec/errors`, `diffspec/rng`,
 * `diffspec/samplers` (createScheduler and the k-diffusion samplers), `diffspec/reference/<module>`
 * (any reference module, e.g. `diffspec/reference/schedule`), `diffspec/adapters` (built-in backends,
 * loadAdapter), `diffspec/runner` (the conformance runner) and `diffspec/vitest` (the vitest bridge).
 */
export * from "./reference/contract.ts";
export * from "./reference/errors.ts";
export { GaussianStream, childStream, RecordedNoise, type NoiseSource, type Seed } from "./reference/rng.ts";
export { ReferenceBackend, referenceBackend } from "./reference/backend.ts";
export { MissingPackageError, OPTIONAL_PACKAGES } from "./reference/optional.ts";
export type { Shape, Tensor } from "./reference/tensor.ts";
