/** The `diffspec` command: dispatches to subcommands, turns typed errors into clear messages. */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DiffspecError } from "../reference/errors.ts";
import { withOptional } from "../reference/optional.ts";

type Command = { summary: string; load: () => Promise<(argv: string[]) => Promise<number>>; cloneOnly?: true };

/** Whether diffspec runs from a clone (the spec's Markdown beside the code), not from the installed package. */
const inClone = (): boolean => existsSync(fileURLToPath(new URL("../spec/README.md", import.meta.url)));

const COMMANDS: Record<string, Command> = {
  conformance: { summary: "run the conformance suite against a backend (the main job)", load: async () => (await import("./conformance.ts")).conformanceCommand },
  fixtures: { summary: "verify golden vectors from diffusers and k-diffusion: fixtures verify DIR...", load: async () => (await import("./fixtures.ts")).fixturesCommand },
  order: { summary: "measure each sampler's convergence order on the exact oracle", load: async () => (await import("./order.ts")).orderCommand },
  bench: { summary: "benchmark sampler speed and quality against step count, per backend", load: async () => (await import("./bench.ts")).benchCommand },
  dataset: { summary: "build the glyph dataset from Unihan + Noto Sans CJK", load: async () => (await import("../glyffuser/build-dataset.ts")).datasetCommand },
  train: { summary: "train the glyffuser (a small conditional U-Net) with the ε-loss", load: async () => (await import("./train.ts")).trainCommand },
  sample: { summary: "draw glyphs from a prompt with the trained glyffuser", load: async () => (await import("./sample.ts")).sampleCommand },
  "spec-index": { summary: "regenerate spec/README.md, the clause index with status per backend", load: async () => (await import("./spec-index.ts")).specIndexCommand, cloneOnly: true },
  adherence: { summary: "measure the glyffuser's prompt adherence (semantic radicals) per guidance and step count", load: async () => (await import("./adherence.ts")).adherenceCommand },
  figures: { summary: "regenerate the spec's figures (SVG) from the reference", load: async () => (await import("./figures.ts")).figuresCommand, cloneOnly: true },
};

export const MAIN_HELP = `Usage: diffspec <command> [options]   (diffspec <command> --help for each)

Commands:
${Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(12)} ${c.summary}`).join("\n")}
`;

/** README "Exit codes": 0 ok, 1 a check failed, 2 bad input, 3 nothing checked (conformance/runner.ts exitCode), 70 internal error. */
export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERNAL = 70;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(MAIN_HELP);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`diffspec: unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(", ")}\n`);
    return 2;
  }
  if (cmd.cloneOnly && !inClone() && !rest.includes("--help") && !rest.includes("-h")) {
    process.stderr.write(`diffspec ${name}: it rewrites the spec's Markdown (spec/), which the installed package does not include; run it in a clone of the repository (npm ci && npx diffspec ${name})\n`);
    return 2;
  }
  try {
    return await withOptional(`diffspec ${name}`, async () => (await cmd.load())(rest));
  } catch (e) {
    if (e instanceof DiffspecError) {
      process.stderr.write(`diffspec ${name}: ${e.name}: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    process.stderr.write(`diffspec ${name}: internal error (a bug in diffspec; please report it with this text): ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT_INTERNAL;
  }
}
