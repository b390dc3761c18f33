// The run's ETA from its own measured rate (eta.js), on simulated runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { etaText, measuredRate, remaining } from "../eta.js";
import { planWork } from "../stages.js";

// A 512 px multiscale plan of the engine's shape (as the server would send it; the app never plans).
const PLAN = [128, 181, 256, 362, 512].map((side) => ({ size: [side, side], iterations: 60 }));

/**
 * A simulated run: `startup` seconds before the first iteration (model, style targets), `setup` at
 * each stage, then each iteration costs its stage's pixels at `secondsPerPixel`, with a fixed jitter
 * of ±10 % so no two iterations cost the same. Returns the elapsed time after every iteration.
 */
function simulate(plan, { secondsPerPixel, startup = 5, setup = 0.3 }) {
  const times = [];
  let t = startup;
  let k = 0;
  for (const stage of plan) {
    t += setup;
    for (let i = 0; i < stage.iterations; i += 1, k += 1) {
      t += stage.size[0] * stage.size[1] * secondsPerPixel * (1 + 0.1 * Math.sin(k * 1.7));
      times.push(t);
    }
  }
  return times;
}

/** Snapshots every `every` iterations, as {iteration, elapsed}, up to and including `done`. */
const snapshots = (times, done, every = 10) =>
  times.slice(0, done).map((elapsed, i) => ({ iteration: i + 1, elapsed })).filter((s) => s.iteration % every === 0);

test("before any snapshot the ETA is the server's estimate, and says so", () => {
  const eta = remaining(PLAN, [], { estimateS: 30 });
  assert.deepEqual(eta, { seconds: 30, measured: false });
  assert.equal(etaText(eta), "about 30 s (estimate)");
  // The estimate was asked for a smaller plan than the stream's: it scales by the work.
  const half = PLAN.map((st) => ({ ...st, iterations: 30 }));
  assert.equal(remaining(PLAN, [], { estimateS: 15, estimatePlan: half }).seconds, 30);
  assert.equal(etaText(remaining(PLAN, [])), "–", "no estimate, no snapshot: unknown");
});

test("a run 3x slower than the pre-start estimate converges within 20 % by half-way", () => {
  const estimated = 2e-6; // the server's start-up speed: seconds per pixel-iteration
  const estimateS = estimated * planWork(PLAN);
  const times = simulate(PLAN, { secondsPerPixel: 3 * estimated });
  const total = times.at(-1);
  assert.ok(estimateS < total / 2.5, "the simulation really is slower than the estimate");
  let checked = 0;
  for (let done = 10; done < 300; done += 10) {
    const eta = remaining(PLAN, snapshots(times, done), { estimateS });
    assert.equal(eta.measured, true);
    const left = total - times[done - 1];
    // Half-way in time: from there on the measured ETA is within 20 % (0.5 s slack at the very end).
    if (times[done - 1] >= total / 2) {
      checked += 1;
      assert.ok(Math.abs(eta.seconds - left) <= 0.2 * left + 0.5, `${done}/300: ETA ${eta.seconds.toFixed(1)} s vs ${left.toFixed(1)} s left`);
    }
  }
  assert.ok(checked >= 3);
  // Even from 20 % of the iterations on (4 % of the pixel work): the start-up paid before the first
  // snapshot is not extrapolated, where elapsed / work done would say about twice the time left.
  for (let done = 60; done < 300; done += 10) {
    const eta = remaining(PLAN, snapshots(times, done), { estimateS });
    const left = total - times[done - 1];
    assert.ok(Math.abs(eta.seconds - left) <= 0.2 * left + 0.5, `${done}/300: ETA ${eta.seconds} vs ${left}`);
  }
  const naive = (times[59] / planWork(PLAN, 60)) * (planWork(PLAN) - planWork(PLAN, 60));
  assert.ok(naive > 1.5 * (total - times[59]), "the simulation really has a start-up cost");
});

test("the load changing mid-run: the ETA follows the recent rate", () => {
  const fast = simulate(PLAN, { secondsPerPixel: 1e-6 });
  // From iteration 150 on, the server is loaded 4x.
  const times = fast.map((t, i) => (i < 150 ? t : fast[149] + (t - fast[149]) * 4));
  const total = times.at(-1);
  const done = 240;
  const left = total - times[done - 1];
  const eta = remaining(PLAN, snapshots(times, done));
  assert.ok(Math.abs(eta.seconds - left) <= 0.2 * left, `ETA ${eta.seconds} vs ${left}`);
});

test("later stages weigh by their pixels: a per-iteration average would be far too optimistic", () => {
  // Exactly proportional to pixels, no set-up: the ETA is exact.
  const exact = [];
  let t = 0;
  for (const st of PLAN) for (let i = 0; i < st.iterations; i += 1) exact.push((t += st.size[0] * st.size[1] * 1e-6));
  const eta = remaining(PLAN, [{ iteration: 120, elapsed: exact[119] }]);
  assert.ok(Math.abs(eta.seconds - (exact.at(-1) - exact[119])) < 1e-9);
  const perIteration = (exact[119] / 120) * 180;
  assert.ok(perIteration < 0.3 * eta.seconds, "the plan's growing sizes matter");
  // Two growing stages: the rate measured in the small one predicts the large one by its pixels.
  const two = [{ size: [100, 100], iterations: 10 }, { size: [200, 200], iterations: 10 }];
  assert.equal(remaining(two, [{ iteration: 5, elapsed: 5e4 * 1e-4 }, { iteration: 10, elapsed: 1e5 * 1e-4 }]).seconds, 4e5 * 1e-4);
});

test("one snapshot, zero elapsed, odd inputs: never NaN, negative or infinite", () => {
  const cases = [
    [[{ iteration: 1, elapsed: 0 }], {}],
    [[{ iteration: 0, elapsed: 0 }], { estimateS: 12 }],
    [[{ iteration: 10, elapsed: 3 }], {}],
    [[{ iteration: 10, elapsed: 3 }, { iteration: 10, elapsed: 3 }], {}],
    [[{ iteration: 20, elapsed: 3 }, { iteration: 10, elapsed: 5 }], {}], // elapsed going backwards
    [[{ iteration: 5, elapsed: Number.NaN }], { estimateS: Number.NaN }],
    [[{ iteration: 5, elapsed: Infinity }], { estimateS: -4 }],
    [[], { estimateS: 0 }],
  ];
  for (const [samples, options] of cases) {
    const eta = remaining(PLAN, samples, options);
    const ok = eta.seconds === null || (Number.isFinite(eta.seconds) && eta.seconds >= 0);
    assert.ok(ok, `${JSON.stringify(samples)} ${JSON.stringify(options)} -> ${eta.seconds}`);
    assert.doesNotMatch(etaText(eta), /NaN|Infinity|-\d/);
  }
  assert.deepEqual(remaining(PLAN, [{ iteration: 1, elapsed: 0 }], { estimateS: 7 }), { seconds: 7, measured: false },
    "no time measured yet: the estimate stays");
  assert.deepEqual(remaining(PLAN, [{ iteration: 0, elapsed: 0 }], { estimateS: 12 }), { seconds: 12, measured: false });
  assert.deepEqual(remaining(PLAN, [{ iteration: 300, elapsed: 9 }]), { seconds: 0, measured: true }, "finished");
  assert.equal(measuredRate(PLAN, []), null);
  assert.equal(etaText({ seconds: 52.4, measured: true }), "52 s");
});
