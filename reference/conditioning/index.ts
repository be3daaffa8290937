/**
 * COND — conditioning (spec/11-conditioning.md): text encoders, cross-attention and the
 * class-conditional exact oracle. Guidance lives in reference/guidance.ts (spec/12-guidance.md).
 */
export * from "./encoder.ts";
export * from "./embedded.ts";
export * from "./transformers.ts";
export * from "./attention.ts";
export * from "./oracle.ts";
