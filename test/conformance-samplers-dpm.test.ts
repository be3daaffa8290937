/** The DPM-Solver / UniPC / DEIS clauses (spec/07-samplers-dpm-unipc-deis.md), run as vitest tests on the reference backend. */
import { registerProperties } from "../conformance/vitest.ts";
import { properties } from "../conformance/properties/samplers-dpm-unipc-deis.ts";

registerProperties(properties);
