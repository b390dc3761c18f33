// Browser-side image preparation. Photos are decoded upright (EXIF orientation applied) and
// downscaled to what the server will use anyway, so the preview shows exactly what is sent
// and uploads stay small. A file the browser cannot decode is sent untouched: the server's
// own 400 message then tells the user what is wrong with it.

/** Largest size with the same aspect ratio whose longest side is at most maxSide (never upscales). */
export function fitWithin(width, height, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

// Longest side kept after decoding: the largest output size the panel allows. A 24 MP photo
// would otherwise hold ~96 MB per picked image for as long as it stays picked.
export const MAX_KEPT_SIDE = 2048;

/** { file, bitmap } where bitmap is null when the browser cannot decode the file. */
export async function loadImage(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return { file, bitmap: null };
  }
  const kept = fitWithin(bitmap.width, bitmap.height, MAX_KEPT_SIDE);
  if (kept.width === bitmap.width && kept.height === bitmap.height) return { file, bitmap };
  try {
    const smaller = await createImageBitmap(bitmap, { resizeWidth: kept.width, resizeHeight: kept.height, resizeQuality: "high" });
    bitmap.close();
    return { file, bitmap: smaller };
  } catch {
    return { file, bitmap };
  }
}

/** Blob to upload (or preview) for a loaded image, at most maxSide on its longest side. */
export async function encodeImage(source, maxSide) {
  if (!source.bitmap) return source.file;
  const { width, height } = fitWithin(source.bitmap.width, source.bitmap.height, maxSide);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(source.bitmap, 0, 0, width, height);
  // Photos stay JPEG (PNG of a photo is several times larger); anything else becomes lossless PNG.
  const jpeg = source.file.type === "image/jpeg";
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("could not encode image"))), jpeg ? "image/jpeg" : "image/png", 0.95);
  });
}

export function uploadName(field, blob, source) {
  if (blob === source.file) return source.file.name || field;
  return `${field}.${blob.type === "image/jpeg" ? "jpg" : "png"}`;
}

// What the server decodes (handler/stylize/images.py, Pillow): the browser refuses anything else at
// pick time, by its first bytes, so a text file renamed .jpg is not taken for a photo.
export const ACCEPTED_FORMATS = "PNG, JPEG, WebP, GIF, BMP or TIFF";

/** The image format named by a file's first bytes (at least 12), or null when it is none the server reads. */
export function sniffFormat(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const ascii = (from, to) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0x89 && ascii(1, 4) === "PNG") return "png";
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (ascii(0, 4) === "GIF8") return "gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (ascii(0, 2) === "BM") return "bmp";
  if ((ascii(0, 2) === "II" && b[2] === 42 && b[3] === 0) || (ascii(0, 2) === "MM" && b[2] === 0 && b[3] === 42)) return "tiff";
  return null;
}

/** Rejects with `<name> is not an image (use …)` unless the file starts like an accepted image. */
export async function requireImage(file) {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  if (!sniffFormat(head)) throw new NotAnImage(file.name);
}

export class NotAnImage extends Error {
  constructor(name) {
    super(`${name} is not an image (use ${ACCEPTED_FORMATS})`);
    this.name = "NotAnImage";
  }
}
