import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { convexHull, minAreaRect, offsetConvexPolygon, orderQuad, perimeter, signedArea, type Point } from '../../../../examples/models/ocr/geometry.js';

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

/** Points filling a w×h rectangle centred on (cx, cy), turned by `degrees`. */
function rotatedRectangle(cx: number, cy: number, w: number, h: number, degrees: number): Point[] {
  const a = (degrees * Math.PI) / 180;
  const points: Point[] = [];
  for (let u = -w / 2; u <= w / 2; u += 0.5) {
    for (let v = -h / 2; v <= h / 2; v += 0.5) points.push([cx + u * Math.cos(a) - v * Math.sin(a), cy + u * Math.sin(a) + v * Math.cos(a)]);
  }
  return points;
}

describe('convexHull', () => {
  test('keeps the corners only, counter-clockwise', () => {
    const hull = convexHull([[0, 0], [2, 0], [4, 0], [4, 4], [0, 4], [2, 2], [1, 3], [0, 2]]);
    assert.deepEqual(hull, [[0, 0], [4, 0], [4, 4], [0, 4]]);
    assert.ok(signedArea(hull) > 0);
  });

  test('degenerate inputs', () => {
    assert.deepEqual(convexHull([[1, 1]]), [[1, 1]]);
    assert.deepEqual(convexHull([[3, 1], [1, 1]]), [[1, 1], [3, 1]]);
  });
});

describe('minAreaRect', () => {
  test('an axis-aligned box exactly', () => {
    const rect = minAreaRect([[1, 2], [11, 2], [11, 7], [1, 7], [5, 5]]);
    assert.deepEqual([Math.max(rect.width, rect.height), Math.min(rect.width, rect.height)], [10, 5]);
    assert.deepEqual(orderQuad(rect.corners).map(([x, y]) => [Math.round(x), Math.round(y)]), [[1, 2], [11, 2], [11, 7], [1, 7]]);
  });

  for (const degrees of [12, 30, -25, 80]) {
    test(`a rectangle turned ${degrees}° is found at its size, not its axis-aligned box`, () => {
      const rect = minAreaRect(rotatedRectangle(50, 40, 40, 10, degrees));
      near(Math.max(rect.width, rect.height), 40, 1e-6, 'long side');
      near(Math.min(rect.width, rect.height), 10, 1e-6, 'short side');
    });
  }

  test('refuses no points', () => {
    assert.throws(() => minAreaRect([]), /no points/);
  });
});

describe('orderQuad', () => {
  test('orders shuffled corners top-left, top-right, bottom-right, bottom-left', () => {
    assert.deepEqual(orderQuad([[10, 5], [0, 0], [0, 5], [10, 0]]), [[0, 0], [10, 0], [10, 5], [0, 5]]);
  });

  test('a slightly rising line keeps its left end first', () => {
    const [tl, tr, br, bl] = orderQuad([[0, 10], [100, 0], [101, 20], [1, 30]]);
    assert.deepEqual([tl, tr, br, bl], [[0, 10], [100, 0], [101, 20], [1, 30]]);
  });
});

describe('offsetConvexPolygon', () => {
  const square: Point[] = [[0, 0], [10, 0], [10, 10], [0, 10]];

  test('adds a band of width d with round corners: area A + P·d + π·d²', () => {
    const fine = offsetConvexPolygon(square, 2, 0.001);
    near(Math.abs(signedArea(fine)), 100 + 40 * 2 + Math.PI * 4, 0.05, 'area');
    near(perimeter(fine), 40 + 2 * Math.PI * 2, 0.05, 'perimeter');
  });

  test('every vertex lies at distance d from the polygon, and chords stray at most the arc tolerance', () => {
    const grown = offsetConvexPolygon(square, 2);
    const distance = ([x, y]: readonly [number, number]) => Math.hypot(Math.max(0 - x, 0, x - 10), Math.max(0 - y, 0, y - 10));
    for (let i = 0; i < grown.length; i++) {
      const a = grown[i]!;
      const b = grown[(i + 1) % grown.length]!;
      near(distance(a), 2, 1e-9, `vertex (${a[0]}, ${a[1]})`);
      near(distance([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]), 2, 0.25, 'chord midpoint');
    }
  });

  test('either vertex order gives the same result', () => {
    near(Math.abs(signedArea(offsetConvexPolygon([...square].reverse(), 3))), Math.abs(signedArea(offsetConvexPolygon(square, 3))), 1e-9, 'area');
  });

  test('grows a rectangle into one that is 2d larger each way (DB unclip)', () => {
    const rect = minAreaRect(offsetConvexPolygon([[0, 0], [100, 0], [100, 20], [0, 20]], 12.5));
    near(rect.width, 125, 0.01, 'width');
    near(rect.height, 45, 0.01, 'height');
  });

  test('refuses shapes it cannot offset', () => {
    assert.throws(() => offsetConvexPolygon([[0, 0], [1, 1]], 1), /at least 3 points/);
    assert.throws(() => offsetConvexPolygon([[0, 0], [10, 0], [5, 1], [10, 10], [0, 10]], 1), /not convex/);
    assert.throws(() => offsetConvexPolygon([[0, 0], [1, 1], [2, 2]], 1), /no area/);
  });
});
