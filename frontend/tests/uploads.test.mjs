// Upload field names come from the server (capabilities' or the shipped schema's `fields`), never from the app.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SCHEMA } from "./schema.mjs";
import { UPLOADS, applyFields, maskField, maxStyles, styleField, uploadOf } from "../uploads.js";
import { fieldLabel } from "../labels.js";

test("the shipped schema's names: style, style_2 …, mask …", () => {
  applyFields(SCHEMA.fields);
  assert.equal(maxStyles(), SCHEMA.fields.max_styles);
  assert.deepEqual([0, 1].map(styleField), SCHEMA.fields.style.slice(0, 2));
  assert.equal(maskField(1), SCHEMA.fields.mask[1]);
  assert.deepEqual(uploadOf(SCHEMA.fields.style_mask[2]), { kind: "style_mask", index: 2 });
  assert.equal(uploadOf("size"), null);
});

test("a server that takes 4 styles lists 4 names: the app offers 4, and names and labels follow the server's", () => {
  try {
    applyFields({ content: "photo", max_styles: 4, style: ["art", "art_b", "art_c", "art_d"], mask: ["m1", "m2", "m3", "m4"],
      style_mask: ["s1", "s2", "s3", "s4"] });
    assert.equal(maxStyles(), 4);
    assert.equal(styleField(1), "art_b");
    assert.equal(UPLOADS.content, "photo");
    assert.equal(fieldLabel("art_c"), "Style image 3");
    assert.equal(fieldLabel("m2"), "Region mask for style 2");
    assert.equal(fieldLabel("photo"), "Content image");
    assert.equal(fieldLabel("style_2"), "style_2", "a name this server does not list is shown as is");
  } finally {
    applyFields(SCHEMA.fields);
  }
});

test("a document without field names is refused", () => {
  assert.throws(() => applyFields({ content: "content" }), /no upload field names/);
  assert.throws(() => applyFields(null), /no upload field names/);
  assert.equal(maxStyles(), SCHEMA.fields.max_styles, "the names in use are kept");
});
