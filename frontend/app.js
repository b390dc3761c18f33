// Wiring: capabilities -> pickers and parameter panel -> one streamed job -> results and history.
// The app has two states, ready and running; every way a job can end (done, 4xx, server error
// line, cut stream, unreachable server, cancel) goes through one `finally`, so it never stays "running".
import { ApiError, MODEL_PATH, fetchCapabilities, queuedStatus, resolveApiBase, runJob } from "./api.js";
import { DEFAULT_CAPABILITIES, capabilitiesUrls, fieldMaxima, parseCapabilities, presetsFor } from "./capabilities.js";
import { fieldOfMessage } from "./errors.js";
import { buildParamPanel, markPreset, readValues, setDisabled, setMaxima, setValues } from "./form.js";
import { RunHistory } from "./history.js";
import { Jobs } from "./jobs.js";
import { runLabel } from "./names.js";
import { TabStore, loadSettings, saveSettings } from "./session.js";
import { USE_SETTINGS_KEY } from "./saved.js";
import { ShareSwitch, Sharing } from "./sharing.js";
import { labelled } from "./labels.js";
import { FormatNotSupported, encodeImage, uploadName } from "./images.js";
import { examplePhotos, fileOf, galleryStyles, paintingLabel, thumbButton } from "./gallery.js";
import { PARAMS, PARAM_NAMES, loadSchema, toFormEntries } from "./params.js";
import { ContentPicker, StyleList, bindDropzone } from "./pickers.js";
import { formatDuration } from "./progress.js";
import { RegionPainter } from "./regions.js";
import { Results } from "./results.js";
import { SimpleMode } from "./simple.js";
import { PlanRefused, debounce, planAsker } from "./stages.js";
import { UPLOADS, maskField, maxStyles, styleField, uploadOf } from "./uploads.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const apiBase = resolveApiBase(location.search, window.STYLE_CONFIG);
const apiUrl = `${apiBase}${MODEL_PATH}`;
const askPlan = planAsker(apiBase, apiUrl);
const results = new Results();
new Viewer($("viewer"), $("current-image")); // fit to the column, or 100 % with pan
const content = new ContentPicker($("content-preview"), $("content-hint"));
const regions = new RegionPainter();
const tab = new TabStore(); // this tab's pictures and runs, kept across a reload (session.js)
const styles = new StyleList($("style-list"), $("style-count"), () => {
  clearError("style");
  saveStyles();
  regions.setStyles(styles.items);
  showPickHint();
}, {
  onRemove: (item) => regions.freeSlot(item.slot),
  onMaskFile(item, index, file) {
    const field = maskField(index);
    clearError(styleField(index));
    regions.loadMask(item.slot, file).then(() => {
      $("paint").open = true; // show what was loaded, ready to touch up
    }, (err) => showError(err instanceof FormatNotSupported ? `${field}: ${err.message}` : `${field}: could not use ${file.name} (${err.message})`));
  },
});
const history = new RunHistory($("history"), $("history-empty"), (values, { weights, regions: saved, painted }, n) => {
  setValues(values);
  refreshLimits();
  // The blend and the regions come back too when they still fit (same number of styles, same content).
  const kept = [];
  const notKept = [];
  if (weights.length > 1) (styles.setWeights(weights) ? kept : notKept).push("blend");
  if (painted.length) (regions.restore(saved) ? kept : notKept).push("painted regions");
  const said = [`Settings of run ${n} restored${kept.length ? ` (with its ${kept.join(" and ")})` : ""}.`];
  if (notKept.length) said.push(`Its ${notKept.join(" and ")} did not fit the current images and ${notKept.length > 1 ? "were" : "was"} left as is.`);
  $("status").textContent = said.join(" ");
  $("settings").open = true; // the restored values are shown where they can be changed
  $("param-size").focus();
});
const sharing = new Sharing(apiBase);
const shareSwitch = new ShareSwitch($("share-job"), $("share-switch-text"), $("share-label"), $("keep-job"));
const jobs = new Jobs($("jobs"), $("jobs-section"), apiBase, { onMoved: () => sharing.showSaved() });
let keptNow = null; // the running job's kept record (id, cancel token) when it was sent with keep=true
const KEEP_OFFER_S = 60; // jobs estimated longer than this are offered "Keep running if I leave"
sharing.showSaved(true);
let caps = DEFAULT_CAPABILITIES;
// Simple mode's choices set the panel's fields; a size chosen there counts as set by hand.
const simple = new SimpleMode({
  onPick(values) {
    setValues(values);
    if ("size" in values) editedByHand = true;
    refreshLimits();
  },
});
let presets = null; // set once the panel exists (its schema is read first)
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

