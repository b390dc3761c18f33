// Paint mode's naming and colours: what the painted regions are sent as, and that each style's colour is its own.
import assert from "node:assert/strict";
import { test } from "node:test";
import "./schema.mjs";
import { slotColour } from "../regions.js";
import { maxStyles } from "../uploads.js";

const MAX_STYLES = maxStyles(); // the shipped schema's

test("every style slot has a colour of its own", () => {
  const colours = Array.from({ length: MAX_STYLES }, (_, k) => slotColour(k));
  assert.equal(new Set(colours).size, MAX_STYLES);
  for (const c of colours) assert.match(c, /^#[0-9a-f]{6}$/);
});
