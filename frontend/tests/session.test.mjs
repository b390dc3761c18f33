import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_AGE_MS, loadSettings, saveSettings, staleTabs, tabId } from "../session.js";

function memoryStorage() {
  const data = new Map();
  return { getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)), data };
}

test("a tab keeps its id across reloads; a new tab gets its own", () => {
  const tab = memoryStorage();
  let n = 0;
  const make = () => `tab-${(n += 1)}`;
  assert.equal(tabId(tab, make), "tab-1");
  assert.equal(tabId(tab, make), "tab-1"); // the reload: same sessionStorage
  assert.equal(tabId(memoryStorage(), make), "tab-2");
  assert.equal(tabId(null, make), null); // storage off: nothing is kept
});

test("settings come back only for fields the panel still has", () => {
  const tab = memoryStorage();
  saveSettings({ size: "256", iterations: "80", gone_field: "1", seed: null }, tab);
  assert.deepEqual(loadSettings(new Set(["size", "iterations", "seed"]), tab), { size: "256", iterations: "80" });
  assert.equal(loadSettings(new Set(["size"]), memoryStorage()), null);
  tab.setItem("style-transfer.settings", "{not json");
  assert.equal(loadSettings(new Set(["size"]), tab), null);
});

test("records of tabs not touched for two days are dropped", () => {
  const now = 10 * MAX_AGE_MS;
  const records = [{ tab: "fresh", updated: now - 1000 }, { tab: "old", updated: now - MAX_AGE_MS - 1 }, { tab: "broken" }];
  assert.deepEqual(staleTabs(records, now), ["old", "broken"]);
});
