// The share page's reading of a kept job's status: a stale heartbeat (by the server's own Date) is a failure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { judged, progressText, resultId } from "../share.js";

const RUNNING = { state: "running", percent: 38.4, stage: 2, stages: 3, iteration: 140, iterations: 300, eta_s: 95.2, stale_after_s: 10 };

test("a running status with a fresh heartbeat stays running", () => {
  const s = judged(RUNNING, "Sat, 05 Dec 2026 07:00:09 GMT", "Sat, 05 Dec 2026 07:00:00 GMT");
  assert.equal(s.state, "running");
});

test("a heartbeat older than stale_after_s reads failed; an ended job is left as it is", () => {
  const s = judged(RUNNING, "Sat, 05 Dec 2026 07:00:11 GMT", "Sat, 05 Dec 2026 07:00:00 GMT");
  assert.equal(s.state, "failed");
  assert.match(s.message, /stopped/);
  const done = judged({ ...RUNNING, state: "done" }, "Sat, 05 Dec 2026 09:00:00 GMT", "Sat, 05 Dec 2026 07:00:00 GMT");
  assert.equal(done.state, "done");
  assert.equal(judged(RUNNING, null, null).state, "running"); // no headers: nothing to judge by
});

test("progress reads stage, percent and time left", () => {
  assert.equal(progressText(RUNNING), "Running: 38 % · stage 2 of 3 · iteration 140 of 300, about 95 s left");
  assert.equal(progressText({ state: "waiting", position: 2 }), "Waiting for memory on the server (position 2)…");
  assert.equal(resultId("/r/AAAAAAAAAAAAAAAAAAAAAA"), "AAAAAAAAAAAAAAAAAAAAAA");
  assert.equal(resultId("/r/../x"), null);
});
