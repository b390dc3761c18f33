// What this server accepts, read at page load from GET /capabilities (docs/CONTRACT.md: the front
// proxies it to the model server's `response=capabilities`). Every number here is the server's: its
// limits, its first-run preview (sized by its own planner for its device), its weights and device.
// Whatever depends on a job's size and content (stages, estimate, the most iterations, messages) is
// asked per job with a plan question (stages.js).
import { PARAMS, PRESETS } from "./params.js";

// When /capabilities cannot be read: no limits beyond the schema's ranges (the server still refuses
// what it must, by field, in its plan answers) and the app's own presets.
export const DEFAULT_CAPABILITIES = Object.freeze({
  weights: { provenance: null, random_init: null, network: null, label: null, source: null, licence: null },
  networks: [],
  device: { type: "unknown", name: "" },
  limits: null,
  preview: null,
  precision: { auto: null, reason: "" },
  fallback: true,
});

/**
 * Requests to try, in order: the front's GET /capabilities, then (apiBase pointing at TorchServe itself)
 * a POST of the form field response=capabilities, since TorchServe drops query strings on /predictions.
 */
export function capabilitiesUrls(apiBase, modelPath) {
  return [`${apiBase}/capabilities`, ...(apiBase ? [{ url: `${apiBase}${modelPath}`, body: "response=capabilities" }] : [])];
}

/** Keep what the app uses from a capabilities document; throws on one that is not usable. */
export function parseCapabilities(doc) {
  const limits = doc?.limits;
  const positive = (v) => Number.isFinite(v) && v > 0;
  if (!limits || !positive(limits.max_size) || !positive(limits.max_iterations)) throw new Error("capabilities: limits missing");
  const preview = doc.preview;
  return {
    weights: {
      provenance: doc.weights?.provenance ?? null,
      random_init: doc.weights?.random_init ?? doc.weights?.provenance === "random-init",
      network: doc.weights?.network ?? null,
      label: doc.weights?.label ?? null,
      source: doc.weights?.source ?? null,
      licence: doc.weights?.licence ?? null,
    },
    networks: Array.isArray(doc.networks) ? doc.networks : doc.weights?.network ? [doc.weights.network] : [],
    device: { type: doc.device?.type ?? "unknown", name: doc.device?.name ?? "" },
    limits: { max_size: limits.max_size, max_iterations: limits.max_iterations },
    preview: positive(preview?.size) && positive(preview?.iterations) ? { size: preview.size, iterations: preview.iterations } : null,
    precision: { auto: doc.precision?.auto ?? null, reason: doc.precision?.reason ?? "" },
    kept: doc.results?.kept ?? null, // kept jobs (keep=true) and their caps; null: this server keeps none
    // whether finished jobs may get a share link, and for how long (the share switch's label says it)
    results: { enabled: doc.results?.enabled === true, max_age_s: doc.results?.max_age_s ?? null },
    fallback: false,
  };
}

/** Field maxima before any plan answer: the panel's range narrowed to the server's limits (never widened). */
export function fieldMaxima(limits) {
  const spec = (name) => PARAMS.find((p) => p.name === name);
  if (!limits) return { size: spec("size").max, iterations: spec("iterations").max };
  return { size: Math.min(spec("size").max, limits.max_size), iterations: Math.min(spec("iterations").max, limits.max_iterations) };
}

/**
 * Presets for this server: "quick" is its own first-run preview; sizes never above its limit. The
 * iterations are fitted to the work budget for the content at hand by a plan question (app.js).
 */
export function presetsFor(caps) {
  const out = {};
  for (const [key, preset] of Object.entries(PRESETS)) {
    const values = key === "quick" && caps.preview ? { ...caps.preview } : { ...preset.values };
    if (caps.limits) values.size = Math.min(values.size, caps.limits.max_size);
    out[key] = { label: preset.label, values };
  }
  return out;
}
