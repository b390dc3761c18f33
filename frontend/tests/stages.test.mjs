// The plan the server sends (a stream's first line, response=plan) and what the app computes from it.
import assert from "node:assert/strict";
import { test } from "node:test";
import "./schema.mjs";
import { PlanRefused, debounce, parsePlan, planAsker, planQuestion, planWork } from "../stages.js";
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
});

test("the plan question carries the params as typed and the content's size", () => {
  const values = { ...defaultValues(), size: 256, iterations: 3 };
  const form = planQuestion(values, 640, 480);
  assert.equal(form.has("response"), false, "the front's /plan adds it; only the direct POST says it");
  assert.equal(form.get("size"), "256");
  assert.equal(form.get("iterations"), "3");
  assert.equal(form.get("width"), "640");
  assert.equal(form.get("height"), "480");
  assert.equal(form.get("content_layers"), "relu4_2");
  assert.equal(form.has("time_budget_s"), false, "a value not set is left out");
});

const ANSWER = { ...RECORD, params: { size: 256, iterations: 3 }, max_iterations: 2000, estimate_s: 1.5 };
const reply = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

test("planAsker asks the front's GET /plan and reads the server's answer", async () => {
  const calls = [];
  const ask = planAsker("", "/predictions/style_transfer", { fetchFn: async (url, init) => { calls.push([url, init]); return reply(200, ANSWER); } });
  const answer = await ask(defaultValues(), { width: 256, height: 192 });
  assert.deepEqual(answer, { stages: RECORD.stages, params: ANSWER.params, maxIterations: 2000, estimateS: 1.5 });
  assert.match(calls[0][0], /^\/plan\?.*size=512.*&width=256&height=192$/);
  assert.equal(calls[0][1].method, undefined, "a GET");
});

test("without a /plan route (the API base is the model server) it POSTs the form response=plan, and keeps doing so", async () => {
  const calls = [];
  const fetchFn = async (url, init) => {
    calls.push([url, init.method ?? "GET"]);
    return url.startsWith("http://ts/plan") ? reply(404, { code: 404, message: "Requested resource is not found" }) : reply(200, ANSWER);
  };
  const ask = planAsker("http://ts", "http://ts/predictions/style_transfer", { fetchFn });
  await ask(defaultValues(), { width: 1, height: 1 });
  await ask(defaultValues(), { width: 1, height: 1 });
  assert.deepEqual(calls.map(([url, method]) => `${method} ${url.split("?")[0]}`),
    ["GET http://ts/plan", "POST http://ts/predictions/style_transfer", "POST http://ts/predictions/style_transfer"]);
});

test("a /plan that gives no answer at all (a cross-origin 404 without CORS headers) falls back to the POST too", async () => {
  const calls = [];
  const fetchFn = async (url, init) => {
    calls.push(init.method ?? "GET");
    if (url.includes("/plan?")) throw new TypeError("Failed to fetch");
    return reply(200, ANSWER);
  };
  assert.equal((await planAsker("http://ts", "http://ts/p", { fetchFn })(defaultValues(), { width: 1, height: 1 })).estimateS, 1.5);
  assert.deepEqual(calls, ["GET", "POST"]);
});

test("a 400 is the server's message naming the field; other failures are plain errors", async () => {
  const refusing = planAsker("", "/p", { fetchFn: async () => reply(400, { code: 400, message: "iterations: exceeds the work budget" }) });
  await assert.rejects(refusing(defaultValues(), { width: 1, height: 1 }),
    (err) => err instanceof PlanRefused && err.message === "iterations: exceeds the work budget" && err.status === 400);
  const limited = planAsker("", "/p", { fetchFn: async () => reply(429, { message: "too many" }) });
  await assert.rejects(limited(defaultValues(), { width: 1, height: 1 }), (err) => !(err instanceof PlanRefused));
  const broken = planAsker("", "/p", { fetchFn: async () => reply(200, { event: "plan" }) });
  await assert.rejects(broken(defaultValues(), { width: 1, height: 1 }), /not a plan record/);
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
