// The app shows a field's label where the server's message names the field ("style_weight: …"
// reads "Style weight: …"); the API keeps the machine names (docs/CONTRACT.md).
import { PARAMS } from "./params.js";
import { fieldOfMessage } from "./errors.js";
import { UPLOADS, uploadOf } from "./uploads.js";

// Fields that are not in the parameter panel: the blend and the download.
const OTHER_LABELS = { style_blend: "Style blend", download: "Download" };
// Upload fields by kind; the first style is the picker itself ("Style image: add at least one style image").
const UPLOAD_LABELS = {
  style: (n) => (n === 1 ? "Style image" : `Style image ${n}`),
  mask: (n) => `Region mask for style ${n}`,
  style_mask: (n) => `Style mask for style ${n}`,
};

/** The label a user sees for a field name; the name itself when there is none. */
export function fieldLabel(name) {
  const spec = PARAMS.find((p) => p.name === name);
  // "Size (longest side, px)" -> "Size": the parenthesis explains the input, not the message.
  if (spec) return spec.label.replace(/\s*\([^)]*\)$/, "");
  if (OTHER_LABELS[name]) return OTHER_LABELS[name];
  if (name && name === UPLOADS.content) return "Content image";
  const upload = uploadOf(name);
  return upload ? UPLOAD_LABELS[upload.kind](upload.index + 1) : name;
}

/** "<field>: text" with the field's label in front; a message naming no field is unchanged. */
export function labelled(message) {
  const field = fieldOfMessage(message);
  return field ? `${fieldLabel(field)}: ${String(message).slice(field.length + 1).trimStart()}` : String(message);
}
