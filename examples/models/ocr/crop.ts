// Cutting a text line out of the page: a perspective warp of the detected quadrilateral onto an
// upright rectangle (PaddleOCR's get_rotate_crop_image), so slanted lines are read straight.
import type { DecodedImage } from 'slipway';
import type { Quad } from './geometry.js';

/** The 3×3 homography (row-major, h33 = 1) that maps the four `from` points onto the four `to` points. */
export function homography(from: Quad, to: Quad): Float64Array {
  // Eight equations in the eight unknowns h11..h32, solved by Gaussian elimination with pivoting.
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i]!;
    const [u, v] = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let col = 0; col < 8; col++) {
    let pivot = col;
    for (let row = col + 1; row < 8; row++) if (Math.abs(a[row]![col]!) > Math.abs(a[pivot]![col]!)) pivot = row;
    if (Math.abs(a[pivot]![col]!) < 1e-12) throw new RangeError('homography: the points are degenerate (three in a line?)');
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let row = 0; row < 8; row++) {
      if (row === col) continue;
      const factor = a[row]![col]! / a[col]![col]!;
      for (let k = col; k < 9; k++) a[row]![k]! -= factor * a[col]![k]!;
    }
  }
  const h = new Float64Array(9);
  for (let i = 0; i < 8; i++) h[i] = a[i]![8]! / a[i]![i]!;
  h[8] = 1;
  return h;
}

/**
 * The quad's content as an upright image: width the longer of its top and bottom edges, height the
 * longer of its left and right edges, sampled bilinearly with edge pixels repeated outside the page.
 * A crop at least 1.5 times taller than wide is turned 90° counter-clockwise (vertical text).
 */
export function cropQuad(image: DecodedImage, quad: Quad): DecodedImage {
  const { width, height } = quadSize(quad);
  // Maps crop pixels back into the page, so each output pixel is sampled once.
  const h = homography([[0, 0], [width, 0], [width, height], [0, height]], quad);
  const { channels, data } = image;
  const out = new Uint8Array(width * height * channels);
  const maxX = image.width - 1;
  const maxY = image.height - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const w = h[6]! * x + h[7]! * y + h[8]!;
      const sx = Math.min(maxX, Math.max(0, (h[0]! * x + h[1]! * y + h[2]!) / w));
      const sy = Math.min(maxY, Math.max(0, (h[3]! * x + h[4]! * y + h[5]!) / w));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(maxX, x0 + 1);
      const y1 = Math.min(maxY, y0 + 1);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < channels; c++) {
        const p00 = data[(y0 * image.width + x0) * channels + c]!;
        const p01 = data[(y0 * image.width + x1) * channels + c]!;
        const p10 = data[(y1 * image.width + x0) * channels + c]!;
        const p11 = data[(y1 * image.width + x1) * channels + c]!;
        const top = p00 + (p01 - p00) * fx;
        const bottom = p10 + (p11 - p10) * fx;
        out[(y * width + x) * channels + c] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  const crop: DecodedImage = { width, height, channels, data: out, format: 'raw' };
  return isVertical(width, height) ? rotate90CounterClockwise(crop) : crop;
}

/**
 * Whether a box this size holds a line turned by 90° (PaddleOCR's rule: 1.5 times taller than
 * wide); its crop is turned 90° counter-clockwise before it is read.
 */
export function isVertical(width: number, height: number): boolean {
  return height / width >= 1.5;
}

/** The quad's width and height as cropQuad measures them. */
export function quadSize([tl, tr, br, bl]: Quad): { width: number; height: number } {
  return {
    width: Math.max(1, Math.floor(Math.max(Math.hypot(tr[0] - tl[0], tr[1] - tl[1]), Math.hypot(br[0] - bl[0], br[1] - bl[1])))),
    height: Math.max(1, Math.floor(Math.max(Math.hypot(bl[0] - tl[0], bl[1] - tl[1]), Math.hypot(br[0] - tr[0], br[1] - tr[1])))),
  };
}

export function rotate90CounterClockwise(image: DecodedImage): DecodedImage {
  const { width, height, channels, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const target = ((width - 1 - x) * height + y) * channels;
      for (let c = 0; c < channels; c++) out[target + c] = data[(y * width + x) * channels + c]!;
    }
  }
  return { ...image, width: height, height: width, data: out };
}

export function rotate180(image: DecodedImage): DecodedImage {
  const { channels, data } = image;
  const pixels = image.width * image.height;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < channels; c++) out[(pixels - 1 - i) * channels + c] = data[i * channels + c]!;
  }
  return { ...image, data: out };
}
