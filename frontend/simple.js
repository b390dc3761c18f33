// Simple mode, the first screen's plain choices: Strength (the style weight on a log scale) and a size named
// by what it gives (Preview / Standard / Large, each with its estimate on this server). Both are the server's
// (capabilities' `strength` and `size_presets`); a choice only sets the parameter panel's own fields (in
// Advanced settings), so a job is built and checked exactly as from the panel, and the panel's values show here.
import { formatDuration } from "./progress.js";

// Slider positions: fine enough that each step is a small change of the weight.
export const STEPS = 100;
// Plain words along the slider (equal parts of its range).
const WORDS = ["Subtle", "Light", "Balanced", "Strong", "Very strong"];

/** Capabilities' size presets, smallest first: [{name, label, size, iterations, estimateS, isDefault}]; [] if none. */
export function sizePresets(doc) {
  const list = Array.isArray(doc?.size_presets) ? doc.size_presets : [];
  const whole = (v) => Number.isInteger(v) && v > 0;
  return list.filter((p) => p && typeof p.name === "string" && whole(p.size) && whole(p.iterations)).map((p) => ({
    name: p.name, label: p.label || p.name, size: p.size, iterations: p.iterations,
    estimateS: Number.isFinite(p.estimate_s) ? p.estimate_s : null, isDefault: p.default === true,
  }));
}

/** Capabilities' Strength range for the style weight ({field, min, max, default}); null when unusable. */
export function strengthRange(doc) {
  const s = doc?.strength;
  if (!s || typeof s.field !== "string") return null;
  const { min, max } = s;
  if (!(Number.isFinite(min) && Number.isFinite(max) && min > 0 && max > min)) return null;
  const fallback = Math.sqrt(min * max);
  const value = Number.isFinite(s.default) && s.default >= min && s.default <= max ? s.default : fallback;
  return { field: s.field, min, max, default: value };
}

/** The weight at a slider position (log scale), with three significant digits (what the panel shows). */
export function weightAt(position, range) {
  const t = Math.min(STEPS, Math.max(0, position)) / STEPS;
  return Number((range.min * (range.max / range.min) ** t).toPrecision(3));
}

/** The slider position nearest a weight; null for a weight outside the range (set in Advanced). */
export function positionOf(weight, range) {
  const w = Number(weight);
  if (!Number.isFinite(w) || w < range.min * 0.999 || w > range.max * 1.001) return null;
  return Math.round(STEPS * Math.log(w / range.min) / Math.log(range.max / range.min));
}

/** "Balanced" and its like for a slider position. */
export function strengthWord(position) {
  return WORDS[Math.min(WORDS.length - 1, Math.floor(position / (STEPS / WORDS.length)))];
}

/** What a preset gives: "512 px · about 30 s" (with its iterations where another preset has the same size). */
export function presetDetail(preset, presets = []) {
  const time = preset.estimateS === null ? "" : ` · about ${formatDuration(Math.max(1, preset.estimateS))}`;
  const twin = presets.some((p) => p !== preset && p.size === preset.size);
  return `${preset.size} px${twin ? ` · ${preset.iterations} iterations` : ""}${time}`;
}

/** The size preset whose size and iterations the panel holds now; null when set by hand. */
export function presetOf(values, presets) {
  return presets.find((p) => String(values.size).trim() === String(p.size) && String(values.iterations).trim() === String(p.iterations)) ?? null;
}

/**
 * The simple controls (index.html's #simple). `onPick(values)` gets the panel values a choice sets:
 * {size, iterations} for a size, {[field]: weight} for Strength.
 */
export class SimpleMode {
  constructor({ onPick }) {
    this.onPick = onPick;
    this.presets = [];
    this.range = null;
    this.slider = document.getElementById("strength");
    this.slider.max = String(STEPS);
    this.slider.addEventListener("input", () => {
      if (!this.range) return;
      const position = Number(this.slider.value);
      this.#say(position);
      this.onPick({ [this.range.field]: weightAt(position, this.range) });
    });
  }

  /** Reads the server's presets and range; returns the default size preset's panel values (null: none). */
  use(doc) {
    this.presets = sizePresets(doc);
    this.range = strengthRange(doc);
    document.getElementById("strength-row").hidden = this.range === null;
    this.#renderSizes();
    // a server that says neither: the size and weights are in Advanced settings only
    document.getElementById("simple").hidden = this.range === null && this.presets.length === 0;
    const first = this.presets.find((p) => p.isDefault) ?? null;
    return first && { size: first.size, iterations: first.iterations };
  }

  /** Shows the panel's current values: the matching size (or "custom") and the weight's slider position. */
  sync(values) {
    const chosen = presetOf(values, this.presets);
    for (const input of document.querySelectorAll('input[name="size-choice"]')) input.checked = input.value === chosen?.name;
    const note = document.getElementById("size-note");
    note.textContent = chosen || !this.presets.length ? "" : `Custom: ${String(values.size).trim()} px, ${String(values.iterations).trim()} iterations (set in Advanced settings).`;
    if (!this.range) return;
    const position = positionOf(values[this.range.field], this.range);
    if (position !== null) this.slider.value = String(position);
    this.#say(position, values[this.range.field]);
  }

  setDisabled(disabled) {
    this.slider.disabled = disabled;
    for (const input of document.querySelectorAll('input[name="size-choice"]')) input.disabled = disabled;
  }

  #say(position, typed) {
    const out = document.getElementById("strength-value");
    if (position === null) {
      out.textContent = `Custom (style weight ${String(typed).trim()}, set in Advanced settings)`;
      this.slider.setAttribute("aria-valuetext", out.textContent);
      return;
    }
    const weight = weightAt(position, this.range);
    out.textContent = `${strengthWord(position)} (style weight ${weight})`;
    this.slider.setAttribute("aria-valuetext", `${strengthWord(position)}, style weight ${weight}`);
  }

  #renderSizes() {
    const group = document.getElementById("size-choices");
    group.replaceChildren(...this.presets.map((preset) => {
      const label = document.createElement("label");
      label.className = "size-choice";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "size-choice";
      input.value = preset.name;
      input.dataset.testid = `size-${preset.name}`;
      input.addEventListener("change", () => {
        if (input.checked) this.onPick({ size: preset.size, iterations: preset.iterations });
      });
      const name = document.createElement("span");
      name.className = "size-name";
      name.textContent = preset.label;
      const detail = document.createElement("small");
      detail.textContent = presetDetail(preset, this.presets);
      label.append(input, name, detail);
      return label;
    }));
    document.getElementById("size-row").hidden = this.presets.length === 0;
  }
}
