// The whole snapshot sequence as an animated GIF, encoded in the browser with gifenc (npm package,
// pinned in package-lock.json; `make install` copies it to vendor/). Snapshots of a multiscale run
// grow in size per stage, so every frame is drawn at one common size.
import { GIFEncoder, applyPalette, quantize } from "./vendor/gifenc.esm.js";
import { fitWithin } from "./images.js";

export async function encodeGif(blobs, { width, height, maxSide = 640, delayMs = 300, lastDelayMs = 1500 }) {
  const size = fitWithin(width, height, maxSide);
  const canvas = document.createElement("canvas");
  canvas.width = size.width;
  canvas.height = size.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  const gif = GIFEncoder();
  for (const [i, blob] of blobs.entries()) {
    const bitmap = await createImageBitmap(blob);
    ctx.drawImage(bitmap, 0, 0, size.width, size.height);
    bitmap.close();
    const { data } = ctx.getImageData(0, 0, size.width, size.height);
    // A palette per frame: early noisy frames and the final image have very different colours.
    const palette = quantize(data, 256);
    gif.writeFrame(applyPalette(data, palette), size.width, size.height, {
      palette,
      delay: i === blobs.length - 1 ? lastDelayMs : delayMs,
    });
  }
  gif.finish();
  return new Blob([gif.bytes()], { type: "image/gif" });
}
