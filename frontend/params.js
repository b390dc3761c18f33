// Style-transfer parameters as the web app shows them. Defaults, ranges, choices and help come
// from the server's schema (`params` of /capabilities, StyleParams.schema()); when that cannot be
// read the app fetches frontend/schema.json (written by `make schema`). Only what is the app's own
// stays here: which fields the panel shows, in what order and group, their labels, steps and presets.
// Values are never checked here: the server's plan answer does it (stages.js), with its own words.
import { applyFields } from "./uploads.js";

// The panel's fields in order. group: basic panel or advanced fold. step: the input's step
// (ints default to 1, floats to "any"). onlyWhen: shown only while another field has that value (the
// server's `when` of a field, e.g. a style method's own, is used the same way and wins).
// style_blend (one slider per style image) and style_layer_weights (not offered) are left out.
export const FIELDS = [
  { name: "size", label: "Size (longest side, px)", group: "basic", step: 16 },
  { name: "iterations", label: "Iterations", group: "basic" },
  { name: "snapshot_every", label: "Snapshot every", group: "basic" },
  { name: "style_weight", label: "Style weight", group: "basic" },
  { name: "content_weight", label: "Content weight", group: "basic" },
  { name: "tv_weight", label: "TV weight", group: "basic" },
  { name: "preserve_colors", label: "Preserve colours", group: "basic" },
  { name: "init", label: "Start from", group: "basic" },
  { name: "style_loss", label: "Style loss", group: "basic" },
  { name: "optimizer", label: "Optimizer", group: "basic" },
  { name: "learning_rate", label: "Learning rate", group: "basic", onlyWhen: { optimizer: "adam" } },
  { name: "average", label: "Average iterates", group: "basic" },
  { name: "multiscale", label: "Multiscale", group: "basic" },
  { name: "schedule", label: "Stage schedule", group: "advanced" },
  { name: "average_decay", label: "Average decay", group: "advanced", step: 0.001, onlyWhen: { average: "ema" } },
  { name: "seed", label: "Seed", group: "basic" },
  { name: "content_layers", label: "Content layers", group: "advanced" },
  { name: "style_layers", label: "Style layers", group: "advanced" },
  { name: "pooling", label: "Pooling", group: "advanced" },
  { name: "style_scale", label: "Style scale", group: "advanced", step: 0.1 },
  { name: "time_budget_s", label: "Time budget (s)", group: "advanced" },
  { name: "precision", label: "Precision", group: "advanced" },
  { name: "colour_match", label: "Match the painting's colours", group: "basic" },
  { name: "colour_transform", label: "Colour map", group: "advanced" },
  { name: "image_param", label: "Optimise the image as", group: "advanced" },
  { name: "pyramid_levels", label: "Pyramid levels", group: "advanced" },
  { name: "neighbour_content_mix", label: "Neighbour: content share of the query", group: "advanced", step: 0.05 },
  { name: "neighbour_rotations", label: "Neighbour: rotated style too", group: "advanced" },
  { name: "neighbour_stride", label: "Neighbour: grid cell (px)", group: "advanced" },
  { name: "neighbour_keys", label: "Neighbour: most style features", group: "advanced" },
  { name: "neighbour_blocks", label: "Neighbour: VGG blocks", group: "advanced" },
  { name: "neighbour_layout_weight", label: "Neighbour: keep the photo's layout", group: "advanced", step: 0.5 },
];

// kind: int | float | bool | choice | layers; optional: an empty input means "not set" (the
// server default, e.g. no time budget). Filled in place by applySchema, so importers keep one array.
export const PARAMS = [];
export const PARAM_NAMES = new Set(FIELDS.map((f) => f.name));
// VGG19 layer names in network order (the layer fields' choices in the schema).
export const LAYER_NAMES = [];

/**
 * Build PARAMS from a schema (name -> {type, default, min?, max?, choices?, help}); throws when a
 * panel field is missing or has a type the panel cannot show, so a bad document is not half-used.
 */
