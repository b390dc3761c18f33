// "Your jobs": the kept jobs (keep=true, docs/api.md) this browser started. Their ids and cancel tokens
// live with the saved results in localStorage (saved.js, `kept: true`), so the list is there again after a
// reload or in a new tab. Each job's state is read from the front's status file
// (/results/<id>/status.json, rewritten by whichever worker holds it); polling backs off while nothing
// changes and stops once no job is waiting or running.
import { forgetResult, rememberResult, savedResults } from "./saved.js";
import { formatDuration } from "./progress.js";

const ACTIVE = new Set(["queued", "running"]);
export const POLL = { firstMs: 2000, maxMs: 30_000, factor: 2 };

/**
 * A status document (or its absence) as what the list shows: { state, percent, stage, stages, etaS,
 * position, message, preview, result }. `ageS`: seconds since the worker last touched the status (the
 * response's Date minus its Last-Modified); a waiting or running job older than its `stale_after_s`
 * belongs to a worker that stopped, and no one is left to say so but the reader.
 */
export function jobView(status, { ageS = null, httpStatus = 200 } = {}) {
  if (httpStatus === 404) return { state: "failed", message: "no longer on the server (it expired or was removed)" };
  const s = status ?? {};
  const stale = ["waiting", "running"].includes(s.state) && Number.isFinite(ageS) && Number.isFinite(s.stale_after_s) && ageS > s.stale_after_s;
  if (stale) return { state: "failed", message: `the server stopped working on it (no sign of life for ${formatDuration(ageS)}); start it again` };
  switch (s.state) {
    case "waiting":
      return { state: "queued", position: s.position ?? null, percent: 0 };
    case "running":
      return { state: "running", percent: Number(s.percent) || 0, stage: s.stage ?? 1, stages: s.stages ?? 1,
        etaS: Number.isFinite(s.eta_s) ? s.eta_s : null, preview: s.preview ?? null, updated: s.updated ?? null };
    case "done":
      return { state: "done", percent: 100, result: s.result ?? null, elapsedS: s.elapsed_s ?? null };
    case "failed":
      return { state: "failed", message: s.message ?? "" };
    case "cancelled":
      return { state: "cancelled" };
    default:
      return { state: "unknown" };
  }
}

/** One line of plain words for a job's state. */
export function jobText(view) {
  switch (view.state) {
    case "queued":
      return view.position ? `Queued (position ${view.position})` : "Queued";
    case "running": {
      const stage = view.stages > 1 ? ` · stage ${view.stage} of ${view.stages}` : "";
      const eta = view.etaS === null || view.etaS === undefined ? "" : ` · about ${formatDuration(view.etaS)} left`;
      return `Running${stage} · ${Math.round(view.percent)} %${eta}`;
    }
    case "done":
      return view.elapsedS ? `Done in ${formatDuration(view.elapsedS)}` : "Done";
    case "failed":
      return view.message ? `Failed: ${view.message}` : "Failed";
    case "cancelled":
      return "Cancelled";
    case "cancelling":
      return "Cancelling…";
    default:
      return "Checking…";
  }
}

export const isActive = (view) => ACTIVE.has(view.state) || view.state === "unknown" || view.state === "cancelling";

/**
 * Milliseconds until the next poll, or null to stop: soon after a change, twice as long after each poll
 * that changed nothing (up to POLL.maxMs), at least what a 429's Retry-After asks for.
 */
export function nextDelay(previousMs, { active, changed, retryAfterS = null }) {
  if (!active) return null;
  let ms = changed || !previousMs ? POLL.firstMs : Math.min(previousMs * POLL.factor, POLL.maxMs);
  if (Number.isFinite(retryAfterS) && retryAfterS > 0) ms = Math.max(ms, retryAfterS * 1000);
  return ms;
}

/** The view to remember in localStorage: ended states only (those no longer need a poll after a reload). */
const ended = (view) => ["done", "failed", "cancelled"].includes(view.state);

export class Jobs {
  /** `onMoved()`: a finished job left this list for the saved results (sharing.js shows those). */
  constructor(listEl, sectionEl, apiBase = "", { fetchFn = (...a) => fetch(...a), onMoved = () => {} } = {}) {
    Object.assign(this, { listEl, sectionEl, apiBase, fetchFn, onMoved });
    this.views = new Map(); // id -> view
    this.delay = 0;
    this.timer = null;
    this.signature = "";
    for (const r of this.#entries()) this.views.set(r.id, r.jobView ?? { state: "unknown" });
    document.addEventListener("visibilitychange", () => {
      // A hidden tab does not poll; back on screen, it asks at once.
      if (document.hidden) clearTimeout(this.timer);
      else this.poll();
    });
    this.render();
    this.poll();
  }

  #url(path) {
    return new URL(path, this.apiBase || location.origin).href;
  }

