// The parameter panel, generated from PARAMS (built from the server's schema, params.js).
import { PARAMS, PRESETS, applies, inputText } from "./params.js";

/** Builds the fields and preset buttons; onPreset(key) is called when a preset is chosen. */
export function buildParamPanel({ basic, advanced, presets, onPreset }) {
  for (const spec of PARAMS) (spec.group === "advanced" ? advanced : basic).append(fieldFor(spec));
  for (const [key, preset] of Object.entries(PRESETS)) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = preset.label;
    button.dataset.testid = `preset-${key}`;
    button.dataset.preset = key;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => onPreset(key));
    presets.append(button);
  }
  document.getElementById("param-optimizer").addEventListener("change", updateDependentFields);
  updateDependentFields();
}

/** The server's maxima on the inputs (arrow keys and the browser's own hints stop there). */
export function setMaxima(maxima) {
  for (const [name, max] of Object.entries(maxima)) {
    const input = document.getElementById(`param-${name}`);
    input.max = String(max);
    const spec = PARAMS.find((p) => p.name === name);
    document.getElementById(`${input.id}-help`).textContent = `${spec.help} At most ${max} here.`;
  }
}

/** aria-pressed on the preset whose values the fields hold now (none when edited by hand). */
export function markPreset(presets) {
  const raw = readValues();
  for (const button of document.querySelectorAll("#presets button")) {
    const values = presets[button.dataset.preset]?.values ?? {};
    const pressed = Object.entries(values).every(([name, value]) => String(raw[name]).trim() === String(value));
    button.setAttribute("aria-pressed", String(pressed));
  }
}

function fieldFor(spec) {
  const id = `param-${spec.name}`;
  const wrap = document.createElement("div");
  wrap.className = `field field-${spec.kind}`;
  wrap.id = `field-${spec.name}`;
  let input;
  if (spec.kind === "choice") {
    input = document.createElement("select");
    for (const choice of spec.choices) input.append(new Option(choice, choice, false, choice === spec.default));
  } else {
    input = document.createElement("input");
    if (spec.kind === "bool") {
      input.type = "checkbox";
      input.checked = spec.default;
    } else if (spec.kind === "layers") {
      input.type = "text";
      input.spellcheck = false;
      input.value = inputText(spec, spec.default);
    } else {
      // type=number gives phone keypads and arrow keys; min/max come from the schema.
      input.type = "number";
      Object.assign(input, { min: spec.min, max: spec.max, step: spec.step });
      input.inputMode = spec.kind === "int" ? "numeric" : "decimal";
      input.value = inputText(spec, spec.default);
      if (spec.optional) input.placeholder = "none";
    }
  }
  input.id = id;
  input.name = spec.name;
  input.dataset.testid = id;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = spec.label;
  const help = document.createElement("small");
  help.id = `${id}-help`;
  help.textContent = spec.help;
  const error = document.createElement("p");
  error.className = "field-error";
  error.id = `error-${spec.name}`;
  error.dataset.errorFor = spec.name;
  error.dataset.testid = `error-${spec.name}`;
  input.setAttribute("aria-describedby", `${help.id} ${error.id}`);
  if (spec.kind === "bool") wrap.append(input, label, help, error);
  else wrap.append(label, input, help, error);
  return wrap;
}

// A field that does not matter with the other choices (learning rate with L-BFGS, a method's own
// knobs under another method) is hidden, and not sent.
function updateDependentFields() {
  const raw = readValues();
  for (const spec of PARAMS.filter((p) => p.onlyWhen)) {
    document.getElementById(`field-${spec.name}`).hidden = !applies(spec, raw);
  }
}

/** Raw values as validateParams expects them: strings, and booleans for checkboxes. */
export function readValues() {
  return Object.fromEntries(PARAMS.map((spec) => {
    const input = document.getElementById(`param-${spec.name}`);
    return [spec.name, spec.kind === "bool" ? input.checked : input.value];
  }));
}

export function setValues(values) {
  for (const [name, value] of Object.entries(values)) {
    const input = document.getElementById(`param-${name}`);
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = Array.isArray(value) ? value.join(",") : String(value ?? "");
  }
  updateDependentFields();
}

export function setDisabled(disabled) {
  for (const spec of PARAMS) document.getElementById(`param-${spec.name}`).disabled = disabled;
  for (const button of document.querySelectorAll("#presets button")) button.disabled = disabled;
}
