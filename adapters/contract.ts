/**
 * BACKEND — the contract every backend implements. It is defined in reference/contract.ts (the
 * reference layer, which imports nothing from adapters/); this module re-exports it so that imports
 * of adapters/contract.ts stay valid.
 */
export * from "../reference/contract.ts";
