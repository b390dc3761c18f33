import assert from "node:assert/strict";
import { test } from "node:test";
import { ACCEPTED_FORMATS, MAX_KEPT_SIDE, NotAnImage, fitWithin, requireImage, sniffFormat } from "../images.js";

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

test("a file is an image by its first bytes, in the formats the server reads", () => {
  const bytes = (...parts) => new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p)));
  assert.equal(sniffFormat(bytes([0x89], "PNG\r\n\x1a\n", [0, 0, 0, 13])), "png");
  assert.equal(sniffFormat(bytes([0xff, 0xd8, 0xff, 0xe0], "\0\x10JFIF\0\x01")), "jpeg");
  assert.equal(sniffFormat(bytes("GIF89a", [1, 0, 1, 0, 0, 0])), "gif");
  assert.equal(sniffFormat(bytes("RIFF", [0, 0, 0, 0], "WEBP")), "webp");
  assert.equal(sniffFormat(bytes("BM", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), "bmp");
  assert.equal(sniffFormat(bytes("II", [42, 0], [0, 0, 0, 0, 0, 0, 0, 0])), "tiff");
  assert.equal(sniffFormat(bytes("MM", [0, 42], [0, 0, 0, 0, 0, 0, 0, 0])), "tiff");
  assert.equal(sniffFormat(bytes("this is not an image\n")), null, "a text file renamed .jpg");
  assert.equal(sniffFormat(bytes("RIFF", [0, 0, 0, 0], "WAVE")), null, "a WAV file is RIFF too");
  assert.equal(sniffFormat(new Uint8Array(0)), null);
});

test("requireImage refuses a non-image with one message listing the accepted formats", async () => {
  await requireImage(new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 0, 0, 13])]));
  await assert.rejects(requireImage(Object.assign(new Blob(["hello"]), { name: "notes.jpg" })), (err) => err instanceof NotAnImage
    && err.message === `notes.jpg is not an image (use ${ACCEPTED_FORMATS})` && ACCEPTED_FORMATS === "PNG, JPEG, WebP, GIF, BMP or TIFF");
});
