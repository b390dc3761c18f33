// Region-mask painter: paint where each style goes over the content preview.
// Self-contained ES module; regions.js wires it to the page.
//
// Pure model (no DOM; unit-tested in frontend/tests/paint.test.mjs):
//   new MaskSet(width, height, nStyles)       one coverage map per style, values 0..1 (Float32Array, row-major)
//     .stroke(style, points, brush)           paint or erase along points [{x, y, pressure?}] (mask pixel coords)
//                                             brush = {radius, hardness 0..1 (1 = hard edge), mode "paint"|"erase",
//                                             exclusive = true (painting style k takes the pixels from the others)}
//     .fillRest(style)                        give style every pixel no style covers yet (tops up partial ones)
//     .clear(style?)                          one style's mask, or all of them
//     .checkpoint() / .undo() / .canUndo      undo steps: call checkpoint() before each stroke/fill/clear
//     .isEmpty(style) / .painted()            whether a mask has anything / the styles that do
//     .greyscale(style)                       Uint8Array of 0..255, one byte per pixel
//     .overlayRGBA(colours, alpha)            Uint8ClampedArray for an ImageData tinting each style's region
//   STYLE_COLOURS                             a distinct colour per style (CSS hex), index = style - 1
//   toMaskPoint(clientX, clientY, rect, w, h) pointer position -> mask pixel coords (rect = getBoundingClientRect())
//   encodePNG(grey, width, height)            Promise<Uint8Array>: an 8-bit greyscale PNG (CompressionStream)
//   maskBlobs(set)                            Promise<(Blob|null)[]>: image/png per style, null where never painted
//                                             (sent as style i's region-mask field; null = send no field)
//
// Browser part:
//   const painter = new MaskPainter(canvas, {width, height, styles: 2, onChange})
//     canvas: an element laid over the content preview (CSS sizes it; its pixel size is set to width x height)
//     painter.style = 1..n      painter.brush = {radius, hardness, mode}      painter.fillRest() .clear(all?) .undo()
//     painter.masks()           Promise<(Blob|null)[]>       painter.set (the MaskSet)       painter.destroy()
//   Mouse, touch and pen through pointer events (pen pressure scales the radius); keyboard: the app's buttons.

