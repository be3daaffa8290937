/** The DDPM / DDIM / PNDM clauses (spec/07-samplers-ddpm-ddim-pndm.md), run as vitest tests on the reference backend. */
import { registerProperties } from "../conformance/vitest.ts";
import { properties } from "../conformance/properties/samplers-ddpm-ddim-pndm.ts";

registerProperties(properties);
