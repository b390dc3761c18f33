// Wiring: capabilities -> pickers and parameter panel -> one streamed job -> results and history.
// The app has two states, ready and running; every way a job can end (done, 4xx, server error
// line, cut stream, unreachable server, cancel) goes through one `finally`, so it never stays "running".
import { ApiError, MODEL_PATH, fetchCapabilities, queuedStatus, resolveApiBase, runJob } from "./api.js";
import {
  DEFAULT_CAPABILITIES, capabilitiesUrls, fieldMaxima, parseCapabilities, predictSeconds, presetsFor, workBudgetError,
} from "./capabilities.js";
import { fieldOfMessage, styleFieldName } from "./errors.js";
import { buildParamPanel, markPreset, readValues, setDisabled, setMaxima, setValues } from "./form.js";
import { RunHistory } from "./history.js";
import { encodeImage, uploadName } from "./images.js";
import { PARAMS, PARAM_NAMES, toFormEntries, validateParams } from "./params.js";
import { ContentPicker, StyleList, bindDropzone } from "./pickers.js";
import { formatDuration } from "./progress.js";
import { RegionPainter, maskFieldName } from "./regions.js";
import { Results } from "./results.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const apiBase = resolveApiBase(location.search, window.STYLE_CONFIG);
const apiUrl = `${apiBase}${MODEL_PATH}`;
const results = new Results();
const content = new ContentPicker($("content-preview"), $("content-hint"));
const regions = new RegionPainter();
const styles = new StyleList($("style-list"), $("style-count"), () => {
  clearError("style");
  regions.setStyles(styles.items);
}, {
  onRemove: (item) => regions.freeSlot(item.slot),
  onMaskFile(item, index, file) {
    const field = maskFieldName(index);
    clearError(styleFieldName(index));
    regions.loadMask(item.slot, file).then(() => {
      $("paint").open = true; // show what was loaded, ready to touch up
    }, (err) => showError(`${field}: could not use ${file.name} (${err.message})`));
  },
});
const history = new RunHistory($("history"), $("history-empty"), (values) => {
  setValues(values);
  refreshLimits();
  $("param-size").focus();
});
let caps = DEFAULT_CAPABILITIES;
let presets = presetsFor(caps);
let editedByHand = false; // once the user has set size/iterations, capabilities no longer overwrite them
let controller = null;
// Picked files are decoded asynchronously; Start waits for them, so a quick click after a drop
// does not find "no content image" (or a partial style list).
let loading = Promise.resolve();
let starting = false;
const track = (work) => {
  loading = Promise.allSettled([loading, work]);
  return work;
};

buildParamPanel({
  basic: $("params-basic"), advanced: $("params-advanced"), presets: $("presets"),
  onPreset(key) {
    setValues(presets[key].values);
    editedByHand = true;
    refreshLimits();
  },
});
setValues(presets.quick.values);
refreshLimits();
for (const name of PARAM_NAMES) {
  $(`param-${name}`).addEventListener("input", () => {
    if (name === "size" || name === "iterations") editedByHand = true;
    refreshLimits();
  });
}
loadCapabilities();

bindDropzone(document.querySelector('[data-testid="content-drop"]'), $("content-input"), ([file]) => {
  clearError("content");
  return track(content.set(file).then(
    () => {
      results.setBefore(content.previewUrl);
      const b = content.source.bitmap;
      regions.setContent(content.previewUrl, content.previewSize, b && { width: b.width, height: b.height });
      refreshLimits();
    },
    (err) => showError(`content: could not read ${file.name} (${err.message})`),
  ));
});
bindDropzone(document.querySelector('[data-testid="style-drop"]'), $("style-input"), (files) => {
  clearError("style");
  return track(styles.add(files).then(
    ({ overflow, notImages }) => {
      const problems = [];
      if (notImages.length) problems.push(`${notImages.join(", ")} ${notImages.length === 1 ? "is not an image" : "are not images"} (use JPEG, PNG or WebP)`);
      if (overflow) problems.push(`at most 8 style images; ${overflow} not added`);
      if (problems.length) showError(`style: ${problems.join("; ")}`);
    },
    (err) => showError(`style: could not read the image (${err.message})`),
  ));
});
$("job-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (app.dataset.state === "running" || starting) return;
  starting = true;
  try {
    await loading;
  } finally {
    starting = false;
  }
  if (app.dataset.state !== "running") start();
});
$("cancel").addEventListener("click", () => controller?.abort());

