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

/**
 * ETA that learns from the snapshots of the run. Time per iteration is modelled as a + b x (stage
 * pixels): b alone (the pixel model of etaSeconds) until two stages have been timed, then a and b
 * fitted to the measured rate of each stage. The constant part matters where fixed costs per
 * iteration dominate (small images, a busy CPU); a stage's setup (its style Gram targets) is
 * left out of the rates by timing only between snapshots of the same stage.
 */
export class EtaModel {
  constructor(plan) {
    this.plan = plan;
    this.ends = [];
    let total = 0;
    for (const stage of plan) this.ends.push((total += stage.iterations));
    this.points = [];
  }

  /** The 0-based stage an (1-based) iteration belongs to. */
  stageOf(iteration) {
    const k = this.ends.findIndex((end) => iteration <= end);
    return k === -1 ? this.plan.length - 1 : k;
  }

  observe(iteration, elapsed) {
    const last = this.points.at(-1);
    if (Number.isFinite(elapsed) && iteration > 0 && (!last || iteration > last.iteration)) this.points.push({ iteration, elapsed });
  }

  /** Seconds per iteration per timed stage: [{ pixels, rate }]. */
  stageRates() {
    const sums = new Map();
    for (let j = 1; j < this.points.length; j += 1) {
      const [p, q] = [this.points[j - 1], this.points[j]];
      const k = this.stageOf(q.iteration);
      if (this.stageOf(p.iteration) !== k) continue; // the interval holds the stage's setup
      const sum = sums.get(k) ?? { dt: 0, di: 0 };
      sum.dt += q.elapsed - p.elapsed;
      sum.di += q.iteration - p.iteration;
      sums.set(k, sum);
    }
    return [...sums].filter(([, s]) => s.di > 0).map(([k, s]) => ({ pixels: this.plan[k].side ** 2, rate: s.dt / s.di }));
  }

  /** Seconds left after the latest snapshot; null before one. */
  secondsLeft() {
    const last = this.points.at(-1);
    if (!last) return null;
    const total = planIterations(this.plan);
    if (last.iteration >= total) return 0;
    const rates = this.stageRates();
    if (rates.length === 0) return etaSeconds(last.elapsed, last.iteration, this.plan);
    const { a, b } = fitRate(rates);
    let left = 0;
    for (const [k, stage] of this.plan.entries()) {
      const remaining = Math.min(stage.iterations, this.ends[k] - last.iteration);
      if (remaining > 0) left += remaining * (a + b * stage.side ** 2);
    }
    return left;
  }
}

/** rate = a + b x pixels, least squares, a and b >= 0; one stage timed: a = 0 (the pixel model). */
function fitRate(rates) {
  const n = rates.length;
  const mx = rates.reduce((s, r) => s + r.pixels, 0) / n;
  const my = rates.reduce((s, r) => s + r.rate, 0) / n;
  const sxx = rates.reduce((s, r) => s + (r.pixels - mx) ** 2, 0);
  const sxy = rates.reduce((s, r) => s + (r.pixels - mx) * (r.rate - my), 0);
  if (n >= 2 && sxx > 0) {
    const b = sxy / sxx;
    const a = my - b * mx;
    if (b <= 0) return { a: my, b: 0 }; // no growth with size measured: a constant rate
    if (a >= 0) return { a, b };
  }
  // Through the origin: the pure pixel model.
  return { a: 0, b: rates.reduce((s, r) => s + r.rate * r.pixels, 0) / rates.reduce((s, r) => s + r.pixels ** 2, 0) };
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
