// The share page of one stored result (/r/<id>): the picture, how it was made, its snapshots.
// It reads only the front's read-only /results/<id>/ files; deleting needs the token that the
// creating browser keeps (results.js' saved results in localStorage). A kept job that is still
// running has no record yet: the page shows its status (stage, %, ETA, latest snapshot) and turns
// into the result when it is done.
import { savedResults, forgetResult, USE_SETTINGS_KEY } from "./saved.js";

const $ = (id) => document.getElementById(id);
const SETTINGS = [
  ["size", "Size (px)"], ["iterations", "Iterations"], ["network", "Network"], ["style_weight", "Style weight"],
  ["content_weight", "Content weight"], ["tv_weight", "Smoothness (TV) weight"], ["style_blend", "Style blend"],
  ["style_loss", "Style loss"], ["optimizer", "Optimizer"], ["average", "Average iterates"], ["schedule", "Stage schedule"],
  ["init", "Start from"], ["multiscale", "Multiscale"], ["preserve_colors", "Keep content colours"],
  ["style_scale", "Style scale"], ["pooling", "Pooling"], ["seed", "Seed"],
];

export function resultId(pathname) {
  const m = /^\/r\/([A-Za-z0-9_-]{22})$/.exec(pathname);
  return m ? m[1] : null;
}

function show(text, state) {
  $("share-status").textContent = text;
  if (state) $("share").dataset.state = state;
}

function settingRows(record) {
  const params = record.params || {};
  const rows = SETTINGS.filter(([name]) => params[name] !== undefined && params[name] !== null)
    .map(([name, label]) => [label, Array.isArray(params[name]) ? params[name].join(", ") : String(params[name])]);
  if (record.regions) rows.push(["Regions", "painted"]);
  rows.push(["Weights", record.weights_label || record.weights || "?"]);
  if (record.elapsed_s !== undefined) rows.push(["Took", `${Math.round(record.elapsed_s)} s${record.stopped && record.stopped !== "completed" ? ` (${record.stopped.replace("_", " ")})` : ""}`]);
  if (record.created) rows.push(["Made", new Date(record.created * 1000).toLocaleString()]);
  return rows;
}

const POLL_MS = 2000; // the front allows two status reads a second per client

// A status whose heartbeat (Last-Modified) is older than stale_after_s, by the server's own Date, belongs to a
// worker that died: the job failed.
export function judged(status, date, lastModified) {
  const age = (Date.parse(date) - Date.parse(lastModified)) / 1000;
  if (["waiting", "running"].includes(status.state) && Number.isFinite(age) && age > status.stale_after_s) {
    return { ...status, state: "failed", message: "the server holding this job stopped; submit it again" };
  }
  return status;
}

export function progressText(s) {
  if (s.state === "waiting") return s.position ? `Waiting for memory on the server (position ${s.position})…` : "Waiting to start…";
  const eta = s.eta_s != null ? `, about ${Math.max(1, Math.round(s.eta_s))} s left` : "";
  return `Running: ${Math.round(s.percent || 0)} % · stage ${s.stage || 1} of ${s.stages || 1} · iteration ${s.iteration || 0} of ${s.iterations}${eta}`;
}

// Follows a kept job until it ends. True when it is done (its record now exists), false when there is no such job
// or it failed or was cancelled (said on the page).
async function followKept(id, base) {
  const box = $("share-progress");
  for (;;) {
    const r = await fetch(`${base}status.json`, { cache: "no-store" }).catch(() => null);
    if (r && r.status === 404 && box.hidden) return false;
    if (r && r.ok) {
      const s = judged(await r.json(), r.headers.get("Date"), r.headers.get("Last-Modified"));
      if (s.state === "done") { box.hidden = true; return true; }
      if (s.state === "failed" || s.state === "cancelled") {
        box.hidden = true;
        show(s.state === "cancelled" ? "This job was cancelled." : `This job failed: ${s.message || "unknown error"}.`, s.state);
        return false;
      }
      box.hidden = false;
      $("share-bar").value = s.percent || 0;
      $("share-progress-text").textContent = progressText(s);
      show("This picture is still being made; the page turns into it when it is done.", "running");
      if (s.preview) {
        const img = $("share-preview");
        img.src = `${s.preview}?i=${s.iteration}`; // a new snapshot, not the cached one
        img.hidden = false;
      }
    }
    const wait = r?.status === 429 ? 1000 * Number(r.headers.get("Retry-After") || 5) : POLL_MS;
    await new Promise((done) => setTimeout(done, wait));
  }
}