// The panel is built from the server's schema (capabilities' `params`, else the shipped schema.json),
// so it waits for that; Start waits for it too.
track(init());

async function init() {
  const doc = await fetchCapabilities(capabilitiesUrls(apiBase, MODEL_PATH)).catch(() => null);
  try {
    await loadSchema(doc);
  } catch (err) {
    showError(`The parameter panel could not be built: neither the server's nor the shipped schema could be read (${err.message}).`);
    return;
  }
  const keptSettings = loadSettings(PARAM_NAMES); // read before the defaults below are saved over them
  buildParamPanel({
    basic: $("params-basic"), advanced: $("params-advanced"), presets: $("presets"),
    onPreset(key) {
      const chosen = presets[key].values;
      setValues(chosen);
      editedByHand = true;
      refreshLimits();
      // Then its iterations fitted to this server's work budget, unless the user has moved on meanwhile.
      fitted(chosen).then((values) => {
        const now = readValues();
        if (String(now.size).trim() !== String(chosen.size) || String(now.iterations).trim() !== String(chosen.iterations)) return;
        presets[key] = { ...presets[key], values };
        setValues(values);
        refreshLimits();
      });
    },
  });
  presets = presetsFor(caps);
  setValues(presets.quick.values);
  setMaxima(fieldMaxima(caps.limits));
  for (const name of PARAM_NAMES) watchField(name);
  useCapabilities(doc);
  styles.render(); // the count shows this server's number of styles
  showPickables(doc?.styles);
  if (keptSettings) {
    setValues(keptSettings);
    editedByHand = true;
    refreshLimits();
  }
  await restoreTab();
  useSharedSettings();
}

/** A reload of this tab: its pictures (with their blend) and its finished runs come back. */
async function restoreTab() {
  const saved = await tab.load();
  if (!saved) return;
  if (saved.content instanceof Blob) await pickContent(saved.content);
  const kept = (saved.styles ?? []).filter((s) => s?.file instanceof Blob);
  if (kept.length) {
    await addStyles(kept.map((s) => s.file));
    styles.setWeights(kept.map((s) => s.weight));
  }
  history.restore(saved.runs);
}

function saveStyles() {
  tab.save({ styles: styles.items.map((i) => ({ file: i.source.file, weight: i.weight })) });
}

/** "Use these settings" on a share page (/r/<id>) hands its params over in sessionStorage. */
function useSharedSettings() {
  let shared = null;
  try {
    shared = JSON.parse(sessionStorage.getItem(USE_SETTINGS_KEY) || "null");
    sessionStorage.removeItem(USE_SETTINGS_KEY);
  } catch { /* storage off: nothing handed over */ }
  if (!shared?.params) return;
  const values = Object.fromEntries(Object.entries(shared.params).filter(([name, v]) => PARAM_NAMES.has(name) && v !== null));
  setValues(values);
  editedByHand = true;
  refreshLimits();
  $("status").textContent = "Settings of the shared result loaded; pick a content and a style image, then Start.";
}

function watchField(name) {
  const input = $(`param-${name}`);
  input.addEventListener("input", () => {
    if (name === "size" || name === "iterations") editedByHand = true;
    refreshLimits();
  });
  // A wrong value is said when the field is left (the server's answer may come while the user types).
  input.addEventListener("blur", () => {
    if (planProblem?.field === name) showError(planProblem.message, { scroll: false });
  });
}

/**
 * Before any run, the result column says what is still missing; once both images are picked the hint
 * goes (Start is next). A run's own captions (snapshots, failure, cancel) are left alone.
 */
function showPickHint() {
  if (app.dataset.state === "running" || results.frames.length > 0) return;
  const missing = [content.source ? "" : "a content", styles.items.length ? "" : "a style"].filter(Boolean);
  $("current-caption").textContent = missing.length ? `Pick ${missing.join(" and ")} image, then Start.` : "";
}

