import assert from "node:assert/strict";
import { test } from "node:test";
import { estimateSeconds, planWork, splitIterations, stagePlan, stageSizes } from "../stages.js";

test("stage sides match the engine's (handler/stylize/engine.py stage_sizes)", () => {
  // Expected values printed by the Python engine for the same sizes.
  assert.deepEqual(stageSizes(64, true), [64]);
  assert.deepEqual(stageSizes(181, true), [181]);
  assert.deepEqual(stageSizes(182, true), [128, 182]);
  assert.deepEqual(stageSizes(256, true), [128, 181, 256]);
  assert.deepEqual(stageSizes(300, true), [128, 181, 256, 300]);
  assert.deepEqual(stageSizes(512, true), [128, 181, 256, 362, 512]);
  assert.deepEqual(stageSizes(1024, true), [128, 181, 256, 362, 512, 724, 1024]);
  assert.deepEqual(stageSizes(2048, true), [128, 181, 256, 362, 512, 724, 1024, 1448, 2048]);
  assert.deepEqual(stageSizes(512, false), [512]);
});

test("iterations split equally, remainder to the earliest stages, no empty stage", () => {
  assert.deepEqual(splitIterations(300, 7), [43, 43, 43, 43, 43, 43, 42]);
  assert.deepEqual(splitIterations(2, 5), [1, 1]);
  assert.deepEqual(stagePlan(512, 2, true), [{ side: 362, iterations: 1 }, { side: 512, iterations: 1 }]);
});

test("work counts each iteration at its stage's pixels", () => {
  const plan = stagePlan(256, 3, true); // 128, 181, 256 with one iteration each
  assert.equal(planWork(plan), 128 ** 2 + 181 ** 2 + 256 ** 2);
  assert.equal(planWork(plan, 1), 128 ** 2);
  assert.equal(planWork(plan, 0), 0);
  assert.equal(estimateSeconds(stagePlan(100, 10, false), 1000, 0.5), 50);
});
