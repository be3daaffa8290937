#!/usr/bin/env node
// The diffspec command. The project is TypeScript run directly (no build step): tsx's loader
// is registered first, which also lets `--adapter ./mine.ts` load a user's TypeScript adapter.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
