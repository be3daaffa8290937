/**
 * Argument parsing shared by the subcommands: strict (an unknown option is an error naming the allowed
 * ones), and one parser for every number a command line carries. A number is written in decimal
 * (`12`, `-3`, `0.5`, `1e-3` where fractions are allowed): hexadecimal, an empty value (`--seed=`),
 * a value past its range or one that would lose precision is a ConfigError naming the option and its
 * range. Nothing is clamped or wrapped.
 */
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

/** An inclusive range of allowed values, and how to say it in an error. */
export interface Range {
  min: number;
  max: number;
  /** The minimum itself is not allowed: (min, max]. */
  minExclusive?: boolean;
}

/** Seeds are unsigned 32-bit integers: every seed names one run, none aliases another. */
export const SEED_RANGE: Range = { min: 0, max: 2 ** 32 - 1 };
/** Time limits in ms: ≥ 1 and within what a Node timer can wait (2³¹ − 1 ms ≈ 24.8 days; larger fires at once). */
export const TIMEOUT_MS_RANGE: Range = { min: 1, max: 2 ** 31 - 1 };

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const describe = (r: Range, integer: boolean): string =>
  `${integer ? "an integer" : "a number"} in ${r.minExclusive ? "(" : "["}${r.min}, ${r.max}]${integer ? " (decimal digits)" : ""}`;
const below = (n: number, r: Range): boolean => (r.minExclusive ? n <= r.min : n < r.min);

/** An integer option within `range`, its fallback when absent, or a ConfigError naming it and the range. */
export function intOption(name: string, v: string | undefined, fallback: number, range: Range = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }): number {
  if (v === undefined) return fallback;
  const n = Number(v.trim());
  if (!INTEGER.test(v.trim()) || !Number.isSafeInteger(n) || n < range.min || n > range.max) throw new ConfigError(`--${name}`, v, describe(range, true));
  return n;
}

/** A decimal number option within `range` (fractions and exponents allowed), or a ConfigError. */
export function numberOption(name: string, v: string | undefined, fallback: number, range: Range): number {
  if (v === undefined) return fallback;
  const n = Number(v.trim());
  if (!DECIMAL.test(v.trim()) || !Number.isFinite(n) || below(n, range) || n > range.max) throw new ConfigError(`--${name}`, v, describe(range, false));
  return n;
}

/** A seed option: an unsigned 32-bit integer. */
export const seedOption = (name: string, v: string | undefined, fallback: number): number => intOption(name, v, fallback, SEED_RANGE);

/** A comma-separated list of integers, each within `range` (at least `minLength` of them). */
export function intListOption(name: string, v: string | undefined, range: Range, minLength = 1): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(",").map((s) => s.trim());
  const ok = parts.length >= minLength && parts.every((s) => INTEGER.test(s) && Number.isSafeInteger(Number(s)) && Number(s) >= range.min && Number(s) <= range.max);
  if (!ok) throw new ConfigError(`--${name}`, v, `${minLength > 1 ? `at least ${minLength} ` : ""}comma-separated integers, each in [${range.min}, ${range.max}]`);
  return parts.map(Number);
}
