// A port of the resize that sharp runs (libvips 8.18: vips_resize → reducev/reduceh with their
// integer shrinkv/shrinkh pre-pass, then vips_affine for enlarging), for 8-bit pixels, so that a
// handler's `resizeImage` gives the same pixels in a browser as on the server. Every step keeps
// libvips's fixed-point arithmetic (12-bit coefficients, its rounding, its edge handling), because
// the point is bit-for-bit agreement with sharp, not merely a good resize; the tests compare the
// two over random images and sizes.

/** 8-bit pixels, row by row, channels interleaved. */
export interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

export interface PixelResizeOptions {
  width: number;
  height: number;
  /** As sharp's `fit`: `fill` (default) stretches, `inside` keeps the aspect ratio, `contain` also pads. */
  fit?: 'fill' | 'inside' | 'contain';
  /** Padding for `contain`, 0..255 for every channel. */
  background?: number;
  kernel?: ResizeKernel;
}

// libvips's fixed-point scales: masks are tabulated at 1/64 pixel, coefficients have 12 bits.
const TRANSFORM_SCALE = 64;
const INTERPOLATE_SHIFT = 12;
const INTERPOLATE_SCALE = 1 << INTERPOLATE_SHIFT;
/** vips_resize's default reducing gap: integer box shrinks take all but the last factor of 2. */
const REDUCE_GAP = 2;
/** vips__fatstrip_height: the rows of output libvips computes at once in a vertical reduce. */
const FATSTRIP_HEIGHT = 16;

