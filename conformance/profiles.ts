/** Run profiles: how many fast-check runs and how large statistical samples are. */
import type { Profile } from "./registry.ts";

export const NUM_RUNS: Record<Profile, number> = { quick: 25, full: 200 };

/** Statistical sample sizes scale with the profile: quick keeps CI fast, full has more power. */
export const SAMPLE_SCALE: Record<Profile, number> = { quick: 1, full: 4 };
