import assert from "node:assert/strict";
import { test } from "node:test";
import { FormatNotSupported, MAX_KEPT_SIDE, fitWithin, loadImage, uploadName } from "../images.js";

test("downscaling keeps the aspect ratio and never upscales", () => {
  assert.deepEqual(fitWithin(4000, 3000, 512), { width: 512, height: 384 });
  assert.deepEqual(fitWithin(3000, 4000, 512), { width: 384, height: 512 });
  assert.deepEqual(fitWithin(64, 48, 512), { width: 64, height: 48 });
  assert.deepEqual(fitWithin(10000, 10, 100), { width: 100, height: 1 });
});

test("decoded photos are kept at most at the largest output size", () => {
  assert.equal(MAX_KEPT_SIDE, 2048);
  assert.deepEqual(fitWithin(6000, 4000, MAX_KEPT_SIDE), { width: 2048, height: 1365 });
});

test("what this browser cannot decode is refused as format not supported, naming the file", async () => {
  globalThis.createImageBitmap ??= async () => { throw new DOMException("The source image could not be decoded.", "InvalidStateError"); };
  await assert.rejects(loadImage(Object.assign(new Blob(["hello"]), { name: "notes.jpg" })), (err) => err instanceof FormatNotSupported
    && err.message === "notes.jpg: format not supported (this browser cannot read it as an image; PNG or JPEG always work)");
});

test("uploads are named by the field and the encoding the app chose", () => {
  assert.equal(uploadName("content", new Blob([], { type: "image/jpeg" })), "content.jpg");
  assert.equal(uploadName("style", new Blob([], { type: "image/png" })), "style.png");
});
