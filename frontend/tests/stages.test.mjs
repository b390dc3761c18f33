// The plan the server sends (a stream's first line, response=plan) and what the app computes from it.
import assert from "node:assert/strict";
import { test } from "node:test";
import "./schema.mjs";
import { debounce, estimateSeconds, fetchPlan, parsePlan, planQuestion, planWork } from "../stages.js";
import { defaultValues } from "../params.js";

// As handler/serving/records.plan_record writes it for a 256 x 192 content, size 256, 3 iterations.
const RECORD = { event: "plan", stages: [{ size: [128, 96], iterations: 1 }, { size: [181, 136], iterations: 1 }, { size: [256, 192], iterations: 1 }] };

test("a plan record's stages are read and checked", () => {
  assert.deepEqual(parsePlan(RECORD), RECORD.stages);
  for (const bad of [null, {}, { event: "snapshot", stages: RECORD.stages }, { event: "plan", stages: [] },
    { event: "plan", stages: [{ size: [128], iterations: 1 }] }, { event: "plan", stages: [{ size: [128, 96], iterations: 0 }] }]) {
    assert.throws(() => parsePlan(bad), /not a plan record/, JSON.stringify(bad));
  }
});

test("work counts each iteration at its stage's pixels (width x height)", () => {
  const plan = parsePlan(RECORD);
  assert.equal(planWork(plan), 128 * 96 + 181 * 136 + 256 * 192);
  assert.equal(planWork(plan, 1), 128 * 96);
  assert.equal(planWork(plan, 0), 0);
  assert.equal(estimateSeconds([{ size: [100, 50], iterations: 10 }], 1000), 50);
});

test("the plan question carries response=plan, the set params and the content's size", () => {
  const values = { ...defaultValues(), size: 256, iterations: 3 };
  const form = planQuestion(values, 640, 480);
  assert.equal(form.get("response"), "plan");
  assert.equal(form.get("size"), "256");
  assert.equal(form.get("iterations"), "3");
  assert.equal(form.get("width"), "640");
  assert.equal(form.get("height"), "480");
  assert.equal(form.get("style_layers"), "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1");
  assert.equal(form.has("time_budget_s"), false, "a value not set is left out");
});

test("fetchPlan POSTs the question to the API URL and rejects a failed answer", async () => {
  const calls = [];
  const ok = async (url, init) => {
    calls.push([url, init]);
    return { ok: true, status: 200, json: async () => RECORD };
  };
  const stages = await fetchPlan("http://api/predictions/style_transfer", defaultValues(), { width: 256, height: 192 }, { fetchFn: ok });
  assert.deepEqual(stages, RECORD.stages);
  assert.equal(calls[0][0], "http://api/predictions/style_transfer");
  assert.equal(calls[0][1].method, "POST");
  assert.equal(calls[0][1].body.get("response"), "plan");
  const refused = async () => ({ ok: false, status: 400, json: async () => ({ message: "width: is missing" }) });
  await assert.rejects(fetchPlan("u", defaultValues(), { width: 1, height: 1 }, { fetchFn: refused }), /HTTP 400/);
});

test("debounce calls once, with the latest arguments, after the quiet time", async () => {
  const seen = [];
  const later = debounce((x) => seen.push(x), 20);
  later(1);
  later(2);
  later(3);
  assert.deepEqual(seen, []);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(seen, [3]);
});
