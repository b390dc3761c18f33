// The result side: current image, progress with ETA, loss chart, filmstrip and downloads.
// Every frame (snapshot or final) is kept as a Blob so any of them can be downloaded later.
import { encodeGif } from "./animation.js";
import { base64ToBlob } from "./api.js";
import { downloadName } from "./names.js";
import { etaText, remaining } from "./eta.js";
import { formatDuration, lossAxes, lossPolyline, progressPercent, whereText } from "./progress.js";
import { parsePlan } from "./stages.js";

const $ = (id) => document.getElementById(id);
// The loss chart's plot area inside its 320 x 114 viewBox (index.html): room on the left for the
// loss labels, below for the iteration labels and, on a row of its own, the axis title (a single
// point's label sits in the middle, where the title would otherwise cover it).
const PLOT = { left: 40, top: 4, width: 272, height: 80 };
const SVG_NS = "http://www.w3.org/2000/svg";

export class Results {
  constructor() {
    this.frames = []; // { blob, url, iteration, iterations, stage, stages, size, final }
    this.losses = [];
    this.selected = -1;
    this.plan = null; // the run's stages, from the stream's plan line
    this.samples = []; // the snapshots' {iteration, elapsed}: this run's own measured rate
    this.estimate = { estimateS: null, estimatePlan: null }; // the server's pre-start figure
    this.names = { photo: "", styles: [], size: null }; // what the run is of: its download file names
    $("download-gif").addEventListener("click", () => this.#downloadGif());
    $("download-jpeg").addEventListener("click", () => this.#downloadJpeg());
    $("filmstrip").addEventListener("keydown", (e) => this.#filmstripKey(e));
    $("compare-slider").addEventListener("input", () => this.#compare());
    $("zoom").addEventListener("click", () => this.#zoom($("zoom").getAttribute("aria-pressed") !== "true"));
  }

  /** The content preview shown as "before" over the result (same aspect ratio: what was sent). */
  setBefore(url) {
    const before = $("before-image");
    before.src = url ?? "";
    before.dataset.available = url ? "true" : "false";
    this.#compare();
  }

  /**
   * A new run; `estimate` is the server's plan answer at Start ({estimateS, stages}), the ETA until
   * the first snapshots measure this run's own rate. `names`: { photo, styles, size } for file names.
   */
  reset(estimate = null, names = null) {
    if (names) this.names = names;
    this.plan = null;
    this.samples = [];
    this.estimate = { estimateS: estimate?.estimateS ?? null, estimatePlan: estimate?.stages ?? null };
    for (const f of this.frames) URL.revokeObjectURL(f.url);
    this.frames = [];
    this.losses = [];
    this.selected = -1;
    $("filmstrip").replaceChildren();
    this.#drawChart();
    $("current-image").hidden = true;
    $("download-current").hidden = true;
    $("download-png").hidden = true;
    $("download-jpeg").hidden = true;
    $("download-gif").hidden = true; // shown once there are two frames to animate
    $("download-error").textContent = "";
    $("view-tools").hidden = true;
    $("compare-slider").value = "0"; // the live image of a new run is not covered
    this.#compare();
    this.#zoom(false);
    this.#progress(0, `0 %${this.#preStart()}`);
    $("current-caption").textContent = "Waiting for the first snapshot…";
  }

  /** The stream's first line: the stages this run has, for the ETA. */
  planned(event) {
    try {
      this.plan = parsePlan(event);
    } catch {
      this.plan = null;
    }
    if (this.samples.length === 0) this.#progress(0, `0 %${this.#preStart()}`);
  }

  /** " · ETA about 30 s (estimate)" before the first snapshot, while the server gave an estimate. */
  #preStart() {
    const eta = remaining(this.plan ?? this.estimate.estimatePlan ?? [], [], this.estimate);
    return eta.seconds === null ? "" : ` · ETA ${etaText(eta)}`;
  }

  /** The job waits in the server's queue (a `queued` line). */
  queued(position) {
    this.#progress(0, `0 % · queued (position ${position})`);
  }

  snapshot(event, received) {
    this.#add(event, base64ToBlob(event.image, "image/jpeg"), false, received);
    const pct = progressPercent(event.iteration, event.iterations);
    // The server may have adapted iterations (event.iterations is what it runs); stages per the engine.
    // The stream's plan line weighs each iteration by its stage's pixels; without one, all weigh the same.
    // This run's own snapshots give the rate: a loaded server's ETA converges (eta.js).
    const plan = this.plan ?? [{ size: [1, 1], iterations: event.iterations }];
    this.samples.push({ iteration: event.iteration, elapsed: event.elapsed_s });
    const eta = etaText(remaining(plan, this.samples, this.plan ? this.estimate : {}));
    this.#progress(pct, `${pct} % · iteration ${event.iteration} / ${event.iterations}${whereText(event)} · ETA ${eta}`);
  }

  /** After a failure: no "waiting" left on screen; what was received (if anything) stays. */
  failed() {
    const last = this.frames.at(-1);
    $("current-caption").textContent = last
      ? `The run failed at iteration ${last.iteration} / ${last.iterations}; the snapshots received are kept below.`
      : "No result: the run failed before the first snapshot (see the message under Start).";
    this.#progress($("progress").value, last ? `Failed at iteration ${last.iteration} / ${last.iterations}` : "Failed");
  }

  /** After Cancel: where the run stopped, no ETA (nothing is left to wait for). */
  cancelled() {
    const last = this.frames.at(-1);
    const where = last ? ` at iteration ${last.iteration} / ${last.iterations}` : " before the first snapshot";
    this.#progress($("progress").value, `Cancelled${where}`);
  }

  /**
   * The done line: the PNG as base64, or for a stored big picture its link (`image_link`, fetched here;
   * relative to `apiBase`, the page's origin by default).
   */
  done(event, received, apiBase = "") {
    if (event.image !== undefined) {
      this.#done(event, base64ToBlob(event.image, "image/png"), received);
      return Promise.resolve();
    }
    this.#progress(100, "100 % · fetching the result…");
    return fetch(new URL(event.image_link, apiBase || globalThis.location.origin).href)
      .then((answer) => {
        if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
        return answer.blob();
      })
      .then((blob) => this.#done(event, blob, received))
      .catch((err) => this.#progress(100, `Done, but the result could not be fetched (${err.message}): ${event.image_link}`));
  }

  #done(event, blob, received) {
    const frame = this.#add(event, blob, true, received);
    const stopped = event.stopped && event.stopped !== "completed" ? ` (stopped: ${event.stopped.replace("_", " ")})` : "";
    this.#progress(100, `100 % · ${event.iteration} / ${event.iterations} iterations in ${formatDuration(event.elapsed_s)}${stopped}`);
    const png = $("download-png");
    png.href = frame.url;
    png.download = downloadName(this.names, "png");
    png.hidden = false;
    $("download-jpeg").hidden = false;
    $("download-gif").hidden = this.frames.length < 2;
  }

  /** Line, log-scale ticks, first/last iteration and stage marks; the chart is hidden while it has nothing to show. */
  #drawChart() {
    const { left, top, width, height } = PLOT;
    $("loss-line").setAttribute("points", lossPolyline(this.losses, width, height));
    const axes = lossAxes(this.losses, width, height);
    const el = (name, attrs, text) => {
      const node = document.createElementNS(SVG_NS, name);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const bottom = top + height;
    const parts = [el("line", { x1: left, y1: top, x2: left, y2: bottom, class: "axis" }),
      el("line", { x1: left, y1: bottom, x2: left + width, y2: bottom, class: "axis" })];
    for (const t of axes.yTicks) {
      parts.push(el("line", { x1: left, y1: top + t.y, x2: left + width, y2: top + t.y, class: "grid" }));
      parts.push(el("text", { x: left - 4, y: top + t.y + 3, "text-anchor": "end" }, t.label));
    }
    for (const [i, t] of axes.xTicks.entries()) {
      const anchor = axes.xTicks.length === 1 ? "middle" : i === 0 ? "start" : "end";
      parts.push(el("text", { x: left + t.x, y: bottom + 12, "text-anchor": anchor }, t.label));
    }
    if (axes.xTicks.length) parts.push(el("text", { x: left + width / 2, y: bottom + 24, "text-anchor": "middle" }, "iteration"));
    for (const s of axes.stages) {
      parts.push(el("line", { x1: left + s.x, y1: top, x2: left + s.x, y2: bottom, class: "stage", "data-testid": "loss-stage" }));
      parts.push(el("text", { x: left + s.x + 2, y: top + 9, class: "stage-label" }, s.label));
    }
    // The latest loss as a dot: a single point draws no line, and the chart would look empty.
    const latest = $("loss-line").getAttribute("points").split(" ").at(-1).split(",").map(Number);
    if (latest.length === 2 && latest.every(Number.isFinite)) {
      parts.push(el("circle", { cx: left + latest[0], cy: top + latest[1], r: 2.5, class: "latest", "data-testid": "loss-latest" }));
    }
    $("loss-axes").replaceChildren(...parts);
    $("loss-stage-key").hidden = axes.stages.length === 0;
    $("loss-figure").hidden = this.losses.length === 0;
  }

  #progress(pct, text) {
    $("progress").value = pct;
    $("progress-text").textContent = text;
  }

  #add(event, blob, final, received) {
    const frame = {
      blob, url: URL.createObjectURL(blob), final, iteration: event.iteration, iterations: event.iterations,
      stage: event.stage, stages: event.stages, size: event.size,
    };
    this.frames.push(frame);
    if (event.losses && Number.isFinite(event.losses.total)) {
      this.losses.push({ x: event.iteration, y: event.losses.total, stage: event.stage });
      this.#drawChart();
      $("loss-caption").textContent = `Loss (log scale): ${event.losses.total.toPrecision(4)} at iteration ${event.iteration}`;
    }
    $("filmstrip").append(this.#thumb(frame, this.frames.length - 1, received));
    this.select(this.frames.length - 1);
    return frame;
  }

  #thumb(frame, index, received) {
    const li = document.createElement("li");
    li.dataset.testid = "filmstrip-item";
    li.dataset.kind = frame.final ? "final" : "snapshot";
    li.dataset.iteration = frame.iteration;
    // When (page clock) and in which network read the frame arrived: lets tests prove streaming.
    li.dataset.receivedMs = received.ms.toFixed(1);
    li.dataset.chunk = received.chunk;
    const name = frame.final ? "final result" : `iteration ${frame.iteration}`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.setAttribute("aria-label", `Show ${name}`);
    // One Tab stop for the whole filmstrip (roving tabindex): arrow keys move between snapshots.
    button.tabIndex = -1;
    // The button's label names the snapshot; the thumbnail itself adds nothing for a screen reader.
    const img = Object.assign(document.createElement("img"), { src: frame.url, alt: "" });
    const caption = Object.assign(document.createElement("span"), { textContent: frame.final ? "final" : String(frame.iteration) });
    button.append(img, caption);
    button.addEventListener("click", () => this.select(index));
    // Mouse shortcut; keyboard users download the selected image with "Download this image".
    const download = Object.assign(document.createElement("a"), { href: frame.url, download: this.#fileName(frame), textContent: "↓", tabIndex: -1 });
    download.className = "thumb-download";
    download.setAttribute("aria-label", `Download ${name}`);
    download.dataset.testid = "filmstrip-download";
    li.append(button, download);
    return li;
  }

  select(index) {
    const frame = this.frames[index];
    if (!frame) return;
    this.selected = index;
    const img = $("current-image");
    img.src = frame.url;
    img.hidden = false;
    const name = frame.final ? "Final image" : `Snapshot at iteration ${frame.iteration} of ${frame.iterations}`;
    img.alt = frame.final ? "Stylised result: the final image" : `Stylised result in progress, iteration ${frame.iteration} of ${frame.iterations}`;
    const [w, h] = frame.size ?? [];
    $("current-caption").textContent = w ? `${name} · ${w}×${h} px` : name;
    $("view-tools").hidden = false;
    const link = $("download-current");
    link.href = frame.url;
    link.download = this.#fileName(frame);
    link.hidden = false;
    for (const [i, li] of [...$("filmstrip").children].entries()) {
      li.classList.toggle("selected", i === index);
      const button = li.querySelector("button");
      button.setAttribute("aria-current", i === index ? "true" : "false");
      button.tabIndex = i === index ? 0 : -1;
    }
  }

  #filmstripKey(e) {
    const step = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 }[e.key];
    let target;
    if (step) target = this.selected + step;
    else if (e.key === "Home") target = 0;
    else if (e.key === "End") target = this.frames.length - 1;
    else return;
    e.preventDefault();
    target = Math.max(0, Math.min(this.frames.length - 1, target));
    this.select(target);
    $("filmstrip").children[target]?.querySelector("button").focus();
  }

  /** Before/after: the content covers the left `value` % of the result. */
  #compare() {
    const slider = $("compare-slider");
    const before = $("before-image");
    const value = Number(slider.value);
    const available = before.dataset.available === "true";
    before.hidden = !available || value === 0;
    before.style.clipPath = `inset(0 ${100 - value}% 0 0)`;
    $("compare").style.setProperty("--split", `${value}%`);
    $("compare").dataset.split = before.hidden ? "off" : "on";
    slider.disabled = !available;
    slider.setAttribute("aria-valuetext", value === 0 ? "result only" : value === 100 ? "content image only" : `content image over the left ${value} %`);
  }

  /** Zoom to 100 %: the image at its own pixel size in a scrollable view; off: fit the column. */
  #zoom(actual) {
    $("viewer").dataset.zoom = actual ? "actual" : "fit";
    $("zoom").setAttribute("aria-pressed", String(actual));
  }

  #fileName(frame) {
    if (frame.final) return downloadName(this.names, "png");
    return downloadName(this.names, "jpg").replace(/\.jpg$/, `-iteration-${String(frame.iteration).padStart(5, "0")}.jpg`);
  }

