// Names of a run's pictures, for people and for files: "beach × The Starry Night" in "Your jobs",
// beach-the-starry-night-512.png for a download. Pure functions (unit-tested).

/** A file name without its extension ("beach.jpg" -> "beach"). */
export function stem(fileName) {
  const name = String(fileName ?? "").split(/[\\/]/).at(-1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/** A file-name-safe part: lower case letters and digits joined by "-", at most `max` characters, cut at a "-". */
export function slug(text, max = 32) {
  const out = String(text ?? "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  if (out.length <= max) return out;
  const cut = out.slice(0, max);
  if (out[max] === "-") return cut; // the cut falls between words already
  return (cut.includes("-") ? cut.slice(0, cut.lastIndexOf("-")) : cut).replace(/-+$/, "");
}

/** A built-in painting's file is named "Title — Artist, Year.jpg": its title is the short name. */
function shortStyle(fileName) {
  return stem(fileName).split(" — ")[0];
}

/** "beach × The Starry Night" (a blend: "beach × Starry Night + The Wave"). */
export function runLabel({ photo, styles = [] }) {
  const style = styles.map(shortStyle).join(" + ");
  return [stem(photo), style].filter(Boolean).join(" × ");
}

/** <photo>-<style>-<size>.<ext>, e.g. beach-the-starry-night-512.png; a blend joins its styles with "+". */
export function downloadName({ photo, styles = [], size }, ext = "png") {
  const style = styles.map((s) => slug(shortStyle(s), 24)).filter(Boolean).join("+");
  const parts = [slug(stem(photo)), style, Number.isFinite(Number(size)) && size !== null && size !== "" ? String(Number(size)) : ""];
  return `${parts.filter(Boolean).join("-") || "stylized"}.${ext}`;
}