/** Read this server's limits, weights and speed; without them the built-in defaults apply, said discreetly. */
async function loadCapabilities() {
  try {
    caps = parseCapabilities(await fetchCapabilities(capabilitiesUrls(apiBase, MODEL_PATH)));
    app.dataset.capabilities = "server";
  } catch {
    caps = DEFAULT_CAPABILITIES;
    app.dataset.capabilities = "defaults";
    const note = $("caps-note");
    note.textContent = "Could not read this server's limits; the page uses built-in defaults, and the server may still refuse a large job.";
    note.hidden = false;
  }
  presets = presetsFor(caps, content.aspect);
  if (caps.weights.random_init) $("weights-banner").hidden = false;
  if (caps.precision?.auto) {
    const spec = PARAMS.find((p) => p.name === "precision");
    $("param-precision-help").textContent = `${spec.help} Here auto = ${caps.precision.auto} (${caps.precision.reason}).`;
  }
  if (!editedByHand) setValues(presets.quick.values);
  refreshLimits();
}

/** Field maxima, presets and the duration estimate for the current size, content and server. */
function refreshLimits() {
  const size = Number($("param-size").value) || 0;
  presets = presetsFor(caps, content.aspect);
  setMaxima(fieldMaxima(caps.limits, size, content.aspect));
  markPreset(presets);
  const { values, errors } = validateParams(readValues(), maxima());
  const seconds = errors.size || errors.iterations ? null : predictSeconds(caps, values, content.aspect);
  const device = caps.fallback ? "" : ` on this server's ${caps.device.type.toUpperCase()}`;
  $("estimate").textContent = seconds === null ? "" : `about ${formatDuration(Math.max(1, seconds))}${device}`;
}

/** Maxima for validation: the work budget has its own, explanatory message (localErrors). */
function maxima() {
  const { size } = fieldMaxima(caps.limits, Number($("param-size").value) || 0, content.aspect);
  return { size, iterations: caps.limits.max_iterations };
}

function setState(state, message) {
  app.dataset.state = state;
  const running = state === "running";
  const focused = document.activeElement;
  $("start").disabled = running;
  $("cancel").disabled = !running;
  // A button that becomes disabled drops keyboard focus; hand it to the one that takes over.
  if (running && focused === $("start")) $("cancel").focus();
  if (!running && focused === $("cancel")) $("start").focus();
  setDisabled(running);
  styles.setDisabled(running);
  regions.setDisabled(running);
  for (const input of [$("content-input"), $("style-input")]) input.disabled = running;
  $("status").textContent = message;
}

function clearErrors() {
  for (const el of document.querySelectorAll("[data-error-for]")) el.textContent = "";
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function clearError(field) {
  const el = document.querySelector(`[data-error-for="${field}"]`);
  if (el) el.textContent = "";
}

// Fields without an element of their own, shown where the user can act on them.
const ERROR_HOME = { style_blend: "style", style_layer_weights: "style_layers" };
const MASK_FIELD = /^(?:style_)?mask(?:_(\d+))?$/;

/** Where a field's message goes: a style's masks show at that style's item. */
function homeOf(named) {
  const mask = MASK_FIELD.exec(named ?? "");
  return mask ? styleFieldName(Number(mask[1] ?? 1) - 1) : ERROR_HOME[named] ?? named;
}

/** Show a "<field>: message" next to its field (and mark the input invalid), else under Start. */
function showError(message) {
  const named = fieldOfMessage(message);
  const field = homeOf(named);
  const el = (field && document.querySelector(`[data-error-for="${field}"]`)) || $("run-error");
  el.textContent = message;
  const input = field && PARAM_NAMES.has(field) ? $(`param-${field}`) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    if (input.closest("details")) input.closest("details").open = true;
  }
  (input ?? el).scrollIntoView?.({ block: "nearest" });
}

/** Keyboard and screen-reader users land on the first thing to fix. */
function focusField(named) {
  const field = homeOf(named);
  const maskOf = MASK_FIELD.exec(named ?? "");
  const styleIndex = /^style_(\d+)$/.exec(field ?? "")?.[1];
  const target = (maskOf && $(`mask-input-${maskOf[1] ?? 1}`))
    || (field === "content" && $("content-input"))
    || (styleIndex && $(`blend-${styleIndex}`))
    || (field?.startsWith("style") && !PARAM_NAMES.has(field) && $("style-input"))
    || (PARAM_NAMES.has(field) && $(`param-${field}`))
    || $("start");
  target.focus();
}