/** C's `(int) v` for the positive coordinates used here (truncation). */
const trunc = Math.trunc;
/** VIPS_ROUND_UINT */
const roundUint = (v: number): number => trunc(v + 0.5);
/** VIPS_ROUND_INT */
const roundInt = (v: number): number => (v > 0 ? trunc(v + 0.5) : trunc(v - 0.5));
const clip255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** C's rint() (and rintf()): round half to even. */
export function rint(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function filter(kernel: ResizeKernel, x: number): number {
  switch (kernel) {
    case 'nearest':
      return 1;
    case 'linear': {
      const ax = Math.abs(x);
      return ax < 1 ? 1 - ax : 0;
    }
    case 'cubic': {
      // Catmull-Rom: Mitchell-Netravali with B = 0, C = 0.5.
      const B = 0;
      const C = 0.5;
      const ax = Math.abs(x);
      const ax2 = ax * ax;
      const ax3 = ax2 * ax;
      if (ax <= 1) return ((12 - 9 * B - 6 * C) * ax3 + (-18 + 12 * B + 6 * C) * ax2 + (6 - 2 * B)) / 6;
      if (ax <= 2) return ((-B - 6 * C) * ax3 + (6 * B + 30 * C) * ax2 + (-12 * B - 48 * C) * ax + (8 * B + 24 * C)) / 6;
      return 0;
    }
    case 'lanczos3':
      return x >= -3 && x <= 3 ? sinc(x) * sinc(x / 3) : 0;
  }
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

/** vips_reduce_get_points */
function maskPoints(kernel: ResizeKernel, shrink: number): number {
  switch (kernel) {
    case 'nearest':
      return 1;
    case 'linear':
      return 2 * rint(shrink) + 1;
    case 'cubic':
      return 2 * rint(2 * shrink) + 1;
    case 'lanczos3':
      return 2 * rint(3 * shrink) + 1;
  }
}

/** The 65 fixed-point masks of vips_reduce_make_mask, one per 1/64 of a pixel. */
function reduceMasks(kernel: ResizeKernel, points: number, shrink: number): Int16Array[] {
  const masks: Int16Array[] = [];
  for (let step = 0; step <= TRANSFORM_SCALE; step++) {
    const mask = new Int16Array(points);
    if (kernel === 'nearest') mask[0] = INTERPOLATE_SCALE;
    else {
      const x = Math.fround(step / TRANSFORM_SCALE);
      const half = x + points / 2 - 1;
      const coefficients = new Float64Array(points);
      let sum = 0;
      for (let i = 0; i < points; i++) {
        coefficients[i] = filter(kernel, (i - half) / shrink);
        sum += coefficients[i]!;
      }
      for (let i = 0; i < points; i++) mask[i] = trunc((coefficients[i]! / sum) * INTERPOLATE_SCALE);
    }
    masks.push(mask);
  }
  return masks;
}

/** Which of the 65 masks a position uses: round to the nearest 1/64 (libvips's doubled-index trick). */
function maskIndex(position: number): number {
  const scaled = trunc(position * TRANSFORM_SCALE * 2);
  return ((scaled & (TRANSFORM_SCALE * 2 - 1)) + 1) >> 1;
}

/** vips_shrinkh with `ceil`: box averages of `factor` pixels, by libvips's multiply-and-shift division. */
function shrinkh(image: Pixels, factor: number): Pixels {
  const { width, height, channels, data } = image;
  const outWidth = Math.ceil(width / factor);
  const out = new Uint8Array(outWidth * height * channels);
  const multiplier = Math.floor(2 ** 32 / (256 * factor));
  const amend = factor >> 1;
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    for (let x = 0; x < outWidth; x++) {
      for (let c = 0; c < channels; c++) {
        let sum = amend;
        for (let k = 0; k < factor; k++) sum += data[row + Math.min(x * factor + k, width - 1) * channels + c]!;
        out[(y * outWidth + x) * channels + c] = Math.min(255, Math.floor((sum * multiplier) / 2 ** 24));
      }
    }
  }
  return { width: outWidth, height, channels, data: out };
}

/** vips_shrinkv with `ceil` (see shrinkh). */
function shrinkv(image: Pixels, factor: number): Pixels {
  const { width, height, channels, data } = image;
  const outHeight = Math.ceil(height / factor);
  const line = width * channels;
  const out = new Uint8Array(outHeight * line);
  const multiplier = Math.floor(2 ** 32 / (256 * factor));
  const amend = factor >> 1;
  const sums = new Uint32Array(line);
  for (let y = 0; y < outHeight; y++) {
    sums.fill(amend);
    for (let k = 0; k < factor; k++) {
      const source = Math.min(y * factor + k, height - 1) * line;
      for (let i = 0; i < line; i++) sums[i] = sums[i]! + data[source + i]!;
    }
    for (let i = 0; i < line; i++) out[y * line + i] = Math.min(255, Math.floor((sums[i]! * multiplier) / 2 ** 24));
  }
  return { width, height: outHeight, channels, data: out };
}

interface ReducePlan {
  /** The image after the integer shrink, or the answer itself when nothing is left to reduce. */
  image: Pixels;
  size: number;
  residual: number;
  offset: number;
  points: number;
  masks: Int16Array[];
}

/** The size, integer pre-shrink and mask of vips_reduceh/vips_reducev along one axis. */
function planReduce(
  image: Pixels,
  length: number,
  shrinkFactor: number,
  kernel: ResizeKernel,
  integerShrink: (image: Pixels, factor: number) => Pixels,
): ReducePlan | Pixels {
  const size = roundUint(length / shrinkFactor);
  let extra = size * shrinkFactor - length;
  let residual = shrinkFactor;
  let source = image;
  if (kernel !== 'nearest') {
    const integer = Math.max(1, Math.floor(length / size / REDUCE_GAP));
    if (integer > 1) {
      source = integerShrink(image, integer);
      extra /= integer;
      residual /= integer;
    }
  }
  if (residual === 1) return source;
  const points = maskPoints(kernel, residual);
  return { image: source, size, residual, offset: (1 + extra) / 2 - 1, points, masks: reduceMasks(kernel, points, residual) };
}

function reducev(image: Pixels, shrinkFactor: number, kernel: ResizeKernel): Pixels {
  const plan = planReduce(image, image.height, shrinkFactor, kernel, shrinkv);
  if (!('masks' in plan)) return plan;
  const { width, height, channels, data } = plan.image;
  const line = width * channels;
  const pad = Math.ceil(plan.points / 2) - 1;
  const out = new Uint8Array(plan.size * line);
  let Y = 0;
  for (let y = 0; y < plan.size; y++) {
    // libvips computes Y at the top of each strip it is asked for and steps it down the strip; the
    // masks (and, for `nearest`, the rows) it picks depend on those last bits. Its strips are
    // FATSTRIP_HEIGHT rows unless a later operation asks for other ones (sharp's `contain` embed
    // does), so a nearest-neighbour reduction can still differ in the odd row there.
    if (y % FATSTRIP_HEIGHT === 0) Y = (y + 0.5) * plan.residual - 0.5 - plan.offset;
    else Y += plan.residual;
    const top = trunc(Y) - pad;
    const mask = plan.masks[maskIndex(Y)]!;
    for (let i = 0; i < line; i++) {
      let sum = INTERPOLATE_SCALE >> 1;
      for (let k = 0; k < plan.points; k++) {
        const row = Math.min(height - 1, Math.max(0, top + k));
        sum += data[row * line + i]! * mask[k]!;
      }
      out[y * line + i] = clip255(sum >> INTERPOLATE_SHIFT);
    }
  }
  return { width, height: plan.size, channels, data: out };
}

function reduceh(image: Pixels, shrinkFactor: number, kernel: ResizeKernel): Pixels {
  const plan = planReduce(image, image.width, shrinkFactor, kernel, shrinkh);
  if (!('masks' in plan)) return plan;
  const { width, height, channels, data } = plan.image;
  const pad = Math.ceil(plan.points / 2) - 1;
  const out = new Uint8Array(plan.size * height * channels);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    // libvips steps X along the row rather than recomputing it, and so do we: the masks it picks
    // depend on the last bits of X.
    let X = 0.5 * plan.residual - 0.5 - plan.offset;
    for (let x = 0; x < plan.size; x++) {
      const left = trunc(X) - pad;
      const mask = plan.masks[maskIndex(X)]!;
      for (let c = 0; c < channels; c++) {
        let sum = INTERPOLATE_SCALE >> 1;
        for (let k = 0; k < plan.points; k++) {
          const column = Math.min(width - 1, Math.max(0, left + k));
          sum += data[(row + column) * channels + c]! * mask[k]!;
        }
        out[(y * plan.size + x) * channels + c] = clip255(sum >> INTERPOLATE_SHIFT);
      }
      X += plan.residual;
    }
  }
  return { width: plan.size, height, channels, data: out };
}

