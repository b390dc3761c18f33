import assert from "node:assert/strict";
import { test } from "node:test";
import { etaSeconds, formatDuration, lossPolyline, progressPercent } from "../progress.js";

test("progress percent is rounded and clamped", () => {
  assert.equal(progressPercent(0, 40), 0);
  assert.equal(progressPercent(10, 40), 25);
  assert.equal(progressPercent(1, 3), 33);
  assert.equal(progressPercent(40, 40), 100);
  assert.equal(progressPercent(50, 40), 100);
  assert.equal(progressPercent(5, 0), 0);
  assert.equal(progressPercent(5, undefined), 0);
});

test("ETA extrapolates the time per iteration", () => {
  assert.equal(etaSeconds(2, 10, 40), 6);
  assert.equal(etaSeconds(0.5, 1, 3), 1);
  assert.equal(etaSeconds(10, 40, 40), 0, "finished");
  assert.equal(etaSeconds(0, 0, 40), null, "no progress yet: unknown");
  assert.equal(etaSeconds(Number.NaN, 5, 40), null);
});

test("durations read naturally", () => {
  assert.equal(formatDuration(null), "–");
  assert.equal(formatDuration(Infinity), "–");
  assert.equal(formatDuration(0.4), "0 s");
  assert.equal(formatDuration(59.4), "59 s");
  assert.equal(formatDuration(61), "1 min 1 s");
  assert.equal(formatDuration(3725), "1 h 2 min");
});

test("loss chart: log scale, fits the box, skips unplottable points", () => {
  const points = [{ x: 0, y: 1000 }, { x: 10, y: 10 }, { x: 20, y: 0 }, { x: 30, y: 1 }, { x: 40, y: Number.NaN }];
  const coords = lossPolyline(points, 300, 80).split(" ").map((p) => p.split(",").map(Number));
  assert.equal(coords.length, 3);
  assert.deepEqual(coords[0], [4, 4], "first point: left, highest loss at the top");
  assert.deepEqual(coords[2], [296, 76], "last point: right, lowest at the bottom");
  assert.deepEqual(coords[1], [101.3, 52], "log10: loss 10 lies two thirds of the way down from 1000 to 1");
});

test("loss chart edge cases", () => {
  assert.equal(lossPolyline([], 300, 80), "");
  assert.equal(lossPolyline([{ x: 5, y: 3 }], 300, 80), "150.0,40.0");
});
