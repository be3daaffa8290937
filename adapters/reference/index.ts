/**
 * The reference backend (Float64 host arrays). It is defined in reference/backend.ts, the executable
 * meaning of the BACKEND- clauses; re-exported here beside the other backends.
 */
export * from "../../reference/backend.ts";