/** Catmull-Rom coefficients in libvips's 12-bit fixed point, one set per 1/64 of a pixel. */
const BICUBIC_MASKS: ReadonlyArray<Int32Array> = Array.from({ length: TRANSFORM_SCALE + 1 }, (_, step) => {
  const x = Math.fround(step / TRANSFORM_SCALE);
  // calculate_coefficients_catmull, term by term as libvips writes it.
  const cr1 = 1 - x;
  const cr2 = -0.5 * x;
  const cr3 = cr1 * cr2;
  const cone = cr1 * cr3;
  const cfou = x * cr3;
  const cr4 = cfou - cone;
  const ctwo = cr1 - cone + cr4;
  const cthr = x - cfou - cr4;
  return Int32Array.from([cone, ctwo, cthr, cfou], (c) => trunc(c * INTERPOLATE_SCALE));
});

type Interpolator = 'nearest' | 'bilinear' | 'bicubic';
/** How many pixels left of and above a position an interpolator reads (libvips's window_offset). */
const WINDOW_OFFSET: Record<Interpolator, number> = { nearest: 0, bilinear: 0, bicubic: 1 };

/**
 * vips_affine for a pure scale (a, d), reading through the interpolator from the input with its
 * edges repeated, in libvips's coordinate conventions (including its input displacement `id`).
 */
