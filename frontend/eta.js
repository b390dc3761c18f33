// The run's ETA: pure arithmetic, so it is unit-tested (tests/eta.test.mjs).
// Before the first snapshot the only figure is the server's pre-start estimate (its plan answer,
// from one start-up speed measurement), shown as an estimate. From the first snapshot on, the ETA is
// this job's own measured rate in seconds per pixel-iteration times the pixel-iterations left, each
// stage weighted by its pixels from the stream's plan line: on a loaded server that rate is the load
// it actually meets, so the ETA converges where the start-up figure would stay wrong.
import { formatDuration } from "./progress.js";
import { planWork } from "./stages.js";

/** Total iterations of a plan. */
function planIterations(plan) {
  return plan.reduce((n, stage) => n + stage.iterations, 0);
}

const usable = (s) => Number.isFinite(s?.iteration) && s.iteration > 0 && Number.isFinite(s?.elapsed) && s.elapsed >= 0;

/**
 * Seconds per pixel-iteration this job has shown, null before any usable snapshot. Samples are the
 * snapshots' {iteration, elapsed} (elapsed_s since the run began). With two or more, the rate is
 * the slope over the latest half of the work done: the set-up before the first snapshot (model,
 * style targets) is paid once and must not be extrapolated, and a server whose load changed shows
 * it in its recent snapshots. With one, it is that snapshot's elapsed time over its work.
 * null as well while no time has been measured (elapsed 0).
 */
export function measuredRate(plan, samples) {
  const points = samples.filter(usable)
    .map((s) => ({ work: planWork(plan, s.iteration), elapsed: s.elapsed }))
    .filter((p) => p.work > 0)
    .sort((a, b) => a.work - b.work || a.elapsed - b.elapsed);
  if (points.length === 0) return null;
  const last = points.at(-1);
  // The latest point at or before half the work done (the first point when none is): the window's start.
  let base = points[0];
  for (const p of points) if (p.work <= last.work / 2) base = p;
  if (last.work > base.work && last.elapsed > base.elapsed) {
    return (last.elapsed - base.elapsed) / (last.work - base.work);
  }
  // No time measured yet (elapsed 0) says nothing about the rate: the estimate stays.
  const rate = last.elapsed / last.work;
  return Number.isFinite(rate) && rate > 0 ? rate : null;
}

/**
 * Seconds left for `plan` after the latest of `samples`: {seconds, measured}. `measured` is false
 * while the figure is still the server's pre-start `estimateS` (null: no estimate either, seconds is
 * then null). `estimatePlan` is the plan that estimate was for, when it may differ from the stream's
 * (the estimate then scales by the two plans' work). Never NaN, negative or infinite.
 */
export function remaining(plan, samples, { estimateS = null, estimatePlan = null } = {}) {
  const latest = samples.filter(usable).reduce((a, s) => (a === null || s.iteration > a.iteration ? s : a), null);
  const total = planWork(plan);
  if (latest !== null && latest.iteration >= planIterations(plan)) return { seconds: 0, measured: true };
  const rate = measuredRate(plan, samples);
  if (rate !== null && latest !== null) {
    const seconds = rate * Math.max(0, total - planWork(plan, latest.iteration));
    if (Number.isFinite(seconds)) return { seconds: Math.max(0, seconds), measured: true };
  }
  if (!Number.isFinite(estimateS) || estimateS < 0) return { seconds: null, measured: false };
  let seconds = estimateS;
  const asked = estimatePlan ? planWork(estimatePlan) : 0;
  if (asked > 0 && total > 0) seconds = (estimateS / asked) * total;
  return { seconds: Number.isFinite(seconds) ? Math.max(0, seconds) : null, measured: false };
}

/** "52 s"; the pre-start figure "about 30 s (estimate)"; "–" when nothing is known. */
export function etaText({ seconds, measured }) {
  if (seconds === null || !Number.isFinite(seconds)) return "–";
  return measured ? formatDuration(seconds) : `about ${formatDuration(Math.max(1, seconds))} (estimate)`;
}
