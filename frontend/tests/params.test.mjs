import "./schema.mjs";
// The panel's parameters from the shipped schema, and the request's form entries.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LAYER_NAMES, PARAMS, PRESETS, defaultValues, inputText, toFormEntries } from "../params.js";

const spec = (name) => PARAMS.find((p) => p.name === name);
const defaultsAsText = () => Object.fromEntries(PARAMS.map((p) => [p.name, p.kind === "bool" ? p.default : inputText(p, p.default)]));

test("defaults from the schema, typed", () => {
  const values = defaultValues();
  assert.equal(values.size, 512);
  assert.equal(values.multiscale, true);
  assert.deepEqual(values.style_layers, ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]);
  assert.equal(values.time_budget_s, null);
  assert.equal(spec("size").max, 4096, "ranges come from the schema");
});

test("inputs go to the server as typed (trimmed): the app judges no value, the server's plan answer does", () => {
  const entries = Object.fromEntries(toFormEntries({ ...defaultsAsText(), size: " 64.5 ", iterations: "ten", tv_weight: "", multiscale: false }));
  assert.equal(entries.size, "64.5");
  assert.equal(entries.iterations, "ten");
  assert.equal(entries.tv_weight, "", "an empty required value is sent: the server names it");
  assert.equal(entries.multiscale, "false");
});

test("an empty optional value means not set and is left out of the request", () => {
  assert.ok(!toFormEntries({ ...defaultsAsText(), time_budget_s: " " }).some(([name]) => name === "time_budget_s"));
  assert.deepEqual(toFormEntries({ time_budget_s: "30" }), [["time_budget_s", "30"]]);
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
  assert.equal(entries.content_layers, "relu4_2");
  for (const name of Object.keys(entries)) assert.match(name, /^[a-z][a-z0-9_]*$/);
});

test("a field the other choices make meaningless is not sent; chosen, it is", () => {
  const values = defaultValues();
  const neighbour = Object.fromEntries(toFormEntries({ ...values, style_loss: "neighbour" }));
  assert.equal(neighbour.style_layers, undefined, "the server's schema: style_layers only with the statistics methods");
  assert.equal(neighbour.neighbour_stride, "4");
  const gram = Object.fromEntries(toFormEntries({ ...values, style_loss: "gram", style_layers: ["relu1_1", "relu2_1"] }));
  assert.equal(gram.style_layers, "relu1_1,relu2_1");
  assert.equal(gram.neighbour_stride, undefined);
  assert.equal(Object.fromEntries(toFormEntries({ ...values, optimizer: "lbfgs" })).learning_rate, undefined);
  assert.equal(Object.fromEntries(toFormEntries({ ...values, optimizer: "adam" })).learning_rate, "0.02");
});

test("presets only name known parameters, within the schema's ranges", () => {
  for (const [key, preset] of Object.entries(PRESETS)) {
    for (const [name, value] of Object.entries(preset.values)) {
      assert.ok(spec(name), `${key}: ${name} is a parameter`);
      assert.ok(value >= spec(name).min && value <= spec(name).max, `${key}: ${name}=${value}`);
    }
  }
});
