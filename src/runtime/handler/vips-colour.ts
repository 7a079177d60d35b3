// The colour steps sharp applies when decoding an image for a handler (flatten onto white, sRGB to
// grey), ported from libvips 8.18 with its float32 arithmetic and lookup tables, so that decoding
// in a browser gives the server's pixels (see vips-resize.ts for why exactness matters).

import { rint, type Pixels } from './vips-resize.js';

const f32 = Math.fround;


// libvips's calcul_tables(256): sRGB value → linear light (float), and linear light → sRGB value
// (integers, with a repeated last entry for interpolation).
const SRGB_TO_LINEAR = new Float32Array(256);
const LINEAR_TO_SRGB = new Int32Array(257);
{
  const a = f32(0.055);
  const onePlusA = f32(1 + a);
  const inverseGamma = f32(1 / f32(2.4));
  const gamma = f32(2.4);
  const slope = f32(12.92);
  for (let i = 0; i < 256; i++) {
    const f = f32(i / 255);
    const v = f <= 0.0031308 ? f32(slope * f) : f32(f32(onePlusA * f32(Math.pow(f, inverseGamma))) - a);
    LINEAR_TO_SRGB[i] = rint(f32(255 * v));
    SRGB_TO_LINEAR[i] = f <= 0.04045 ? f32(f / slope) : f32(Math.pow(f32(f32(f + a) / onePlusA), gamma));
  }
  LINEAR_TO_SRGB[256] = LINEAR_TO_SRGB[255]!;
}

const RED = f32(0.2126);
const GREEN = f32(0.7152);
const BLUE = f32(0.0722);

/** vips_col_scRGB2BW for 8 bits: luminance in linear light, back to an sRGB grey level. */
function grey(r: number, g: number, b: number): number {
  const y = f32(f32(f32(RED * SRGB_TO_LINEAR[r]!) + f32(GREEN * SRGB_TO_LINEAR[g]!)) + f32(BLUE * SRGB_TO_LINEAR[b]!));
  const yf = Math.min(255, Math.max(0, f32(y * 255)));
  const yi = Math.trunc(yf);
  const low = LINEAR_TO_SRGB[yi]!;
  return rint(f32(low + f32((LINEAR_TO_SRGB[yi + 1]! - low) * f32(yf - yi))));
}

/**
 * sRGB (3 channels) to grey (1 channel) as libvips's `colourspace(B_W)` does: CIE luminance
 * computed in linear light.
 */
export function srgbToGrey(image: Pixels): Pixels {
  if (image.channels !== 3) throw new RangeError(`srgbToGrey: expects 3 channels, got ${image.channels}`);
  const pixels = image.width * image.height;
  const out = new Uint8Array(pixels);
  const { data } = image;
  for (let i = 0; i < pixels; i++) out[i] = grey(data[i * 3]!, data[i * 3 + 1]!, data[i * 3 + 2]!);
  return { width: image.width, height: image.height, channels: 1, data: out };
}

/**
 * Drops the alpha channel (the last one) by compositing onto white with libvips's integer
 * arithmetic: `(value * alpha + 255 * (255 - alpha)) / 255`, truncated.
 */
export function flattenOnWhite(image: Pixels): Pixels {
  const { width, height, channels, data } = image;
  const colour = channels - 1;
  if (colour !== 1 && colour !== 3) throw new RangeError(`flattenOnWhite: expects grey or sRGB with alpha, got ${channels} channels`);
  const pixels = width * height;
  const out = new Uint8Array(pixels * colour);
  for (let i = 0; i < pixels; i++) {
    const alpha = data[i * channels + colour]!;
    for (let c = 0; c < colour; c++) out[i * colour + c] = Math.trunc((data[i * channels + c]! * alpha + 255 * (255 - alpha)) / 255);
  }
  return { width, height, channels: colour, data: out };
}
