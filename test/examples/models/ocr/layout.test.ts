import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Point, Quad } from '../../../../examples/models/ocr/geometry.js';
import { layoutLines, pageRotation, type ReadBox, type Rotation } from '../../../../examples/models/ocr/layout.js';

const box = (x: number, y: number, w: number, h: number): Quad => [[x, y], [x + w, y], [x + w, y + h], [x, y + h]];
const read = (text: string, b: Quad, confidence = 0.9, angle: Rotation = 0): ReadBox => ({ text, confidence, box: b, angle });

/** A point of a 400×200 page as it sits in the image of that page turned `rotation` clockwise. */
function turn([x, y]: Point, rotation: Rotation): Point {
  if (rotation === 90) return [200 - y, x];
  if (rotation === 180) return [400 - x, 200 - y];
  if (rotation === 270) return [y, 400 - x];
  return [x, y];
}

describe('layoutLines', () => {
  // Words of two lines, given out of order, the second word of line one a little lower.
  const words = [
    read('world', box(130, 22, 90, 30), 0.8),
    read('next', box(20, 80, 80, 30)),
    read('Hello', box(20, 20, 100, 30), 1),
  ];

  test('joins words that sit side by side on a line, in reading order', () => {
    const lines = layoutLines(words, 400, 200, { rotation: 0, groupWords: true });
    assert.deepEqual(lines.map((l) => l.text), ['Hello world', 'next']);
    // The smallest rectangle around both words (slightly tilted: the second word sits 2 px lower).
    const expected = [[20, 20], [220, 20], [220, 52], [20, 52]];
    lines[0]!.box.forEach(([x, y], i) => assert.ok(Math.hypot(x - expected[i]![0]!, y - expected[i]![1]!) < 2.5, `corner ${i}: (${x}, ${y})`));
    assert.ok(Math.abs(lines[0]!.confidence - 0.9) < 1e-9, 'weighted by characters: (5·1 + 5·0.8) / 10');
  });

  test('without grouping, boxes only come in reading order', () => {
    const lines = layoutLines(words, 400, 200, { rotation: 0, groupWords: false });
    assert.deepEqual(lines.map((l) => l.text), ['Hello', 'world', 'next']);
  });

  test('an item and its price at the far end of the line are one line, however far apart', () => {
    const lines = layoutLines([read('3.40', box(300, 20, 60, 30)), read('Flat white', box(20, 22, 120, 30))], 400, 100, { rotation: 0, groupWords: true });
    assert.deepEqual(lines.map((l) => l.text), ['Flat white 3.40']);
  });

  test('a tilted page keeps its lines: the far end of one line sits lower than the start of the next', () => {
    // Two lines 34 px apart on a page tilted 6°: over 360 px the first line falls 38 px.
    const tilt = Math.tan((6 * Math.PI) / 180);
    const at = (x: number, y: number, w: number): Quad => [[x, y + x * tilt], [x + w, y + (x + w) * tilt], [x + w, y + 24 + (x + w) * tilt], [x, y + 24 + x * tilt]];
    const boxes = [read('Total', at(10, 60, 80)), read('6.30', at(300, 60, 70)), read('Croissant', at(10, 26, 140)), read('2.90', at(300, 26, 70))];
    const lines = layoutLines(boxes, 400, 200, { rotation: 0, groupWords: true });
    assert.deepEqual(lines.map((l) => l.text), ['Croissant 2.90', 'Total 6.30']);
  });

  for (const rotation of [90, 180, 270] as const) {
    test(`a page turned ${rotation}° reads in the page's own order`, () => {
      const turned = words.map((w) => ({ ...w, box: w.box.map((p) => turn(p, rotation)) as unknown as Quad, angle: rotation }));
      const width = rotation === 180 ? 400 : 200;
      const height = rotation === 180 ? 200 : 400;
      assert.equal(pageRotation(turned), rotation);
      const lines = layoutLines(turned, width, height, { rotation, groupWords: true });
      assert.deepEqual(lines.map((l) => [l.text, l.angle]), [
        ['Hello world', rotation],
        ['next', rotation],
      ]);
    });
  }

  test('the page turns the way most of its text does (by characters)', () => {
    assert.equal(pageRotation([read('a long line of text', box(0, 0, 1, 1), 1, 90), read('ON', box(0, 0, 1, 1), 1, 0), read('No', box(0, 0, 1, 1), 1, 0)]), 90);
    assert.equal(pageRotation([]), 0);
  });
});

test('words read with a trailing space join with one space', () => {
  const lines = layoutLines([read('SLIPWAY ', box(20, 20, 140, 30)), read('CAFE', box(170, 20, 80, 30))], 400, 100, { rotation: 0, groupWords: true });
  assert.deepEqual(lines.map((l) => l.text), ['SLIPWAY CAFE']);
});
