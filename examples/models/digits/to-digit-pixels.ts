// Turns a photo or scan of one digit into what the digits model was trained on: scikit-learn's
// load_digits (UCI optdigits), 8×8 blocks counting the ink of a 32×32 bitmap, ink high (0..16).
// The digit is found and centred first, so its size and position in the picture do not matter.
import { resizeImage, ServingError, type DecodedImage } from 'slipway';

/** The bitmap the 8×8 counts are taken from (optdigits: 32×32, blocks of 4×4). */
const BITMAP = 32;
const BLOCK = 4;
/** Fraction of the ink's contrast above which a pixel belongs to the digit's bounding box. */
const INK_FRACTION = 0.3;
/** Contrast (0..255) under which the picture is taken to hold no digit at all. */
const MIN_CONTRAST = 32;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * 64 values in 0..16, row-major, ink high. Dark-on-light and light-on-dark pictures both work: the
 * background is read from the border, and the ink is whatever differs from it.
 */
export async function toDigitPixels(image: DecodedImage): Promise<Float32Array> {
  if (image.channels !== 1) throw new RangeError('toDigitPixels: expects a grey image (decode with channels: 1)');
  const { width, height, data } = image;
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(data[x]!, data[(height - 1) * width + x]!);
  for (let y = 0; y < height; y++) border.push(data[y * width]!, data[y * width + width - 1]!);
  const background = median(border);
  // Ink as distance from the background, whichever way round the picture is.
  const ink = new Float32Array(width * height);
  let strongest = 0;
  for (let i = 0; i < ink.length; i++) {
    ink[i] = Math.max(0, Math.abs(data[i]! - background));
    if (ink[i]! > strongest) strongest = ink[i]!;
  }
  if (strongest < MIN_CONTRAST) {
    throw new ServingError('INVALID_INPUT', 'image: no digit found (the picture has almost no contrast)');
  }
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! < strongest * INK_FRACTION) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const boxWidth = x1 - x0 + 1;
  const boxHeight = y1 - y0 + 1;
  const crop = new Uint8Array(boxWidth * boxHeight);
  for (let y = 0; y < boxHeight; y++) {
    for (let x = 0; x < boxWidth; x++) crop[y * boxWidth + x] = Math.min(255, Math.round((ink[(y + y0) * width + x + x0]! * 255) / strongest));
  }
  // Fit the digit's box into the bitmap, keeping its shape, centred (optdigits digits fill their frame).
  const scale = BITMAP / Math.max(boxWidth, boxHeight);
  const fitWidth = Math.max(1, Math.min(BITMAP, Math.round(boxWidth * scale)));
  const fitHeight = Math.max(1, Math.min(BITMAP, Math.round(boxHeight * scale)));
  const fitted = await resizeImage(
    { width: boxWidth, height: boxHeight, channels: 1, data: crop, format: 'raw' },
    { width: fitWidth, height: fitHeight, kernel: 'linear' },
  );
  const left = Math.floor((BITMAP - fitWidth) / 2);
  const top = Math.floor((BITMAP - fitHeight) / 2);
  const pixels = new Float32Array((BITMAP / BLOCK) ** 2);
  for (let y = 0; y < fitHeight; y++) {
    for (let x = 0; x < fitWidth; x++) {
      const block = Math.floor((y + top) / BLOCK) * (BITMAP / BLOCK) + Math.floor((x + left) / BLOCK);
      pixels[block]! += fitted.data[y * fitWidth + x]! / 255;
    }
  }
  return pixels;
}
