import assert from "node:assert/strict";
import { test } from "node:test";
import { downloadName, runLabel, slug, stem } from "../names.js";

test("a download is named <photo>-<style>-<size>", () => {
  assert.equal(downloadName({ photo: "Beach at dusk.JPG", styles: ["The Starry Night — Vincent van Gogh, 1889.jpg"], size: "512" }),
    "beach-at-dusk-the-starry-night-512.png");
  assert.equal(downloadName({ photo: "c.png", styles: ["a.png", "b.webp"], size: 256 }, "jpg"), "c-a+b-256.jpg");
});

test("names without letters or pictures still give a file name", () => {
  assert.equal(downloadName({ photo: "", styles: [], size: null }), "stylized.png");
  assert.equal(downloadName({ photo: "日本.png", styles: ["s.png"], size: 64 }), "s-64.png");
  assert.equal(slug("Crème brûlée"), "creme-brulee");
  assert.equal(slug("a-very-long-name-that-goes-on-and-on-and-on", 16), "a-very-long-name");
  assert.equal(stem("dir/photo.v2.jpeg"), "photo.v2");
});

test("a run is labelled by its photo and its paintings' titles", () => {
  assert.equal(runLabel({ photo: "beach.jpg", styles: ["The Starry Night — Vincent van Gogh, 1889.jpg"] }), "beach × The Starry Night");
  assert.equal(runLabel({ photo: "beach.jpg", styles: ["a.png", "b.png"] }), "beach × a + b");
  assert.equal(runLabel({ photo: "", styles: [] }), "");
});
