// API base resolution and the streaming client, with fetch stubbed by in-memory responses.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { ApiError, MODEL_PATH, base64ToBlob, resolveApiBase, runJob } from "../api.js";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

test("API base: ?api= wins, then config.js, else the page's own origin", () => {
  assert.equal(resolveApiBase("", undefined), "");
  assert.equal(resolveApiBase("", { apiBase: "" }), "");
  assert.equal(resolveApiBase("", { apiBase: "http://ts:8080/" }), "http://ts:8080");
  assert.equal(resolveApiBase("?api=http://127.0.0.1:9000", { apiBase: "http://ts:8080" }), "http://127.0.0.1:9000");
  assert.equal(resolveApiBase("?x=1&api=http%3A%2F%2Fh%3A1%2Fbase%2F%2F", {}), "http://h:1/base");
  assert.equal(resolveApiBase("?api=", { apiBase: "http://ts:8080" }), "", "an empty ?api= means same origin");
  assert.equal(MODEL_PATH, "/predictions/style_transfer");
});

/** A Response whose body arrives in the given pieces (strings or bytes), optionally breaking at the end. */
function streamed(pieces, { status = 200, breakAtEnd = false } = {}) {
  const enc = new TextEncoder();
  let i = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (i < pieces.length) {
        const piece = pieces[i++];
        controller.enqueue(typeof piece === "string" ? enc.encode(piece) : piece);
      } else if (breakAtEnd) {
        controller.error(new TypeError("network error"));
      } else {
        controller.close();
      }
    },
  });
  return new Response(body, { status, headers: { "Content-Type": "application/x-ndjson" } });
}

const snap = (i) => `${JSON.stringify({ event: "snapshot", iteration: i, iterations: 8, image: "QQ==", weights: "random-init" })}\n`;
const done = `${JSON.stringify({ event: "done", iteration: 8, iterations: 8, image: "QQ==", weights: "random-init" })}\n`;

test("snapshots are delivered as they arrive, then the done event resolves the job", async () => {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push([url, init.method]);
    return streamed([snap(4).slice(0, 10), snap(4).slice(10), snap(8), done.slice(0, 5), done.slice(5)]);
  };
  const seen = [];
  const final = await runJob("http://x/predictions/style_transfer", new FormData(), { onEvent: (e, chunk) => seen.push([e.event, e.iteration, chunk]) });
  assert.equal(final.event, "done");
  assert.deepEqual(calls, [["http://x/predictions/style_transfer", "POST"]]);
  assert.deepEqual(seen, [["snapshot", 4, 2], ["snapshot", 8, 3], ["done", 8, 5]]);
});

test("a done line without a trailing newline still completes the job", async () => {
  globalThis.fetch = async () => streamed([snap(4), done.trimEnd()]);
  const final = await runJob("u", new FormData(), { onEvent() {} });
  assert.equal(final.iteration, 8);
});

test("HTTP 400: the server's message, with status", async () => {
  globalThis.fetch = async () => new Response(JSON.stringify({ code: 400, type: "InvalidInput", message: "content: is not an image" }), { status: 400 });
  await assert.rejects(runJob("u", new FormData(), { onEvent() {} }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.kind, "http");
    assert.equal(err.status, 400);
    assert.equal(err.message, "content: is not an image");
    return true;
  });
});

test("a non-JSON error page becomes a readable message", async () => {
  globalThis.fetch = async () => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" });
  await assert.rejects(runJob("u", new FormData(), { onEvent() {} }), { kind: "http", status: 502, message: /^HTTP 502 Bad Gateway: <html>Bad gateway/ });
});

test("server unreachable", async () => {
  globalThis.fetch = async () => {
    throw new TypeError("Failed to fetch");
  };
  await assert.rejects(runJob("http://nowhere/p", new FormData(), { onEvent() {} }), { kind: "network", message: /Cannot reach the server at http:\/\/nowhere\/p/ });
});

test("an error line from the server", async () => {
  globalThis.fetch = async () => streamed([snap(4), '{"event":"error","message":"style transfer failed; see the server log"}\n']);
  const seen = [];
  await assert.rejects(runJob("u", new FormData(), { onEvent: (e) => seen.push(e.event) }), { kind: "server", message: "style transfer failed; see the server log" });
  assert.deepEqual(seen, ["snapshot"]);
});

test("a stream that ends before done is a cut, not a hang", async () => {
  globalThis.fetch = async () => streamed([snap(4)]);
  await assert.rejects(runJob("u", new FormData(), { onEvent() {} }), { kind: "cut" });
});

test("a stream that breaks mid-line is a cut", async () => {
  globalThis.fetch = async () => streamed([snap(4), snap(8).slice(0, 12)], { breakAtEnd: true });
  await assert.rejects(runJob("u", new FormData(), { onEvent() {} }), { kind: "cut", message: /connection broke/ });
});

test("a truncated last line is a cut", async () => {
  globalThis.fetch = async () => streamed([snap(4), done.slice(0, 30)]);
  await assert.rejects(runJob("u", new FormData(), { onEvent() {} }), { kind: "cut" });
});

test("abort rejects with the AbortError, not an ApiError", async () => {
  const controller = new AbortController();
  globalThis.fetch = async (url, { signal }) => {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(snap(4)));
        signal.addEventListener("abort", () => c.error(signal.reason));
      },
    });
    return new Response(body);
  };
  const job = runJob("u", new FormData(), { signal: controller.signal, onEvent: () => controller.abort() });
  await assert.rejects(job, (err) => {
    assert.ok(!(err instanceof ApiError));
    assert.equal(err.name, "AbortError");
    return true;
  });
});

test("base64 to Blob", async () => {
  const blob = base64ToBlob(Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString("base64"), "image/png");
  assert.equal(blob.type, "image/png");
  assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [0x89, 0x50, 0x4e, 0x47]);
});

test("503: the server is busy, say so", async () => {
  globalThis.fetch = async () => new Response(JSON.stringify({ code: 503, type: "ServiceUnavailableException", message: "Model has no worker" }), { status: 503 });
  await assert.rejects(runJob("u", new FormData(), { onEvent() {} }), { kind: "http", status: 503, message: "The server is busy (HTTP 503: Model has no worker). Try again in a moment." });
});

test("a web page instead of the API means a wrong API base", async () => {
  globalThis.fetch = async () => new Response("<!doctype html><html></html>", { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } });
  await assert.rejects(runJob("http://x/predictions/style_transfer", new FormData(), { onEvent() {} }), { kind: "http", message: /answered with a web page.*API base URL/ });
});

test("an unreadable line is reported as such, not as a cut connection", async () => {
  globalThis.fetch = async () => streamed([snap(4), "Internal error\n"]);
  await assert.rejects(runJob("u", new FormData(), { onEvent() {} }), { kind: "server", message: /unreadable reply \(malformed line from server: Internal error\)/ });
});
