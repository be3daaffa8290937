/** The foundation clauses (spec chapters 01–06 and 09), run as vitest tests on the reference backend. */
import { registerProperties } from "../conformance/vitest.ts";
import { properties as distributions } from "../conformance/properties/distributions.ts";
import { properties as noise } from "../conformance/properties/noise.ts";

registerProperties([...distributions, ...noise]);
