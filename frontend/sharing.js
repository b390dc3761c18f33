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
