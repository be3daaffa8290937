/**
 * DATA-LAYOUT, DATA-RANGE, DATA-BATCH, DATA-COMBINE, DATA-FINITE (spec/02-data.md): tensors as flat
 * row-major Float64 vectors with a shape, the [0, 1] ↔ [−1, 1] pixel convention, batches along the
 * leading axis, the one linear-combination primitive, and finiteness checks.
 */
import fc from "fast-check";
import { defineProperties } from "../registry.ts";
import { checkProperty, expect, expectAllClose } from "../check.ts";
import { NonFiniteError, ShapeError } from "../../reference/errors.ts";
import {
  assertFinite,
  batchItem,
  concatBatch,
  fromUnitRange,
  linearCombination,
  size,
  splitBatch,
  tensor,
  toUnitRange,
  type Tensor,
} from "../../reference/tensor.ts";
import { expectTypedError, num } from "./distributions.ts";

const dimArb = fc.integer({ min: 1, max: 4 });
const shape4Arb = fc.tuple(dimArb, dimArb, dimArb, dimArb);
/** A tensor of the given shape with arbitrary finite entries. */
const tensorArb = (shape: readonly number[]): fc.Arbitrary<Tensor> =>
  fc.array(num(-1e6, 1e6), { minLength: size(shape), maxLength: size(shape) }).map((d) => tensor(d, shape));
const bitEqual = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));

