/** The Euler / Euler ancestral / Heun / LMS clauses (spec/07-samplers-euler-heun-lms.md), run as vitest tests on the reference backend. */
import { registerProperties } from "../conformance/vitest.ts";
import { properties } from "../conformance/properties/samplers-euler-heun-lms.ts";

registerProperties(properties);
