// The runs of this browser tab, side by side with their settings so a user can compare them.
// Kept in memory only (the images are object URLs of this page): nothing goes to the server.
import { formatDuration } from "./progress.js";

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
    `${styles} style image${styles === 1 ? "" : "s"} · seed ${values.seed}`,
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

  /** `extra` (blend weights, saved regions …) comes back to onUse(values, extra, n) as it was given. */
  add({ blob, values, styles, elapsedS, stopped, shares = [], painted = [], extra = {} }) {
    const run = { n: (this.runs.at(-1)?.n ?? 0) + 1, url: URL.createObjectURL(blob), values: structuredClone(values), extra };
    this.runs.push(run);
    if (this.runs.length > MAX_RUNS) URL.revokeObjectURL(this.runs.shift().url);
    const li = document.createElement("li");
    li.className = "run";
    li.dataset.testid = "history-run";
    const title = Object.assign(document.createElement("h3"), { textContent: `Run ${run.n}` });
    const img = Object.assign(document.createElement("img"), { src: run.url, alt: `Result of run ${run.n}` });
    const list = document.createElement("ul");
    for (const line of describeRun(values, { styles, elapsedS, stopped, shares, painted })) list.append(Object.assign(document.createElement("li"), { textContent: line }));
    const use = Object.assign(document.createElement("button"), { type: "button", textContent: "Use these settings" });
    use.setAttribute("aria-label", `Use these settings: run ${run.n}`);
    use.addEventListener("click", () => this.onUse(run.values, run.extra, run.n));
    li.append(title, img, list, use);
    this.listEl.prepend(li); // newest first: next to the current result
    while (this.listEl.children.length > MAX_RUNS) this.listEl.lastElementChild.remove();
    this.emptyEl.hidden = true;
  }
}
