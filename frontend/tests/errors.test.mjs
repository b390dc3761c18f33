import assert from "node:assert/strict";
import { test } from "node:test";
import { fieldOfMessage } from "../errors.js";

test("the field a server message names", () => {
  assert.equal(fieldOfMessage("content: cannot identify image file"), "content");
  assert.equal(fieldOfMessage("style_3: is not an image"), "style_3");
  assert.equal(fieldOfMessage("size: must be at most 1024 on this server, got 2000"), "size");
  assert.equal(fieldOfMessage("Cannot reach the server (Failed to fetch)"), null);
  assert.equal(fieldOfMessage("HTTP 503: Service Unavailable"), null);
  assert.equal(fieldOfMessage(undefined), null);
  assert.equal(fieldOfMessage("size: bad", new Set(["iterations"])), null);
  assert.equal(fieldOfMessage("size: bad", new Set(["size"])), "size");
});