/** A picked content image (file dialog, drop or an example photo). */
function pickContent(file) {
  clearError("content");
  return track(content.set(file).then(
    () => {
      tab.save({ content: file });
      results.setBefore(content.previewUrl);
      const b = content.source.bitmap;
      regions.setContent(content.previewUrl, content.previewSize, b && { width: b.width, height: b.height });
      showPickHint();
      refreshLimits();
    },
    (err) => showError(err instanceof FormatNotSupported ? `${UPLOADS.content}: ${err.message}` : `${UPLOADS.content}: could not read ${file.name} (${err.message})`),
  ));
}

/** Picked style images (file dialog, drop or a built-in style). */
function addStyles(files) {
  clearError("style");
  return track(styles.add(files).then(
    ({ overflow, notSupported }) => {
      const problems = [];
      if (notSupported.length) {
        problems.push(`${notSupported.join(", ")}: format not supported (this browser cannot read ${notSupported.length === 1 ? "it" : "them"} as an image; PNG or JPEG always work)`);
      }
      if (overflow) problems.push(`room for ${maxStyles()} style images here; ${overflow} not added`);
      if (problems.length) showError(`style: ${problems.join("; ")}`);
    },
    (err) => showError(`style: could not read the image (${err.message})`),
  ));
}

bindDropzone(document.querySelector('[data-testid="content-drop"]'), $("content-input"), ([file]) => pickContent(file));
bindDropzone(document.querySelector('[data-testid="style-drop"]'), $("style-input"), (files) => addStyles(files));
$("style-list").addEventListener("change", saveStyles); // a blend slider let go

/** The built-in styles (the server's list) and the example photos, one tap each. */
async function showPickables(serverStyles) {
  const [gallery, photos] = await Promise.all([galleryStyles(serverStyles).catch(() => []), examplePhotos().catch(() => [])]);
  $("gallery-list").replaceChildren(...gallery.map((style) => thumbButton({
    testid: `gallery-${style.name}`, thumbnail: style.thumbnail, title: style.title, detail: `${style.artist}, ${style.year}`,
    action: "Add style: ",
    onPick: () => track(fileOf(style, `${paintingLabel(style)}.jpg`).then((file) => addStyles([file]),
      (err) => showError(`style: could not load ${style.title} (${err.message})`))),
  })));
  $("gallery").hidden = gallery.length === 0;
  $("example-list").replaceChildren(...photos.map((photo) => thumbButton({
    testid: `example-${photo.name}`, thumbnail: photo.thumbnail, title: photo.title, detail: `${photo.credit}, ${photo.licence}`,
    action: "Use example photo: ",
    onPick: () => track(fileOf(photo, photo.file).then((file) => pickContent(file),
      (err) => showError(`${UPLOADS.content}: could not load ${photo.title} (${err.message})`))),
  })));
  $("examples").hidden = photos.length === 0;
}

