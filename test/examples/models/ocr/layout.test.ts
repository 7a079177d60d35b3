import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Quad } from '../../../../examples/models/ocr/geometry.js';
import { layoutLines, type ReadBox } from '../../../../examples/models/ocr/layout.js';

const box = (x: number, y: number, w: number, h: number): Quad => [[x, y], [x + w, y], [x + w, y + h], [x, y + h]];
const read = (text: string, b: Quad, confidence = 0.9, angle: 0 | 180 = 0): ReadBox => ({ text, confidence, box: b, angle });

describe('layoutLines', () => {
  // Words of two lines, given out of order, the second word of line one a little lower.
  const words = [
    read('world', box(130, 22, 90, 30), 0.8),
    read('next', box(20, 80, 80, 30)),
    read('Hello', box(20, 20, 100, 30), 1),
  ];

  test('joins words that sit side by side on a line, in reading order', () => {
    const lines = layoutLines(words, 400, 200, { upsideDown: false, groupWords: true });
    assert.deepEqual(lines.map((l) => l.text), ['Hello world', 'next']);
    // The smallest rectangle around both words (slightly tilted: the second word sits 2 px lower).
    const expected = [[20, 20], [220, 20], [220, 52], [20, 52]];
    lines[0]!.box.forEach(([x, y], i) => assert.ok(Math.hypot(x - expected[i]![0]!, y - expected[i]![1]!) < 2.5, `corner ${i}: (${x}, ${y})`));
    assert.ok(Math.abs(lines[0]!.confidence - 0.9) < 1e-9, 'weighted by characters: (5·1 + 5·0.8) / 10');
  });

  test('without grouping, boxes only come in reading order', () => {
    const lines = layoutLines(words, 400, 200, { upsideDown: false, groupWords: false });
    assert.deepEqual(lines.map((l) => l.text), ['Hello', 'world', 'next']);
  });

  test('columns further apart than a line height stay apart', () => {
    const lines = layoutLines([read('Name', box(20, 20, 80, 30)), read('Price', box(300, 20, 80, 30))], 400, 100, { upsideDown: false, groupWords: true });
    assert.deepEqual(lines.map((l) => l.text), ['Name', 'Price']);
  });

  test('an upside-down page reads from the bottom right of the image', () => {
    // The same two lines turned 180° in a 400×200 image.
    const turned = (b: Quad): Quad => b.map(([x, y]) => [400 - x, 200 - y]) as unknown as Quad;
    const flipped = words.map((w) => ({ ...w, box: turned(w.box), angle: 180 as const }));
    const lines = layoutLines(flipped, 400, 200, { upsideDown: true, groupWords: true });
    assert.deepEqual(lines.map((l) => [l.text, l.angle]), [
      ['Hello world', 180],
      ['next', 180],
    ]);
  });
});
