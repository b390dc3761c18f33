import assert from "node:assert/strict";
import { test } from "node:test";
import { POLL, isActive, jobText, jobView, nextDelay } from "../jobs.js";

const running = { state: "running", percent: 42.4, stage: 2, stages: 3, eta_s: 95, preview: "/results/x/preview.jpg", stale_after_s: 10 };

test("a running job says its stage, percent and time left", () => {
  const view = jobView(running, { ageS: 1 });
  assert.equal(view.state, "running");
  assert.equal(jobText(view), "Running · stage 2 of 3 · 42 % · about 1 min 35 s left");
  assert.equal(jobText(jobView({ ...running, stages: 1, eta_s: null })), "Running · 42 %");
});

test("waiting, done, failed and cancelled read in plain words", () => {
  assert.equal(jobText(jobView({ state: "waiting", position: 2 })), "Queued (position 2)");
  assert.equal(jobText(jobView({ state: "waiting", position: null })), "Queued");
  const done = jobView({ state: "done", elapsed_s: 75, result: { image: "/results/x/final.png" } });
  assert.equal(done.result.image, "/results/x/final.png");
  assert.equal(jobText(done), "Done in 1 min 15 s");
  assert.equal(jobText(jobView({ state: "failed", message: "out of memory" })), "Failed: out of memory");
  assert.equal(jobText(jobView({ state: "cancelled" })), "Cancelled");
});

test("a running status whose worker stopped touching it reads as failed", () => {
  const view = jobView(running, { ageS: 30 });
  assert.equal(view.state, "failed");
  assert.match(jobText(view), /stopped working on it/);
  assert.equal(jobView(running, { ageS: 9 }).state, "running");
  assert.equal(jobView({ state: "done" }, { ageS: 3600 }).state, "done"); // an ended status is never stale
});

test("a job the server no longer has is failed, not polled for ever", () => {
  const view = jobView(null, { httpStatus: 404 });
  assert.equal(view.state, "failed");
  assert.equal(isActive(view), false);
});

test("polling backs off while nothing changes, resets on a change, stops when nothing runs", () => {
  let ms = nextDelay(0, { active: true, changed: false });
  assert.equal(ms, POLL.firstMs);
  const seen = [ms];
  for (let i = 0; i < 8; i += 1) seen.push(ms = nextDelay(ms, { active: true, changed: false }));
  assert.deepEqual(seen.slice(0, 4), [POLL.firstMs, 2 * POLL.firstMs, 4 * POLL.firstMs, 8 * POLL.firstMs]);
  assert.equal(seen.at(-1), POLL.maxMs);
  assert.ok(seen.every((d, i) => i === 0 || d >= seen[i - 1]));
  assert.equal(nextDelay(ms, { active: true, changed: true }), POLL.firstMs);
  assert.equal(nextDelay(ms, { active: false, changed: true }), null);
  assert.equal(nextDelay(POLL.firstMs, { active: true, changed: true, retryAfterS: 5 }), 5000); // a 429's Retry-After
  assert.ok(isActive(jobView({ state: "waiting" })) && isActive(jobView(running)));
  assert.ok(!isActive(jobView({ state: "done" })) && !isActive(jobView({ state: "cancelled" })));
});
