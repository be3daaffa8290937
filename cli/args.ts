/** Argument parsing shared by the subcommands: strict (an unknown option is an error naming the allowed ones). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../reference/errors.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;
const HELP = { help: { type: "boolean", short: "h" } } as const;

export function parse<const O extends Options>(argv: string[], options: O, command: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...HELP, ...options } as typeof HELP & O, allowPositionals, strict: true });
  } catch (e) {
    const allowed = Object.keys(options).map((o) => `--${o}`).join(", ");
    throw new ConfigError(`diffspec ${command} arguments`, argv.join(" "), `${(e as Error).message.split("\n")[0]}. Allowed options: ${allowed}${allowed ? ", " : ""}--help`);
  }
}

/** An integer option, or a ConfigError naming it. */
export function intOption(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`--${name}`, v, "an integer");
  return n;
}
