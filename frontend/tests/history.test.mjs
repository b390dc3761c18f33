import "./schema.mjs";
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeRun } from "../history.js";
import { defaultValues } from "../params.js";

test("a run is described by the settings that change its look", () => {
  const values = { ...defaultValues(), size: 256, iterations: 100, preserve_colors: true };
  const lines = describeRun(values, { styles: 2, elapsedS: 12.4, stopped: "completed" });
  assert.deepEqual(lines, [
    "256 px · 100 iterations",
    "style 10 · content 1 · TV 10",
    "lbfgs · multiscale · colours kept · from content",
    "2 style images · seed 0",
    "took 12 s",
  ]);
  assert.equal(describeRun(values, { styles: 1, elapsedS: 4, stopped: "time_budget" }).at(-1), "took 4 s (time budget)");
});

test("a run with a blend and painted regions says so", () => {
  const values = { ...defaultValues(), size: 256, iterations: 100 };
  const lines = describeRun(values, { styles: 2, elapsedS: 3, stopped: "completed", shares: [70, 30], painted: [1, 2] });
  assert.ok(lines.includes("blend 70 % / 30 %"), lines.join("\n"));
  assert.ok(lines.includes("regions painted for style 1, 2"), lines.join("\n"));
  const plain = describeRun(values, { styles: 1, elapsedS: 3, stopped: "completed", shares: [100], painted: [] });
  assert.ok(!plain.some((l) => l.startsWith("blend") || l.startsWith("regions")), plain.join("\n"));
});

test("a run whose paintings the card shows by name does not count them", () => {
  const values = { ...defaultValues(), size: 256, iterations: 100, seed: 3 };
  const lines = describeRun(values, { styles: ["a.png", "The Wave — Hokusai, 1831.jpg"], elapsedS: 3, stopped: "completed" });
  assert.ok(lines.includes("seed 3"), lines.join("\n"));
  assert.ok(!lines.some((l) => l.includes("style image")), lines.join("\n"));
});