function affineScale(image: Pixels, a: number, d: number, interpolator: Interpolator, id: number): Pixels {
  const { width, height, channels, data } = image;
  const windowOffset = WINDOW_OFFSET[interpolator];
  const det = 1 / (a * d);
  const ia = det * d;
  const id_ = det * a;
  const outWidth = roundInt(width * a);
  const outHeight = roundInt(height * d);
  // The input is embedded in a border of windowOffset + 1 repeated pixels; `border` maps back.
  const border = windowOffset + 1;
  const at = (x: number, y: number, c: number): number =>
    data[(Math.min(height - 1, Math.max(0, y - border)) * width + Math.min(width - 1, Math.max(0, x - border))) * channels + c]!;
  const displacement = id - 1;
  const out = new Uint8Array(outWidth * outHeight * channels);
  const inLeft = windowOffset;
  const inRight = windowOffset + width;
  const inTop = windowOffset;
  const inBottom = windowOffset + height;
  for (let y = 0; y < outHeight; y++) {
    let ix = ia * 0 - displacement + windowOffset;
    const iy = id_ * y - displacement + windowOffset;
    for (let x = 0; x < outWidth; x++) {
      const q = (y * outWidth + x) * channels;
      const fx = Math.floor(ix);
      const fy = Math.floor(iy);
      if (fx >= inLeft && fx <= inRight && fy >= inTop && fy <= inBottom) {
        const xi = trunc(ix);
        const yi = trunc(iy);
        if (interpolator === 'nearest') {
          for (let c = 0; c < channels; c++) out[q + c] = at(xi, yi, c);
        } else if (interpolator === 'bilinear') {
          const X = trunc((ix - xi) * INTERPOLATE_SCALE);
          const Y = trunc((iy - yi) * INTERPOLATE_SCALE);
          const Yd = INTERPOLATE_SCALE - Y;
          const c4 = (Y * X) >> INTERPOLATE_SHIFT;
          const c2 = (Yd * X) >> INTERPOLATE_SHIFT;
          const c3 = Y - c4;
          const c1 = Yd - c2;
          for (let c = 0; c < channels; c++) {
            const sum = c1 * at(xi, yi, c) + c2 * at(xi + 1, yi, c) + c3 * at(xi, yi + 1, c) + c4 * at(xi + 1, yi + 1, c);
            out[q + c] = (sum + (INTERPOLATE_SCALE >> 1)) >> INTERPOLATE_SHIFT;
          }
        } else {
          const cx = BICUBIC_MASKS[maskIndex(ix)]!;
          const cy = BICUBIC_MASKS[maskIndex(iy)]!;
          for (let c = 0; c < channels; c++) {
            let total = 0;
            for (let row = 0; row < 4; row++) {
              let sum = 0;
              for (let k = 0; k < 4; k++) sum += cx[k]! * at(xi - 1 + k, yi - 1 + row, c);
              total += cy[row]! * ((sum + (INTERPOLATE_SCALE >> 1)) >> INTERPOLATE_SHIFT);
            }
            out[q + c] = clip255((total + (INTERPOLATE_SCALE >> 1)) >> INTERPOLATE_SHIFT);
          }
        }
      }
      ix += ia;
    }
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}

/** vips_zoom: each pixel repeated xfactor × yfactor times. */
function zoom(image: Pixels, xfactor: number, yfactor: number): Pixels {
  const { width, height, channels, data } = image;
  const outWidth = width * xfactor;
  const outHeight = height * yfactor;
  const out = new Uint8Array(outWidth * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    const source = Math.floor(y / yfactor) * width;
    for (let x = 0; x < outWidth; x++) {
      const from = (source + Math.floor(x / xfactor)) * channels;
      out.set(data.subarray(from, from + channels), (y * outWidth + x) * channels);
    }
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}

/** vips_subsample: every xfactor-th pixel of every yfactor-th row. */
function subsample(image: Pixels, xfactor: number, yfactor: number): Pixels {
  const { width, height, channels, data } = image;
  const outWidth = Math.floor(width / xfactor);
  const outHeight = Math.floor(height / yfactor);
  const out = new Uint8Array(outWidth * outHeight * channels);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const from = (y * yfactor * width + x * xfactor) * channels;
      out.set(data.subarray(from, from + channels), (y * outWidth + x) * channels);
    }
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}

/** vips_resize(scale = hscale, vscale) */
function vipsResize(image: Pixels, scale: number, vscaleIn: number, kernel: ResizeKernel): Pixels {
  let hscale = scale;
  let vscale = vscaleIn;
  let current = image;
  if (kernel === 'nearest') {
    const targetWidth = roundUint(current.width * hscale);
    const targetHeight = roundUint(current.height * vscale);
    const h = Math.max(1, Math.floor(current.width / targetWidth / REDUCE_GAP));
    const v = Math.max(1, Math.floor(current.height / targetHeight / REDUCE_GAP));
    if (h > 1 || v > 1) {
      current = subsample(current, h, v);
      hscale *= h;
      vscale *= v;
    }
  }
  hscale = Math.max(hscale, 1 / current.width);
  vscale = Math.max(vscale, 1 / current.height);
  if (vscale < 1) current = reducev(current, 1 / vscale, kernel);
  if (hscale < 1) current = reduceh(current, 1 / hscale, kernel);
  if (hscale > 1 || vscale > 1) {
    const interpolator: Interpolator = kernel === 'nearest' ? 'nearest' : kernel === 'linear' ? 'bilinear' : 'bicubic';
    const id = kernel === 'nearest' ? 0 : 0.5;
    if (kernel === 'nearest' && hscale === Math.floor(hscale) && vscale === Math.floor(vscale)) {
      current = zoom(current, Math.floor(hscale), Math.floor(vscale));
    } else if (hscale > 1 && vscale > 1) current = affineScale(current, hscale, vscale, interpolator, id);
    else if (hscale > 1) current = affineScale(current, hscale, 1, interpolator, id);
    else current = affineScale(current, 1, vscale, interpolator, id);
  }
  return current;
}

/**
 * Resizes 8-bit pixels exactly as `sharp(raw).resize(width, height, { fit, kernel, background })`
 * does (libvips 8.18), so pre-processing agrees bit for bit wherever it runs.
 *
 * @example
 * const small = resizePixels({ width: 640, height: 480, channels: 3, data }, { width: 320, height: 48 });
 */
export function resizePixels(image: Pixels, options: PixelResizeOptions): Pixels {
  const targetWidth = Math.round(options.width);
  const targetHeight = Math.round(options.height);
  const fit = options.fit ?? 'fill';
  const kernel = options.kernel ?? 'linear';
  // sharp's ResolveShrink
  let hshrink = image.width / targetWidth;
  let vshrink = image.height / targetHeight;
  if (fit !== 'fill') {
    if (hshrink > vshrink) vshrink = hshrink;
    else hshrink = vshrink;
  }
  hshrink = Math.min(hshrink, image.width);
  vshrink = Math.min(vshrink, image.height);
  let out = hshrink !== 1 || vshrink !== 1 ? vipsResize(image, 1 / hshrink, 1 / vshrink, kernel) : image;
  if (fit === 'contain' && (out.width !== targetWidth || out.height !== targetHeight)) out = embedCentred(out, targetWidth, targetHeight, options.background ?? 0);
  return out;
}

/** sharp's centre-gravity embed onto a background of one grey level. */
function embedCentred(image: Pixels, width: number, height: number, background: number): Pixels {
  const outWidth = Math.max(image.width, width);
  const outHeight = Math.max(image.height, height);
  const left = trunc((outWidth - image.width) / 2);
  const top = trunc((outHeight - image.height) / 2);
  const { channels } = image;
  const out = new Uint8Array(outWidth * outHeight * channels).fill(clip255(Math.round(background)));
  for (let y = 0; y < image.height; y++) {
    out.set(image.data.subarray(y * image.width * channels, (y + 1) * image.width * channels), ((top + y) * outWidth + left) * channels);
  }
  return { width: outWidth, height: outHeight, channels, data: out };
}
