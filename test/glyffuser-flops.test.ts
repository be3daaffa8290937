/** glyffuser/flops.ts: the arithmetic of a U-Net pass. */
import { expect, test } from "vitest";
import { unetFlops } from "../glyffuser/flops.ts";
import { GLYFFUSER_FULL_CONFIG, GLYFFUSER_SMALL_CONFIG } from "../glyffuser/unet.ts";

test("convolutions scale with batch and pixels exactly; top-level self-attention is 4·B·L²·C per Transformer", () => {
  const full = GLYFFUSER_FULL_CONFIG;
  const a = unetFlops({ ...full, sampleSize: 32 }, 1);
  expect(unetFlops({ ...full, sampleSize: 32 }, 16).conv).toBe(16 * a.conv);
  expect(unetFlops({ ...full, sampleSize: 64 }, 1).conv).toBe(4 * a.conv);
  const f = unetFlops(full, 16);
  const L = full.sampleSize ** 2;
  const C = full.blockChannels[0];
  // Level 0 carries layersPerBlock Transformers going down and layersPerBlock + 1 coming up.
  expect(f.attentionTopLevel).toBe((2 * full.layersPerBlock + 1) * 4 * 16 * L * L * C);
  expect(f.total).toBe(f.conv + f.linear + f.attention);
  // The figures quoted in bench/README.md.
  expect(f.total / 1e12).toBeCloseTo(19.55, 2);
  expect(f.attentionTopLevel / 1e12).toBeCloseTo(11.0, 1);
});

test("the small U-Net: no self-attention unless configured, and a positive count", () => {
  const f = unetFlops(GLYFFUSER_SMALL_CONFIG, 1);
  expect(f.total).toBeGreaterThan(0);
  expect(f.attentionTopLevel).toBe(0);
});
