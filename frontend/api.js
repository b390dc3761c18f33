// Talking to the style-transfer API (docs/CONTRACT.md): one multipart POST answered with a
// chunked NDJSON stream of snapshots ending in a `done` (or `error`) line.
import { NdjsonDecoder } from "./ndjson.js";

export const MODEL_PATH = "/predictions/style_transfer";

/**
 * API base URL: `?api=` in the page URL wins (tests, local TorchServe with CORS), then
 * config.js's apiBase; empty means the page's own origin (nginx in front of both).
 */
export function resolveApiBase(search, config) {
  const fromQuery = new URLSearchParams(search).get("api");
  const base = fromQuery ?? config?.apiBase ?? "";
  return base.replace(/\/+$/, "");
}

/** kind: "http" (4xx/5xx reply), "network" (no reply), "cut" (stream ended early), "server" (error line). */
export class ApiError extends Error {
  constructor(kind, message, status = null) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

/**
 * POST `form` and call onEvent(event, chunkNumber) for every snapshot as its line completes.
 * Resolves with the `done` event; rejects with ApiError, or with the AbortError when `signal`
 * fires (the caller treats that as a quiet cancel). The chunk number lets tests tell whether
 * snapshots really arrived in earlier network reads than the final result.
 */
export async function runJob(url, form, { signal, onEvent }) {
  let response;
  try {
    response = await fetch(url, { method: "POST", body: form, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError("network", `Cannot reach the server at ${url} (${err.message}).`);
  }
  if (!response.ok) throw await httpError(response);
  const type = response.headers.get("content-type") ?? "";
  if (/text\/html/i.test(type)) {
    // e.g. a proxy or static server answering for the API path: the API base URL is wrong.
    response.body?.cancel().catch(() => {});
    throw new ApiError("http", `${url} answered with a web page, not the style-transfer API; check the API base URL (config.js or ?api=).`, response.status);
  }

  const reader = response.body.getReader();
  const decoder = new NdjsonDecoder();
  let chunk = 0;
  const handle = (event) => {
    if (event.event === "error") throw new ApiError("server", event.message || "the server reported an error");
    onEvent(event, chunk);
    return event.event === "done" ? event : null;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunk += 1;
      for (const event of decoder.push(value)) {
        const final = handle(event);
        if (final) {
          reader.cancel().catch(() => {});
          return final;
        }
      }
    }
    let rest;
    try {
      rest = decoder.end();
    } catch {
      rest = []; // a last line without its end: the stream was cut mid-line
    }
    for (const event of rest) {
      const final = handle(event);
      if (final) return final;
    }
  } catch (err) {
    if (signal?.aborted || err instanceof ApiError) throw err;
    if (err instanceof SyntaxError) throw new ApiError("server", `The server sent an unreadable reply (${err.message}).`);
    throw new ApiError("cut", `The connection broke before the result arrived (${err.message}).`);
  }
  throw new ApiError("cut", "The stream ended before the result arrived (server restarted or connection cut).");
}

async function httpError(response) {
  const text = await response.text().catch(() => "");
  let message = null;
  try {
    message = JSON.parse(text).message ?? null;
  } catch {
    // not JSON: a proxy's HTML error page, for instance
  }
  const fallback = `HTTP ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`;
  if (response.status === 503) {
    // TorchServe: queue full or no worker yet. Nothing wrong with the request; try again later.
    return new ApiError("http", `The server is busy (HTTP 503${message ? `: ${message}` : ""}). Try again in a moment.`, 503);
  }
  return new ApiError("http", message || fallback, response.status);
}

/** base64 (as in snapshot/done lines) to a Blob. */
export function base64ToBlob(b64, type) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type });
}

/**
 * Status line for a `{"event": "queued", "position": N}` line: the job waits inside the worker for
 * memory; N = 1 means it runs next, so N - 1 jobs are ahead of it.
 */
export function queuedStatus(position) {
  const n = Number(position);
  if (!Number.isInteger(n) || n < 1) return "Waiting for the server…";
  return n === 1 ? "Waiting for the server: yours runs next" : `Waiting for the server: ${n - 1} ahead of yours`;
}

/**
 * The first capabilities document any of `urls` answers with (200 JSON), or throws the last
 * failure. Each try is bounded by `timeoutMs`, so a silent server does not leave the page waiting.
 */
export async function fetchCapabilities(urls, { fetchFn = fetch, timeoutMs = 5000 } = {}) {
  let failure = new Error("no capabilities URL");
  for (const entry of urls) {
    const { url, body } = typeof entry === "string" ? { url: entry } : entry;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      // A form-urlencoded POST is a "simple" cross-origin request: no preflight needed.
      const init = body ? { method: "POST", body, headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" } }
        : { headers: { Accept: "application/json" } };
      const response = await fetchFn(url, { signal: controller.signal, ...init });
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      if (!/json/i.test(response.headers.get("content-type") ?? "")) throw new Error(`${url}: not JSON`);
      return await response.json();
    } catch (err) {
      failure = err;
    } finally {
      clearTimeout(timer);
    }
  }
  throw failure;
}