/** Everything the user must fix before a request makes sense; messages in the server's format. */
function localErrors(values, errors) {
  const out = Object.entries(errors).map(([name, msg]) => `${name}: ${msg}`);
  if (!errors.size && !errors.iterations) {
    const budget = workBudgetError(values.size, values.iterations, caps.limits, content.aspect);
    if (budget) out.push(budget);
  }
  if (!content.source) out.push("content: choose a content image");
  if (styles.items.length === 0) out.push("style: add at least one style image");
  else if (styles.items.every((i) => i.weight === 0)) out.push(`${styleFieldName(0)}: at least one blend weight must be above 0`);
  return out;
}

async function buildForm(values) {
  const form = new FormData();
  const contentBlob = await encodeImage(content.source, values.size);
  form.append("content", contentBlob, uploadName("content", contentBlob, content.source));
  // Styles are used at size × style_scale; sending more pixels than that only costs bandwidth.
  const styleSide = Math.max(16, Math.round(values.size * values.style_scale));
  for (const [index, item] of styles.items.entries()) {
    const field = styleFieldName(index);
    const blob = await encodeImage(item.source, styleSide);
    form.append(field, blob, uploadName(field, blob, item.source));
  }
  const blend = styles.blend();
  if (blend) form.append("style_blend", blend);
  // Painted regions, at exactly the size the content is uploaded at (only styles that have paint).
  for (const { field, blob } of await regions.maskEntries(values.size)) form.append(field, blob, `${field}.png`);
  for (const [name, value] of toFormEntries(values)) form.append(name, value);
  form.append("response", "stream");
  return form;
}

async function start() {
  clearErrors();
  const { values, errors } = validateParams(readValues(), maxima());
  const problems = localErrors(values, errors);
  if (problems.length) {
    problems.forEach(showError);
    $("status").textContent = "Please fix the marked fields";
    focusField(fieldOfMessage(problems[0]));
    return;
  }
  controller = new AbortController();
  const { signal } = controller;
  results.reset({ size: values.size, multiscale: values.multiscale });
  results.setBefore(content.previewUrl);
  regions.snapshotForRun();
  app.dataset.result = "";
  delete app.dataset.doneMs;
  delete app.dataset.snapshotsAtDone;
  setState("running", "Uploading…");
  // One-column layout (phones): the result column moves first while running (styles.css); bring it
  // into view. Cancel stays reachable in a bar fixed to the bottom of the screen.
  if (window.matchMedia?.("(max-width: 800px)").matches) document.querySelector(".output").scrollIntoView?.({ block: "start" });
  let outcome = "error";
  let final = null;
  let fieldToFix;
  try {
    const form = await buildForm(values);
    if (signal.aborted) throw new DOMException("cancelled", "AbortError");
    setState("running", "Waiting for the server…");
    final = await runJob(apiUrl, form, {
      signal,
      onEvent(event, chunk) {
        const received = { ms: performance.now(), chunk };
        if (event.weights) $("weights-banner").hidden = event.weights !== "random-init";
        if (event.event === "queued") {
          $("status").textContent = queuedStatus(event.position);
          results.queued(event.position);
        } else if (event.event === "snapshot") {
          if (results.frames.length === 0) $("status").textContent = "Running…";
          results.snapshot(event, received);
        } else if (event.event === "done") {
          // Recorded before the final frame is added: how many snapshots were already shown.
          app.dataset.snapshotsAtDone = String($("filmstrip").children.length);
          app.dataset.doneMs = received.ms.toFixed(1);
          app.dataset.doneChunk = String(chunk);
          results.done(event, received);
        }
      },
    });
    outcome = "done";
  } catch (err) {
    if (signal.aborted) {
      outcome = "cancelled";
    } else {
      const message = err instanceof ApiError ? err.message : `Unexpected error: ${err.message}`;
      showError(message);
      // A 400 names the field to fix: go there once the fields are enabled again.
      if (err instanceof ApiError && err.status === 400) fieldToFix = fieldOfMessage(message);
    }
  } finally {
    controller = null;
    app.dataset.result = outcome;
    $("download-gif").disabled = results.frames.length < 2;
    const status = { done: "Done", cancelled: "Cancelled — ready", error: "Failed — see the message; ready" }[outcome];
    setState("ready", status);
    if (fieldToFix !== undefined) focusField(fieldToFix);
    if (outcome === "cancelled") {
      results.cancelled();
      $("current-caption").textContent = "Cancelled. Snapshots received so far are kept below.";
    }
    // Phones: the finished result stays first on the page (styles.css); show it, however far the user scrolled.
    if (outcome === "done" && window.matchMedia?.("(max-width: 800px)").matches) document.querySelector(".output").scrollIntoView?.({ block: "start" });
    if (outcome === "done") {
      history.add({ blob: results.frames.at(-1).blob, values, styles: styles.items.length, elapsedS: final.elapsed_s, stopped: final.stopped });
    }
  }
}
