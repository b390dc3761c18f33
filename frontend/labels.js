// The app shows a field's label where the server's message names the field ("style_weight: …"
// reads "Style weight: …"); the API keeps the machine names (docs/CONTRACT.md).
import { PARAMS } from "./params.js";
import { fieldOfMessage } from "./errors.js";

// Fields that are not in the parameter panel: the pickers, the blend and the region masks.
// "style" is the picker (and its first image): "Style image: add at least one style image".
const OTHER_LABELS = { content: "Content image", style: "Style image", style_blend: "Style blend", mask: "Region mask for style 1",
  style_mask: "Style mask for style 1", download: "Download" };
const NUMBERED = [[/^style_(\d+)$/, "Style image "], [/^mask_(\d+)$/, "Region mask for style "], [/^style_mask_(\d+)$/, "Style mask for style "]];

/** The label a user sees for a field name; the name itself when there is none. */
export function fieldLabel(name) {
  const spec = PARAMS.find((p) => p.name === name);
  // "Size (longest side, px)" -> "Size": the parenthesis explains the input, not the message.
  if (spec) return spec.label.replace(/\s*\([^)]*\)$/, "");
  if (OTHER_LABELS[name]) return OTHER_LABELS[name];
  for (const [pattern, label] of NUMBERED) {
    const n = pattern.exec(name)?.[1];
    if (n) return `${label}${n}`;
  }
  return name;
}

/** "<field>: text" with the field's label in front; a message naming no field is unchanged. */
export function labelled(message) {
  const field = fieldOfMessage(message);
  return field ? `${fieldLabel(field)}: ${String(message).slice(field.length + 1).trimStart()}` : String(message);
}
