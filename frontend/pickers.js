// Content picker and the list of style images (add, blend, reorder, remove), with previews.
import { blendFieldValue, displayPercents, moveItem, rescaleShares, setShare } from "./blend.js";
import { FormatNotSupported, encodeImage, fitWithin, loadImage } from "./images.js";
import { maskField, maxStyles, styleField } from "./uploads.js";
import { slotColour } from "./regions.js";

const PREVIEW_SIDE = 512;

/** File dialog and drag-and-drop on one label element. */
export function bindDropzone(zone, input, onFiles) {
  input.addEventListener("change", () => {
    if (input.files.length) onFiles([...input.files]);
    input.value = ""; // picking the same file again still fires change
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    // While a job runs the pickers are disabled; a drop must not change the inputs either.
    if (!input.disabled && e.dataTransfer.files.length) onFiles([...e.dataTransfer.files]);
  });
}

/** Preview URL of what will be sent (upright, downscaled). */
async function previewUrl(source) {
  return URL.createObjectURL(await encodeImage(source, PREVIEW_SIDE));
}

export class ContentPicker {
  constructor(img, hint) {
    this.img = img;
    this.hint = hint;
    this.source = null;
  }

  /** Short side / long side of the picked image (1 before one is picked or when it cannot be read). */
  get aspect() {
    const b = this.source?.bitmap;
    return b ? Math.min(b.width, b.height) / Math.max(b.width, b.height) : 1;
  }

  /** Pixel size of the preview (what paint mode paints over), or null without one. */
  get previewSize() {
    const b = this.source?.bitmap;
    return b && !this.img.hidden ? fitWithin(b.width, b.height, PREVIEW_SIDE) : null;
  }

  /** URL of the upright preview (the "before" of the before/after view), or null. */
  get previewUrl() {
    return this.img.hidden ? null : this.img.src;
  }

  /** Rejects (FormatNotSupported) and keeps the current image when this browser cannot decode the file. */
  async set(file) {
    const loaded = await loadImage(file);
    const previous = this.source;
    this.source = loaded;
    previous?.bitmap?.close();
    const url = await previewUrl(this.source);
    if (this.img.src) URL.revokeObjectURL(this.img.src);
    this.img.hidden = false;
    this.img.src = url;
    this.img.alt = `Content image preview (${file.name})`;
    this.hint.textContent = `${file.name} — drop or click to replace`;
  }
}

export class StyleList {
  /** hooks: onRemove(item) when a style leaves the list, onMaskFile(item, index, file) for a ready region mask. */
  constructor(listEl, countEl, onChange = () => {}, hooks = {}) {
    this.listEl = listEl;
    this.countEl = countEl;
    this.onChange = onChange;
    this.hooks = hooks;
    this.items = []; // { source, url, weight, slot } slot: the style's region-mask slot and colour (regions.js)
    this.disabled = false;
  }

  /**
   * Adds files up to the server's number of style images. Returns { overflow, notSupported }: how many did
   * not fit, and the names of files this browser cannot decode as images (a text file renamed .jpg, or a
   * format this browser lacks), which are not added.
   */
  async add(files) {
    const notSupported = [];
    let overflow = 0;
    for (const file of files) {
      if (this.items.length >= maxStyles()) {
        overflow += 1;
        continue;
      }
      let source;
      try {
        source = await loadImage(file);
      } catch (err) {
        if (!(err instanceof FormatNotSupported)) throw err;
        notSupported.push(file.name);
        continue;
      }
      const used = new Set(this.items.map((i) => i.slot));
      const slot = [...Array(maxStyles()).keys()].find((k) => !used.has(k));
      // A new style gets an equal share (1/n); the others keep their proportions of the rest.
      const weights = rescaleShares(this.items.map((i) => i.weight), 1);
      this.items.push({ source, url: await previewUrl(source), weight: 0, slot });
      this.items.forEach((item, i) => { item.weight = weights[i]; });
    }
    this.render();
    return { overflow, notSupported };
  }

  /** Blend weights (list order) back from a saved run; false when the number of styles differs. */
  setWeights(weights) {
    if (weights.length !== this.items.length) return false;
    weights.forEach((w, i) => { this.items[i].weight = w; });
    this.render();
    return true;
  }

  /** Each style's share of the blend in whole percent (what the sliders show). */
  shares() {
    return displayPercents(this.items.map((i) => i.weight));
  }

  blend() {
    return blendFieldValue(this.items.map((i) => i.weight));
  }

  setDisabled(disabled) {
    this.disabled = disabled;
    // Buttons that do nothing at an end of the list (first "Move up", last "Move down") stay disabled,
    // and so does the slider of a lone style (it has the whole blend).
    for (const control of this.listEl.querySelectorAll("input, button")) {
      const lone = control.type === "range" && this.items.length === 1;
      control.disabled = disabled || control.dataset.atEdge === "true" || lone;
    }
  }

