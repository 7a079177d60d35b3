import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { boxesFromProbabilityMap, boxScore, keepVisibleBoxes, regionBoundaries, type ProbabilityMap } from '../../../../examples/models/ocr/db-postprocess.js';
import { readingLines } from '../../../../examples/models/ocr/layout.js';
import type { Quad } from '../../../../examples/models/ocr/geometry.js';

/** A map of `background` with rectangles [x0, y0, x1, y1] (inclusive) set to `value`. */
function map(width: number, height: number, rects: Array<[number, number, number, number, number]>, background = 0.02): ProbabilityMap {
  const data = new Float32Array(width * height).fill(background);
  for (const [x0, y0, x1, y1, value] of rects) {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data[y * width + x] = value;
  }
  return { data, width, height };
}

describe('regionBoundaries', () => {
  test('finds each 8-connected region once, by its boundary pixels', () => {
    const m = map(10, 10, [
      [1, 1, 3, 3, 0.9],
      [4, 4, 4, 4, 0.9], // touches the first diagonally: same region
      [7, 1, 8, 8, 0.9],
    ]);
    const regions = regionBoundaries(m, 0.3);
    assert.equal(regions.length, 2);
    const sizes = regions.map((r) => r.length).sort((a, b) => a - b);
    assert.deepEqual(sizes, [9, 16]); // 3×3 ring of 8 plus the lone pixel; the 2×8 bar is all boundary
  });
});

describe('boxesFromProbabilityMap', () => {
  test('finds text kernels, grows them by the unclip offset and scales them to the image', () => {
    // Two "words" on one line and one on the next, in a 200×100 map of a 400×200 image.
    const m = map(200, 100, [
      [100, 20, 159, 29, 0.95],
      [20, 20, 79, 29, 0.9],
      [20, 60, 119, 71, 0.85],
    ]);
    const boxes = readingLines(boxesFromProbabilityMap(m, 400, 200), 400, 200, 0).flat();
    assert.equal(boxes.length, 3);
    // The first kernel spans x 20..79, y 20..29 in pixel centres: 59×9. Unclip with ratio 1.5 grows
    // each side by 59·9·1.5 / (2·(59+9)) ≈ 5.86, then everything doubles.
    const [first] = boxes;
    assert.deepEqual(first!.box, [[28, 28], [170, 28], [170, 70], [28, 70]]);
    assert.ok(Math.abs(first!.score - 0.9) < 1e-6);
    // The third kernel (99×11) grows by 99·11·1.5 / (2·110) ≈ 7.43 a side.
    assert.deepEqual(boxes.map((b) => b.box[0]), [[28, 28], [188, 28], [25, 105]]);
  });

  test('drops weak regions (box threshold) and specks (min size)', () => {
    const m = map(100, 60, [
      [10, 10, 60, 20, 0.5], // above the pixel threshold, below the box threshold
      [70, 40, 71, 41, 0.99], // 2×2: noise
      [10, 40, 50, 50, 0.8],
    ]);
    const boxes = boxesFromProbabilityMap(m, 100, 60);
    assert.equal(boxes.length, 1);
    assert.ok(boxes[0]!.box[0][1] > 30);
    assert.equal(boxesFromProbabilityMap(m, 100, 60, { boxThreshold: 0.4 }).length, 2);
  });

  test('an empty page has no boxes', () => {
    assert.deepEqual(boxesFromProbabilityMap(map(64, 32, []), 64, 32), []);
  });
});

describe('boxScore', () => {
  test('is the mean inside the quad only', () => {
    const m = map(20, 20, [[5, 5, 9, 9, 1]], 0);
    assert.equal(boxScore(m, [[5, 5], [9, 5], [9, 9], [5, 9]]), 1);
    const half = boxScore(m, [[5, 5], [14, 5], [14, 9], [5, 9]]);
    assert.ok(Math.abs(half - 0.5) < 1e-9, `got ${half}`);
  });
});

describe('keepVisibleBoxes', () => {
  const box = (x: number, y: number, w = 20, h = 10): { box: Quad } => ({ box: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]] });

  test('boxes collapsed to 3 pixels or less are dropped', () => {
    assert.equal(keepVisibleBoxes([{ ...box(0, 0, 3, 10), score: 1 }, { ...box(0, 0, 20, 10), score: 1 }]).length, 1);
  });
});
