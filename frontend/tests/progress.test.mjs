import assert from "node:assert/strict";
import { test } from "node:test";
import { remaining } from "../eta.js";
import { formatDuration, formatLoss, lossAxes, lossPolyline, progressPercent, whereText } from "../progress.js";

// The ETA from one snapshot (eta.js; more snapshots and the pre-start estimate are in eta.test.mjs).
const etaSeconds = (elapsed, iteration, plan) => remaining(plan, [{ iteration, elapsed }]).seconds;

// Plans of about the engine's shape (as the server would send them): square stages from 128 px growing
// by sqrt(2), equal iterations per stage. Test fixtures only: the app itself never plans.
function approximatePlan(size, iterations, multiscale) {
  const sides = [];
  if (multiscale) for (let s = 128; s * 1.15 < size; s *= Math.SQRT2) sides.push(Math.round(s));
  sides.push(size);
  const n = Math.max(1, Math.min(sides.length, iterations));
  return sides.slice(sides.length - n).map((side, i) => ({
    size: [side, side], iterations: Math.floor(iterations / n) + (i < iterations % n ? 1 : 0),
  }));
}

test("progress percent is rounded and clamped", () => {
  assert.equal(progressPercent(0, 40), 0);
  assert.equal(progressPercent(10, 40), 25);
  assert.equal(progressPercent(1, 3), 33);
  assert.equal(progressPercent(40, 40), 100);
  assert.equal(progressPercent(50, 40), 100);
  assert.equal(progressPercent(5, 0), 0);
  assert.equal(progressPercent(5, undefined), 0);
});

test("ETA on one stage extrapolates the time per iteration", () => {
  const single = (n) => approximatePlan(64, n, false);
  assert.equal(etaSeconds(2, 10, single(40)), 6);
  assert.equal(etaSeconds(0.5, 1, single(3)), 1);
  assert.equal(etaSeconds(10, 40, single(40)), 0, "finished");
  assert.equal(etaSeconds(0, 0, single(40)), null, "no progress yet: unknown");
  assert.equal(etaSeconds(Number.NaN, 5, single(40)), null);
});

/**
 * A simulated multiscale run: each iteration takes time proportional to its stage's pixels, each
 * stage starts with a setup (its style targets); returns the elapsed time after every iteration.
 */
function simulate(size, iterations, { secondsPerPixel = 2e-6, setup = 0.2 } = {}) {
  const plan = approximatePlan(size, iterations, true);
  const times = [];
  let t = 0;
  for (const stage of plan) {
    t += setup;
    for (let i = 0; i < stage.iterations; i += 1) {
      t += stage.size[0] * stage.size[1] * secondsPerPixel;
      times.push(t);
    }
  }
  return { plan, times };
}

const within = (eta, left, tolerance = 0.3) => Math.abs(eta - left) <= tolerance * left + 0.5; // 0.5 s slack near the end

test("multiscale ETA (time per iteration proportional to stage pixels) is within 30 % from 20 % progress on", () => {
  for (const [size, iterations] of [[512, 300], [1024, 300], [256, 100], [768, 600], [2048, 400]]) {
    const run = simulate(size, iterations);
    for (let done = Math.ceil(iterations * 0.2); done < iterations; done += 1) {
      const left = run.times.at(-1) - run.times[done - 1];
      const eta = etaSeconds(run.times[done - 1], done, run.plan);
      assert.ok(within(eta, left), `pixel model, ${size} px, ${done}/${iterations}: ETA ${eta} vs ${left}`);
    }
  }
});

test("the per-iteration average the app used before is ~2x optimistic on the same run", () => {
  const { times } = simulate(512, 300);
  const done = 150;
  const naive = (times[done - 1] / done) * (300 - done);
  assert.ok(naive < 0.6 * (times.at(-1) - times[done - 1]), "the simulation really has the multiscale skew");
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

test("loss chart axes: decade ticks on the log scale, first/last iteration, a mark where each stage starts", () => {
  const points = [{ x: 10, y: 1000, stage: 1 }, { x: 20, y: 50, stage: 1 }, { x: 30, y: 400, stage: 2 }, { x: 40, y: 2, stage: 2 }];
  const axes = lossAxes(points, 300, 80);
  assert.deepEqual(axes.yTicks.map((t) => t.label), ["10", "100", "1000"]);
  const ys = axes.yTicks.map((t) => t.y);
  assert.ok(ys[0] > ys[1] && ys[1] > ys[2], "higher losses are drawn higher up");
  assert.deepEqual(axes.xTicks.map((t) => t.label), ["10", "40"]);
  assert.equal(axes.stages.length, 1);
  assert.equal(axes.stages[0].label, "stage 2");
  const [x20, x30] = lossPolyline(points, 300, 80).split(" ").slice(1, 3).map((p) => Number(p.split(",")[0]));
  assert.ok(axes.stages[0].x > x20 && axes.stages[0].x < x30, "the mark lies between the last point of stage 1 and the first of stage 2");
});

test("loss chart axes without a whole decade in range label the lowest and highest loss", () => {
  const axes = lossAxes([{ x: 1, y: 300, stage: 1 }, { x: 2, y: 200, stage: 1 }], 300, 80);
  assert.deepEqual(axes.yTicks.map((t) => t.label), ["300", "200"]);
  assert.deepEqual(axes.stages, []);
  assert.deepEqual(lossAxes([], 300, 80), { yTicks: [], xTicks: [], stages: [] });
  assert.equal(formatLoss(25000), "3e4");
  assert.equal(formatLoss(0.5), "0.5");
});

test("the progress line says the stage and, in a tiled stage, which tile of how many", () => {
  assert.equal(whereText({ stage: 1, stages: 1 }), "");
  assert.equal(whereText({ stage: 2, stages: 3 }), " · stage 2/3");
  assert.equal(whereText({ stage: 3, stages: 3, tile: 4, tiles: 12 }), " · stage 3/3 · tile\u00a04\u00a0of\u00a012");
  assert.equal(whereText({ stage: 1, stages: 1, tile: 7, tiles: 9 }), " · tile\u00a07\u00a0of\u00a09");
  assert.equal(whereText({ stage: 1, stages: 2, tile: 0, tiles: 0 }), " · stage 1/2"); // an untiled stage
  assert.equal(whereText({ stage: 9, stages: 9, tile: 0, tiles: 24 }), " · stage 9/9 · 24\u00a0tiles"); // the whole picture a step
});
