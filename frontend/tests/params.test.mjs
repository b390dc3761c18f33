import "./schema.mjs";
// Parameter validation against the server's ranges (handler/stylize/params.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { LAYER_NAMES, PARAMS, PRESETS, defaultValues, inputText, toFormEntries, validateParams } from "../params.js";

const spec = (name) => PARAMS.find((p) => p.name === name);
const defaultsAsText = () => Object.fromEntries(PARAMS.map((p) => [p.name, p.kind === "bool" ? p.default : inputText(p, p.default)]));

test("defaults validate cleanly and come back typed", () => {
  const { values, errors } = validateParams(defaultsAsText());
  assert.deepEqual(errors, {});
  assert.deepEqual(values, defaultValues());
  assert.equal(values.size, 512);
  assert.equal(values.multiscale, true);
  assert.deepEqual(values.style_layers, ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]);
  assert.equal(values.time_budget_s, null);
});

test("missing raw values fall back to the defaults", () => {
  const { values, errors } = validateParams({});
  assert.deepEqual(errors, {});
  assert.deepEqual(values, defaultValues());
});

test("numbers outside the server's ranges are refused with the server's wording", () => {
  const { errors } = validateParams({ size: "8", iterations: "10001", style_scale: "5", seed: "-1", learning_rate: "0" });
  assert.equal(errors.size, "must be between 16 and 2048, got 8");
  assert.equal(errors.iterations, "must be between 1 and 10000, got 10001");
  assert.equal(errors.style_scale, "must be between 0.1 and 4, got 5");
  assert.match(errors.seed, /between 0 and 2147483647/);
  assert.match(errors.learning_rate, /between 0.00001 and 1/);
});

test("range ends are inclusive", () => {
  const { errors, values } = validateParams({ size: "16", iterations: "10000", snapshot_every: "0", content_weight: "0", style_scale: "0.1" });
  assert.deepEqual(errors, {});
  assert.equal(values.size, 16);
  assert.equal(values.snapshot_every, 0);
});

test("whole numbers, non-numbers and empty inputs", () => {
  const { errors } = validateParams({ size: "64.5", iterations: "ten", tv_weight: "", style_weight: "Infinity", seed: " 7 " });
  assert.equal(errors.size, "must be a whole number");
  assert.equal(errors.iterations, "must be a number, got 'ten'");
  assert.equal(errors.tv_weight, "must not be empty");
  assert.match(errors.style_weight, /must be a number/);
  assert.equal(errors.seed, undefined, "surrounding spaces are fine");
});

test("an empty optional value means not set and is left out of the request", () => {
  const { values, errors } = validateParams({ time_budget_s: "" });
  assert.equal(errors.time_budget_s, undefined);
  assert.equal(values.time_budget_s, null);
  assert.ok(!toFormEntries(values).some(([name]) => name === "time_budget_s"));
  assert.deepEqual(validateParams({ time_budget_s: "30" }).values.time_budget_s, 30);
});

test("choices and booleans", () => {
  const { errors, values } = validateParams({ init: "random", optimizer: "adam", pooling: "avg", preserve_colors: true, multiscale: "false" });
  assert.equal(errors.init, "must be one of content, noise, style");
  assert.equal(values.optimizer, "adam");
  assert.equal(values.pooling, "avg");
  assert.equal(values.preserve_colors, true);
  assert.equal(values.multiscale, false);
  assert.equal(validateParams({ multiscale: "maybe" }).errors.multiscale, "must be true or false");
});

test("layer lists: known names, no repeats, at least one", () => {
  assert.deepEqual(validateParams({ content_layers: " relu3_2 , relu4_2 " }).values.content_layers, ["relu3_2", "relu4_2"]);
  assert.equal(validateParams({ content_layers: "relu9_9" }).errors.content_layers, "unknown layer 'relu9_9' (use names like relu4_2)");
  assert.equal(validateParams({ style_layers: "relu1_1,relu1_1" }).errors.style_layers, "lists a layer twice");
  assert.equal(validateParams({ style_layers: " , " }).errors.style_layers, "needs at least one layer");
});

test("VGG19 layer names in network order", () => {
  assert.equal(LAYER_NAMES.length, 16 * 2 + 5);
  assert.deepEqual(LAYER_NAMES.slice(0, 5), ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]);
  assert.equal(LAYER_NAMES.at(-1), "pool5");
  assert.ok(LAYER_NAMES.includes("relu5_4"));
});

test("form entries: every field as text, lists comma-joined, names as the server spells them", () => {
  const entries = Object.fromEntries(toFormEntries(defaultValues()));
  assert.equal(entries.size, "512");
  assert.equal(entries.preserve_colors, "false");
  assert.equal(entries.style_layers, "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1");
  for (const name of Object.keys(entries)) assert.match(name, /^[a-z][a-z0-9_]*$/);
});

test("presets only name known parameters, with valid values", () => {
  for (const [key, preset] of Object.entries(PRESETS)) {
    for (const [name, value] of Object.entries(preset.values)) {
      assert.ok(spec(name), `${key}: ${name} is a parameter`);
      assert.equal(validateParams({ [name]: String(value) }).errors[name], undefined, `${key}: ${name}=${value}`);
    }
  }
});
