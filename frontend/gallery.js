// Built-in styles and example photos: one tap picks one, no file dialog and no painting of one's own
// needed. The styles are the server's list (capabilities' `styles`: the names a job may send as
// style_name), else the app's own copy of that list (gallery/gallery.json, the same file the server
// reads); the photos are the app's (examples/examples.json). Both are static files next to index.html.

const GALLERY_LIST = "gallery/gallery.json";
const EXAMPLES_LIST = "examples/examples.json";

/** The built-in styles as {name, title, artist, year, image, thumbnail} (paths relative to the page). */
export async function galleryStyles(fromServer, { fetchFn = fetch } = {}) {
  if (Array.isArray(fromServer) && fromServer.length) return fromServer;
  const response = await fetchFn(GALLERY_LIST, { headers: { Accept: "application/json" } });
  if (!response.ok) return [];
  return (await response.json()).styles.map((s) => ({ ...s, image: `gallery/${s.file}`, thumbnail: `gallery/thumbs/${s.file}` }));
}

/** The example photos as {name, title, credit, licence, image, thumbnail}. */
export async function examplePhotos({ fetchFn = fetch } = {}) {
  const response = await fetchFn(EXAMPLES_LIST, { headers: { Accept: "application/json" } });
  if (!response.ok) return [];
  return (await response.json()).photos.map((p) => ({ ...p, image: `examples/${p.file}`, thumbnail: `examples/thumbs/${p.file}` }));
}

/** What a painting is, as people name it: "The Starry Night — Vincent van Gogh, 1889". */
export function paintingLabel(style) {
  return `${style.title} — ${style.artist}, ${style.year}`;
}

/** The picture behind an entry as a File (named so the style list and history show what it is). */
export async function fileOf(entry, name, { fetchFn = fetch } = {}) {
  const response = await fetchFn(entry.image);
  if (!response.ok) throw new Error(`${entry.image}: HTTP ${response.status}`);
  const blob = await response.blob();
  return new File([blob], name, { type: blob.type || "image/jpeg" });
}

/**
 * A list item holding one thumbnail button. Its accessible name is its visible text after `action`
 * (visually hidden: "Add style: "), so speech users can say what they see.
 */
export function thumbButton({ testid, thumbnail, title, detail, action, onPick }) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "thumb";
  button.dataset.testid = testid;
  button.title = `${action}${title}${detail ? ` (${detail})` : ""}`;
  const verb = document.createElement("span");
  verb.className = "visually-hidden";
  verb.textContent = action;
  const img = document.createElement("img");
  img.src = thumbnail;
  img.alt = "";
  img.loading = "lazy";
  const caption = document.createElement("span");
  caption.className = "thumb-title";
  caption.textContent = title;
  button.append(verb, img, caption);
  if (detail) {
    const small = document.createElement("small");
    small.textContent = ` ${detail}`;
    button.append(small);
  }
  button.addEventListener("click", () => onPick(button));
  item.append(button);
  return item;
}
