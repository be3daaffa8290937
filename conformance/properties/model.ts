/**
 * MODEL-TIME-EMBED (spec/14-model.md): the sinusoidal timestep embedding the article's network is fed "so
 * that the model can distinguish between timesteps" — bounded, distinct for every training timestep,
 * smooth in t, and a rotation under a shift of t.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectClose } from "../check.ts";
import { timestepEmbedding } from "../../reference/models/mlp.ts";
import { ShapeError } from "../../reference/errors.ts";
import { expectTypedError } from "./distributions.ts";

const widthArb = fc.integer({ min: 1, max: 64 }).map((h) => 2 * h);
const tArb = fc.double({ min: 0, max: 1000, noNaN: true });
const freqs = (width: number): number[] => Array.from({ length: width / 2 }, (_, j) => 10000 ** (-j / (width / 2)));

export const properties = defineProperties([
  {
    clause: "MODEL-TIME-EMBED",
    name: "each-pair-lies-on-the-unit-circle",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(widthArb, tArb, (width, t) => {
        const e = timestepEmbedding(t, width);
        const half = width / 2;
        freqs(width).forEach((f, j) => {
          expectClose(`e[${j}] = sin(t·f${j})`, e[j], Math.sin(t * f), 0, 1e-12);
          expectClose(`e[${j}]² + e[${half + j}]²`, e[j] ** 2 + e[half + j] ** 2, 1, 0, 1e-12);
        });
        expectClose("‖e(t)‖² = E/2", e.reduce((s, v) => s + v * v, 0), half, 0, 1e-10);
      })),
  },
  {
    clause: "MODEL-TIME-EMBED",
    name: "every-training-timestep-is-distinct",
    scope: "spec",
    kind: "example",
    run: () => {
      // Over all pairs of t, t′ ∈ {0, …, 999}, t ≠ t′: ‖e(t) − e(t′)‖ ≥ 1 for the glyffuser's width 16 and wider.
      for (const width of [16, 32, 64]) {
        const es = Array.from({ length: 1000 }, (_, t) => timestepEmbedding(t, width));
        let min = Infinity;
        for (let a = 0; a < 1000; a++) for (let b = a + 1; b < 1000; b++) {
          let d = 0;
          for (let j = 0; j < width; j++) d += (es[a][j] - es[b][j]) ** 2;
          min = Math.min(min, d);
        }
        expect(Math.sqrt(min) >= 1, `width ${width}: two training timesteps are only ${Math.sqrt(min).toFixed(4)} apart`);
      }
    },
  },
  {
    clause: "MODEL-TIME-EMBED",
    name: "smooth-and-a-rotation-under-shifts",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(ctx, fc.property(widthArb, tArb, fc.double({ min: -50, max: 50, noNaN: true }), (width, t, delta) => {
        const [a, b] = [timestepEmbedding(t, width), timestepEmbedding(t + delta, width)];
        const fs = freqs(width);
        const dot = a.reduce((s, v, i) => s + v * b[i], 0);
        expectClose("e(t)·e(t + Δ) = Σⱼ cos(Δ fⱼ)", dot, fs.reduce((s, f) => s + Math.cos(delta * f), 0), 0, 1e-9 * width);
        const dist = Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
        const lipschitz = Math.sqrt(fs.reduce((s, f) => s + f * f, 0));
        expect(dist <= Math.abs(delta) * lipschitz * (1 + 1e-12) + 1e-12, `‖e(t) − e(t + Δ)‖ = ${dist} > |Δ|·√Σfⱼ² = ${Math.abs(delta) * lipschitz}`);
      })),
  },
  {
    clause: "MODEL-TIME-EMBED",
    name: "odd-width-is-a-shape-error",
    scope: "spec",
    kind: "example",
    run: () => {
      for (const w of [0, 1, 7, 2.5]) expectTypedError(`width ${w}`, () => timestepEmbedding(1, w), ShapeError);
    },
  },
]);
