// From recognised boxes to the lines of a page, in reading order. The page may be turned by 90°,
// 180° or 270° and tilted a few degrees: boxes are first brought into the page's upright frame and
// straightened, then grouped into lines by vertical overlap and read left to right, so an item and
// its price at the far end of a receipt line come out as one line.
import { minAreaRect, orderQuad, type Point, type Quad } from './geometry.js';

/** How far a page or a line is turned, clockwise, from upright. */
export type Rotation = 0 | 90 | 180 | 270;

export interface ReadBox {
  text: string;
  confidence: number;
  box: Quad;
  /** How far this box's text is turned clockwise from upright (what the crop was turned back by). */
  angle: Rotation;
}

export interface LayoutOptions {
  /** How far the whole page is turned clockwise (see pageRotation). */
  rotation: Rotation;
  /** Join the boxes of one line into that line. */
  groupWords: boolean;
}

/** The rotation most of the text (by characters) is turned by: the page's. */
export function pageRotation(boxes: readonly Pick<ReadBox, 'text' | 'angle'>[]): Rotation {
  const weight = new Map<Rotation, number>();
  for (const b of boxes) weight.set(b.angle, (weight.get(b.angle) ?? 0) + b.text.length);
  let best: Rotation = 0;
  for (const [angle, w] of weight) if (w > (weight.get(best) ?? 0)) best = angle;
  return best;
}

/** A point of a `width`×`height` image turned `rotation` clockwise, where it sits on the page turned upright. */
function upright([x, y]: Point, width: number, height: number, rotation: Rotation): Point {
  switch (rotation) {
    case 0:
      return [x, y];
    case 90:
      return [y, width - x];
    case 180:
      return [width - x, height - y];
    case 270:
      return [height - y, x];
  }
}

interface Placed<T> {
  item: T;
  /** Centre and half-height in the upright, straightened frame. */
  x: number;
  y: number;
  left: number;
  top: number;
  bottom: number;
}

/**
 * Items placed on the upright page and straightened by the page's tilt (the median slope of the
 * boxes' top edges; a receipt photographed a few degrees off stays one line per line).
 */
function place<T extends { box: Quad }>(items: readonly T[], width: number, height: number, rotation: Rotation): Array<Placed<T>> {
  const quads = items.map((i) => orderQuad(i.box.map((p) => upright(p, width, height, rotation))));
  const slopes = quads
    .map(([tl, tr]) => Math.atan2(tr[1] - tl[1], tr[0] - tl[0]))
    .filter((a) => Math.abs(a) < Math.PI / 6)
    .sort((a, b) => a - b);
  const tilt = slopes.length === 0 ? 0 : slopes[Math.floor(slopes.length / 2)]!;
  const cos = Math.cos(-tilt);
  const sin = Math.sin(-tilt);
  return items.map((item, i) => {
    const straight = quads[i]!.map(([x, y]) => [x * cos - y * sin, x * sin + y * cos] as Point);
    const xs = straight.map((p) => p[0]);
    const ys = straight.map((p) => p[1]);
    const top = Math.min(...ys);
    const bottom = Math.max(...ys);
    return { item, x: (Math.min(...xs) + Math.max(...xs)) / 2, y: (top + bottom) / 2, left: Math.min(...xs), top, bottom };
  });
}

/**
 * Lines of a page: boxes whose vertical extents overlap by at least half the smaller one's height
 * are one line; lines top to bottom, boxes left to right.
 */
export function readingLines<T extends { box: Quad }>(items: readonly T[], width: number, height: number, rotation: Rotation): T[][] {
  const placed = place(items, width, height, rotation).sort((a, b) => a.y - b.y);
  const lines: Array<{ top: number; bottom: number; members: Array<Placed<T>> }> = [];
  for (const p of placed) {
    let best: (typeof lines)[number] | undefined;
    let bestOverlap = 0;
    for (const line of lines) {
      const overlap = Math.min(line.bottom, p.bottom) - Math.max(line.top, p.top);
      const share = overlap / Math.min(line.bottom - line.top, p.bottom - p.top);
      if (share >= 0.5 && share > bestOverlap) {
        best = line;
        bestOverlap = share;
      }
    }
    if (best === undefined) lines.push({ top: p.top, bottom: p.bottom, members: [p] });
    else {
      best.members.push(p);
      // The line's extent is its members' median one, so one tall box does not swallow the next line.
      const tops = best.members.map((m) => m.top).sort((a, b) => a - b);
      const bottoms = best.members.map((m) => m.bottom).sort((a, b) => a - b);
      best.top = tops[Math.floor(tops.length / 2)]!;
      best.bottom = bottoms[Math.floor(bottoms.length / 2)]!;
    }
  }
  return lines
    .map((line) => ({ y: (line.top + line.bottom) / 2, members: line.members.sort((a, b) => a.left - b.left).map((m) => m.item) }))
    .sort((a, b) => a.y - b.y)
    .map((line) => line.members);
}

/** Orders boxes for reading and, with `groupWords`, joins the boxes of each line into that line. */
export function layoutLines(boxes: readonly ReadBox[], width: number, height: number, options: LayoutOptions): ReadBox[] {
  const lines = readingLines(boxes, width, height, options.rotation);
  if (!options.groupWords) return lines.flat();
  return lines.map((group) => {
    if (group.length === 1) return group[0]!;
    const characters = group.reduce((n, g) => n + g.text.length, 0);
    const rect = minAreaRect(group.flatMap((g) => [...g.box]));
    return {
      text: group.map((g) => g.text.trim()).join(' '),
      confidence: group.reduce((sum, g) => sum + g.confidence * g.text.length, 0) / Math.max(1, characters),
      box: orderQuad(rect.corners),
      angle: pageRotation(group),
    };
  });
}
