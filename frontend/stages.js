// The engine's multiscale plan (handler/stylize/engine.py stage_sizes / split_iterations), mirrored
// so the app can estimate work: an iteration at a stage costs about that stage's pixel count, so a
// 512 px run spends most of its time in the last stages although they hold the same iterations.

export const BASE_SIZE = 128;
export const STAGE_GROWTH = Math.SQRT2;

/** Longest side per stage: ~128 px growing by sqrt(2) up to `size`; a stage within 15 % of it is skipped. */
export function stageSizes(size, multiscale) {
  if (!multiscale || size <= BASE_SIZE * STAGE_GROWTH) return [size];
  const sizes = [];
  for (let s = BASE_SIZE; s * 1.15 < size; s *= STAGE_GROWTH) sizes.push(roundHalfEven(s));
  return [...sizes, size];
}

/** Equal share per stage, remainder to the earliest stages; never an empty stage. */
export function splitIterations(total, stages) {
  const n = Math.max(1, Math.min(stages, total));
  const base = Math.floor(total / n);
  const extra = total % n;
  return Array.from({ length: n }, (_, i) => base + (i < extra ? 1 : 0));
}

/** [{ side, iterations }] as the engine runs them (fewer iterations than stages drops the first stages). */
export function stagePlan(size, iterations, multiscale) {
  const sizes = stageSizes(size, multiscale);
  const budget = splitIterations(iterations, sizes.length);
  return sizes.slice(sizes.length - budget.length).map((side, i) => ({ side, iterations: budget[i] }));
}

/**
 * Work (pixel-iterations, in units of side², the aspect ratio cancels out) of the first `done`
 * iterations of a plan, and of the whole plan when `done` is omitted.
 */
export function planWork(plan, done = Infinity) {
  let left = done;
  let work = 0;
  for (const stage of plan) {
    const n = Math.max(0, Math.min(stage.iterations, left));
    work += n * stage.side * stage.side;
    left -= n;
  }
  return work;
}

/** Seconds a run takes at `pixelIterationsPerS` (output pixels = side² x aspect, aspect = h/w or w/h <= 1). */
export function estimateSeconds(plan, pixelIterationsPerS, aspect = 1) {
  return (planWork(plan) * aspect) / pixelIterationsPerS;
}

// Python's round() rounds halves to even; stage sides must match the engine's exactly.
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
