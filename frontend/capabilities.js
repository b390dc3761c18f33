// What this server accepts, read at page load from GET /capabilities (CONTRACTS: the front proxies
// it to TorchServe's `?response=capabilities`). Pure functions turn it into field maxima, presets
// that fit the work budget, and a first-run size that finishes quickly on the server's device.
import { PARAMS, PRESETS } from "./params.js";
import { approximatePlan, estimateSeconds } from "./stages.js";

// Used when /capabilities cannot be read: the limits of the shipped model-config.yaml and the
// speed of a 2-core CPU, so the app still refuses what that server would refuse.
export const DEFAULT_CAPABILITIES = Object.freeze({
  weights: { provenance: null, random_init: null, network: null, label: null, source: null, licence: null },
  networks: [],
  device: { type: "unknown", name: "" },
  limits: { max_size: 1024, max_iterations: 2000, max_work: 314572800, max_styles: 8 },
  speed: { pixel_iterations_per_s: 330000 },
  fallback: true,
});

// A first run should show a result in about this long; the size is chosen to fit it.
export const PREVIEW_TARGET_S = 15;
export const PREVIEW_ITERATIONS = 100;
const SIZE_STEP = 16;
// Below this a first result reads as a blurry thumbnail (issue 21): a slow server gets fewer
// iterations at this size rather than a smaller picture.
export const MIN_PREVIEW_SIZE = 192;
const MIN_PREVIEW_ITERATIONS = 20;
const MAX_PREVIEW_SIZE = 512;

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
  if (!limits || !positive(limits.max_size) || !positive(limits.max_iterations) || !positive(limits.max_work)) {
    throw new Error("capabilities: limits missing");
  }
  const speed = positive(doc.speed?.pixel_iterations_per_s) ? doc.speed.pixel_iterations_per_s : DEFAULT_CAPABILITIES.speed.pixel_iterations_per_s;
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
    limits: { max_size: limits.max_size, max_iterations: limits.max_iterations, max_work: limits.max_work, max_styles: limits.max_styles ?? 8 },
    speed: { pixel_iterations_per_s: speed, style_loss_s_per_iteration: doc.speed?.style_loss_s_per_iteration || {} },
    precision: { auto: doc.precision?.auto ?? null, reason: doc.precision?.reason ?? "" },
    kept: doc.results?.kept ?? null, // kept jobs (keep=true) and their caps; null: this server keeps none
    fallback: false,
  };
}

/** Output pixels (w*h) for a longest side and aspect (short/long side, <= 1), rounded as the engine does. */
export function outputPixels(size, aspect = 1) {
  return size * Math.max(16, Math.round(size * Math.min(1, aspect)));
}

/** Most iterations the server takes at this size: its own cap and the work budget (w*h*iterations). */
export function maxIterationsAt(size, limits, aspect = 1) {
  const byWork = Math.floor(limits.max_work / outputPixels(size, aspect));
  return Math.max(1, Math.min(limits.max_iterations, byWork));
}

/** Field maxima: the panel's own range narrowed to the server's. */
export function fieldMaxima(limits, size, aspect = 1) {
  const spec = (name) => PARAMS.find((p) => p.name === name);
  return {
    size: Math.min(spec("size").max, limits.max_size),
    iterations: Math.min(spec("iterations").max, maxIterationsAt(Math.min(size, limits.max_size), limits, aspect)),
  };
}

/** A preset's size and iterations made acceptable to this server (size first, then iterations). */
export function fitPreset(values, limits, aspect = 1) {
  const size = Math.min(values.size, limits.max_size);
  return { ...values, size, iterations: Math.min(values.iterations, maxIterationsAt(size, limits, aspect)) };
}

/** Largest size (multiple of 16, 192-512 px) whose multiscale run of `iterations` takes about targetS (192 when none does). */
export function previewSize(pixelIterationsPerS, { iterations = PREVIEW_ITERATIONS, targetS = PREVIEW_TARGET_S, limits = null } = {}) {
  const cap = Math.min(MAX_PREVIEW_SIZE, limits?.max_size ?? MAX_PREVIEW_SIZE);
  let best = Math.min(MIN_PREVIEW_SIZE, cap);
  for (let size = best; size <= cap; size += SIZE_STEP) {
    if (estimateSeconds(approximatePlan(size, iterations, true), pixelIterationsPerS) <= targetS) best = size;
  }
  return best;
}

/**
 * The first-run preview: {size, iterations}. The size is the largest that runs PREVIEW_ITERATIONS in
 * about PREVIEW_TARGET_S, never below MIN_PREVIEW_SIZE; where even that size is too slow, the
 * iterations shrink to fit the time (at least MIN_PREVIEW_ITERATIONS).
 */
export function quickPreview(pixelIterationsPerS, { targetS = PREVIEW_TARGET_S, limits = null } = {}) {
  const size = previewSize(pixelIterationsPerS, { targetS, limits });
  let iterations = PREVIEW_ITERATIONS;
  while (iterations > MIN_PREVIEW_ITERATIONS && estimateSeconds(approximatePlan(size, iterations, true), pixelIterationsPerS) > targetS) {
    iterations -= 5;
  }
  return { size, iterations: Math.max(MIN_PREVIEW_ITERATIONS, iterations) };
}

/** Presets for this server; "quick" is the first-run preview sized for its device. */
export function presetsFor(caps, aspect = 1) {
  const quick = quickPreview(caps.speed.pixel_iterations_per_s, { limits: caps.limits });
  const out = {};
  for (const [key, preset] of Object.entries(PRESETS)) {
    const values = key === "quick" ? { ...preset.values, ...quick } : preset.values;
    out[key] = { label: preset.label, values: fitPreset(values, caps.limits, aspect) };
  }
  return out;
}

/**
 * Predicted seconds for a plan (the server's stages, stages.js), or null when the speed is unknown.
 * A style loss whose cost does not scale with pixels (W2's matrix roots) adds its measured seconds per iteration.
 */
export function predictSeconds(caps, plan, styleLoss = "gram") {
  if (!caps?.speed?.pixel_iterations_per_s) return null;
  const perIteration = Number(caps.speed.style_loss_s_per_iteration?.[styleLoss]) || 0;
  const iterations = plan.reduce((sum, stage) => sum + stage.iterations, 0);
  return estimateSeconds(plan, caps.speed.pixel_iterations_per_s) + iterations * perIteration;
}

/** "iterations: …" message when size x iterations exceeds the budget, worded like the server's; else null. */
export function workBudgetError(size, iterations, limits, aspect = 1) {
  const most = maxIterationsAt(size, limits, aspect);
  if (iterations <= most || iterations > limits.max_iterations) return null;
  return `iterations: size ${size} x ${iterations} iterations exceeds this server's work budget; at this size at most ${most} iterations`;
}
