// DB (Differentiable Binarization) post-processing: from the detector's per-pixel text probability
// map to text boxes. Same steps and defaults as PaddleOCR's DBPostProcess: threshold the map, take
// each connected region's minimum-area rectangle, score it by the mean probability inside, grow it
// by the "unclip" offset (the network predicts shrunk text kernels), and scale it to the image.
import { minAreaRect, offsetConvexPolygon, orderQuad, perimeter, signedArea, type Point, type Quad } from './geometry.js';

export interface DbOptions {
  /** Probability above which a pixel is text (PaddleOCR det_db_thresh). */
  threshold: number;
  /** Mean probability a box needs to be kept (det_db_box_thresh). */
  boxThreshold: number;
  /** How far boxes grow: offset distance = area × ratio / perimeter (det_db_unclip_ratio). */
  unclipRatio: number;
  /** Regions considered, largest first (max_candidates). */
  maxCandidates: number;
  /** Boxes whose short side is below this, in map pixels, are noise. */
  minSize: number;
}

export const DB_DEFAULTS: Readonly<DbOptions> = Object.freeze({
  threshold: 0.3,
  boxThreshold: 0.6,
  unclipRatio: 1.5,
  maxCandidates: 1000,
  minSize: 3,
});

export interface DetectedBox {
  box: Quad;
  /** Mean text probability inside the box before it was grown. */
  score: number;
}

export interface ProbabilityMap {
  data: Float32Array;
  width: number;
  height: number;
}

/**
 * Connected regions (8-connected, as OpenCV's contours are) of pixels above `threshold`, each as its
 * boundary pixels (those with a 4-neighbour outside the region): enough for a convex hull.
 */
export function regionBoundaries(map: ProbabilityMap, threshold: number): Point[][] {
  const { data, width, height } = map;
  const labels = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  const regions: Point[][] = [];
  const isText = (i: number): boolean => data[i]! > threshold;
  let label = 0;
  for (let start = 0; start < width * height; start++) {
    if (labels[start] !== 0 || !isText(start)) continue;
    label += 1;
    const boundary: Point[] = [];
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % width;
      const y = (i - x) / width;
      const edge =
        x === 0 || y === 0 || x === width - 1 || y === height - 1 || !isText(i - 1) || !isText(i + 1) || !isText(i - width) || !isText(i + width);
      if (edge) boundary.push([x, y]);
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if ((dx === 0 && dy === 0) || nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (labels[j] === 0 && isText(j)) {
            labels[j] = label;
            stack[top++] = j;
          }
        }
      }
    }
    regions.push(boundary);
  }
  return regions;
}

/** Mean of the map over the pixels whose centres lie in the (convex) quad: PaddleOCR's box_score_fast. */
export function boxScore(map: ProbabilityMap, quad: Quad): number {
  const { data, width, height } = map;
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const x0 = Math.max(0, Math.min(width - 1, Math.floor(Math.min(...xs))));
  const x1 = Math.max(0, Math.min(width - 1, Math.ceil(Math.max(...xs))));
  const y0 = Math.max(0, Math.min(height - 1, Math.floor(Math.min(...ys))));
  const y1 = Math.max(0, Math.min(height - 1, Math.ceil(Math.max(...ys))));
  const sign = signedArea(quad) >= 0 ? 1 : -1;
  let sum = 0;
  let count = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let inside = true;
      for (let k = 0; k < 4 && inside; k++) {
        const a = quad[k]!;
        const b = quad[(k + 1) % 4]!;
        // Half a pixel of slack: OpenCV's fillPoly also paints pixels the edge passes through.
        const side = sign * ((b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]));
        inside = side >= -0.5 * Math.hypot(b[0] - a[0], b[1] - a[1]);
      }
      if (inside) {
        sum += data[y * width + x]!;
        count += 1;
      }
    }
  }
  return count === 0 ? 0 : sum / count;
}

/** Grows a detected (shrunk) box by DB's unclip distance and returns the enclosing rectangle. */
export function unclip(quad: Quad, ratio: number): { box: Quad; shortSide: number } {
  const area = Math.abs(signedArea(quad));
  const length = perimeter(quad);
  const distance = length === 0 ? 0 : (area * ratio) / length;
  const grown = distance > 0 && area > 0 ? offsetConvexPolygon(quad, distance) : [...quad];
  const rect = minAreaRect(grown);
  return { box: orderQuad(rect.corners), shortSide: Math.min(rect.width, rect.height) };
}

/**
 * Text boxes from a DB probability map, in the coordinates of an image of `outWidth` × `outHeight`
 * (the map is usually a resized copy of it).
 */
export function boxesFromProbabilityMap(map: ProbabilityMap, outWidth: number, outHeight: number, options: Partial<DbOptions> = {}): DetectedBox[] {
  const o = { ...DB_DEFAULTS, ...options };
  const regions = regionBoundaries(map, o.threshold)
    .sort((a, b) => b.length - a.length)
    .slice(0, o.maxCandidates);
  const sx = outWidth / map.width;
  const sy = outHeight / map.height;
  const boxes: DetectedBox[] = [];
  for (const region of regions) {
    if (region.length < 3) continue;
    const rect = minAreaRect(region);
    if (Math.min(rect.width, rect.height) < o.minSize) continue;
    const quad = orderQuad(rect.corners);
    const score = boxScore(map, quad);
    if (score < o.boxThreshold) continue;
    const grown = unclip(quad, o.unclipRatio);
    if (grown.shortSide < o.minSize + 2) continue;
    const scaled = grown.box.map(([x, y]) => [
      Math.min(outWidth, Math.max(0, Math.round(x * sx))),
      Math.min(outHeight, Math.max(0, Math.round(y * sy))),
    ]) as unknown as Quad;
    boxes.push({ box: scaled, score });
  }
  return boxes;
}

/** Drops boxes that collapsed when clipped to the image (a side of 3 pixels or less), as PaddleOCR's filter_tag_det_res. */
export function keepVisibleBoxes(boxes: DetectedBox[]): DetectedBox[] {
  return boxes.filter(({ box }) => {
    const width = Math.hypot(box[1][0] - box[0][0], box[1][1] - box[0][1]);
    const height = Math.hypot(box[3][0] - box[0][0], box[3][1] - box[0][1]);
    return Math.floor(width) > 3 && Math.floor(height) > 3;
  });
}
