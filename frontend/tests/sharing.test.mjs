// The per-job share switch (the server's store switch): its label from the schema and capabilities, the field it
// adds to a job, and a kept job (which is fetched by its link) switched off with it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ShareSwitch, keptFor, shareSwitchLabel } from "../sharing.js";
import { applyFields, UPLOADS } from "../uploads.js";

const SCHEMA = JSON.parse(await (await import("node:fs/promises")).readFile(new URL("../schema.json", import.meta.url), "utf8"));
const STORE = SCHEMA.fields.switches.store;

function box(checked = true) {
  const listeners = [];
  return { checked, disabled: false, title: "", addEventListener: (_, f) => listeners.push(f), change() { listeners.forEach((f) => f()); } };
}

test("the label is the schema's, with how long this server keeps results", () => {
  assert.equal(shareSwitchLabel(STORE, 7 * 86400), "Keep a share link for 7 days");
  assert.equal(shareSwitchLabel(STORE, 86400), "Keep a share link for 1 day");
  assert.equal(shareSwitchLabel(STORE, 36 * 3600), "Keep a share link for 36 hours");
  assert.equal(shareSwitchLabel(STORE, null), "Keep a share link");
  assert.equal(keptFor(600), "10 minutes");
});

test("the schema's switches reach the app with the upload names", () => {
  applyFields(SCHEMA.fields);
  assert.equal(UPLOADS.switches.store.default, true);
  assert.deepEqual(Object.keys(UPLOADS.switches).sort(), ["keep", "store", "store_inputs"]);
});

test("on by default: nothing is added; off: store=false, and keep running is off and disabled until it is back on", () => {
  const share = box(), keep = box(true), text = { textContent: "" }, label = { hidden: true, title: "" };
  const sw = new ShareSwitch(share, text, label, keep);
  sw.apply(STORE, { enabled: true, max_age_s: 604800 });
  assert.equal(label.hidden, false);
  assert.equal(text.textContent, "Keep a share link for 7 days");
  assert.deepEqual(sw.formEntries(), []);
  share.checked = false;
  share.change();
  assert.deepEqual(sw.formEntries(), [["store", "false"]]);
  assert.equal(keep.checked, false);
  assert.equal(keep.disabled, true);
  assert.match(keep.title, /share link/);
  share.checked = true;
  share.change();
  assert.equal(keep.checked, true); // as the user had it
  assert.equal(keep.disabled, false);
});

test("a server that keeps no results shows no switch and the job sends nothing", () => {
  const share = box(false), label = { hidden: false, title: "" };
  const sw = new ShareSwitch(share, { textContent: "" }, label, box());
  sw.apply(STORE, { enabled: false, max_age_s: null });
  assert.equal(label.hidden, true);
  assert.deepEqual(sw.formEntries(), []);
});
