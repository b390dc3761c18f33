// The multiscale plan as the server sends it (docs/CONTRACT.md): a stream's first line and the
// answer of a `response=plan` form, {"event": "plan", "stages": [{"size": [w, h], "iterations": n}, …]}.
// An iteration costs about its stage's pixel count, so a 512 px run spends most of its time in
// the last stages although they hold the same iterations.
import { toFormEntries } from "./params.js";

/** The stages of a plan record, checked; throws on a record that is not a usable plan. */
export function parsePlan(record) {
  const stages = record?.stages;
  const whole = (v) => Number.isInteger(v) && v > 0;
  if (record?.event !== "plan" || !Array.isArray(stages) || stages.length === 0
    || !stages.every((st) => Array.isArray(st?.size) && st.size.length === 2 && st.size.every(whole) && whole(st.iterations))) {
    throw new Error("not a plan record");
  }
  return stages.map((st) => ({ size: [st.size[0], st.size[1]], iterations: st.iterations }));
}

/** Work (pixel-iterations) of the first `done` iterations of a plan, and of the whole plan when `done` is omitted. */
export function planWork(plan, done = Infinity) {
  let left = done;
  let work = 0;
  for (const stage of plan) {
    const n = Math.max(0, Math.min(stage.iterations, left));
    work += n * stage.size[0] * stage.size[1];
    left -= n;
  }
  return work;
}

/** Seconds a plan takes at `pixelIterationsPerS`. */
export function estimateSeconds(plan, pixelIterationsPerS) {
  return planWork(plan) / pixelIterationsPerS;
}

/** The `response=plan` question for these params and a content of width x height pixels. */
export function planQuestion(values, width, height) {
  return new URLSearchParams([["response", "plan"], ...toFormEntries(values), ["width", String(width)], ["height", String(height)]]);
}

/**
 * Ask the server (`url`: the same API URL as jobs) which stages a job would run; resolves with
 * the stages, rejects on any failure (the caller then shows no estimate). A form-urlencoded POST
 * is a "simple" cross-origin request: no preflight.
 */
export async function fetchPlan(url, values, { width, height }, { fetchFn = fetch, signal } = {}) {
  const response = await fetchFn(url, {
    method: "POST", body: planQuestion(values, width, height), signal,
    headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return parsePlan(await response.json());
}

/** `fn` called once `ms` after the last call (the latest arguments win). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/**
 * A square plan of about the engine's shape (~128 px growing by sqrt(2), equal iterations per
 * stage). Only for choosing the first-run preview size before any content is picked, where no
 * width and height exist to ask the server with; estimates and the ETA use the server's plan.
 */
export function approximatePlan(size, iterations, multiscale) {
  const sides = [];
  if (multiscale) for (let s = 128; s * 1.15 < size; s *= Math.SQRT2) sides.push(Math.round(s));
  sides.push(size);
  const n = Math.max(1, Math.min(sides.length, iterations));
  return sides.slice(sides.length - n).map((side, i) => ({
    size: [side, side], iterations: Math.floor(iterations / n) + (i < iterations % n ? 1 : 0),
  }));
}
