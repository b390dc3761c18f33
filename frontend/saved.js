// Results this browser stored on the server: ids (and their delete tokens) in localStorage, so the
// session history survives a reload and the share page can offer "delete" to its creator only. Kept
// jobs are entries marked `kept: true` (jobs.js lists them under "Your jobs" with their cancel token).
const KEY = "style-transfer.results";
const MAX_SAVED = 50;
export const USE_SETTINGS_KEY = "style-transfer.use-settings";

function storage() {
  try { return globalThis.localStorage ?? null; } catch { return null; }
}

export function savedResults() {
  try { return JSON.parse(storage()?.getItem(KEY) || "[]").filter((r) => r && typeof r.id === "string"); } catch { return []; }
}

/**
 * Adds or updates an entry (fields merged: a kept job's finish keeps its `kept` mark and cancel token), newest
 * first; `inPlace`: an update that leaves the entry where it is (a job's new state must not reorder the list).
 */
export function rememberResult(entry, { inPlace = false } = {}) {
  const saved = savedResults();
  const at = saved.findIndex((r) => r.id === entry.id);
  const merged = { ...saved[at], ...entry };
  const list = (inPlace && at >= 0 ? saved.with(at, merged) : [merged, ...saved.filter((r) => r.id !== entry.id)]).slice(0, MAX_SAVED);
  storage()?.setItem(KEY, JSON.stringify(list));
  return list;
}

export function forgetResult(id) {
  const list = savedResults().filter((r) => r.id !== id);
  storage()?.setItem(KEY, JSON.stringify(list));
  return list;
}
