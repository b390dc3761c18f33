// Content picker and the list of style images (add, blend, reorder, remove), with previews.
import { blendFieldValue, moveItem, normaliseBlend } from "./blend.js";
import { styleFieldName } from "./errors.js";
import { encodeImage, loadImage } from "./images.js";
import { MAX_STYLES } from "./params.js";

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

/** Preview URL of what will be sent (upright, downscaled), or null if the browser cannot decode it. */
async function previewUrl(source) {
  return source.bitmap ? URL.createObjectURL(await encodeImage(source, PREVIEW_SIDE)) : null;
}

export class ContentPicker {
  constructor(img, hint) {
    this.img = img;
    this.hint = hint;
    this.source = null;
  }

  async set(file) {
    const previous = this.source;
    this.source = await loadImage(file);
    previous?.bitmap?.close();
    const url = await previewUrl(this.source);
    if (this.img.src) URL.revokeObjectURL(this.img.src);
    this.img.hidden = !url;
    this.img.src = url ?? "";
    this.img.alt = url ? `Content image: ${file.name}` : "";
    this.hint.textContent = url ? `${file.name} — drop or click to replace` : `${file.name} (no preview: not an image this browser can read)`;
  }
}

export class StyleList {
  constructor(listEl, countEl, onChange = () => {}) {
    this.listEl = listEl;
    this.countEl = countEl;
    this.onChange = onChange;
    this.items = []; // { source, url, weight }
    this.disabled = false;
  }

  /** Adds files up to MAX_STYLES; returns how many were refused. */
  async add(files) {
    const room = MAX_STYLES - this.items.length;
    for (const file of files.slice(0, room)) {
      const source = await loadImage(file);
      this.items.push({ source, url: await previewUrl(source), weight: 50 });
    }
    this.render();
    return Math.max(0, files.length - room);
  }

  blend() {
    return blendFieldValue(this.items.map((i) => i.weight));
  }

  setDisabled(disabled) {
    this.disabled = disabled;
    for (const control of this.listEl.querySelectorAll("input, button")) control.disabled = disabled;
  }

  render() {
    const shares = normaliseBlend(this.items.map((i) => i.weight)) ?? this.items.map(() => 0);
    this.listEl.replaceChildren(...this.items.map((item, index) => this.#row(item, index, shares[index])));
    this.countEl.textContent = `(${this.items.length} of ${MAX_STYLES})`;
    this.setDisabled(this.disabled);
    this.onChange();
  }

  #row(item, index, share) {
    const n = index + 1;
    const li = document.createElement("li");
    li.className = "style-item";
    li.dataset.testid = `style-item-${n}`;
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
    const slider = Object.assign(document.createElement("input"), { type: "range", id: sliderId, min: 0, max: 100, step: 1, value: item.weight });
    slider.dataset.testid = `blend-${n}`;
    const out = document.createElement("output");
    out.htmlFor = sliderId;
    out.textContent = `${Math.round(share * 100)} %`;
    slider.setAttribute("aria-valuetext", out.textContent);
    slider.addEventListener("change", () => {
      item.weight = Number(slider.value);
      this.render();
      document.getElementById(sliderId)?.focus();
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
    error.dataset.errorFor = styleFieldName(index);
    error.dataset.testid = `error-${styleFieldName(index)}`;
    const controls = document.createElement("div");
    controls.className = "blend";
    controls.append(label, slider, out);
    li.append(img, controls, buttons, error);
    return li;
  }

  #button(text, label, disabled, onClick, testid) {
    const b = Object.assign(document.createElement("button"), { type: "button", textContent: text, disabled });
    b.setAttribute("aria-label", label);
    if (testid) b.dataset.testid = testid;
    b.addEventListener("click", onClick);
    return b;
  }

  #move(from, to, direction) {
    this.items = moveItem(this.items, from, to);
    this.render();
    // keep keyboard focus on the moved item's button so repeated presses keep moving it
    this.listEl.querySelector(`[aria-label="Move style image ${to + 1} ${direction}"]`)?.focus();
  }

  #remove(index) {
    const [item] = this.items.splice(index, 1);
    if (item.url) URL.revokeObjectURL(item.url);
    item.source.bitmap?.close();
    this.render();
  }
}