  #entries() {
    return savedResults().filter((r) => r.kept);
  }

  /** A kept job began (its stream's first line): listed at once, polled from now on. Returns the record. */
  add(kept, { label = "", size = null } = {}) {
    rememberResult({ id: kept.id, deleteToken: kept.delete_token, cancelToken: kept.cancel_token, url: kept.url,
      image: `/results/${kept.id}/preview.jpg`, kept: true, label, requestedSize: size, created: Date.now() });
    this.views.set(kept.id, { state: "queued", percent: 0 });
    this.delay = 0;
    this.render();
    this.#schedule(POLL.firstMs);
    return kept;
  }

  /** Asks the server to stop the job (its cancel token); the list then follows its status. */
  async cancel(id) {
    const r = this.#entries().find((e) => e.id === id);
    if (!r) return;
    this.views.set(id, { ...this.views.get(id), state: "cancelling" });
    this.render();
    const res = await this.fetchFn(this.#url(`/results/${id}/cancel`), { method: "POST", headers: { "X-Cancel-Token": r.cancelToken } }).catch(() => null);
    if (!res || (res.status >= 400 && res.status !== 409)) {
      const body = res ? await res.json().catch(() => ({})) : {};
      this.views.set(id, { state: "unknown", note: `Could not cancel: ${body.message ?? "the server did not answer"}` });
      this.render();
    }
    this.delay = 0;
    this.#schedule(0);
  }

  /** Off the list: a finished picture moves to the saved results (its link still works); anything else is forgotten. */
  remove(id) {
    const r = this.#entries().find((e) => e.id === id);
    const view = this.views.get(id);
    if (r && view?.state === "done") {
      const { jobView: _, ...rest } = r;
      rememberResult({ ...rest, kept: false, image: view.result?.image ?? r.image });
    } else {
      forgetResult(id);
    }
    this.views.delete(id);
    this.render();
    this.onMoved();
  }

  #schedule(ms) {
    clearTimeout(this.timer);
    // Said on the list (tests wait on it): whether another poll is coming, and when.
    this.listEl.dataset.polling = ms === null ? "off" : "on";
    this.listEl.dataset.nextPollMs = ms === null ? "" : String(ms);
    if (ms === null || document.hidden) return;
    this.timer = setTimeout(() => this.poll(), ms);
  }

  /** One status read per job that has not ended; then the next poll is scheduled (or none). */
  async poll() {
    clearTimeout(this.timer);
    const before = this.signature;
    let retryAfterS = null;
    await Promise.all(this.#entries().map(async (r) => {
      const old = this.views.get(r.id) ?? { state: "unknown" };
      if (!isActive(old)) return;
      const res = await this.fetchFn(this.#url(`/results/${r.id}/status.json`), { cache: "no-store" }).catch(() => null);
      if (!res) return; // unreachable: ask again later
      if (res.status === 429) {
        retryAfterS = Math.max(retryAfterS ?? 0, Number(res.headers.get("Retry-After")) || 0);
        return;
      }
      if (res.status !== 200 && res.status !== 404) return;
      const status = res.status === 200 ? await res.json().catch(() => null) : null;
      const ageS = (Date.parse(res.headers.get("Date")) - Date.parse(res.headers.get("Last-Modified"))) / 1000;
      const view = jobView(status, { ageS, httpStatus: res.status });
      if (old.state === "cancelling" && view.state === "running") return; // the worker has not read the marker yet
      if (!view.preview && old.preview && view.state !== "done") view.preview = old.preview; // a stopped job keeps its last look
      this.views.set(r.id, view);
      if (ended(view)) rememberResult({ ...r, jobView: view, ...(view.result ? { image: view.result.image } : {}) }, { inPlace: true });
    }));
    this.render();
    const active = [...this.views.values()].some(isActive);
    this.delay = nextDelay(this.delay, { active, changed: this.signature !== before, retryAfterS });
    this.#schedule(this.delay);
  }

  render() {
    const list = this.#entries();
    this.signature = JSON.stringify(list.map((r) => [r.id, this.views.get(r.id)]));
    this.listEl.replaceChildren(...list.map((r) => this.#item(r, this.views.get(r.id) ?? { state: "unknown" })));
    this.sectionEl.hidden = list.length === 0;
  }

  #item(r, view) {
    const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);
    const li = el("li", { className: "job" });
    li.dataset.testid = "job";
    li.dataset.state = view.state;
    const name = r.label || "Kept job";
    const picture = view.state === "done" ? view.result?.image : view.preview ? `${view.preview}?v=${view.updated ?? ""}` : null;
    const thumb = el("a", { className: "job-thumb", href: this.#url(r.url) });
    thumb.setAttribute("aria-label", `Open ${name}`);
    if (picture) thumb.append(el("img", { src: this.#url(picture), alt: "" }));
    const body = el("div", { className: "job-body" });
    body.append(el("p", { className: "job-name", textContent: `${name}${r.requestedSize ? ` · ${r.requestedSize} px` : ""}` }));
    const text = el("p", { className: "job-state", textContent: view.note ?? jobText(view) });
    text.dataset.testid = "job-state";
    body.append(text);
    if (view.state === "running" || view.state === "queued") {
      const bar = el("progress", { max: 100, value: view.percent ?? 0 });
      bar.setAttribute("aria-label", `${name}: ${Math.round(view.percent ?? 0)} %`);
      body.append(bar);
    }
    const actions = el("div", { className: "job-actions" });
    const open = el("a", { className: "button", href: this.#url(r.url), textContent: view.state === "done" ? "Open picture" : "Open progress page" });
    open.dataset.testid = "job-open";
    if (view.state !== "failed" && view.state !== "cancelled") actions.append(open);
    if (isActive(view) && view.state !== "cancelling") {
      const cancel = el("button", { type: "button", textContent: "Cancel job" });
      cancel.dataset.testid = "job-cancel";
      cancel.setAttribute("aria-label", `Cancel job: ${name}`);
      cancel.addEventListener("click", () => this.cancel(r.id));
      actions.append(cancel);
    } else if (ended(view)) {
      const remove = el("button", { type: "button", textContent: "Remove from list" });
      remove.dataset.testid = "job-remove";
      remove.setAttribute("aria-label", `Remove from list: ${name}`);
      remove.title = view.state === "done" ? "The picture stays under the results shared from this browser" : "";
      remove.addEventListener("click", () => this.remove(r.id));
      actions.append(remove);
    }
    li.append(thumb, body, actions);
    return li;
  }
}
