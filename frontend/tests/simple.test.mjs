import assert from "node:assert/strict";
import { test } from "node:test";
import { STEPS, positionOf, presetDetail, presetOf, sizePresets, strengthRange, strengthWord, weightAt } from "../simple.js";

// The shape serving.capabilities writes (size_presets, strength).
const DOC = {
  size_presets: [
    { name: "preview", label: "Preview", size: 320, iterations: 100, estimate_s: 9.4, default: false },
    { name: "standard", label: "Standard", size: 512, iterations: 290, estimate_s: 29.5, default: true },
    { name: "large", label: "Large", size: 1024, iterations: 300, estimate_s: null, default: false },
    { name: "broken", size: "big", iterations: 3 },
  ],
  strength: { field: "style_weight", min: 1, max: 100, default: 10, scale: "log" },
};

test("size presets are the server's, unusable entries left out", () => {
  const presets = sizePresets(DOC);
  assert.deepEqual(presets.map((p) => p.name), ["preview", "standard", "large"]);
  assert.equal(presets.find((p) => p.isDefault).size, 512);
  assert.equal(presetDetail(presets[1]), "512 px · about 30 s");
  assert.equal(presetDetail(presets[2]), "1024 px", "no estimate: none said");
  const twins = [{ ...presets[0], size: 512 }, presets[1]];
  assert.equal(presetDetail(twins[0], twins), "512 px · 100 iterations · about 9 s", "same size: the iterations tell them apart");
  assert.deepEqual(sizePresets({}), []);
  assert.equal(presetOf({ size: "512", iterations: " 290" }, presets).name, "standard");
  assert.equal(presetOf({ size: "512", iterations: "300" }, presets), null, "edited by hand");
});

test("Strength maps to the style weight on a log scale, the default in the middle", () => {
  const range = strengthRange(DOC);
  assert.deepEqual(range, { field: "style_weight", min: 1, max: 100, default: 10 });
  assert.equal(weightAt(0, range), 1);
  assert.equal(weightAt(STEPS, range), 100);
  assert.equal(weightAt(STEPS / 2, range), 10);
  assert.equal(weightAt(STEPS / 4, range), 3.16);
  assert.equal(positionOf(10, range), STEPS / 2);
  assert.equal(positionOf("3.16", range), STEPS / 4);
  assert.equal(positionOf(1e3, range), null, "outside the range: set in Advanced");
  for (let p = 0; p <= STEPS; p += 7) assert.equal(positionOf(weightAt(p, range), range), p, "round trip");
  assert.equal(strengthWord(0), "Subtle");
  assert.equal(strengthWord(STEPS / 2), "Balanced");
  assert.equal(strengthWord(STEPS), "Very strong");
});

test("a range the log scale cannot use is refused", () => {
  assert.equal(strengthRange({ strength: { field: "style_weight", min: 0, max: 100, default: 10 } }), null);
  assert.equal(strengthRange({ strength: { field: "style_weight", min: 5, max: 5 } }), null);
  assert.equal(strengthRange({}), null);
  assert.equal(strengthRange({ strength: { field: "style_weight", min: 1, max: 100 } }).default, 10, "no default: the middle");
});
