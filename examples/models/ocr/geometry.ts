// Plane geometry for text detection: convex hulls, minimum-area rectangles (rotating calipers) and
// outward polygon offsets with round joins (the Minkowski sum with a disc that clipper computes).

export type Point = readonly [number, number];
/** Four corners: top-left, top-right, bottom-right, bottom-left (in image coordinates, y down). */
export type Quad = readonly [Point, Point, Point, Point];

const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Convex hull by Andrew's monotone chain; counter-clockwise in the y-up sense (positive signed area), no collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length <= 2) return sorted;
  const lower: Point[] = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** Signed area by the shoelace formula: positive for counter-clockwise (y-up) vertex order. */
export function signedArea(polygon: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i < polygon.length; i++) {
    const a = polygon[i]!;
    const b = polygon[(i + 1) % polygon.length]!;
    sum += a[0] * b[1] - b[0] * a[1];
  }
  return sum / 2;
}

export function perimeter(polygon: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i < polygon.length; i++) {
    const a = polygon[i]!;
    const b = polygon[(i + 1) % polygon.length]!;
    sum += Math.hypot(b[0] - a[0], b[1] - a[1]);
  }
  return sum;
}

export interface RotatedRect {
  /** The four corners, in no particular order (see `orderQuad`). */
  corners: [Point, Point, Point, Point];
  /** Length of the side along the hull edge the rectangle rests on. */
  width: number;
  height: number;
}

/**
 * The smallest-area rectangle enclosing the points (as OpenCV's minAreaRect), by rotating
 * calipers: an optimal rectangle has a side on an edge of the convex hull, so trying each edge is
 * enough.
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) throw new RangeError('minAreaRect: no points');
  if (hull.length === 1) {
    const p = hull[0]!;
    return { corners: [p, p, p, p], width: 0, height: 0 };
  }
  let best: RotatedRect | undefined;
  let bestArea = Number.POSITIVE_INFINITY;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (length === 0) continue;
    const ux = (b[0] - a[0]) / length;
    const uy = (b[1] - a[1]) / length;
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const at = (u: number, v: number): Point => [u * ux - v * uy, u * uy + v * ux];
      best = { corners: [at(minU, minV), at(maxU, minV), at(maxU, maxV), at(minU, maxV)], width: maxU - minU, height: maxV - minV };
    }
  }
  return best!;
}

/**
 * Orders a rectangle's corners as PaddleOCR's get_mini_boxes does: of the two leftmost corners the
 * upper one is top-left, of the two rightmost the upper one is top-right.
 */
export function orderQuad(corners: readonly Point[]): Quad {
  const byX = [...corners].sort((a, b) => a[0] - b[0]);
  const [l0, l1, r0, r1] = byX as [Point, Point, Point, Point];
  const [topLeft, bottomLeft] = l1[1] > l0[1] ? [l0, l1] : [l1, l0];
  const [topRight, bottomRight] = r1[1] > r0[1] ? [r0, r1] : [r1, r0];
  return [topLeft, topRight, bottomRight, bottomLeft];
}

/**
 * Grows a convex polygon outward by `distance`, with round corners: every edge moves out along its
 * normal and each corner becomes an arc of radius `distance` (what clipper's offset with round
 * joins produces). Arcs are approximated with chords that stray at most `arcTolerance` from the
 * true circle. Only convex polygons are accepted; DB text boxes always are.
 */
export function offsetConvexPolygon(polygon: readonly Point[], distance: number, arcTolerance = 0.25): Point[] {
  if (polygon.length < 3) throw new RangeError('offsetConvexPolygon: a polygon needs at least 3 points');
  if (!(distance > 0)) return [...polygon];
  const area = signedArea(polygon);
  if (area === 0) throw new RangeError('offsetConvexPolygon: the polygon has no area');
  const ring = area > 0 ? [...polygon] : [...polygon].reverse();
  for (let i = 0; i < ring.length; i++) {
    if (cross(ring[i]!, ring[(i + 1) % ring.length]!, ring[(i + 2) % ring.length]!) < -1e-9) {
      throw new RangeError('offsetConvexPolygon: the polygon is not convex');
    }
  }
  // Angle between chord points so that the sagitta d(1 - cos(step/2)) stays within the tolerance.
  const step = 2 * Math.acos(Math.max(-1, 1 - Math.min(arcTolerance, distance) / distance));
  const normal = (a: Point, b: Point): number => Math.atan2(-(b[0] - a[0]), b[1] - a[1]);
  const out: Point[] = [];
  for (let i = 0; i < ring.length; i++) {
    const prev = ring[(i + ring.length - 1) % ring.length]!;
    const p = ring[i]!;
    const next = ring[(i + 1) % ring.length]!;
    const from = normal(prev, p);
    let to = normal(p, next);
    while (to < from) to += 2 * Math.PI;
    const steps = Math.max(1, Math.ceil((to - from) / step));
    for (let s = 0; s <= steps; s++) {
      const angle = from + ((to - from) * s) / steps;
      out.push([p[0] + distance * Math.cos(angle), p[1] + distance * Math.sin(angle)]);
    }
  }
  return out;
}
