// Paint mode's naming and colours: what the painted regions are sent as, and that each style's colour is its own.
import assert from "node:assert/strict";
import { test } from "node:test";
import { maskFieldName, slotColour } from "../regions.js";
import { MAX_STYLES } from "../params.js";

test("style i's region is sent as mask, mask_2 … mask_8 (the server's field names)", () => {
  assert.deepEqual(Array.from({ length: MAX_STYLES }, (_, i) => maskFieldName(i)),
    ["mask", "mask_2", "mask_3", "mask_4", "mask_5", "mask_6", "mask_7", "mask_8"]);
});

test("every style slot has a colour of its own", () => {
  const colours = Array.from({ length: MAX_STYLES }, (_, k) => slotColour(k));
  assert.equal(new Set(colours).size, MAX_STYLES);
  for (const c of colours) assert.match(c, /^#[0-9a-f]{6}$/);
});
