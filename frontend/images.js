// Browser-side image preparation. Any image this browser decodes is taken (AVIF and HEIC too, where
// the browser reads them): it is decoded upright (EXIF orientation applied), downscaled to what the
// server will use anyway and re-encoded as JPEG or PNG, so the preview shows exactly what is sent and
// uploads stay small. A file this browser cannot decode is refused at pick time ("format not
// supported"): there would be nothing to preview, paint over or downscale.

/** Largest size with the same aspect ratio whose longest side is at most maxSide (never upscales). */
export function fitWithin(width, height, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

// Longest side kept after decoding: the largest output size the panel allows. A 24 MP photo
// would otherwise hold ~96 MB per picked image for as long as it stays picked.
export const MAX_KEPT_SIDE = 2048;

/** { file, bitmap }: the file decoded by this browser; rejects with FormatNotSupported when it cannot decode it. */
export async function loadImage(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    throw new FormatNotSupported(file.name);
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

export function uploadName(field, blob) {
  return `${field}.${blob.type === "image/jpeg" ? "jpg" : "png"}`;
}

/** A picked file this browser cannot decode as an image (a text file, or a format this browser lacks). */
export class FormatNotSupported extends Error {
  constructor(name) {
    super(`${name}: format not supported (this browser cannot read it as an image; PNG or JPEG always work)`);
    this.name = "FormatNotSupported";
  }
}
