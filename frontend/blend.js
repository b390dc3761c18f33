// Style blend: one slider per style image; the server normalises weights to sum 1 anyway,
// but the app shows the normalised shares so the user sees what a slider means.

/** Weights normalised to sum 1; null when there is no positive weight to normalise. */
export function normaliseBlend(weights) {
  const clean = weights.map((w) => (Number.isFinite(w) && w > 0 ? w : 0));
  const total = clean.reduce((a, b) => a + b, 0);
  return total > 0 ? clean.map((w) => w / total) : null;
}

/** The `style_blend` form value ("0.7,0.3"), or null when it would add nothing (one style, or all equal). */
export function blendFieldValue(weights) {
  const shares = normaliseBlend(weights);
  if (!shares || shares.length < 2 || shares.every((s) => Math.abs(s - shares[0]) < 1e-9)) return null;
  return shares.map((s) => String(Number(s.toFixed(4)))).join(",");
}

/** Move one item of a list to another index; returns a new array (reorder buttons). */
export function moveItem(list, from, to) {
  if (to < 0 || to >= list.length || from === to) return list.slice();
  const copy = list.slice();
  const [item] = copy.splice(from, 1);
  copy.splice(to, 0, item);
  return copy;
}
