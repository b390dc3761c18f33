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

/**
 * Whole percentages for display that sum to exactly 100 (largest remainder: floor every share,
 * then give the missing points to the largest fractions; ties to the earlier style). Eight equal
 * styles show 13 % x 4 and 12 % x 4, not 13 % x 8 = 104 %. All-zero weights show 0 each.
 */
export function displayPercents(weights) {
  const shares = normaliseBlend(weights);
  if (!shares) return weights.map(() => 0);
  const exact = shares.map((s) => s * 100);
  const floors = exact.map(Math.floor);
  let missing = 100 - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - floors[i], i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (missing <= 0) break;
    floors[i] += 1;
    missing -= 1;
  }
  return floors;
}

/**
 * The sliders are the shares, since a share is what a user can judge by eye: moving style `index` to
 * `value` % gives the others the rest, in proportion to what they had (equally when they had nothing).
 * Weights always sum to 100.
 */
export function setShare(weights, index, value) {
  if (weights.length === 1) return [100];
  const v = Math.min(100, Math.max(0, Number(value) || 0));
  const others = weights.reduce((sum, w, i) => (i === index ? sum : sum + Math.max(0, w)), 0);
  return weights.map((w, i) => {
    if (i === index) return v;
    return others > 0 ? (Math.max(0, w) / others) * (100 - v) : (100 - v) / (weights.length - 1);
  });
}

/** Weights summing to 100 after a style joined (it gets an equal 1/n share, the others keep their proportions) or left. */
export function rescaleShares(weights, added = 0) {
  const n = weights.length + added;
  if (n === 0) return [];
  const total = weights.reduce((a, w) => a + Math.max(0, w), 0);
  const kept = total > 0 ? weights.map((w) => (Math.max(0, w) / total) * (100 - (100 * added) / n))
    : weights.map(() => 100 / n);
  return [...kept, ...Array(added).fill(100 / n)];
}
