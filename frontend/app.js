// Wiring: pickers and parameter panel -> one streamed job -> results. The app has two states,
// ready and running; every way a job can end (done, 4xx, server error line, cut stream,
// unreachable server, cancel) goes through one `finally`, so it never stays "running".
import { ApiError, MODEL_PATH, resolveApiBase, runJob } from "./api.js";
import { fieldOfMessage, styleFieldName } from "./errors.js";
import { buildParamPanel, readValues, setDisabled } from "./form.js";
import { encodeImage, uploadName } from "./images.js";
import { PARAM_NAMES, toFormEntries, validateParams } from "./params.js";
import { ContentPicker, StyleList, bindDropzone } from "./pickers.js";
import { Results } from "./results.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const apiUrl = `${resolveApiBase(location.search, window.STYLE_CONFIG)}${MODEL_PATH}`;
const results = new Results();
const content = new ContentPicker($("content-preview"), document.querySelector('[data-testid="content-drop"] .dropzone-hint'));
const styles = new StyleList($("style-list"), $("style-count"), () => clearError("style"));
let controller = null;
// Picked files are decoded asynchronously; Start waits for them, so a quick click after a drop
// does not find "no content image" (or a partial style list).
let loading = Promise.resolve();
let starting = false;
const track = (work) => {
  loading = Promise.allSettled([loading, work]);
  return work;
};

buildParamPanel({ basic: $("params-basic"), advanced: $("params-advanced"), presets: $("presets") });
bindDropzone(document.querySelector('[data-testid="content-drop"]'), $("content-input"), ([file]) => {
  clearError("content");
  return track(content.set(file).catch((err) => showError(`content: could not read ${file.name} (${err.message})`)));
});
bindDropzone(document.querySelector('[data-testid="style-drop"]'), $("style-input"), (files) => {
  clearError("style");
  return track(styles.add(files).then(
    (refused) => refused && showError(`style: at most 8 style images; ${refused} not added`),
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

/** Show a "<field>: message" next to its field (and mark the input invalid), else under Start. */
function showError(message) {
  const named = fieldOfMessage(message);
  const field = ERROR_HOME[named] ?? named;
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
function focusField(field) {
  const id = { content: "content-input", style: "style-input" }[field] ?? (PARAM_NAMES.has(field) ? `param-${field}` : null);
  $(id ?? "start")?.focus();
}

/** Everything the user must fix before a request makes sense; messages in the server's format. */
function localErrors(values, errors) {
  const out = Object.entries(errors).map(([name, msg]) => `${name}: ${msg}`);
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
  for (const [name, value] of toFormEntries(values)) form.append(name, value);
  form.append("response", "stream");
  return form;
}

async function start() {
  clearErrors();
  const { values, errors } = validateParams(readValues());
  const problems = localErrors(values, errors);
  if (problems.length) {
    problems.forEach(showError);
    $("status").textContent = "Please fix the marked fields";
    focusField(fieldOfMessage(problems[0]));
    return;
  }
  controller = new AbortController();
  const { signal } = controller;
  results.reset();
  app.dataset.result = "";
  delete app.dataset.doneMs;
  delete app.dataset.snapshotsAtDone;
  $("weights-banner").hidden = true;
  setState("running", "Uploading…");
  // One-column layout (phones): bring the progress and result into view; Cancel stays reachable
  // in a bar fixed to the bottom of the screen while the job runs (styles.css).
  if (window.matchMedia?.("(max-width: 800px)").matches) $("progress").scrollIntoView?.({ block: "start", behavior: "smooth" });
  let outcome = "error";
  try {
    const form = await buildForm(values);
    if (signal.aborted) throw new DOMException("cancelled", "AbortError");
    setState("running", "Waiting for the server…");
    await runJob(apiUrl, form, {
      signal,
      onEvent(event, chunk) {
        const received = { ms: performance.now(), chunk };
        if (results.frames.length === 0) $("status").textContent = "Running…";
        if (event.weights) $("weights-banner").hidden = event.weights !== "random-init";
        if (event.event === "snapshot") {
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
      showError(err instanceof ApiError ? err.message : `Unexpected error: ${err.message}`);
    }
  } finally {
    controller = null;
    app.dataset.result = outcome;
    $("download-gif").disabled = results.frames.length < 2;
    const status = { done: "Done", cancelled: "Cancelled — ready", error: "Failed — see the message; ready" }[outcome];
    setState("ready", status);
    if (outcome === "cancelled") $("current-caption").textContent = "Cancelled. Snapshots received so far are kept below.";
  }
}
