// Paint mode: where each style goes, painted over the content preview and sent as each style's
// region-mask upload (white = the style applies; field names from uploads.js). The pure model and the pointer handling live in
// paint.js; this module wires its controls, the per-style colours and the export at upload size.
//
// Each style item owns a mask *slot* (0 .. max styles - 1) for as long as it is in the list, so reordering styles
// moves neither paint nor colour; removing a style frees and clears its slot.
import { FormatNotSupported, fitWithin } from "./images.js";
import { MaskPainter, STYLE_COLOURS, encodePNG } from "./paint.js";
import { maskField, maxStyles } from "./uploads.js";

const $ = (id) => document.getElementById(id);

export function slotColour(slot) {
  return STYLE_COLOURS[slot % STYLE_COLOURS.length];
}

export class RegionPainter {
  constructor() {
    this.painter = null;
    this.items = [];
    this.source = null; // {width, height} of the decoded content: uploads are scaled from it
    this.disabled = false;
    $("brush-size").addEventListener("input", () => this.#applyBrush());
    for (const radio of document.querySelectorAll('input[name="brush-mode"]')) radio.addEventListener("change", () => this.#applyBrush());
    $("paint-fill").addEventListener("click", () => this.painter?.fillRest());
    $("paint-clear").addEventListener("click", () => this.painter?.clear(false));
    $("paint-clear-all").addEventListener("click", () => this.painter?.clear(true));
    $("paint-undo").addEventListener("click", () => this.painter?.undo());
    $("paint").addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z" && this.painter && !this.disabled) {
        e.preventDefault();
        this.painter.undo();
      }
    });
    $("show-regions").addEventListener("change", () => this.#showOverlay());
    this.#update();
  }

  /** A new content image: a fresh, empty set of masks at its preview size (null: no preview, no painting). */
  setContent(url, preview, source) {
    this.painter?.destroy();
    this.painter = null;
    this.source = source;
    $("paint-image").src = url ?? "";
    if (url && preview) {
      this.painter = new MaskPainter($("paint-canvas"), { ...preview, styles: maxStyles(), onChange: () => this.#update() });
      this.#applyBrush();
    }
    this.setStyles(this.items); // the new painter paints the chosen style's slot
  }

  /** The style list changed (added, removed, reordered): rebuild the style choice. */
  setStyles(items) {
    this.items = items;
    const current = Number(document.querySelector('input[name="paint-style"]:checked')?.value ?? -1);
    const choice = items.find((i) => i.slot === current) ?? items[0];
    if (this.painter && choice) this.painter.style = choice.slot + 1;
    $("paint-styles").replaceChildren(...items.map((item, index) => {
      const label = document.createElement("label");
      label.className = "paint-style";
      const radio = Object.assign(document.createElement("input"), { type: "radio", name: "paint-style", value: String(item.slot) });
      radio.checked = item === choice;
      radio.dataset.testid = `paint-style-${index + 1}`;
      radio.addEventListener("change", () => {
        if (this.painter) this.painter.style = item.slot + 1;
      });
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = slotColour(item.slot);
      label.append(radio, swatch, `Style ${index + 1}`);
      return label;
    }));
    this.#update();
  }

  /** A style was removed: its region goes with it (from the undo steps too, so undo cannot revive it). */
  freeSlot(slot) {
    if (!this.painter) return;
    this.painter.set.masks[slot].fill(0);
    for (const step of this.painter.set.history) step[slot].fill(0);
    this.painter.render();
    this.#update();
  }

  /** A ready mask image for one style: its luminance x alpha (transparent = not here), stretched over the content. */
  async loadMask(slot, file) {
    if (!this.painter) throw new Error("choose a content image first");
    const bitmap = await createImageBitmap(file).catch(() => {
      throw new FormatNotSupported(file.name);
    });
    const { width, height } = this.painter.set;
    const canvas = Object.assign(document.createElement("canvas"), { width, height });
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    const data = ctx.getImageData(0, 0, width, height).data;
    this.painter.set.checkpoint();
    const mask = this.painter.set.masks[slot];
    for (let i = 0; i < mask.length; i++) {
      const grey = 0.299 * data[i * 4] + 0.587 * data[i * 4 + 1] + 0.114 * data[i * 4 + 2];
      mask[i] = (grey / 255) * (data[i * 4 + 3] / 255);
    }
    this.painter.render();
    this.#update();
  }

  /** Style numbers (1-based, list order) that have paint. */
  painted() {
    if (!this.painter) return [];
    return this.items.flatMap((item, index) => (this.painter.set.isEmpty(item.slot + 1) ? [] : [index + 1]));
  }

  /**
   * [{field, blob}] for the styles that have paint, each a greyscale PNG of exactly the size the content
   * is uploaded at for this output size (images.js encodeImage: the same fitWithin), so both line up.
   */
  async maskEntries(outputSize) {
    if (!this.painter || !this.source) return [];
    const target = fitWithin(this.source.width, this.source.height, outputSize);
    const { set } = this.painter;
    const out = [];
    for (const [index, item] of this.items.entries()) {
      if (set.isEmpty(item.slot + 1)) continue;
      const grey = resample(set.greyscale(item.slot + 1), set.width, set.height, target.width, target.height);
      out.push({ field: maskField(index), blob: new Blob([await encodePNG(grey, target.width, target.height)], { type: "image/png" }) });
    }
    return out;
  }

  /** The painted regions as they are now, for restoring later over the same content image. */
  save() {
    return this.painter ? { painter: this.painter, masks: this.painter.set.masks.map((m) => m.slice()) } : null;
  }

  /** Puts saved regions back (one undo step); false when the content image changed since (nothing to paint them on). */
  restore(saved) {
    if (!saved || saved.painter !== this.painter) return false;
    const { set } = this.painter;
    set.checkpoint();
    set.masks = saved.masks.map((m) => m.slice());
    this.painter.render();
    this.#update();
    return true;
  }

  /** While a job runs the regions are fixed: no painting, no controls. */
  setDisabled(disabled) {
    this.disabled = disabled;
    this.#update();
  }

  /** The regions of the run that starts now, for the overlay over the live image. */
  snapshotForRun() {
    const canvas = $("regions-overlay");
    const has = this.painted().length > 0;
    $("regions-toggle").hidden = !has;
    if (has) {
      const { set } = this.painter;
      canvas.width = set.width;
      canvas.height = set.height;
      canvas.getContext("2d").putImageData(new ImageData(set.overlayRGBA(STYLE_COLOURS, 0.5), set.width, set.height), 0, 0);
    }
    this.#showOverlay();
  }

  #showOverlay() {
    $("regions-overlay").hidden = $("regions-toggle").hidden || !$("show-regions").checked;
  }

  #applyBrush() {
    $("brush-size-value").textContent = `${$("brush-size").value} %`;
    if (!this.painter) return;
    const { width, height } = this.painter.set;
    // Brush size in % of the image's longest side, so it means the same on every image and screen.
    const radius = Math.max(1, (Number($("brush-size").value) / 100) * Math.max(width, height));
    const mode = document.querySelector('input[name="brush-mode"]:checked')?.value ?? "paint";
    this.painter.brush = { radius, hardness: 0.6, mode }; // 0.6: soft edges that still read as a region
    $("paint-canvas").dataset.mode = mode;
  }

