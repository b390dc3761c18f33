// The runs of this browser tab, side by side with their settings so a user can compare them. Each card
// shows the result, the paintings it was made with (thumbnail and name) and the settings. Nothing goes to
// the server; `records()` are what session.js keeps in IndexedDB so a reload brings the runs back.
import { formatDuration } from "./progress.js";
import { runLabel } from "./names.js";

const MAX_RUNS = 12;

/**
 * The settings worth comparing, as short "label: value" lines. `shares`: each style's blend share in
 * whole percent (list order); `painted`: style numbers that had painted regions.
 */
export function describeRun(values, { styles, elapsedS, stopped, shares = [], painted = [] }) {
  const lines = [
    `${values.size} px · ${values.iterations} iterations`,
    `style ${values.style_weight} · content ${values.content_weight} · TV ${values.tv_weight}`,
    `${values.optimizer}${values.multiscale ? " · multiscale" : ""}${values.preserve_colors ? " · colours kept" : ""} · from ${values.init}`,
    // Named paintings are shown on the card with their thumbnails; a bare count (older callers) is said here.
    Array.isArray(styles) ? `seed ${values.seed}` : `${styles} style image${styles === 1 ? "" : "s"} · seed ${values.seed}`,
  ];
  if (shares.length > 1) lines.push(`blend ${shares.map((s) => `${s} %`).join(" / ")}`);
  if (painted.length) lines.push(`regions painted for style ${painted.join(", ")}`);
  lines.push(`took ${formatDuration(elapsedS)}${stopped && stopped !== "completed" ? ` (${stopped.replace("_", " ")})` : ""}`);
  return lines;
}

export class RunHistory {
  constructor(listEl, emptyEl, onUse) {
    this.listEl = listEl;
    this.emptyEl = emptyEl;
    this.onUse = onUse;
    this.runs = [];
  }

  /**
   * `extra` (blend weights, saved regions …) comes back to onUse(values, extra, n) as it was given.
   * `styleImages`: [{ name, blob }] of the paintings used, shown small on the card with their names.
   */
  add({ blob, values, styles, elapsedS, stopped, shares = [], painted = [], extra = {}, styleImages = [], n = null }) {
    const names = styleImages.length ? styleImages.map((s) => s.name) : styles;
    const run = {
      n: n ?? (this.runs.at(-1)?.n ?? 0) + 1, blob, url: URL.createObjectURL(blob), values: structuredClone(values), extra,
      styleImages: styleImages.map((s) => ({ ...s, url: URL.createObjectURL(s.blob) })),
      card: { styles: names, elapsedS, stopped, shares, painted },
    };
    this.runs.push(run);
    if (this.runs.length > MAX_RUNS) forget(this.runs.shift());
    const li = document.createElement("li");
    li.className = "run";
    li.dataset.testid = "history-run";
    const title = Object.assign(document.createElement("h3"), { textContent: `Run ${run.n}` });
    const img = Object.assign(document.createElement("img"), { src: run.url, alt: `Result of run ${run.n}` });
    const list = document.createElement("ul");
    for (const line of describeRun(values, { styles: names, elapsedS, stopped, shares, painted })) list.append(Object.assign(document.createElement("li"), { textContent: line }));
    const use = Object.assign(document.createElement("button"), { type: "button", textContent: "Use these settings" });
    use.setAttribute("aria-label", `Use these settings: run ${run.n}`);
    use.addEventListener("click", () => this.onUse(run.values, run.extra, run.n));
    li.append(title, img, ...this.#paintings(run), list, use);
    this.listEl.prepend(li); // newest first: next to the current result
    while (this.listEl.children.length > MAX_RUNS) this.listEl.lastElementChild.remove();
    this.emptyEl.hidden = true;
  }

  /** The paintings of a run: each one's thumbnail and name ("The Starry Night"), in blend order. */
  #paintings(run) {
    if (!run.styleImages.length) return [];
    const ul = Object.assign(document.createElement("ul"), { className: "run-styles" });
    ul.dataset.testid = "history-styles";
    for (const s of run.styleImages) {
      const li = document.createElement("li");
      const name = runLabel({ styles: [s.name] });
      li.append(Object.assign(document.createElement("img"), { src: s.url, alt: "" }), Object.assign(document.createElement("span"), { textContent: name }));
      li.title = name;
      ul.append(li);
    }
    return [ul];
  }

  /** The runs as plain data with their Blobs (what IndexedDB stores); painted regions stay with this page. */
  records() {
    return this.runs.map((r) => ({
      n: r.n, blob: r.blob, values: r.values, styleImages: r.styleImages.map(({ name, blob }) => ({ name, blob })), ...r.card,
      extra: { weights: r.extra.weights ?? [], shares: r.extra.shares ?? [], painted: r.extra.painted ?? [], regions: null },
    }));
  }

  /** Runs saved by `records()` (a reload of this tab), oldest first, before any new one. */
  restore(records = []) {
    for (const r of records) {
      if (!(r?.blob instanceof Blob) || !r.values) continue;
      this.add({ blob: r.blob, values: r.values, styles: r.styles, elapsedS: r.elapsedS, stopped: r.stopped, shares: r.shares ?? [],
        painted: r.painted ?? [], extra: r.extra ?? {}, styleImages: r.styleImages ?? [], n: r.n });
    }
  }
}

function forget(run) {
  URL.revokeObjectURL(run.url);
  for (const s of run.styleImages) URL.revokeObjectURL(s.url);
}
