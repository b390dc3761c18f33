// What a reload must not lose, kept for this browser tab only: the picked pictures and the finished runs
// ("Your results") in IndexedDB (Blobs are too big for sessionStorage), the panel's settings in
// sessionStorage. The tab is named by an id in sessionStorage (which a reload keeps and a new tab does
// not have), so two tabs never mix their inputs; records of tabs closed long ago are dropped on open.
const DB_NAME = "style-transfer";
const STORE = "tabs";
const TAB_KEY = "style-transfer.tab";
const SETTINGS_KEY = "style-transfer.settings";
export const MAX_AGE_MS = 2 * 24 * 3600 * 1000; // a tab record not touched for this long belongs to a closed tab

function session() {
  try { return globalThis.sessionStorage ?? null; } catch { return null; }
}

/** This tab's id (made once, kept across reloads in sessionStorage); null where storage is off. */
export function tabId(storage = session(), make = () => crypto.randomUUID()) {
  if (!storage) return null;
  let id = storage.getItem(TAB_KEY);
  if (!id) {
    id = make();
    storage.setItem(TAB_KEY, id);
  }
  return id;
}

/** The panel's values as saved for this tab, only the names the panel has now; null when none. */
export function loadSettings(names, storage = session()) {
  try {
    const saved = JSON.parse(storage?.getItem(SETTINGS_KEY) || "null");
    if (!saved || typeof saved !== "object") return null;
    const known = Object.entries(saved).filter(([name, v]) => names.has(name) && v !== null && v !== undefined);
    return known.length ? Object.fromEntries(known) : null;
  } catch {
    return null;
  }
}

export function saveSettings(values, storage = session()) {
  try { storage?.setItem(SETTINGS_KEY, JSON.stringify(values)); } catch { /* full or off: nothing kept */ }
}

/** Ids of tab records older than MAX_AGE_MS at `now` (their tabs are gone). */
export function staleTabs(records, now) {
  return records.filter((r) => !(now - (r.updated ?? 0) < MAX_AGE_MS)).map((r) => r.tab);
}

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "tab" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** This tab's pictures and runs in IndexedDB; every method is a no-op (or empty) where storage fails. */
export class TabStore {
  constructor() {
    this.tab = tabId();
    this.db = this.tab && globalThis.indexedDB ? open().catch(() => null) : Promise.resolve(null);
    this.record = null;
    // Read once, at once: what a save merges into, and what load() answers (the record as the reload found
    // it, before this page's own first saves, such as its empty style list, replace parts of it).
    this.loaded = this.#read();
    this.writing = this.loaded;
  }

  /** { content: File|null, styles: [{ file, weight }], runs: [...] } this tab saved before the reload, or null. */
  load() {
    return this.loaded;
  }

  async #read() {
    const db = await this.db;
    if (!db) return null;
    try {
      const all = await done(db.transaction(STORE).objectStore(STORE).getAll());
      const gone = staleTabs(all, Date.now()).filter((t) => t !== this.tab);
      if (gone.length) {
        const tx = db.transaction(STORE, "readwrite");
        for (const t of gone) tx.objectStore(STORE).delete(t);
      }
      this.record = all.find((r) => r.tab === this.tab) ?? null;
      return this.record;
    } catch {
      return null;
    }
  }

  /** Merges `part` ({ content }, { styles } or { runs }) into this tab's record; writes one after another. */
  save(part) {
    this.writing = this.writing.then(async () => {
      this.record = { ...this.record, ...part, tab: this.tab, updated: Date.now() };
      const record = this.record;
      const db = await this.db;
      if (!db) return;
      try {
        await done(db.transaction(STORE, "readwrite").objectStore(STORE).put(record));
      } catch { /* quota or private mode: the tab just does not keep it */ }
    });
    return this.writing;
  }
}