export function applySchema(schema) {
  const built = FIELDS.map((field) => specFor(field, schema?.[field.name]));
  PARAMS.splice(0, PARAMS.length, ...built);
  const layers = built.find((p) => p.kind === "layers")?.choices ?? [];
  LAYER_NAMES.splice(0, LAYER_NAMES.length, ...layers);
  return PARAMS;
}

function specFor(field, server) {
  if (!server || typeof server !== "object") throw new Error(`schema: no parameter ${field.name}`);
  const kind = { int: "int", float: "float", bool: "bool" }[server.type]
    ?? (server.type === "str" && server.choices ? "choice" : server.type === "tuple" && server.choices ? "layers" : null);
  if (!kind) throw new Error(`schema: ${field.name} has type ${server.type}, which the panel cannot show`);
  const spec = { name: field.name, label: field.label, kind, default: server.default, group: field.group, help: server.help ?? "" };
  if (kind === "int" || kind === "float") {
    Object.assign(spec, { min: server.min, max: server.max, step: field.step ?? (kind === "int" ? 1 : "any") });
  }
  if (server.choices) spec.choices = server.choices.slice();
  if (server.default === null) spec.optional = true;
  const onlyWhen = server.when ?? field.onlyWhen;
  if (onlyWhen) spec.onlyWhen = onlyWhen;
  return spec;
}

// The app's presets. "quick" is replaced by the server's `preview` (capabilities: sized for its device);
// every preset's iterations are fitted to the server's work budget by a plan question (app.js).
export const PRESETS = {
  quick: { label: "Quick preview", values: { size: 256, iterations: 100 } },
  balanced: { label: "Balanced", values: { size: 512, iterations: 300 } },
  high: { label: "High quality", values: { size: 768, iterations: 600 } },
};

export function defaultValues() {
  return Object.fromEntries(PARAMS.map((p) => [p.name, Array.isArray(p.default) ? p.default.slice() : p.default]));
}

/** A spec's default rendered as the text an input holds. */
export function inputText(spec, value) {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join(",") : String(value);
}

/**
 * Whether a field matters with these values (strings as the inputs hold them): every name of its
 * `onlyWhen` has that value, or one of the listed values.
 */
export function applies(spec, raw) {
  return Object.entries(spec.onlyWhen ?? {}).every(([name, value]) =>
    (Array.isArray(value) ? value : [value]).includes(String(raw[name])));
}

/**
 * Form fields for the request from the inputs as typed (strings, booleans for checkboxes): every value
 * as text, an empty optional one left out ("not set": the server's default). Nothing is checked here:
 * the server checks every value (its plan answer, before Start) and names the field it refuses.
 * A field the other choices make meaningless (hidden: see `applies`) is not sent: the server refuses
 * such a field set to anything but its default.
 */
export function toFormEntries(raw) {
  const out = [];
  for (const p of PARAMS) {
    const value = raw[p.name];
    if (value === undefined || value === null || !applies(p, raw)) continue;
    const text = typeof value === "boolean" ? String(value) : Array.isArray(value) ? value.join(",") : String(value).trim();
    if (text === "" && p.optional) continue;
    out.push([p.name, text]);
  }
  return out;
}

export const SCHEMA_URL = "schema.json";

/**
 * Fill PARAMS and the upload field names from the capabilities document when it has both, else from
 * the shipped schema.json (next to index.html). Resolves with where the schema came from.
 */
export async function loadSchema(capabilitiesDoc, { fetchFn = fetch, url = SCHEMA_URL } = {}) {
  if (capabilitiesDoc?.params && capabilitiesDoc?.fields) {
    try {
      applySchema(capabilitiesDoc.params);
      applyFields(capabilitiesDoc.fields);
      return "server";
    } catch {
      // a server document without a usable schema: the shipped one still describes this app's fields
    }
  }
  const response = await fetchFn(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const shipped = await response.json();
  applySchema(shipped.params);
  applyFields(shipped.fields);
  return "file";
}
