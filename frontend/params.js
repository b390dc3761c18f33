// Style-transfer parameters as the web app shows them. Defaults and ranges mirror
// `StyleParams.schema()` in handler/stylize/params.py (tests/e2e/test_frontend_sync.py
// compares the two, so they cannot drift apart silently).

export const MAX_STYLES = 8;

// VGG19 layer names in network order: conv/relu pairs per block, then a pool.
export const LAYER_NAMES = [2, 2, 4, 4, 4].flatMap((convs, b) => [
  ...Array.from({ length: convs }, (_, i) => [`conv${b + 1}_${i + 1}`, `relu${b + 1}_${i + 1}`]).flat(),
  `pool${b + 1}`,
]);

// kind: int | float | bool | choice | layers. group decides the panel: basic or advanced fold.
// optional: an empty input means "not set" (the server default, e.g. no time budget).
export const PARAMS = [
  { name: "size", label: "Size (longest side, px)", kind: "int", min: 16, max: 2048, step: 16, default: 512, group: "basic",
    help: "Longest side of the output; the content's aspect ratio is kept." },
  { name: "iterations", label: "Iterations", kind: "int", min: 1, max: 10000, step: 1, default: 300, group: "basic",
    help: "Optimisation iterations, summed over all multiscale stages." },
  { name: "snapshot_every", label: "Snapshot every", kind: "int", min: 0, max: 10000, step: 1, default: 20, group: "basic",
    help: "Send an intermediate image every N iterations (0: only the final image)." },
  { name: "style_weight", label: "Style weight", kind: "float", min: 0, max: 1e9, step: "any", default: 100, group: "basic",
    help: "Weight of the style loss, as a ratio to the content weight." },
  { name: "content_weight", label: "Content weight", kind: "float", min: 0, max: 1e6, step: "any", default: 1, group: "basic",
    help: "Weight of the content loss." },
  { name: "tv_weight", label: "TV weight", kind: "float", min: 0, max: 1e6, step: "any", default: 10, group: "basic",
    help: "Total-variation smoothness." },
  { name: "preserve_colors", label: "Preserve colours", kind: "bool", default: false, group: "basic",
    help: "Transfer style to luminance only and keep the content's colours." },
  { name: "init", label: "Start from", kind: "choice", choices: ["content", "noise", "style"], default: "content", group: "basic",
    help: "Starting image." },
  { name: "optimizer", label: "Optimizer", kind: "choice", choices: ["lbfgs", "adam"], default: "lbfgs", group: "basic",
    help: "L-BFGS converges in fewer iterations; Adam takes smaller, steadier steps." },
  { name: "learning_rate", label: "Learning rate", kind: "float", min: 1e-5, max: 1, step: "any", default: 0.02, group: "basic",
    help: "Adam step size (pixel units).", onlyWhen: { optimizer: "adam" } },
  { name: "multiscale", label: "Multiscale", kind: "bool", default: true, group: "basic",
    help: "Optimise coarse-to-fine from about 128 px." },
  { name: "seed", label: "Seed", kind: "int", min: 0, max: 2147483647, step: 1, default: 0, group: "basic",
    help: "Same seed, inputs and device give the same pixels." },
  { name: "content_layers", label: "Content layers", kind: "layers", default: ["relu4_2"], group: "advanced",
    help: "Comma-separated VGG19 layers whose features define content." },
  { name: "style_layers", label: "Style layers", kind: "layers", default: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], group: "advanced",
    help: "Comma-separated VGG19 layers whose Gram matrices define style." },
  { name: "pooling", label: "Pooling", kind: "choice", choices: ["max", "avg"], default: "max", group: "advanced",
    help: "VGG pooling." },
  { name: "style_scale", label: "Style scale", kind: "float", min: 0.1, max: 4, step: 0.1, default: 1, group: "advanced",
    help: "Size of the style images relative to the output size." },
  { name: "time_budget_s", label: "Time budget (s)", kind: "float", min: 0.001, max: 86400, step: "any", default: null, optional: true, group: "advanced",
    help: "Stop after this many seconds and return the best image so far (empty: no limit)." },
  { name: "precision", label: "Precision", kind: "choice", choices: ["auto", "fp32", "bf16"], default: "auto", group: "advanced",
    help: "Network arithmetic: bf16 is about 2x faster where the hardware has it (statistics stay fp32); auto picks it there." },
];

export const PARAM_NAMES = new Set(PARAMS.map((p) => p.name));

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
 * Check raw input values (strings from inputs, booleans from checkboxes) against PARAMS.
 * Returns { values, errors }: typed values, and per field the first problem, worded like the
 * server ("must be between 16 and 2048, got 5") so both kinds of message read the same.
 * `maxima` (name -> max) are this server's limits, from its capabilities.
 */
export function validateParams(raw, maxima = {}) {
  const values = {};
  const errors = {};
  for (const base of PARAMS) {
    // The server's limits (capabilities) narrow the panel's range; never widen it.
    const spec = maxima[base.name] !== undefined ? { ...base, max: Math.min(base.max, maxima[base.name]) } : base;
    const input = raw[spec.name] ?? inputText(spec, spec.default);
    try {
      values[spec.name] = parseValue(spec, input);
    } catch (err) {
      errors[spec.name] = err.message;
    }
  }
  return { values, errors };
}

function parseValue(spec, input) {
  const text = typeof input === "string" ? input.trim() : input;
  switch (spec.kind) {
    case "bool":
      if (typeof text === "boolean") return text;
      if (["true", "false"].includes(String(text).toLowerCase())) return String(text).toLowerCase() === "true";
      throw new Error("must be true or false");
    case "choice":
      if (!spec.choices.includes(text)) throw new Error(`must be one of ${spec.choices.join(", ")}`);
      return text;
    case "layers": {
      const layers = String(text).split(",").map((s) => s.trim()).filter(Boolean);
      if (layers.length === 0) throw new Error("needs at least one layer");
      const unknown = layers.find((l) => !LAYER_NAMES.includes(l));
      if (unknown) throw new Error(`unknown layer '${unknown}' (use names like relu4_2)`);
      if (new Set(layers).size !== layers.length) throw new Error("lists a layer twice");
      return layers;
    }
    default: {
      if (text === "" || text === null) {
        if (spec.optional) return null;
        throw new Error("must not be empty");
      }
      const n = Number(text);
      if (!Number.isFinite(n)) throw new Error(`must be a number, got '${String(text).slice(0, 40)}'`);
      if (spec.kind === "int" && !Number.isInteger(n)) throw new Error("must be a whole number");
      if (n < spec.min || n > spec.max) throw new Error(`must be between ${spec.min} and ${spec.max}, got ${n}`);
      return n;
    }
  }
}

/** Form fields for the request: every set value as text; "not set" optional values are left out. */
export function toFormEntries(values) {
  return PARAMS.filter((p) => values[p.name] !== null && values[p.name] !== undefined)
    .map((p) => [p.name, Array.isArray(values[p.name]) ? values[p.name].join(",") : String(values[p.name])]);
}
