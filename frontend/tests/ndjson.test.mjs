// NDJSON splitting: lines cut anywhere by the network, including inside a UTF-8 character.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NdjsonDecoder } from "../ndjson.js";

const bytes = (text) => new TextEncoder().encode(text);

/** Feed `data` cut at the given byte offsets; returns every object, end() included. */
function decodeInPieces(data, cuts) {
  const decoder = new NdjsonDecoder();
  const out = [];
  let start = 0;
  for (const cut of [...cuts, data.length]) {
    out.push(...decoder.push(data.subarray(start, cut)));
    start = cut;
  }
  out.push(...decoder.end());
  return out;
}

test("whole lines in one chunk", () => {
  const decoder = new NdjsonDecoder();
  assert.deepEqual(decoder.push(bytes('{"a":1}\n{"b":2}\n')), [{ a: 1 }, { b: 2 }]);
  assert.deepEqual(decoder.end(), []);
});

test("a line split across chunks is emitted once it completes", () => {
  const decoder = new NdjsonDecoder();
  assert.deepEqual(decoder.push(bytes('{"event":"snap')), []);
  assert.deepEqual(decoder.push(bytes('shot","iteration":4}')), []);
  assert.deepEqual(decoder.push(bytes('\n{"event":')), [{ event: "snapshot", iteration: 4 }]);
  assert.deepEqual(decoder.push(bytes('"done"}\n')), [{ event: "done" }]);
});

test("every possible cut point gives the same objects", () => {
  const data = bytes('{"event":"snapshot","iteration":1}\n{"event":"done","image":"QUJD"}\n');
  const expected = [{ event: "snapshot", iteration: 1 }, { event: "done", image: "QUJD" }];
  for (let cut = 0; cut <= data.length; cut += 1) assert.deepEqual(decodeInPieces(data, [cut]), expected, `cut at ${cut}`);
});

test("multi-byte UTF-8 characters split between chunks survive", () => {
  const message = "größe: zu groß — 画像 😀";
  const data = bytes(`${JSON.stringify({ event: "error", message })}\n`);
  // cut inside every character boundary, one byte at a time
  const oneByOne = decodeInPieces(data, Array.from({ length: data.length - 1 }, (_, i) => i + 1));
  assert.deepEqual(oneByOne, [{ event: "error", message }]);
  const emoji = data.indexOf(0xf0); // first byte of the 4-byte emoji
  for (const offset of [1, 2, 3]) assert.deepEqual(decodeInPieces(data, [emoji + offset]), [{ event: "error", message }]);
});

test("a last line without a newline is parsed by end()", () => {
  const decoder = new NdjsonDecoder();
  assert.deepEqual(decoder.push(bytes('{"a":1}\n{"event":"done"}')), [{ a: 1 }]);
  assert.deepEqual(decoder.end(), [{ event: "done" }]);
  assert.deepEqual(decoder.end(), [], "nothing left after end()");
});

test("blank lines and CRLF are tolerated", () => {
  const decoder = new NdjsonDecoder();
  assert.deepEqual(decoder.push(bytes('\n{"a":1}\r\n\n  \n{"b":2}\n')), [{ a: 1 }, { b: 2 }]);
  assert.deepEqual(decoder.end(), []);
});

test("string chunks work too", () => {
  const decoder = new NdjsonDecoder();
  assert.deepEqual(decoder.push('{"a":'), []);
  assert.deepEqual(decoder.push('"é"}\n'), [{ a: "é" }]);
});

test("a long line in many small chunks", () => {
  const image = "A".repeat(200_000);
  const data = bytes(`${JSON.stringify({ event: "snapshot", image })}\n`);
  const cuts = [];
  for (let i = 997; i < data.length; i += 997) cuts.push(i);
  const [only, ...rest] = decodeInPieces(data, cuts);
  assert.equal(rest.length, 0);
  assert.equal(only.image.length, image.length);
});

test("a malformed line raises a SyntaxError naming the line", () => {
  const decoder = new NdjsonDecoder();
  assert.throws(() => decoder.push(bytes("<html>oops</html>\n")), { name: "SyntaxError", message: /malformed line.*<html>/ });
});

test("a truncated last line raises on end()", () => {
  const decoder = new NdjsonDecoder();
  decoder.push(bytes('{"event":"done","ima'));
  assert.throws(() => decoder.end(), SyntaxError);
});
