import { properties as kdiffusion } from "../conformance/properties/samplers-kdiffusion.ts";
import { properties as orderDistribution } from "../conformance/properties/samplers-order-distribution.ts";
import { properties as kdiffusionMore } from "../conformance/properties/samplers-kdiffusion-more.ts";
import { registerProperties } from "../conformance/vitest.ts";

registerProperties([...kdiffusion, ...orderDistribution, ...kdiffusionMore]);
