#!/usr/bin/env node
// The diffspec command. In a clone the TypeScript sources run directly: tsx's loader is registered
// first. From the installed package (no sources, only the built dist/) it runs the JavaScript; a user's
// TypeScript adapter is then loaded through tsx by adapters/load.ts, on demand.
import { existsSync } from "node:fs";

const source = new URL("../cli/main.ts", import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import("../dist/cli/main.js"));
}
process.exitCode = await main(process.argv.slice(2));
