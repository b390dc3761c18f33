import assert from "node:assert/strict";
import { test } from "node:test";
import { blendFieldValue, displayPercents, moveItem, normaliseBlend, rescaleShares, setShare } from "../blend.js";

const close = (actual, expected) => actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) < 1e-12, `${actual} vs ${expected}`));

test("weights are normalised to sum 1", () => {
  close(normaliseBlend([50, 50]), [0.5, 0.5]);
  close(normaliseBlend([30, 10]), [0.75, 0.25]);
  close(normaliseBlend([100]), [1]);
  close(normaliseBlend([0, 20, 60]), [0, 0.25, 0.75]);
});

test("no positive weight: nothing to normalise", () => {
  assert.equal(normaliseBlend([0, 0]), null);
  assert.equal(normaliseBlend([]), null);
});

test("negative and non-finite weights count as 0", () => {
  close(normaliseBlend([-5, 10, Number.NaN, Infinity]), [0, 1, 0, 0]);
});

test("style_blend field: only sent when it changes something", () => {
  assert.equal(blendFieldValue([50]), null, "one style");
  assert.equal(blendFieldValue([40, 40, 40]), null, "all equal: the server's default");
  assert.equal(blendFieldValue([0, 0]), null);
  assert.equal(blendFieldValue([70, 30]), "0.7,0.3");
  assert.equal(blendFieldValue([1, 2]), "0.3333,0.6667");
  assert.equal(blendFieldValue([0, 100]), "0,1");
});

test("moveItem reorders without touching the input", () => {
  const list = ["a", "b", "c"];
  assert.deepEqual(moveItem(list, 0, 1), ["b", "a", "c"]);
  assert.deepEqual(moveItem(list, 2, 0), ["c", "a", "b"]);
  assert.deepEqual(moveItem(list, 0, -1), ["a", "b", "c"], "out of range: unchanged");
  assert.deepEqual(moveItem(list, 2, 3), ["a", "b", "c"]);
  assert.deepEqual(list, ["a", "b", "c"]);
});

test("displayed percentages always sum to exactly 100 (largest remainder)", () => {
  assert.deepEqual(displayPercents(Array(8).fill(50)), [13, 13, 13, 13, 12, 12, 12, 12]);
  assert.deepEqual(displayPercents([1, 1, 1]), [34, 33, 33]);
  assert.deepEqual(displayPercents([50, 25]), [67, 33]);
  assert.deepEqual(displayPercents([100]), [100]);
  assert.deepEqual(displayPercents([0, 0]), [0, 0]);
  for (let n = 1; n <= 8; n += 1) {
    for (let trial = 0; trial < 50; trial += 1) {
      const weights = Array.from({ length: n }, (_, i) => (trial * 37 + i * 11) % 101);
      if (weights.every((w) => w === 0)) continue;
      const shown = displayPercents(weights);
      assert.equal(shown.reduce((a, b) => a + b, 0), 100, String(weights));
      shown.forEach((p, i) => assert.ok(Math.abs(p - (100 * weights[i]) / weights.reduce((a, b) => a + b, 0)) < 1, String(weights)));
    }
  }
});

test("the sliders are the shares: moving one gives the others the rest in proportion", () => {
  const sum = (ws) => ws.reduce((a, b) => a + b, 0);
  assert.deepEqual(setShare([50, 50], 0, 70), [70, 30]);
  assert.deepEqual(setShare([50, 25, 25], 0, 80), [80, 10, 10]);
  assert.deepEqual(setShare([100, 0, 0], 0, 40), [40, 30, 30], "others with nothing share the rest equally");
  assert.deepEqual(setShare([100], 0, 30), [100], "a lone style has the whole blend");
  assert.equal(sum(setShare([12.5, 37.5, 50], 2, 33)), 100);
  // What the issue saw: 50 and 30 displayed as 63 % / 37 %. Now a slider's position is its share.
  const weights = setShare([50, 50], 1, 30);
  assert.deepEqual(displayPercents(weights), [70, 30]);
});

test("adding or removing a style keeps the shares summing to 100", () => {
  assert.deepEqual(rescaleShares([], 1), [100]);
  assert.deepEqual(rescaleShares([100], 1), [50, 50]);
  assert.deepEqual(rescaleShares([70, 30], 2).map((w) => Math.round(w * 100) / 100), [35, 15, 25, 25]);
  assert.deepEqual(rescaleShares([35, 15]), [70, 30], "after a removal the rest is scaled back up");
  assert.deepEqual(rescaleShares([0, 0]), [50, 50]);
});
