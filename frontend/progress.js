// Progress text and the loss chart geometry: pure functions, so they are unit-tested.
export function progressPercent(iteration, iterations) {
  if (!(iterations > 0)) return 0;
  return Math.max(0, Math.min(100, Math.round((100 * iteration) / iterations)));
}

/**
 * Where a run is, past its iteration count: " · stage 2/3" when it has stages; in a tiled stage (the server's
 * `tiles`) " · 12 tiles" where the whole picture steps at once (`tile` 0), " · tile 4 of 12" where tiles are
 * visited one by one; "" for a one-stage untiled run.
 */
export function whereText(event) {
  const stage = event.stages > 1 ? ` · stage ${event.stage}/${event.stages}` : "";
  // no-break spaces: a phone's narrow line breaks before "tile", never inside "tile 4 of 12"
  let tile = "";
  if (event.tiles > 0) tile = event.tile > 0 ? ` · tile\u00a0${event.tile}\u00a0of\u00a0${event.tiles}` : ` · ${event.tiles}\u00a0tiles`;
  return stage + tile;
}

export function formatDuration(seconds) {
  if (seconds === null || !Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * The chart's scales: x linear in iterations, y log10 of the loss (losses span decades), over the
 * drawable points (non-positive or non-finite losses cannot be drawn on a log axis and are skipped).
 * null without any drawable point.
 */
export function lossScale(points, width, height, pad = 4) {
  const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && p.y > 0);
  if (usable.length === 0) return null;
  const xs = usable.map((p) => p.x);
  const ys = usable.map((p) => Math.log10(p.y));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => (x1 === x0 ? width / 2 : pad + ((x - x0) / (x1 - x0)) * (width - 2 * pad));
  const sy = (log) => (y1 === y0 ? height / 2 : pad + (1 - (log - y0) / (y1 - y0)) * (height - 2 * pad));
  return { usable, sx, sy, x0, x1, y0, y1 };
}

/** SVG polyline points for the total loss over iterations (log10 y axis). */
export function lossPolyline(points, width, height, pad = 4) {
  const scale = lossScale(points, width, height, pad);
  if (!scale) return "";
  return scale.usable.map((p) => `${scale.sx(p.x).toFixed(1)},${scale.sy(Math.log10(p.y)).toFixed(1)}`).join(" ");
}

/** "1e+3" -> "1e3", 0.05 -> "0.05": short loss labels for the y axis. */
export function formatLoss(value) {
  if (value >= 1e4 || value < 1e-2) return value.toExponential(0).replace("+", "");
  return String(Number(value.toPrecision(2)));
}

/**
 * Axis marks for the loss chart: y ticks at whole decades inside the range (the lowest and highest
 * loss when the range spans no decade), x labels for the first and last iteration, and one mark where
 * each new multiscale stage starts: the loss jumps up there because the image just got larger,
 * which is not the run getting worse. Points are {x: iteration, y: loss, stage}.
 */
export function lossAxes(points, width, height, pad = 4) {
  const scale = lossScale(points, width, height, pad);
  if (!scale) return { yTicks: [], xTicks: [], stages: [] };
  const { usable, sx, sy, x0, x1, y0, y1 } = scale;
  let decades = [];
  for (let k = Math.ceil(y0 - 1e-9); k <= Math.floor(y1 + 1e-9); k++) decades.push(k);
  if (decades.length > 4) decades = decades.filter((_, i) => i % Math.ceil(decades.length / 4) === 0);
  const yTicks = decades.length
    ? decades.map((k) => ({ y: sy(k), label: formatLoss(10 ** k) }))
    : [...new Set([y1, y0])].map((log) => ({ y: sy(log), label: formatLoss(10 ** log) }));
  const xTicks = [...new Set([x0, x1])].map((x) => ({ x: sx(x), label: String(x) }));
  const stages = [];
  for (let i = 1; i < usable.length; i++) {
    const [a, b] = [usable[i - 1], usable[i]];
    if (b.stage > a.stage) { // a later stage (the final record repeats the last one)
      stages.push({ x: (sx(a.x) + sx(b.x)) / 2, label: `stage ${b.stage}` });
    }
  }
  return { yTicks, xTicks, stages };
}