async function main() {
  const id = resultId(location.pathname);
  if (!id) return show("This is not a result link.", "missing");
  const base = `/results/${id}/`;
  let record;
  try {
    // no-cache: revalidate, so a result deleted since it was cached (immutable) shows as gone
    const r = await fetch(`${base}record.json`, { cache: "no-cache" });
    if (r.status === 404) {
      if (await followKept(id, base)) return main();
      forgetResult(id);
      return show("This result is gone: it expired or was deleted.", "missing");
    }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    record = await r.json();
  } catch (err) {
    return show(`Could not load the result (${err.message}).`, "error");
  }
  document.querySelector(".share-layout").hidden = false;
  const final = $("share-final");
  final.src = `${base}final.png`;
  if (record.size) { final.width = record.size[0]; final.height = record.size[1]; }
  $("share-download").href = `${base}final.png`;
  $("share-download").download = `style-transfer-${id.slice(0, 8)}.png`;

  const dl = $("share-settings");
  for (const [label, value] of settingRows(record)) dl.append(Object.assign(document.createElement("dt"), { textContent: label }), Object.assign(document.createElement("dd"), { textContent: value }));

  const inputs = $("share-inputs");
  const shown = record.inputs ? [["content.jpg", "Content image"], ...record.inputs.styles.map((f, i) => [f, `Style image ${i + 1}`])] : [];
  for (const [file, label] of shown) {
    const fig = document.createElement("figure");
    fig.append(Object.assign(document.createElement("img"), { src: base + file, alt: label, loading: "lazy" }), Object.assign(document.createElement("figcaption"), { textContent: label }));
    inputs.append(fig);
  }
  if (!shown.length) inputs.append(Object.assign(document.createElement("p"), { className: "note", textContent: "The inputs were not stored with this result." }));

  const film = $("share-film");
  for (const snap of record.snapshots || []) {
    const li = document.createElement("li");
    li.append(Object.assign(document.createElement("img"), { src: base + snap.file, alt: `Snapshot at iteration ${snap.iteration}`, loading: "lazy" }));
    film.append(li);
  }
  if (!film.children.length) film.hidden = true;

  $("share-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      $("share-note").textContent = "Link copied.";
    } catch {
      $("share-note").textContent = `Copy this link: ${location.href}`;
    }
  });
  if (navigator.share) {
    $("share-native").hidden = false;
    $("share-native").addEventListener("click", () => navigator.share({ title: "Style transfer result", url: location.href }).catch(() => {}));
  }
  $("share-use").addEventListener("click", () => {
    sessionStorage.setItem(USE_SETTINGS_KEY, JSON.stringify({ params: record.params, id }));
  });

  const mine = savedResults().find((r) => r.id === id);
  if (mine?.deleteToken) {
    const del = $("share-delete");
    del.hidden = false;
    del.addEventListener("click", async () => {
      if (!confirm("Delete this result for everyone who has the link?")) return;
      del.disabled = true;
      const r = await fetch(`/results/${id}`, { method: "DELETE", headers: { "X-Delete-Token": mine.deleteToken } }).catch(() => null);
      if (r?.ok) {
        forgetResult(id);
        document.querySelector(".share-layout").hidden = true;
        show("Deleted. The link no longer works.", "deleted");
      } else {
        del.disabled = false;
        $("share-note").textContent = `Could not delete it${r ? ` (HTTP ${r.status})` : ""}.`;
      }
    });
  }
  show(`${record.weights_label || "Result"} · ${record.size ? `${record.size[0]}×${record.size[1]} px` : ""}`, "ready");
}

if (typeof document !== "undefined" && document.getElementById("share")) main();
