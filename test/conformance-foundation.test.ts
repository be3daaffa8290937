/**
 * The foundation clauses (spec chapters 01–06 and 09: DIST, NOISE, DATA, SCHED, FWD, POST, PARAM,
 * SCORE, LOSS, TS, ORACLE), run as vitest tests on the reference backend.
 */
import { registerProperties } from "../conformance/vitest.ts";
import { properties as distributions } from "../conformance/properties/distributions.ts";
import { properties as noise } from "../conformance/properties/noise.ts";
import { properties as data } from "../conformance/properties/data.ts";
import { properties as schedule } from "../conformance/properties/schedule.ts";
import { properties as timesteps } from "../conformance/properties/timesteps.ts";
import { properties as forward } from "../conformance/properties/forward.ts";
import { properties as posterior } from "../conformance/properties/posterior.ts";
import { properties as param } from "../conformance/properties/param.ts";
import { properties as score } from "../conformance/properties/score.ts";
import { properties as loss } from "../conformance/properties/loss.ts";
import { properties as oracle } from "../conformance/properties/oracle.ts";

registerProperties([...distributions, ...noise, ...data, ...schedule, ...timesteps, ...forward, ...posterior, ...param, ...score, ...loss, ...oracle]);
