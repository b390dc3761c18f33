// The result side: current image, progress with ETA, loss chart, filmstrip and downloads.
// Every frame (snapshot or final) is kept as a Blob so any of them can be downloaded later.
import { encodeGif } from "./animation.js";
import { base64ToBlob } from "./api.js";
import { etaSeconds, formatDuration, lossPolyline, progressPercent } from "./progress.js";

const $ = (id) => document.getElementById(id);

export class Results {
  constructor() {
    this.frames = []; // { blob, url, iteration, iterations, stage, stages, size, final }
    this.losses = [];
    this.selected = -1;
    $("download-gif").addEventListener("click", () => this.#downloadGif());
  }

  reset() {
    for (const f of this.frames) URL.revokeObjectURL(f.url);
    this.frames = [];
    this.losses = [];
    this.selected = -1;
    $("filmstrip").replaceChildren();
    $("loss-line").setAttribute("points", "");
    $("current-image").hidden = true;
    $("download-current").hidden = true;
    $("download-png").hidden = true;
    $("download-gif").disabled = true;
    $("download-error").textContent = "";
    this.#progress(0, "0 %");
    $("current-caption").textContent = "Waiting for the first snapshot…";
  }

  snapshot(event, received) {
    this.#add(event, base64ToBlob(event.image, "image/jpeg"), false, received);
    const pct = progressPercent(event.iteration, event.iterations);
    const eta = formatDuration(etaSeconds(event.elapsed_s, event.iteration, event.iterations));
    const stage = event.stages > 1 ? ` · stage ${event.stage}/${event.stages}` : "";
    this.#progress(pct, `${pct} % · iteration ${event.iteration} / ${event.iterations}${stage} · ETA ${eta}`);
  }

  done(event, received) {
    const frame = this.#add(event, base64ToBlob(event.image, "image/png"), true, received);
    const stopped = event.stopped && event.stopped !== "completed" ? ` (stopped: ${event.stopped.replace("_", " ")})` : "";
    this.#progress(100, `100 % · ${event.iteration} / ${event.iterations} iterations in ${formatDuration(event.elapsed_s)}${stopped}`);
    const png = $("download-png");
    png.href = frame.url;
    png.hidden = false;
    $("download-gif").disabled = this.frames.length < 2;
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
      this.losses.push({ x: event.iteration, y: event.losses.total });
      $("loss-line").setAttribute("points", lossPolyline(this.losses, 300, 80));
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
    const name = frame.final ? "final" : `iteration ${frame.iteration}`;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.setAttribute("aria-label", `Show ${name}`);
    const img = Object.assign(document.createElement("img"), { src: frame.url, alt: `Snapshot at ${name}` });
    const caption = Object.assign(document.createElement("span"), { textContent: frame.final ? "final" : String(frame.iteration) });
    button.append(img, caption);
    button.addEventListener("click", () => this.select(index));
    const download = Object.assign(document.createElement("a"), { href: frame.url, download: fileName(frame), textContent: "↓" });
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
    img.alt = name;
    const [w, h] = frame.size ?? [];
    $("current-caption").textContent = w ? `${name} · ${w}×${h} px` : name;
    const link = $("download-current");
    link.href = frame.url;
    link.download = fileName(frame);
    link.hidden = false;
    for (const [i, li] of [...$("filmstrip").children].entries()) {
      li.classList.toggle("selected", i === index);
      li.querySelector("button").setAttribute("aria-current", i === index ? "true" : "false");
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
      const gif = await encodeGif(this.frames.map((f) => f.blob), { width, height });
      const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(gif), download: "stylized-sequence.gif" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    } catch (err) {
      $("download-error").textContent = `Could not make the GIF: ${err.message}`;
    } finally {
      button.textContent = label;
      button.disabled = this.frames.length < 2;
    }
  }
}

function fileName(frame) {
  return frame.final ? "stylized.png" : `snapshot-${String(frame.iteration).padStart(5, "0")}.jpg`;
}