  #update() {
    const ready = Boolean(this.painter) && this.items.length > 0;
    const usable = ready && !this.disabled;
    $("paint-stage").hidden = !this.painter;
    $("paint-canvas").style.pointerEvents = usable ? "" : "none";
    for (const id of ["brush-size", "paint-fill", "paint-clear", "paint-clear-all"]) $(id).disabled = !usable;
    for (const el of document.querySelectorAll('input[name="brush-mode"]')) el.disabled = !usable;
    // The style can be chosen before the content is: the painter made for it then paints that style.
    for (const el of document.querySelectorAll('input[name="paint-style"]')) el.disabled = this.disabled;
    $("paint-undo").disabled = !usable || !this.painter.set.canUndo;
    const painted = this.painted();
    $("paint").dataset.painted = painted.join(",");
    let note;
    if (!this.painter) note = "Choose a content image (one this browser can show) to paint on.";
    else if (!this.items.length) note = "Add a style image, then paint where it goes.";
    else if (!painted.length) note = "Nothing painted: every style applies everywhere.";
    else note = `Regions painted for style ${painted.join(", ")}; unpainted parts keep the content's look${
      painted.length < this.items.length ? " (a style without paint applies everywhere)" : ""}.`;
    $("paint-note").textContent = note;
  }
}

/** Greyscale image scaled to another size (bilinear through a canvas; identity when the sizes match). */
function resample(grey, width, height, toWidth, toHeight) {
  if (width === toWidth && height === toHeight) return grey;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < grey.length; i++) rgba.fill(grey[i], i * 4, i * 4 + 3), (rgba[i * 4 + 3] = 255);
  const src = Object.assign(document.createElement("canvas"), { width, height });
  src.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  const dst = Object.assign(document.createElement("canvas"), { width: toWidth, height: toHeight });
  const ctx = dst.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(src, 0, 0, toWidth, toHeight);
  const data = ctx.getImageData(0, 0, toWidth, toHeight).data;
  const out = new Uint8Array(toWidth * toHeight);
  for (let i = 0; i < out.length; i++) out[i] = data[i * 4];
  return out;
}
