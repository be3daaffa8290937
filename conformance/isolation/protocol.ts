/**
 * Messages between the CLI (conformance/isolation/supervisor.ts) and the supervised process that holds
 * the backend under test (conformance/isolation/child.ts), over Node's IPC channel.
 */
import type { BackendSpec } from "../../adapters/index.ts";
import type { Profile } from "../registry.ts";
import type { PropertyOutcome } from "../runner.ts";

/** Everything the child needs at start (passed as its one argument, JSON). */
export interface ChildConfig {
  spec: BackendSpec;
  /** The watchdog stops the process when its resident memory passes this (MB). */
  memoryLimitMb: number;
}

/** Run one property (selected by the parent) with these options. */
export interface RunRequest {
  type: "run";
  id: number;
  clause: string;
  name: string;
  /** The property's module (loaded on first use); absent: look it up among all modules. */
  module?: string;
  seed: number;
  profile: Profile;
  path?: string;
  backendArg: string;
  callTimeoutMs: number;
  propertyTimeoutMs: number;
}

/** What the parent sends: a property to run, or "close the backend and exit". */
export type ParentMessage = RunRequest | { type: "close" };

export type ChildMessage =
  | { type: "ready"; name: string; detail?: string }
  /** The backend could not be created: `kind` says how the CLI reports it. */
  | { type: "init-failed"; kind: "unavailable" | "config" | "input-file"; backend: string; message: string }
  | { type: "result"; id: number; outcome: PropertyOutcome }
  /** An error no property awaited (a timer's throw, an unhandled rejection): the process exits after sending it. */
  | { type: "fatal"; message: string };

/** The line the watchdog writes to stderr just before it stops the process. */
export const WATCHDOG_MARK = "@@diffspec-watchdog ";
