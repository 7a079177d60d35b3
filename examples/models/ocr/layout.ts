// From recognised boxes to lines of a page: reading order (bottom-up for a page that is upside
// down) and, optionally, the words the detector found apart on one line joined into that line.
import { readingOrder } from './db-postprocess.js';
import { minAreaRect, orderQuad, type Point, type Quad } from './geometry.js';

export interface ReadBox {
  text: string;
  confidence: number;
  box: Quad;
  /** 180 when the crop was read turned over. */
  angle: 0 | 180;
}

export interface LayoutOptions {
  /** The page as a whole is upside down: it reads from the bottom right of the image. */
  upsideDown: boolean;
  /** Join boxes that sit side by side on one line into that line. */
  groupWords: boolean;
}

/** A box as it sits on the page turned the right way up (a no-op for an upright page). */
function inReadingFrame(box: Quad, width: number, height: number, upsideDown: boolean): Quad {
  if (!upsideDown) return box;
  const [tl, tr, br, bl] = box.map(([x, y]) => [width - x, height - y] as Point) as unknown as Quad;
  return [br, bl, tl, tr];
}

function extent(box: Quad): { left: number; right: number; top: number; bottom: number } {
  const xs = box.map((p) => p[0]);
  const ys = box.map((p) => p[1]);
  return { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
}

/**
 * Two boxes are one line when they overlap vertically by at least half the lower one's height and
 * the gap between them is at most one line height (a word space is well under that; a table
 * column usually is not).
 */
function sameLine(a: Quad, b: Quad): boolean {
  const ea = extent(a);
  const eb = extent(b);
  const ha = ea.bottom - ea.top;
  const hb = eb.bottom - eb.top;
  const overlap = Math.min(ea.bottom, eb.bottom) - Math.max(ea.top, eb.top);
  const gap = eb.left - ea.right;
  return overlap >= 0.5 * Math.min(ha, hb) && gap <= Math.max(ha, hb) && gap >= -0.5 * Math.min(ha, hb);
}

/** Orders boxes for reading and, with `groupWords`, joins the ones on one line. */
export function layoutLines(boxes: readonly ReadBox[], width: number, height: number, options: LayoutOptions): ReadBox[] {
  const framed = boxes.map((b) => ({ read: b, box: inReadingFrame(b.box, width, height, options.upsideDown) }));
  const ordered = readingOrder(framed);
  if (!options.groupWords) return ordered.map((f) => f.read);
  const groups: Array<typeof ordered> = [];
  for (const item of ordered) {
    const current = groups.at(-1);
    if (current !== undefined && sameLine(current.at(-1)!.box, item.box)) current.push(item);
    else groups.push([item]);
  }
  return groups.map((group) => {
    if (group.length === 1) return group[0]!.read;
    const characters = group.reduce((n, g) => n + g.read.text.length, 0);
    const rect = minAreaRect(group.flatMap((g) => [...g.read.box]));
    const angles = group.filter((g) => g.read.angle === 180).length;
    return {
      text: group.map((g) => g.read.text).join(' '),
      confidence: group.reduce((sum, g) => sum + g.read.confidence * g.read.text.length, 0) / Math.max(1, characters),
      box: orderQuad(rect.corners),
      angle: angles * 2 > group.length ? 180 : 0,
    };
  });
}
