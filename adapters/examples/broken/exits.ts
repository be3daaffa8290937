/**
 * BROKEN on purpose: `combine` calls process.exit(0) (a library that "handles" an error by exiting).
 * Run supervised, BACKEND-COMBINE fails with "exited with code 0", and the run goes on in a fresh process.
 */
import type { Backend } from "../../contract.ts";
import { createFloat32ArrayBackend, type F32Tensor } from "../float32-array.ts";

const base = createFloat32ArrayBackend("broken-exits");
export const backend: Backend<F32Tensor> = {
  ...base,
  combine: () => process.exit(0),
};