export const properties = defineProperties([
  {
    clause: "DATA-LAYOUT",
    name: "flat-index-is-row-major",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(shape4Arb, ([B, C, H, W]) => {
          // Fill in nested-loop order b, c, h, w; element [b, c, h, w] must sit at ((b·C + c)·H + h)·W + w.
          const values: number[] = [];
          for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) values.push(1000 * b + 100 * c + 10 * h + w);
          const t = tensor(values, [B, C, H, W]);
          for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
            const v = t.data[((b * C + c) * H + h) * W + w];
            expect(v === 1000 * b + 100 * c + 10 * h + w, `[${b}, ${c}, ${h}, ${w}] holds ${v}`);
          }
          expect(size([B, C, H, W]) === B * C * H * W && t.data.length === B * C * H * W, "size is not the product of the shape");
        }),
      ),
  },
  {
    clause: "DATA-LAYOUT",
    name: "bad-shapes-are-shape-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      for (const bad of [[0, 2], [2, -1], [1.5], [NaN], [Infinity]]) expectTypedError(`shape [${bad}]`, () => size(bad), ShapeError, "shape");
      expectTypedError("5 values for shape [2, 3]", () => tensor([1, 2, 3, 4, 5], [2, 3]), ShapeError, "data length");
    },
  },
  {
    clause: "DATA-RANGE",
    name: "unit-range-round-trips",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(num(0, 1), { minLength: 1, maxLength: 32 }), fc.array(num(-1, 1), { minLength: 1, maxLength: 32 }), (unit, model) => {
          // One rounding each way: |error| ≤ 2⁻⁵² on [0, 1] and 2⁻⁵¹ on [−1, 1].
          const u = tensor(unit, [unit.length]);
          const m = tensor(model, [model.length]);
          expectAllClose("[0,1] → [−1,1] → [0,1]", toUnitRange(fromUnitRange(u)).data, u.data, 0, 2 ** -52);
          expectAllClose("[−1,1] → [0,1] → [−1,1]", fromUnitRange(toUnitRange(m)).data, m.data, 0, 2 ** -51);
          expect(fromUnitRange(u).data.every((v) => v >= -1 && v <= 1), "fromUnitRange leaves [−1, 1]");
          expect(toUnitRange(m).data.every((v) => v >= 0 && v <= 1), "toUnitRange leaves [0, 1]");
        }),
      ),
  },
  {
    clause: "DATA-RANGE",
    name: "endpoints-and-midpoint-map-exactly",
    scope: "spec",
    kind: "example",
    run: () => {
      const t = fromUnitRange(tensor([0, 0.5, 1], [3]));
      expect(bitEqual(t.data, [-1, 0, 1]), `fromUnitRange(0, ½, 1) = [${Array.from(t.data)}]`);
      const u = toUnitRange(tensor([-1, 0, 1], [3]));
      expect(bitEqual(u.data, [0, 0.5, 1]), `toUnitRange(−1, 0, 1) = [${Array.from(u.data)}]`);
    },
  },
  {
    clause: "DATA-BATCH",
    name: "concat-then-split-round-trips",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(
          fc.tuple(dimArb, dimArb).chain(([C, H]) => fc.array(dimArb.chain((b) => tensorArb([b, C, H])), { minLength: 1, maxLength: 4 })),
          (items) => {
            const joined = concatBatch(items);
            expect(joined.shape[0] === items.reduce((s, t) => s + t.shape[0], 0), "concat batch size");
            const back = splitBatch(joined, items.map((t) => t.shape[0]));
            back.forEach((t, k) => expect(t.shape.join() === items[k].shape.join() && bitEqual(t.data, items[k].data), `item ${k} changed`));
          },
        ),
      ),
  },
  {
    clause: "DATA-BATCH",
    name: "split-then-concat-round-trips",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(dimArb, { minLength: 1, maxLength: 4 }), fc.tuple(dimArb, dimArb), (sizes, [C, H]) => {
          const B = sizes.reduce((a, b) => a + b, 0);
          const t = tensor(Array.from({ length: B * C * H }, (_, i) => i - 7.5), [B, C, H]);
          const parts = splitBatch(t, sizes);
          const again = concatBatch(parts);
          expect(again.shape.join() === t.shape.join() && bitEqual(again.data, t.data), "split then concat changed the tensor");
          let o = 0;
          parts.forEach((p, k) => {
            for (let j = 0; j < sizes[k]; j++) expect(bitEqual(batchItem(p, j).data, batchItem(t, o + j).data), `batchItem ${o + j}`);
            o += sizes[k];
          });
        }),
      ),
  },
  {
    clause: "DATA-BATCH",
    name: "mismatched-batches-are-shape-errors",
    scope: "spec",
    kind: "example",
    run: () => {
      const a = tensor([1, 2, 3, 4], [2, 2]);
      const b = tensor([1, 2, 3], [1, 3]);
      expectTypedError("concat of [2, 2] and [1, 3]", () => concatBatch([a, b]), ShapeError, "concatBatch item 1");
      expectTypedError("concat of nothing", () => concatBatch([]), ShapeError, "concatBatch");
      expectTypedError("split [2, 2] into 1 + 2", () => splitBatch(a, [1, 2]), ShapeError, "splitBatch sizes");
    },
  },
  {
    clause: "DATA-COMBINE",
    name: "linear-combination-is-elementwise",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(
          fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(fc.array(tensorArb([n]), { minLength: 1, maxLength: 5 }), fc.array(num(-10, 10), { minLength: 5, maxLength: 5 }))),
          ([terms, coeffs]) => {
            const c = coeffs.slice(0, terms.length);
            const out = linearCombination(terms, c);
            const n = terms[0].data.length;
            for (let i = 0; i < n; i++) {
              let expected = 0;
              let scale = 0;
              terms.forEach((t, k) => { expected += c[k] * t.data[i]; scale += Math.abs(c[k] * t.data[i]); });
              // Same sum in the same order up to the skipped zero terms: within (k + 1) roundings of Σ|cₖxₖ|.
              expect(Math.abs(out.data[i] - expected) <= (terms.length + 1) * 2 ** -52 * scale, `element ${i}: ${out.data[i]} vs ${expected}`);
            }
          },
        ),
      ),
  },
  {
    clause: "DATA-COMBINE",
    name: "zero-coefficient-ignores-its-term",
    scope: "spec",
    kind: "example",
    run: () => {
      const x = tensor([1, 2], [2]);
      const bad = tensor([NaN, Infinity], [2]);
      const out = linearCombination([x, bad], [3, 0]);
      expect(bitEqual(out.data, [3, 6]), `3·x + 0·[NaN, ∞] = [${Array.from(out.data)}]`);
      expectTypedError("terms of different shapes", () => linearCombination([x, tensor([1, 2, 3], [3])], [1, 1]), ShapeError, "linearCombination term 1");
      expectTypedError("2 terms, 1 coefficient", () => linearCombination([x, x], [1]), ShapeError, "linearCombination");
    },
  },
  {
    clause: "DATA-FINITE",
    name: "first-non-finite-value-is-named",
    scope: "spec",
    kind: "property",
    run: (ctx) =>
      checkProperty(
        ctx,
        fc.property(fc.array(num(-1e300, 1e300), { minLength: 1, maxLength: 40 }), fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity), (values, at, bad) => {
          assertFinite("finite data", values); // must not throw
          const i = at % values.length;
          const data = [...values];
          data[i] = bad;
          let err: unknown;
          try { assertFinite("x", data); } catch (e) { err = e; }
          expect(err instanceof NonFiniteError, `expected NonFiniteError, got ${String(err)}`);
          const e = err as NonFiniteError;
          expect(e.index === i && Object.is(e.value, bad) && e.what === "x", `NonFiniteError(${e.what}, ${e.index}, ${e.value}) should name x at ${i} (${bad})`);
        }),
      ),
  },
]);
