/** The flow-matching / LCM / TCD / EDM / iPNDM / SA-Solver clauses (spec/07-samplers-flow-lcm-edm.md), run as vitest tests on the reference backend. */
import { registerProperties } from "../conformance/vitest.ts";
import { properties } from "../conformance/properties/samplers-flow-lcm-edm.ts";

registerProperties(properties);
