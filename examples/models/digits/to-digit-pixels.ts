// Turns a drawing, photo or scan of one digit into what the digits model reads: scikit-learn's
// load_digits (UCI optdigits) form, 8×8 blocks counting the ink of a size-normalised bitmap, ink
// high (0..16). optdigits' own normalisation is matched on what its data shows: the digit fills the
// frame's height and at most 3/4 of its width, sits in the middle, and its ink covers about 30% of the frame (313 ± 34 of 1,024
// pixels for every class), however thin or bold the pen was. digit_images.py holds a numpy twin of this
// file (digit_images.py: preprocess()); the model is trained on what it produces, so change both together.
import { ServingError, type DecodedImage } from 'slipway';
import { distanceToOutside, resampleArea } from './grid.js';

/** The working bitmap; the 8×8 output is its 8×8 blocks (optdigits: 32×32 in blocks of 4×4). */
const FRAME = 64;
const BLOCK = FRAME / 8;
/** The digit's longer side while its strokes are normalised, leaving room to thicken them. */
const FIT = 48;
/** optdigits digits fill the height; their width reaches 3/4 of it at most (block columns 1..6). */
const MAX_WIDTH = 48;
/** Share of the ink's contrast from which a pixel counts as ink. */
const INK_THRESHOLD = 0.3;
/** Contrast (0..255) under which the picture is taken to hold no digit at all. */
const MIN_CONTRAST = 32;
/** optdigits: ink covers 30.6% of the frame on average. */
const INK_SHARE = 0.3;
/** How far strokes may be thickened or thinned (pixels at FIT scale): a hairline is not bloated into a blob, a bold face keeps its shape. */
const MAX_THICKEN = 8;
const MAX_THIN = 1.5;

/** A grey grid with values 0..1 (1 = ink). */
interface Grid {
  width: number;
  height: number;
  data: Float32Array;
}

/** The 8×8 model input (row-major, 0..16, ink high) and the steps that made it, for showing. */
export interface DigitPixels {
  pixels: Float32Array;
  /** The normalised FRAME×FRAME bitmap the 8×8 blocks were counted from. */
  bitmap: Grid;
}

/**
 * 64 values in 0..16, row-major, ink high. Dark-on-light and light-on-dark pictures both work: the
 * background is read from the border, and the ink is whatever differs from it.
 *
 * @example
 * const image = await decodeImage(png, { channels: 1 });
 * const { pixels } = toDigitPixels(image); // Float32Array(64), what /v2/models/digits/infer takes
 */
export function toDigitPixels(image: DecodedImage): DigitPixels {
  if (image.channels !== 1) throw new RangeError('toDigitPixels: expects a grey image (decode with channels: 1)');
  const ink = inkOf(image);
  const crop = cropToInk(ink, (v) => v >= INK_THRESHOLD);
  // 1. Size: the longer side to FIT, in the middle of the frame.
  const fitted = placeCentred(fit(crop, FIT), FRAME);
  // 2. Strokes: thicken or thin until the ink covers INK_SHARE of the digit's square.
  const strokes = normaliseStrokes(fitted, Math.floor(INK_SHARE * FIT * FIT + 0.5));
  // 3. Size again, now filling the frame's height, and centred on the ink's centre of mass.
  const bitmap = placeByMass(fillHeight(cropToInk(strokes, (v) => v > 0)), FRAME);
  const pixels = new Float32Array(64);
  for (let y = 0; y < FRAME; y++) {
    for (let x = 0; x < FRAME; x++) pixels[Math.floor(y / BLOCK) * 8 + Math.floor(x / BLOCK)]! += bitmap.data[y * FRAME + x]!;
  }
  // optdigits counts 16 pixels per block; this frame has BLOCK² of them.
  for (let i = 0; i < 64; i++) pixels[i] = (pixels[i]! * 16) / (BLOCK * BLOCK);
  return { pixels, bitmap };
}