  render() {
    const shares = displayPercents(this.items.map((i) => i.weight));
    this.listEl.replaceChildren(...this.items.map((item, index) => this.#row(item, index, shares[index])));
    this.countEl.textContent = `(${this.items.length} of ${maxStyles()})`;
    this.setDisabled(this.disabled);
    this.onChange();
  }

  #row(item, index, share) {
    const n = index + 1;
    const li = document.createElement("li");
    li.className = "style-item";
    li.dataset.testid = `style-item-${n}`;
    // The style's colour: the same one marks its region in paint mode and over the live image.
    li.style.setProperty("--style-colour", slotColour(item.slot));
    const img = document.createElement("img");
    if (item.url) {
      img.src = item.url;
      img.alt = `Style image ${n}: ${item.source.file.name}`;
    } else {
      img.alt = `Style image ${n}: ${item.source.file.name} (no preview)`;
    }
    const sliderId = `blend-${n}`;
    const label = document.createElement("label");
    label.htmlFor = sliderId;
    label.textContent = `Blend ${n}`;
    const name = Object.assign(document.createElement("span"), { className: "style-name", textContent: `${n}. ${item.source.file.name}` });
    name.title = item.source.file.name;
    // The slider is the style's share: its position and the percentage beside it are the same number.
    const slider = Object.assign(document.createElement("input"), { type: "range", id: sliderId, min: 0, max: 100, step: 1, value: share });
    slider.disabled = this.items.length === 1; // one style has all of it
    slider.dataset.testid = `blend-${n}`;
    const out = document.createElement("output");
    out.htmlFor = sliderId;
    out.textContent = `${share} %`;
    slider.setAttribute("aria-valuetext", `${share} % of the style`);
    // While dragging: every style's share changes, so all outputs update on each input event
    // (no re-render, which would end the drag).
    slider.addEventListener("input", () => {
      const weights = setShare(this.items.map((i) => i.weight), index, Number(slider.value));
      this.items.forEach((it, i) => { it.weight = weights[i]; });
      this.#updateShares(index);
    });
    const buttons = document.createElement("div");
    buttons.className = "item-buttons";
    buttons.append(
      this.#button("↑", `Move style image ${n} up`, index === 0, () => this.#move(index, index - 1, "up")),
      this.#button("↓", `Move style image ${n} down`, index === this.items.length - 1, () => this.#move(index, index + 1, "down")),
      this.#button("✕", `Remove style image ${n}`, false, () => this.#remove(index), `remove-style-${n}`),
    );
    const error = document.createElement("p");
    error.className = "field-error";
    error.dataset.errorFor = styleField(index);
    error.dataset.testid = `error-${styleField(index)}`;
    const controls = document.createElement("div");
    controls.className = "blend";
    controls.append(label, slider, out);
    li.append(img, name, controls, buttons, this.#region(item, index), error);
    return li;
  }

  /** The style's region colour and a small file picker for a ready mask (it then shows, editable, in paint mode). */
  #region(item, index) {
    const n = index + 1;
    const row = document.createElement("div");
    row.className = "item-region";
    const swatch = Object.assign(document.createElement("span"), { className: "swatch", title: "This style's colour in paint mode" });
    swatch.style.background = slotColour(item.slot);
    const label = Object.assign(document.createElement("label"), { className: "mask-pick button", textContent: "Region mask…" });
    label.title = `Upload a region mask for style image ${n} (white = this style applies)`;
    const input = Object.assign(document.createElement("input"), { type: "file", accept: "image/*", className: "visually-hidden", id: `mask-input-${n}` });
    input.dataset.testid = `mask-input-${n}`;
    input.setAttribute("aria-label", `Region mask for style image ${n} (${maskField(index)})`);
    input.addEventListener("change", () => {
      if (input.files.length) this.hooks.onMaskFile?.(item, index, input.files[0]);
      input.value = "";
    });
    label.append(input);
    row.append(swatch, label);
    return row;
  }

  /** Every output and every other slider follows the shares (the dragged slider keeps its position). */
  #updateShares(dragged = -1) {
    const shares = displayPercents(this.items.map((i) => i.weight));
    for (const [index, li] of [...this.listEl.children].entries()) {
      li.querySelector("output").textContent = `${shares[index]} %`;
      const slider = li.querySelector('input[type="range"]');
      if (index !== dragged) slider.value = String(shares[index]);
      slider.setAttribute("aria-valuetext", `${shares[index]} % of the style`);
    }
  }

  #button(text, label, atEdge, onClick, testid) {
    const b = Object.assign(document.createElement("button"), { type: "button", textContent: text, disabled: atEdge });
    b.dataset.atEdge = String(atEdge);
    b.setAttribute("aria-label", label);
    if (testid) b.dataset.testid = testid;
    b.addEventListener("click", onClick);
    return b;
  }

  #move(from, to, direction) {
    this.items = moveItem(this.items, from, to);
    this.render();
    // Keep keyboard focus on the moved item's button so repeated presses keep moving it; at the end
    // of the list that button is disabled, so the opposite one takes focus.
    const same = this.listEl.querySelector(`[aria-label="Move style image ${to + 1} ${direction}"]`);
    const other = this.listEl.querySelector(`[aria-label="Move style image ${to + 1} ${direction === "up" ? "down" : "up"}"]`);
    (same && !same.disabled ? same : other)?.focus();
  }

  /** Removes a style; focus goes to the style that took its place, else the one before, else "add files". */
  #remove(index) {
    const [item] = this.items.splice(index, 1);
    const weights = rescaleShares(this.items.map((i) => i.weight));
    this.items.forEach((it, i) => { it.weight = weights[i]; });
    this.hooks.onRemove?.(item);
    if (item.url) URL.revokeObjectURL(item.url);
    item.source.bitmap?.close();
    this.render();
    const next = Math.min(index, this.items.length - 1);
    const target = next >= 0 ? this.listEl.querySelector(`[data-testid="remove-style-${next + 1}"]`) : document.getElementById("style-input");
    target?.focus();
  }
}