  /** The final image as JPEG (a tenth of the PNG's bytes for a photo), encoded here from the PNG. */
  async #downloadJpeg() {
    $("download-error").textContent = "";
    try {
      const bitmap = await createImageBitmap(this.frames.at(-1).blob);
      const canvas = Object.assign(document.createElement("canvas"), { width: bitmap.width, height: bitmap.height });
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      bitmap.close();
      const jpeg = await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("could not encode"))), "image/jpeg", 0.92));
      save(jpeg, downloadName(this.names, "jpg"));
    } catch (err) {
      $("download-error").textContent = `Could not make the JPEG: ${err.message}`;
    }
  }

  async #downloadGif() {
    const button = $("download-gif");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = "Encoding GIF…";
    $("download-error").textContent = "";
    try {
      const last = this.frames.at(-1);
      const [width, height] = last.size ?? [512, 512];
      // Every frame received: each snapshot and the final image (snapshot_every sets how many there are).
      const gif = await encodeGif(this.frames.map((f) => f.blob), { width, height });
      save(gif, downloadName(this.names, "gif"));
    } catch (err) {
      $("download-error").textContent = `Could not make the GIF: ${err.message}`;
    } finally {
      button.textContent = label;
      button.disabled = this.frames.length < 2;
    }
  }
}

/** A blob offered as a download named `name`. */
function save(blob, name) {
  const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}
