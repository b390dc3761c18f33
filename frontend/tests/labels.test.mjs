import "./schema.mjs";
import assert from "node:assert/strict";
import { test } from "node:test";
import { fieldLabel, labelled } from "../labels.js";

test("messages show the field's label, not its machine name", () => {
  assert.equal(labelled("style_weight: must be between 0 and 1000000000, got -1"), "Style weight: must be between 0 and 1000000000, got -1");
  assert.equal(labelled("size: must be between 16 and 1024, got 99999"), "Size: must be between 16 and 1024, got 99999");
  assert.equal(labelled("time_budget_s: must be above 0"), "Time budget: must be above 0");
  assert.equal(labelled("content: notes.jpg is not an image (use PNG, JPEG, WebP, GIF, BMP or TIFF)"),
    "Content image: notes.jpg is not an image (use PNG, JPEG, WebP, GIF, BMP or TIFF)");
  assert.equal(labelled("style_3: could not decode"), "Style image 3: could not decode");
  assert.equal(labelled("style: add at least one style image"), "Style image: add at least one style image");
  assert.equal(labelled("mask_2: all black"), "Region mask for style 2: all black");
  assert.equal(labelled("mask: all black"), "Region mask for style 1: all black");
  assert.equal(labelled("style_mask_3: all black"), "Style mask for style 3: all black");
  assert.equal(labelled("Unexpected error: boom"), "Unexpected error: boom", "no field, unchanged");
  assert.equal(fieldLabel("nonsense_field"), "nonsense_field");
});
