// The result viewer (index.html's #viewer). Fit: the picture as wide as the result column (a phone: the
// screen), never taller than the view (styles.css, from the picture's aspect set here). 100 %: its own pixels
// in a scrolling box, panned by dragging (mouse, pen, one finger) or, with the box focused, the arrow keys.
// results.js switches data-zoom (its Zoom button); this module follows that attribute.

// Arrow keys move the picture by this much; with Shift by a box's width or height.
const KEY_STEP_PX = 48;

export class Viewer {
  constructor(box, image) {
    this.box = box;
    this.image = image;
    this.drag = null;
    image.addEventListener("load", () => this.#aspect());
    new MutationObserver(() => this.#zoomChanged()).observe(box, { attributes: true, attributeFilter: ["data-zoom"] });
    box.addEventListener("pointerdown", (e) => this.#down(e));
    box.addEventListener("pointermove", (e) => this.#move(e));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) box.addEventListener(type, () => this.#up());
    box.addEventListener("keydown", (e) => this.#key(e));
    this.#zoomChanged();
  }

  get actual() {
    return this.box.dataset.zoom === "actual";
  }

  /** The fitted size follows the picture's aspect ratio (the CSS cannot read it from the image). */
  #aspect() {
    const { naturalWidth: w, naturalHeight: h } = this.image;
    if (w > 0 && h > 0) this.box.style.setProperty("--aspect", String(w / h));
  }

  /** At 100 % the box is a focusable, pannable region that starts centred; fitted it is neither. */
  #zoomChanged() {
    if (this.actual) {
      this.box.tabIndex = 0;
      this.box.setAttribute("role", "region");
      this.box.setAttribute("aria-label", "Result at 100 %: drag, or use the arrow keys, to move around the picture");
      requestAnimationFrame(() => {
        this.box.scrollLeft = (this.box.scrollWidth - this.box.clientWidth) / 2;
        this.box.scrollTop = (this.box.scrollHeight - this.box.clientHeight) / 2;
      });
    } else {
      this.box.removeAttribute("tabindex");
      this.box.removeAttribute("role");
      this.box.removeAttribute("aria-label");
      this.#up();
    }
  }

  #down(e) {
    if (!this.actual || e.button !== 0) return;
    this.drag = { id: e.pointerId, x: e.clientX, y: e.clientY, left: this.box.scrollLeft, top: this.box.scrollTop };
    this.box.setPointerCapture?.(e.pointerId);
    this.box.dataset.dragging = "true";
    e.preventDefault(); // no image drag-and-drop, no text selection
  }

  #move(e) {
    if (!this.drag || e.pointerId !== this.drag.id) return;
    this.box.scrollLeft = this.drag.left - (e.clientX - this.drag.x);
    this.box.scrollTop = this.drag.top - (e.clientY - this.drag.y);
  }

  #up() {
    this.drag = null;
    delete this.box.dataset.dragging;
  }

  #key(e) {
    if (!this.actual) return;
    const x = e.shiftKey ? this.box.clientWidth : KEY_STEP_PX;
    const y = e.shiftKey ? this.box.clientHeight : KEY_STEP_PX;
    const by = { ArrowLeft: [-x, 0], ArrowRight: [x, 0], ArrowUp: [0, -y], ArrowDown: [0, y] }[e.key];
    if (!by) return;
    e.preventDefault();
    this.box.scrollBy({ left: by[0], top: by[1] });
  }
}