/** Ink as distance from the background (the border's median grey), scaled so the strongest is 1. */
function inkOf({ width, height, data }: DecodedImage): Grid {
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(data[x]!, data[(height - 1) * width + x]!);
  for (let y = 0; y < height; y++) border.push(data[y * width]!, data[y * width + width - 1]!);
  border.sort((a, b) => a - b);
  const background = border[Math.floor(border.length / 2)]!;
  let strongest = 0;
  for (let i = 0; i < width * height; i++) strongest = Math.max(strongest, Math.abs(data[i]! - background));
  if (strongest < MIN_CONTRAST) throw new ServingError('INVALID_INPUT', 'image: no digit found (the picture has almost no contrast)');
  const ink = new Float32Array(width * height);
  for (let i = 0; i < ink.length; i++) ink[i] = Math.abs(data[i]! - background) / strongest;
  return { width, height, data: ink };
}

function cropToInk(grid: Grid, isInk: (value: number) => boolean): Grid {
  let x0 = grid.width;
  let y0 = grid.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < grid.height; y++) {
    for (let x = 0; x < grid.width; x++) {
      if (!isInk(grid.data[y * grid.width + x]!)) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  const width = x1 - x0 + 1;
  const height = y1 - y0 + 1;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) data.set(grid.data.subarray((y + y0) * grid.width + x0, (y + y0) * grid.width + x1 + 1), y * width);
  return { width, height, data };
}

/** Scaled so that its longer side is `size`, keeping its shape. */
function fit(grid: Grid, size: number): Grid {
  const scale = size / Math.max(grid.width, grid.height);
  const width = Math.max(1, Math.min(size, Math.floor(grid.width * scale + 0.5)));
  const height = Math.max(1, Math.min(size, Math.floor(grid.height * scale + 0.5)));
  return { width, height, data: resampleArea(grid.data, grid.width, grid.height, width, height) };
}

/** Scaled to the frame's height; wide digits are narrowed to MAX_WIDTH, as in optdigits. */
function fillHeight(grid: Grid): Grid {
  const width = Math.max(1, Math.min(MAX_WIDTH, Math.floor((grid.width * FRAME) / grid.height + 0.5)));
  return { width, height: FRAME, data: resampleArea(grid.data, grid.width, grid.height, width, FRAME) };
}

function paste(grid: Grid, frame: number, left: number, top: number): Grid {
  const data = new Float32Array(frame * frame);
  for (let y = 0; y < grid.height; y++) data.set(grid.data.subarray(y * grid.width, (y + 1) * grid.width), (y + top) * frame + left);
  return { width: frame, height: frame, data };
}

function placeCentred(grid: Grid, frame: number): Grid {
  return paste(grid, frame, Math.floor((frame - grid.width) / 2), Math.floor((frame - grid.height) / 2));
}

/** In the frame with its centre of mass in the middle, as far as the frame allows. */
function placeByMass(grid: Grid, frame: number): Grid {
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < grid.height; y++) {
    for (let x = 0; x < grid.width; x++) {
      const v = grid.data[y * grid.width + x]!;
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const offset = (centre: number, size: number) => Math.max(0, Math.min(frame - size, Math.floor(frame / 2 - centre + 0.5)));
  return paste(grid, frame, offset(mx / mass, grid.width), offset(my / mass, grid.height));
}

/**
 * Binary strokes whose ink count is `target`: the ink's signed distance field (inside positive) is
 * cut at the level that keeps `target` pixels, which thickens thin strokes and thins bold ones
 * evenly, within MAX_THICKEN / MAX_THIN.
 */
function normaliseStrokes(grid: Grid, target: number): Grid {
  const n = grid.width * grid.height;
  const inside = new Uint8Array(n);
  const outside = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    inside[i] = grid.data[i]! >= INK_THRESHOLD ? 1 : 0;
    outside[i] = 1 - inside[i]!;
  }
  const depth = distanceToOutside(inside, grid.width, grid.height);
  const gap = distanceToOutside(outside, grid.width, grid.height);
  const signed = new Float32Array(n);
  for (let i = 0; i < n; i++) signed[i] = inside[i] ? depth[i]! - 0.5 : 0.5 - gap[i]!;
  const sorted = Float32Array.from(signed).sort().reverse();
  const level = Math.max(-MAX_THICKEN, Math.min(MAX_THIN, sorted[Math.min(n, target) - 1]!));
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = signed[i]! >= level ? 1 : 0;
  return { width: grid.width, height: grid.height, data };
}