// A file dropped beside a drop zone would make the browser open it in place of the app, losing the
// inputs, the run and the history: anywhere else on the page a drop does nothing but say where to drop.
document.addEventListener("dragover", (e) => {
  if (e.defaultPrevented) return; // a drop zone takes it
  e.preventDefault();
  e.dataTransfer.dropEffect = "none";
});
document.addEventListener("drop", (e) => {
  if (e.defaultPrevented) return;
  e.preventDefault();
  if (e.dataTransfer?.files.length) $("status").textContent = "Drop photos on the Content image or Style images box.";
});
// Leaving (reload, close, another address) while a job runs would drop it: the browser asks first.
window.addEventListener("beforeunload", (e) => {
  if (app.dataset.state !== "running") return;
  e.preventDefault();
  e.returnValue = "";
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
$("cancel").addEventListener("click", () => {
  // A kept job runs on when its connection closes: Cancel stops it on the server too, with its token.
  if (keptNow) jobs.cancel(keptNow.id);
  controller?.abort();
});

/** This server's limits, weights and speed; without them the built-in defaults apply, said discreetly. */
function useCapabilities(doc) {
  try {
    caps = parseCapabilities(doc);
    app.dataset.capabilities = "server";
  } catch {
    caps = DEFAULT_CAPABILITIES;
    app.dataset.capabilities = "defaults";
    const note = $("caps-note");
    note.textContent = "Could not read this server's limits; the page uses built-in defaults, and the server may still refuse a large job.";
    note.hidden = false;
  }
  presets = presetsFor(caps);
  setMaxima(fieldMaxima(caps.limits));
  // The first values: simple mode's default size (about half a minute here), else the server's preview.
  const firstSize = simple.use(caps.fallback ? null : doc);
  if (caps.weights.random_init) $("weights-banner").hidden = false;
  shareSwitch.apply(UPLOADS.switches.store, caps.results);
  showWeights(caps);
  if (caps.precision?.auto) {
    const spec = PARAMS.find((p) => p.name === "precision");
    $("param-precision-help").textContent = `${spec.help} Here auto = ${caps.precision.auto} (${caps.precision.reason}).`;
  }
  if (!editedByHand) setValues(firstSize ?? presets.quick.values);
  refreshLimits();
}

/** Which network this server's features come from and where its weights came from (operator fold). */
function showWeights(c) {
  if (!c.weights.label) return;
  $("server-info").hidden = false;
  $("weights-label").textContent = c.weights.label;
  $("weights-source").textContent = [c.weights.source, c.weights.licence].filter(Boolean).join(" · ");
}

/** Presets marked, and the server asked about the current values (its plan: estimate, most iterations, messages). */
function refreshLimits() {
  if (PARAMS.length === 0 || !presets) return; // the panel is not built yet
  saveSettings(readValues());
  markPreset(presets);
  simple.sync(readValues());
  planProblem = null; // until the server answers for these values
  planRequest += 1;
  askSoon(planRequest);
}

// The server's answer about the current values: the latest successful plan or the field it refused.
// Each question is numbered; an answer to an older one (the form changed since) is dropped.
let planRequest = 0;
let planProblem = null;
const askSoon = debounce((request) => questionPlan(request), 300);

/** The content's pixel size for a plan question; before a content is picked, a square. */
function contentSize() {
  const b = content.source?.bitmap;
  // No photo yet: a square stands in (the plan depends on its shape only; a 1 px one is under the server's
  // smallest content side, which plan questions are held to as well).
  return b ? { width: b.width, height: b.height } : { width: 256, height: 256 };
}

async function questionPlan(request) {
  try {
    const answer = await askPlan(readValues(), contentSize());
    if (request === planRequest) usePlan(answer);
  } catch (err) {
    if (request !== planRequest) return;
    $("estimate").textContent = "";
    if (err instanceof PlanRefused) useRefusal(err.message);
    // any other failure: no estimate; the run itself still says its ETA and the job its own refusal
  }
}

function usePlan(answer) {
  clearParamErrors();
  const spec = PARAMS.find((p) => p.name === "iterations");
  if (answer.maxIterations !== null) setMaxima({ iterations: Math.min(spec.max, answer.maxIterations) });
  const device = caps.fallback ? "" : ` on this server's ${caps.device.type.toUpperCase()}`;
  $("estimate").textContent = answer.estimateS === null ? "" : `about ${formatDuration(Math.max(1, answer.estimateS))}${device}`;
  $("keep-label").hidden = !(caps.kept && answer.estimateS !== null && answer.estimateS > KEEP_OFFER_S);
}

/** A refusal naming a panel field: said at once unless the user is still typing in that field (then on blur). */
function useRefusal(message) {
  const field = fieldOfMessage(message);
  if (!PARAM_NAMES.has(field)) return;
  clearParamErrors(field);
  planProblem = { field, message };
  if (document.activeElement !== $(`param-${field}`)) showError(message, { scroll: false });
}

/** Clears the messages of panel fields (all but `except`): the server's latest answer found no problem with them. */
function clearParamErrors(except = null) {
  for (const name of PARAM_NAMES) if (name !== except) clearError(name);
}

/**
 * A preset's values with its iterations fitted to the server's work budget for the content at hand (the
 * server's most iterations at that size); the preset as is when the server cannot be asked.
 */
async function fitted(values) {
  try {
    const answer = await askPlan({ ...readValues(), ...values, iterations: "1" }, contentSize());
    return answer.maxIterations === null ? values : { ...values, iterations: Math.min(values.iterations, answer.maxIterations) };
  } catch {
    return values;
  }
}

function setState(state, message) {
  app.dataset.state = state;
  const running = state === "running";
  const focused = document.activeElement;
  $("start").disabled = running;
  $("cancel").disabled = !running;
  // A button that becomes disabled drops keyboard focus; hand it to the one that takes over.
  // Enter in a field starts too: the field is then disabled, so focus goes to Cancel likewise.
  if (running && (focused === $("start") || $("job-form").contains(focused) && focused !== $("cancel"))) $("cancel").focus();
  if (!running && focused === $("cancel")) $("start").focus();
  setDisabled(running);
  simple.setDisabled(running);
  styles.setDisabled(running);
  regions.setDisabled(running);
  for (const input of [$("content-input"), $("style-input"), ...document.querySelectorAll(".thumb")]) input.disabled = running;
  $("status").textContent = message;
}

function clearErrors() {
  for (const el of document.querySelectorAll("[data-error-for]")) el.textContent = "";
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function clearError(field) {
  const el = document.querySelector(`[data-error-for="${field}"]`);
  if (el) el.textContent = "";
  $(`param-${field}`)?.removeAttribute("aria-invalid");
}

/** Scrolls so `el` is on screen and not under the sticky Start/Cancel bar at the bottom. */
function revealAboveBar(el) {
  if (!el) return;
  el.scrollIntoView?.({ block: "nearest" });
  const bar = document.querySelector(".actions");
  if (bar.contains(el)) return;
  const barTop = bar.getBoundingClientRect().top;
  const box = el.getBoundingClientRect();
  if (barTop < innerHeight && box.bottom > barTop - 8) window.scrollBy(0, box.bottom - barTop + 8);
}

// Fields without an element of their own, shown where the user can act on them.
const ERROR_HOME = { style_blend: "style", style_layer_weights: "style_layers" };

/** Where a field's message goes: a style's masks show at that style's item. */
function homeOf(named) {
  const upload = uploadOf(named);
  return upload && upload.kind !== "style" ? styleField(upload.index) : ERROR_HOME[named] ?? named;
}

/** Where a field's message shows: its own line, else the line under Start. */
function errorLineOf(named) {
  const field = homeOf(named);
  return (field && document.querySelector(`[data-error-for="${field}"]`)) || $("run-error");
}

/** Show a "<field>: message" next to its field, with the field's label (and mark the input invalid), else under Start. */
function showError(message, { scroll = true } = {}) {
  const named = fieldOfMessage(message);
  const field = homeOf(named);
  const el = errorLineOf(named);
  el.textContent = labelled(message);
  const input = field && PARAM_NAMES.has(field) ? $(`param-${field}`) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    // every fold around it (Advanced settings, Expert) opens, so the field can be seen and fixed
    for (let fold = input.closest("details"); fold; fold = fold.parentElement.closest("details")) fold.open = true;
  }
  if (scroll) revealAboveBar(el);
}

/** Keyboard and screen-reader users land on the first thing to fix. */
function focusField(named) {
  const field = homeOf(named);
  const upload = uploadOf(named);
  const target = (upload && upload.kind !== "style" && $(`mask-input-${upload.index + 1}`))
    || (field === UPLOADS.content && $("content-input"))
    || (upload?.kind === "style" && upload.index > 0 && $(`blend-${upload.index + 1}`))
    || ((upload?.kind === "style" || field === "style_blend") && $("style-input"))
    || (PARAM_NAMES.has(field) && $(`param-${field}`))
    || $("start");
  target.focus({ preventScroll: true });
  // The message is under its field: both must be above the sticky Start/Cancel bar.
  revealAboveBar(target === $("start") ? target : errorLineOf(named));
}

/** What the pickers lack before a request makes sense (the parameters are the server's to judge). */
function pickerErrors() {
  const out = [];
  if (!content.source) out.push(`${UPLOADS.content}: choose a content image`);
  if (styles.items.length === 0) out.push(`${styleField(0)}: add at least one style image`);
  else if (styles.items.every((i) => i.weight === 0)) out.push(`${styleField(0)}: at least one blend weight must be above 0`);
  return out;
}

/** What a run is of, by its pictures' file names (a built-in painting's file is named by its title). */
function runNames() {
  return { photo: content.source?.file.name ?? "", styles: styles.items.map((i) => i.source.file.name) };
}

/** The upload: images at the sizes the server will use (`values`: its view of the params), the params as typed. */
async function buildForm(raw, values) {
  const form = new FormData();
  const size = Number(values.size);
  const contentBlob = await encodeImage(content.source, size);
  form.append(UPLOADS.content, contentBlob, uploadName(UPLOADS.content, contentBlob));
  // Styles are used at size × style_scale; sending more pixels than that only costs bandwidth.
  const styleSide = Math.max(16, Math.round(size * Number(values.style_scale)));
  for (const [index, item] of styles.items.entries()) {
    const field = styleField(index);
    const blob = await encodeImage(item.source, styleSide);
    form.append(field, blob, uploadName(field, blob));
  }
  const blend = styles.blend();
  if (blend) form.append("style_blend", blend);
  // Painted regions, at exactly the size the content is uploaded at (only styles that have paint).
  for (const { field, blob } of await regions.maskEntries(size)) form.append(field, blob, `${field}.png`);
  for (const [name, value] of toFormEntries(raw)) form.append(name, value);
  form.append("response", "stream");
  if (!$("keep-label").hidden && $("keep-job").checked) form.append("keep", "true");
  for (const [name, value] of shareSwitch.formEntries()) form.append(name, value);
  return form;
}

async function start() {
  clearErrors();
  planRequest += 1; // answers to questions asked before Start are stale: they must not clear what Start finds
  const raw = readValues();
  // Running from the click on (fields locked): the check below is the job's first step, not a second form.
  setState("running", "Checking the settings…");
  const problems = pickerErrors();
  // The server judges the parameters (its plan answer, no upload yet); unreachable, the job itself will say.
  let answer = null;
  try {
    answer = await askPlan(raw, contentSize());
  } catch (err) {
    if (err instanceof PlanRefused) problems.unshift(err.message);
  }
  const values = { ...raw, ...answer?.params };
  if (problems.length) {
    setState("ready", "");
    problems.forEach(showError);
    $("status").textContent = "Please fix the marked fields";
    focusField(fieldOfMessage(problems[0]));
    return;
  }
  controller = new AbortController();
  const { signal } = controller;
  results.reset(answer, { ...runNames(), size: values.size });
  sharing.reset();
  results.setBefore(content.previewUrl);
  regions.snapshotForRun();
  // What "Use these settings" brings back besides the parameters: this run's blend and regions.
  const run = { weights: styles.items.map((i) => i.weight), shares: styles.shares(), painted: regions.painted(), regions: regions.save() };
  // The paintings as the history card shows them (small, taken now: the list may change during the run).
  const styleImages = Promise.all(styles.items.map(async (i) => ({ name: i.source.file.name, blob: await encodeImage(i.source, 96) })));
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
    const form = await buildForm(raw, values);
    if (signal.aborted) throw new DOMException("cancelled", "AbortError");
    setState("running", "Waiting for the server…");
    final = await runJob(apiUrl, form, {
      signal,
      onEvent(event, chunk) {
        const received = { ms: performance.now(), chunk };
        if (event.weights) $("weights-banner").hidden = !String(event.weights).endsWith("random-init");
        if (event.event === "plan") {
          results.planned(event);
          if (event.kept) keptNow = jobs.add(event.kept, { label: runLabel(runNames()), size: values.size });
        } else if (event.event === "queued") {
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
          sharing.done(event);
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
    keptNow = null;
    app.dataset.result = outcome;
    $("download-gif").hidden = results.frames.length < 2;
    const status = { done: "Done", cancelled: "Cancelled — ready", error: "Failed — see the message; ready" }[outcome];
    setState("ready", status);
    if (fieldToFix !== undefined) focusField(fieldToFix);
    if (outcome === "error") results.failed();
    if (outcome === "cancelled") {
      results.cancelled();
      $("current-caption").textContent = "Cancelled. Snapshots received so far are kept below.";
    }
    // Phones: the finished result stays first on the page (styles.css); show it, however far the user scrolled.
    if (outcome === "done" && window.matchMedia?.("(max-width: 800px)").matches) document.querySelector(".output").scrollIntoView?.({ block: "start" });
    if (outcome === "done") {
      const blob = results.frames.at(-1).blob;
      styleImages.catch(() => []).then((pictures) => {
        history.add({
          blob, values: raw, styles: styles.items.length, elapsedS: final.elapsed_s, stopped: final.stopped,
          shares: run.shares, painted: run.painted, extra: run, styleImages: pictures,
        });
        tab.save({ runs: history.records() });
      });
    }
  }
}
