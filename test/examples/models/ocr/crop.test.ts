import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DecodedImage } from '../../../../src/runtime/handler/image.js';
import { cropQuad, homography, rotate180, rotate90CounterClockwise } from '../../../../examples/models/ocr/crop.js';
import type { Quad } from '../../../../examples/models/ocr/geometry.js';

/** A grey image whose pixel (x, y) holds x + 10·y. */
function ramp(width: number, height: number): DecodedImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = x + 10 * y;
  return { width, height, channels: 1, data, format: 'raw' };
}

describe('homography', () => {
  test('maps each of the four points onto its partner', () => {
    const from: Quad = [[0, 0], [100, 0], [100, 30], [0, 30]];
    const to: Quad = [[12, 7], [118, 15], [110, 52], [8, 40]];
    const h = homography(from, to);
    from.forEach(([x, y], i) => {
      const w = h[6]! * x + h[7]! * y + h[8]!;
      assert.ok(Math.abs((h[0]! * x + h[1]! * y + h[2]!) / w - to[i]![0]) < 1e-9);
      assert.ok(Math.abs((h[3]! * x + h[4]! * y + h[5]!) / w - to[i]![1]) < 1e-9);
    });
  });

  test('refuses degenerate points', () => {
    assert.throws(() => homography([[0, 0], [1, 1], [2, 2], [3, 3]], [[0, 0], [1, 0], [1, 1], [0, 1]]), /degenerate/);
  });
});

describe('cropQuad', () => {
  test('an axis-aligned quad is the sub-image', () => {
    const crop = cropQuad(ramp(10, 8), [[2, 1], [7, 1], [7, 4], [2, 4]]);
    assert.deepEqual([crop.width, crop.height], [5, 3]);
    assert.deepEqual([...crop.data.subarray(0, 5)], [12, 13, 14, 15, 16]);
    assert.deepEqual([...crop.data.subarray(10, 15)], [32, 33, 34, 35, 36]);
  });

  test('a tall crop (vertical text) is turned to lie flat', () => {
    const crop = cropQuad(ramp(10, 20), [[2, 1], [4, 1], [4, 16], [2, 16]]);
    assert.deepEqual([crop.width, crop.height], [15, 2]);
  });

  test('points outside the image repeat its edge', () => {
    const crop = cropQuad(ramp(4, 4), [[-2, 0], [2, 0], [2, 1], [-2, 1]]);
    assert.deepEqual([...crop.data.subarray(0, 4)], [0, 0, 0, 1]);
  });
});

describe('rotations', () => {
  test('90° counter-clockwise and 180°', () => {
    const image: DecodedImage = { width: 3, height: 2, channels: 1, data: new Uint8Array([1, 2, 3, 4, 5, 6]), format: 'raw' };
    const turned = rotate90CounterClockwise(image);
    assert.deepEqual([turned.width, turned.height, [...turned.data]], [2, 3, [3, 6, 2, 5, 1, 4]]);
    assert.deepEqual([...rotate180(image).data], [6, 5, 4, 3, 2, 1]);
    assert.deepEqual([...rotate180(rotate180(image)).data], [...image.data]);
  });
});