export const STYLE_COLOURS = ["#e53935", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#fdd835", "#6d4c41"];
const UNDO_DEPTH = 30;

export class MaskSet {
  constructor(width, height, nStyles) {
    if (!(width > 0 && height > 0 && nStyles > 0)) throw new RangeError("MaskSet needs a positive size and style count");
    this.width = width;
    this.height = height;
    this.masks = Array.from({ length: nStyles }, () => new Float32Array(width * height));
    this.history = [];
  }

  get styles() {
    return this.masks.length;
  }

  checkpoint() {
    this.history.push(this.masks.map((m) => m.slice()));
    if (this.history.length > UNDO_DEPTH) this.history.shift();
  }

  get canUndo() {
    return this.history.length > 0;
  }

  undo() {
    const previous = this.history.pop();
    if (!previous) return false;
    this.masks = previous;
    return true;
  }

  #index(style) {
    if (!Number.isInteger(style) || style < 1 || style > this.masks.length) throw new RangeError(`no style ${style}`);
    return style - 1;
  }

  /** One soft dab: full strength inside radius*hardness, smoothstep falloff to 0 at the radius. */
  dab(style, x, y, { radius, hardness = 0.6, mode = "paint", exclusive = true, strength = 1 }) {
    const k = this.#index(style);
    const inner = radius * Math.min(Math.max(hardness, 0), 1);
    const x0 = Math.max(0, Math.floor(x - radius)), x1 = Math.min(this.width - 1, Math.ceil(x + radius));
    const y0 = Math.max(0, Math.floor(y - radius)), y1 = Math.min(this.height - 1, Math.ceil(y + radius));
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const d = Math.hypot(px + 0.5 - x, py + 0.5 - y);
        if (d >= radius) continue;
        const t = d <= inner ? 0 : (d - inner) / (radius - inner);
        const a = strength * (1 - t * t * (3 - 2 * t));
        const i = py * this.width + px;
        if (mode === "erase") {
          this.masks[k][i] *= 1 - a;
        } else {
          this.masks[k][i] += (1 - this.masks[k][i]) * a;
          if (exclusive) this.masks.forEach((m, j) => { if (j !== k) m[i] *= 1 - a; });
        }
      }
    }
  }

  /** Dabs along a polyline, spaced a quarter radius apart so the stroke has no gaps. */
  stroke(style, points, brush) {
    if (!points.length) return;
    // a pen's pressure (0..1) scales the radius from a quarter to the full size; mouse and touch report none
    const radiusAt = (p) => Math.max(0.5, brush.radius * (p.pressure > 0 ? 0.25 + 0.75 * Math.min(p.pressure, 1) : 1));
    this.dab(style, points[0].x, points[0].y, { ...brush, radius: radiusAt(points[0]) });
    for (let n = 1; n < points.length; n++) {
      const a = points[n - 1], b = points[n];
      const r = radiusAt(b);
      const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / Math.max(0.5, r / 4)));
      for (let s = 1; s <= steps; s++) {
        const t = s / steps;
        this.dab(style, a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, { ...brush, radius: r });
      }
    }
  }

  fillRest(style) {
    const k = this.#index(style);
    for (let i = 0; i < this.width * this.height; i++) {
      let others = 0;
      this.masks.forEach((m, j) => { if (j !== k) others += m[i]; });
      this.masks[k][i] = Math.max(this.masks[k][i], Math.max(0, 1 - others));
    }
  }

  clear(style) {
    if (style === undefined) this.masks.forEach((m) => m.fill(0));
    else this.masks[this.#index(style)].fill(0);
  }

  isEmpty(style) {
    return !this.masks[this.#index(style)].some((v) => v >= 0.5 / 255);
  }

  painted() {
    return this.masks.map((_, k) => k + 1).filter((s) => !this.isEmpty(s));
  }

  greyscale(style) {
    const m = this.masks[this.#index(style)];
    const out = new Uint8Array(m.length);
    for (let i = 0; i < m.length; i++) out[i] = Math.round(Math.min(Math.max(m[i], 0), 1) * 255);
    return out;
  }

  overlayRGBA(colours = STYLE_COLOURS, alpha = 0.45) {
    const rgb = colours.map(hexToRgb);
    const out = new Uint8ClampedArray(this.width * this.height * 4);
    for (let i = 0; i < this.width * this.height; i++) {
      let r = 0, g = 0, b = 0, a = 0;
      this.masks.forEach((m, k) => {
        const c = rgb[k % rgb.length];
        r += c[0] * m[i]; g += c[1] * m[i]; b += c[2] * m[i]; a += m[i];
      });
      if (a > 0) {
        out[i * 4] = r / a; out[i * 4 + 1] = g / a; out[i * 4 + 2] = b / a;
        out[i * 4 + 3] = Math.min(1, a) * alpha * 255;
      }
    }
    return out;
  }
}

function hexToRgb(hex) {
  const v = parseInt(hex.replace("#", ""), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export function toMaskPoint(clientX, clientY, rect, width, height) {
  return {
    x: Math.min(Math.max(((clientX - rect.left) / rect.width) * width, 0), width),
    y: Math.min(Math.max(((clientY - rect.top) / rect.height) * height, 0), height),
  };
}

// -- PNG (greyscale, 8 bit): small enough to write here, and testable without a canvas ------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function zlib(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function encodePNG(grey, width, height) {
  if (grey.length !== width * height) throw new RangeError("greyscale data does not match the size");
  const raw = new Uint8Array((width + 1) * height); // filter byte 0 (None) before each row
  for (let y = 0; y < height; y++) raw.set(grey.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, colour type 0 (greyscale), deflate, no filter, no interlace
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export async function maskBlobs(set) {
  return Promise.all(set.masks.map(async (_, k) => set.isEmpty(k + 1)
    ? null : new Blob([await encodePNG(set.greyscale(k + 1), set.width, set.height)], { type: "image/png" })));
}

// -- the browser painter ---------------------------------------------------------------------------

export class MaskPainter {
  constructor(canvas, { width, height, styles, onChange = () => {} }) {
    this.canvas = canvas;
    this.set = new MaskSet(width, height, styles);
    this.style = 1;
    this.brush = { radius: Math.max(4, Math.round(Math.max(width, height) / 20)), hardness: 0.6, mode: "paint" };
    this.onChange = onChange;
    canvas.width = width;
    canvas.height = height;
    canvas.style.touchAction = "none"; // the page must not scroll or zoom while a finger paints
    this.ctx = canvas.getContext("2d");
    this.pointer = null;
    this.handlers = {
      pointerdown: (e) => this.#down(e),
      pointermove: (e) => this.#move(e),
      pointerup: (e) => this.#up(e),
      pointercancel: (e) => this.#up(e),
    };
    for (const [name, fn] of Object.entries(this.handlers)) canvas.addEventListener(name, fn);
    this.render();
  }

  #point(e) {
    const p = toMaskPoint(e.clientX, e.clientY, this.canvas.getBoundingClientRect(), this.set.width, this.set.height);
    return { ...p, pressure: e.pointerType === "pen" ? e.pressure : 0 };
  }

  #down(e) {
    if (this.pointer !== null || (e.pointerType === "mouse" && e.button !== 0)) return;
    this.pointer = e.pointerId;
    this.canvas.setPointerCapture?.(e.pointerId);
    this.set.checkpoint();
    this.last = this.#point(e);
    this.set.stroke(this.style, [this.last], this.brush);
    this.render();
    e.preventDefault();
  }

  #move(e) {
    if (e.pointerId !== this.pointer) return;
    const events = e.getCoalescedEvents?.() ?? [e];
    const points = [this.last, ...events.map((ev) => this.#point(ev))];
    this.set.stroke(this.style, points, this.brush);
    this.last = points[points.length - 1];
    this.render();
  }

  #up(e) {
    if (e.pointerId !== this.pointer) return;
    this.pointer = null;
    this.onChange(this.set);
  }

  #edit(fn) {
    this.set.checkpoint();
    fn();
    this.render();
    this.onChange(this.set);
  }

  fillRest() { this.#edit(() => this.set.fillRest(this.style)); }
  clear(all = false) { this.#edit(() => this.set.clear(all ? undefined : this.style)); }
  undo() {
    if (this.set.undo()) {
      this.render();
      this.onChange(this.set);
    }
  }

  render() {
    const image = new ImageData(this.set.overlayRGBA(), this.set.width, this.set.height);
    this.ctx.putImageData(image, 0, 0);
  }

  masks() { return maskBlobs(this.set); }

  destroy() {
    for (const [name, fn] of Object.entries(this.handlers)) this.canvas.removeEventListener(name, fn);
  }
}
