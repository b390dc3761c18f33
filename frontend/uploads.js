// The names of the uploaded files (the content, each style image, each style's region and style
// masks) as the server lists them: `fields` of /capabilities (for this server's max_styles), else
// of the shipped schema.json. The app never spells one itself, so a server that takes fewer styles
// lets the user pick fewer, and a renamed field needs no change here.

// Filled in place by applyFields, so importers keep one object.
// switches: the server's per-job switches (store, store_inputs, keep: label, help, default), not uploads but
// declared beside them (schema `fields.switches`).
export const UPLOADS = { content: "", style: [], mask: [], style_mask: [], switches: {} };

const KINDS = ["style", "mask", "style_mask"];

/** Take the field names of a schema or capabilities document; throws on one that lacks them. */
export function applyFields(fields) {
  const names = (list) => Array.isArray(list) && list.length > 0 && list.every((n) => typeof n === "string" && n);
  if (typeof fields?.content !== "string" || !KINDS.every((kind) => names(fields[kind]))) {
    throw new Error("schema: no upload field names");
  }
  const count = Math.min(...KINDS.map((kind) => fields[kind].length));
  UPLOADS.content = fields.content;
  for (const kind of KINDS) UPLOADS[kind] = fields[kind].slice(0, count);
  UPLOADS.switches = fields.switches && typeof fields.switches === "object" ? { ...fields.switches } : {};
  return UPLOADS;
}

/** How many style images this server takes. */
export function maxStyles() {
  return UPLOADS.style.length;
}

/** The upload field of the i-th (0-based) style image, its region mask, its style mask. */
export function styleField(index) {
  return UPLOADS.style[index];
}

export function maskField(index) {
  return UPLOADS.mask[index];
}

/** {kind: "style" | "mask" | "style_mask", index (0-based)} of an upload field name, or null. */
export function uploadOf(name) {
  for (const kind of KINDS) {
    const index = UPLOADS[kind].indexOf(name);
    if (index >= 0) return { kind, index };
  }
  return null;
}
