import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_KEPT_SIDE, fitWithin } from "../images.js";

test("downscaling keeps the aspect ratio and never upscales", () => {
  assert.deepEqual(fitWithin(4000, 3000, 512), { width: 512, height: 384 });
  assert.deepEqual(fitWithin(3000, 4000, 512), { width: 384, height: 512 });
  assert.deepEqual(fitWithin(64, 48, 512), { width: 64, height: 48 });
  assert.deepEqual(fitWithin(10000, 10, 100), { width: 100, height: 1 });
});

test("decoded photos are kept at most at the largest output size", () => {
  assert.equal(MAX_KEPT_SIDE, 2048);
  assert.deepEqual(fitWithin(6000, 4000, MAX_KEPT_SIDE), { width: 2048, height: 1365 });
});
