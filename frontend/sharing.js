// Results the server keeps (docs/api.md, "Results kept and shared by link"): after a job, its share link
// with Copy and the Web Share API; and the results this browser made, listed from localStorage and
// checked against the server, so the ones that expired or were deleted drop out.
import { forgetResult, rememberResult, savedResults } from "./saved.js";

const $ = (id) => document.getElementById(id);

/** Absolute share URL of a result link ("/r/<id>") for the front at `apiBase` ("" = this page's origin). */
export function shareUrl(link, apiBase = "", origin = globalThis.location?.origin ?? "") {
  return new URL(link, apiBase || origin).href;
}

export class Sharing {
  constructor(apiBase = "") {
    this.apiBase = apiBase;
    this.url = null;
    $("copy-link").addEventListener("click", () => this.#copy());
    if (navigator.share) {
      $("native-share").hidden = false;
      $("native-share").addEventListener("click", () => navigator.share({ title: "Style transfer result", url: this.url }).catch(() => {}));
    }
  }

  reset() {
    this.url = null;
    $("share-box").hidden = true;
    $("share-note").textContent = "";
  }

  /** The done record: show its link and remember it (with the delete token) in this browser. */
  done(event) {
    if (event.warning) $("share-note").textContent = `Not shared: ${event.warning}.`;
    if (!event.result) return;
    this.url = shareUrl(event.result.url, this.apiBase);
    $("share-link").value = this.url;
    $("open-share").href = this.url;
    $("share-box").hidden = false;
    rememberResult({ id: event.result.id, deleteToken: event.delete_token, image: event.result.image, url: event.result.url,
      size: event.size, iterations: event.iterations, created: Date.now() });
    this.showSaved();
  }

  async #copy() {
    try {
      await navigator.clipboard.writeText(this.url);
      $("share-note").textContent = "Link copied. Anyone with it can open the picture.";
    } catch {
      $("share-link").select();
      $("share-note").textContent = "Select the link and copy it (the browser did not allow copying).";
    }
  }

  /** List this browser's stored results (kept jobs are jobs.js' to list); those the server no longer has are dropped. */
  async showSaved(check = false) {
    let list = savedResults().filter((r) => !r.kept);
    if (check) {
      const alive = await Promise.all(list.map((r) => fetch(shareUrl(`/results/${r.id}/record.json`, this.apiBase), { method: "HEAD", cache: "no-cache" })
        .then((res) => res.status !== 404, () => true))); // unreachable: keep, it may come back
      list.filter((_, i) => !alive[i]).forEach((r) => forgetResult(r.id));
      list = list.filter((_, i) => alive[i]);
    }
    const ol = $("saved");
    ol.replaceChildren(...list.map((r) => {
      const li = Object.assign(document.createElement("li"), { className: "run" });
      li.dataset.testid = "saved-result";
      const link = Object.assign(document.createElement("a"), { href: shareUrl(r.url, this.apiBase) });
      link.append(Object.assign(document.createElement("img"), { src: shareUrl(r.image, this.apiBase), alt: "A result you shared", loading: "lazy" }));
      const when = r.created ? new Date(r.created).toLocaleString() : "";
      li.append(link, Object.assign(document.createElement("p"), { textContent: `${r.size ? `${r.size[0]}×${r.size[1]} px · ` : ""}${when}` }));
      return li;
    }));
    $("saved-section").hidden = list.length === 0;
  }
}

/** How long the server keeps a result, in words: "7 days", "1 day", "36 hours" (capabilities' results.max_age_s). */
export function keptFor(seconds) {
  if (!(seconds > 0)) return "";
  const days = seconds / 86400;
  if (Number.isInteger(days)) return `${days} day${days === 1 ? "" : "s"}`;
  const hours = Math.round(seconds / 3600);
  return hours >= 1 ? `${hours} hour${hours === 1 ? "" : "s"}` : `${Math.max(1, Math.round(seconds / 60))} minutes`;
}

/** "Keep a share link for 7 days": the switch's label from the schema (switches.store), the time from capabilities. */
export function shareSwitchLabel(spec, maxAgeS) {
  const label = spec?.label ?? "";
  const time = keptFor(maxAgeS);
  return time && label ? `${label} for ${time}` : label;
}

/**
 * The per-job share switch beside Start (the server's `store` switch): on by default (the schema's default),
 * shown only where the server keeps results. Off sends store=false, so no share link is kept; a kept job
 * (keep=true) is fetched by its link, so "keep running if I leave" is then off and disabled, and comes back as
 * it was when the switch is turned on again.
 */
export class ShareSwitch {
  constructor(box, text, label, keepBox = null) {
    Object.assign(this, { box, text, label, keepBox, keepWas: keepBox?.checked ?? false, spec: null });
    box.addEventListener("change", () => this.#sync());
  }

  /** `spec`: the schema's switches.store; `results`: capabilities' {enabled, max_age_s}. */
  apply(spec, results) {
    this.spec = spec ?? null;
    const offered = Boolean(spec) && results?.enabled === true;
    this.label.hidden = !offered;
    if (!offered) return;
    this.text.textContent = shareSwitchLabel(spec, results.max_age_s);
    if (spec.help) this.label.title = spec.help;
    this.box.checked = spec.default !== false;
    this.#sync();
  }

  get on() {
    return this.label.hidden || this.box.checked;
  }

  /** The form fields this switch adds to a job: store=false when switched off, nothing otherwise (the default). */
  formEntries() {
    return this.on ? [] : [["store", "false"]];
  }

  #sync() {
    if (!this.keepBox) return;
    if (this.on) {
      if (this.keepBox.disabled) this.keepBox.checked = this.keepWas;
      this.keepBox.disabled = false;
      this.keepBox.title = "";
    } else {
      if (!this.keepBox.disabled) this.keepWas = this.keepBox.checked;
      this.keepBox.checked = false;
      this.keepBox.disabled = true;
      this.keepBox.title = "A job that runs on after you leave is fetched by its share link: turn the share link on.";
    }
  }
}
