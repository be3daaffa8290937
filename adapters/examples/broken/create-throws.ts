/**
 * BROKEN on purpose: `createBackend()` throws a plain Error (no GPU context, a missing file). The CLI
 * prints one line naming the adapter and the error, and exits 2.
 */
import type { Backend } from "../../contract.ts";

export function createBackend(): Backend<never> {
  throw new Error("could not open /dev/dri/renderD128");
}
