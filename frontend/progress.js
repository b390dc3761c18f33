// Progress text and the loss chart geometry: pure functions, so they are unit-tested.
import { planWork } from "./stages.js";

export function progressPercent(iteration, iterations) {
  if (!(iterations > 0)) return 0;
  return Math.max(0, Math.min(100, Math.round((100 * iteration) / iterations)));
}

/**
 * Seconds left, extrapolated from the time per unit of work so far; null before any progress.
 * `plan` is the run's stage plan (stages.js): an iteration costs its stage's pixels, so with
 * multiscale the late iterations are much dearer than the early ones and a per-iteration
 * average would be ~2x optimistic.
 */
export function etaSeconds(elapsed, iteration, plan) {
  const total = planWork(plan);
  if (iteration >= planIterations(plan)) return 0;
  const done = planWork(plan, iteration);
  if (!(iteration > 0) || !(elapsed >= 0) || !(done > 0)) return null;
  return (elapsed / done) * (total - done);
}

function planIterations(plan) {
  return plan.reduce((n, stage) => n + stage.iterations, 0);
}

export function formatDuration(seconds) {
  if (seconds === null || !Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * SVG polyline points for the total loss over iterations. Losses span decades, so the y axis
 * is log10; non-positive or non-finite losses cannot be drawn on it and are skipped.
 */
export function lossPolyline(points, width, height, pad = 4) {
  const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.y > 0);
  if (usable.length === 0) return "";
  const xs = usable.map((p) => p.x);
  const ys = usable.map((p) => Math.log10(p.y));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => (x1 === x0 ? width / 2 : pad + ((x - x0) / (x1 - x0)) * (width - 2 * pad));
  const sy = (y) => (y1 === y0 ? height / 2 : pad + (1 - (y - y0) / (y1 - y0)) * (height - 2 * pad));
  return usable.map((p, i) => `${sx(xs[i]).toFixed(1)},${sy(ys[i]).toFixed(1)}`).join(" ");
}
