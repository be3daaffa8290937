/** The conditioning (COND-) and guidance (CFG-) clauses, run as vitest tests on the reference backend. */
import { registerProperties } from "../conformance/vitest.ts";
import { properties as conditioning } from "../conformance/properties/conditioning.ts";
import { properties as guidance } from "../conformance/properties/guidance.ts";

registerProperties([...conditioning, ...guidance]);
