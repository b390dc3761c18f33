// The mask painter's pure model: soft dabs, strokes without gaps, erase, exclusivity, fill the rest,
// undo, and the greyscale PNG it sends (decoded back here).
import assert from "node:assert/strict";
import { test } from "node:test";
import { MaskSet, STYLE_COLOURS, encodePNG, maskBlobs, toMaskPoint } from "../paint.js";

const at = (set, style, x, y) => set.masks[style - 1][y * set.width + x];

test("a soft dab is full in the middle, partial at its edge, nothing beyond the radius", () => {
  const set = new MaskSet(40, 40, 1);
  set.dab(1, 20, 20, { radius: 10, hardness: 0.5 });
  assert.equal(at(set, 1, 19, 19), 1);
  const edge = at(set, 1, 27, 19); // ~7.5 px out: between the hard core (5) and the radius (10)
  assert.ok(edge > 0 && edge < 1, `edge ${edge}`);
  assert.ok(at(set, 1, 25, 19) > edge, "falls off monotonically");
  assert.equal(at(set, 1, 31, 19), 0);
  assert.equal(at(set, 1, 0, 0), 0);
  const hard = new MaskSet(40, 40, 1);
  hard.dab(1, 20, 20, { radius: 10, hardness: 1 });
  assert.equal(at(hard, 1, 27, 19), 1);
});

test("a fast stroke leaves no gaps; erase takes paint away", () => {
  const set = new MaskSet(100, 20, 1);
  set.stroke(1, [{ x: 2, y: 10 }, { x: 97, y: 10 }], { radius: 3, hardness: 0.8 });
  for (let x = 2; x < 97; x++) assert.ok(at(set, 1, x, 9) > 0.9, `gap at x=${x}`);
  set.stroke(1, [{ x: 50, y: 10 }], { radius: 4, hardness: 1, mode: "erase" });
  assert.equal(at(set, 1, 50, 9), 0);
  assert.ok(at(set, 1, 20, 9) > 0.9);
});

test("pen pressure narrows the brush", () => {
  const light = new MaskSet(40, 40, 1), full = new MaskSet(40, 40, 1);
  light.stroke(1, [{ x: 20, y: 20, pressure: 0.05 }], { radius: 12, hardness: 1 });
  full.stroke(1, [{ x: 20, y: 20 }], { radius: 12, hardness: 1 });
  assert.equal(at(full, 1, 29, 19), 1);
  assert.equal(at(light, 1, 29, 19), 0);
  assert.equal(at(light, 1, 20, 20), 1);
});

test("painting one style takes the pixels from the others unless told not to", () => {
  const set = new MaskSet(20, 20, 2);
  set.fillRest(1);
  set.dab(2, 10, 10, { radius: 4, hardness: 1 });
  assert.equal(at(set, 2, 10, 10), 1);
  assert.equal(at(set, 1, 10, 10), 0);
  assert.equal(at(set, 1, 0, 0), 1);
  set.dab(1, 10, 10, { radius: 4, hardness: 1, exclusive: false });
  assert.equal(at(set, 2, 10, 10), 1);
  assert.equal(at(set, 1, 10, 10), 1);
});

test("fill the rest covers exactly what no style has", () => {
  const set = new MaskSet(10, 4, 2);
  set.masks[0].fill(1, 0, 20); // top half: style 1
  set.masks[0][25] = 0.25;
  set.fillRest(2);
  assert.equal(at(set, 2, 0, 0), 0);
  assert.equal(at(set, 2, 5, 3), 1);
  assert.equal(at(set, 2, 5, 2), 0.75); // tops up a partly covered pixel
  assert.deepEqual(set.painted(), [1, 2]);
});

test("undo restores each step, clear empties one style or all", () => {
  const set = new MaskSet(10, 10, 2);
  assert.equal(set.canUndo, false);
  assert.equal(set.undo(), false);
  set.checkpoint();
  set.dab(1, 5, 5, { radius: 3 });
  set.checkpoint();
  set.fillRest(2);
  set.checkpoint();
  set.clear(1);
  assert.ok(set.isEmpty(1) && !set.isEmpty(2));
  set.checkpoint();
  set.clear();
  assert.deepEqual(set.painted(), []);
  assert.ok(set.undo());
  assert.deepEqual(set.painted(), [2]);
  assert.ok(set.undo());
  assert.deepEqual(set.painted(), [1, 2]);
  assert.ok(set.undo() && set.undo());
  assert.deepEqual(set.painted(), []);
  assert.equal(set.canUndo, false);
  assert.throws(() => set.dab(3, 1, 1, { radius: 1 }), RangeError);
});

test("pointer positions map from the element's box to mask pixels, clamped", () => {
  const rect = { left: 100, top: 50, width: 200, height: 100 };
  assert.deepEqual(toMaskPoint(200, 100, rect, 64, 32), { x: 32, y: 16 });
  assert.deepEqual(toMaskPoint(0, 500, rect, 64, 32), { x: 0, y: 32 });
});

test("the overlay tints each region in its style's colour", () => {
  const set = new MaskSet(2, 1, 2);
  set.masks[0][0] = 1;
  set.masks[1][1] = 1;
  const rgba = set.overlayRGBA(STYLE_COLOURS, 0.5);
  assert.deepEqual([...rgba.slice(0, 3)], [0xe5, 0x39, 0x35]);
  assert.deepEqual([...rgba.slice(4, 7)], [0x1e, 0x88, 0xe5]);
  assert.equal(rgba[3], 128);
});

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

test("masks export as greyscale PNGs that decode to the painted values; unpainted styles export null", async () => {
  const set = new MaskSet(5, 3, 3);
  set.masks[0].set([0, 0.5, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  set.masks[2][14] = 0.2;
  const blobs = await maskBlobs(set);
  assert.equal(blobs[1], null);
  assert.equal(blobs[0].type, "image/png");
  const png = new Uint8Array(await blobs[0].arrayBuffer());
  assert.deepEqual([...png.slice(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer);
  assert.equal(new TextDecoder().decode(png.slice(12, 16)), "IHDR");
  assert.deepEqual([view.getUint32(16), view.getUint32(20), png[24], png[25]], [5, 3, 8, 0]);
  const idatLength = view.getUint32(33);
  assert.equal(new TextDecoder().decode(png.slice(37, 41)), "IDAT");
  const raw = await inflate(png.slice(41, 41 + idatLength));
  assert.deepEqual([...raw], [0, 0, 128, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255]); // filter byte + row
  await assert.rejects(encodePNG(new Uint8Array(3), 2, 2), RangeError);
});
