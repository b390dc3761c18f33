// The multiscale plan as the server sends it (docs/CONTRACT.md): a stream's first line and the
// answer of a plan question, {"event": "plan", "stages": [{"size": [w, h], "iterations": n}, …]}.
// The app never plans itself: the stages, the estimate, the most iterations and every message about
// a parameter are the server's answer. An iteration costs about its stage's pixel count, so the ETA
// (progress.js) weights the server's stages by their pixels.
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

/** The plan question: the params as typed, and the content's width and height in pixels. */
export function planQuestion(raw, width, height) {
  return new URLSearchParams([...toFormEntries(raw), ["width", String(width)], ["height", String(height)]]);
}

/** The server refused the question (HTTP 4xx); `message` is its own, naming the field ("iterations: …"). */
export class PlanRefused extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * A function asking the server which stages a job would run, and how it sees the params:
 * `ask(raw, {width, height}, {signal})` resolves with {stages, params (the server's values),
 * maxIterations (the most at this size, for this content), estimateS (null: no speed known)}; rejects
 * with PlanRefused for a 4xx naming a field, or another error (then the app shows no estimate).
 * It asks the front's GET `${apiBase}/plan` (its own, gentle rate limit, so typing never uses up the job
 * limit); where there is no such route (apiBase is the model server itself) it POSTs the form
 * response=plan to the jobs URL, a "simple" cross-origin request that needs no preflight.
 */
export function planAsker(apiBase, jobsUrl, { fetchFn = fetch } = {}) {
  let direct = false;
  const json = { Accept: "application/json" };
  return async function ask(raw, { width, height }, { signal } = {}) {
    const question = planQuestion(raw, width, height);
    let response = null;
    if (!direct) {
      try {
        response = await fetchFn(`${apiBase}/plan?${question}`, { headers: json, signal });
      } catch (err) {
        if (signal?.aborted) throw err;
        response = null; // a model server's 404 may lack the CORS headers: the browser reports no answer at all
      }
      if (!response || response.status === 404 || response.status === 405) {
        direct = true;
        response = null;
      }
    }
    if (!response) {
      question.set("response", "plan");
      response = await fetchFn(jobsUrl, {
        method: "POST", body: question, signal, headers: { ...json, "Content-Type": "application/x-www-form-urlencoded" },
      });
    }
    const answer = await response.json().catch(() => null);
    if (response.status >= 400 && response.status < 500 && response.status !== 429 && typeof answer?.message === "string") {
      throw new PlanRefused(answer.message, response.status);
    }
    if (!response.ok) throw new Error(`plan: HTTP ${response.status}`);
    const maxIterations = Number.isInteger(answer?.max_iterations) ? answer.max_iterations : null;
    const estimateS = Number.isFinite(answer?.estimate_s) ? answer.estimate_s : null;
    return { stages: parsePlan(answer), params: answer.params ?? {}, maxIterations, estimateS };
  };
}

/** `fn` called once `ms` after the last call (the latest arguments win). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
