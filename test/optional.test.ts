/** reference/optional.ts: an absent optional runtime becomes an UnavailableError naming the package and its install line. */
import { expect, test } from "vitest";
import { UnavailableError } from "../reference/errors.ts";
import { MissingPackageError, missingOptionalPackage, OPTIONAL_PACKAGES, withOptional } from "../reference/optional.ts";

const notFound = (message: string, code = "ERR_MODULE_NOT_FOUND") => Object.assign(new Error(message), { code });

test("the package is read from Node's ESM and CommonJS not-found errors, subpaths reduced to the package", () => {
  expect(missingOptionalPackage(notFound("Cannot find package 'onnxruntime-node' imported from /x/dist/adapters/onnxruntime/index.js"))).toBe("onnxruntime-node");
  expect(missingOptionalPackage(notFound("Cannot find module '@tensorflow/tfjs-backend-wasm/dist/index.js'", "MODULE_NOT_FOUND"))).toBe("@tensorflow/tfjs-backend-wasm");
  expect(missingOptionalPackage(notFound("Cannot find package 'left-pad' imported from /x.js"))).toBeUndefined(); // not an optional runtime
  expect(missingOptionalPackage(new Error("Cannot find package 'webgpu'"))).toBeUndefined(); // no not-found code
  expect(missingOptionalPackage(undefined)).toBeUndefined();
});

test("withOptional turns an absent optional package into MissingPackageError (an UnavailableError) with the feature's install line", async () => {
  const e = await withOptional("tfjs-wasm", () => Promise.reject(notFound("Cannot find package '@tensorflow/tfjs' imported from /x.js"))).catch((x) => x);
  expect(e).toBeInstanceOf(MissingPackageError);
  expect(e).toBeInstanceOf(UnavailableError);
  expect(e.message).toBe("tfjs-wasm is unavailable: it needs the optional package @tensorflow/tfjs, which is not installed; install it with: npm install @tensorflow/tfjs @tensorflow/tfjs-backend-wasm");
  const fig = await withOptional("diffspec figures", () => Promise.reject(notFound("Cannot find package 'vega-lite' imported from /x.js"))).catch((x) => x);
  expect(fig.installLine).toBe(OPTIONAL_PACKAGES["vega-lite"]);
});

test("any other failure passes through unchanged, and a success returns the module", async () => {
  const other = new Error("native binding failed");
  await expect(withOptional("onnxruntime-cpu", () => Promise.reject(other))).rejects.toBe(other);
  await expect(withOptional("x", () => import("diffspec-no-such-package" as string))).rejects.toMatchObject({ code: "ERR_MODULE_NOT_FOUND" });
  expect(await withOptional("webgpu", async () => 42)).toBe(42);
});
