import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distanceToOutside, resampleArea } from '../../../../examples/models/digits/grid.js';

test('resampleArea averages what each output pixel covers, down and up, so a thin stroke survives', () => {
  assert.deepEqual(Array.from(resampleArea(Float32Array.of(0, 1, 1, 0), 4, 1, 2, 1)), [0.5, 0.5]);
  assert.deepEqual(Array.from(resampleArea(Float32Array.of(0, 1), 2, 1, 4, 1)), [0, 0, 1, 1]);
  // Fractional coverage: 3 pixels into 2, each output pixel 1.5 inputs wide.
  assert.deepEqual(Array.from(resampleArea(Float32Array.of(0, 3, 6), 3, 1, 2, 1)).map((v) => Math.round(v * 1e6) / 1e6), [1, 5]);
  // A one-pixel line across a 100×100 grid, shrunk to 10×10, is still there (point sampling would skip it).
  const grid = new Float32Array(100 * 100);
  for (let x = 0; x < 100; x++) grid[55 * 100 + x] = 1;
  const small = resampleArea(grid, 100, 100, 10, 10);
  assert.ok(Math.abs(small[5 * 10 + 3]! - 0.1) < 1e-6);
  assert.ok(Math.abs(small.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'ink is kept: 100 pixels of ink, 1 in 100 of the area');
});

test('distanceToOutside is the exact Euclidean distance to the nearest outside cell (scipy distance_transform_edt)', () => {
  assert.deepEqual(Array.from(distanceToOutside(Uint8Array.of(0, 1, 1, 1, 0), 5, 1)), [0, 1, 2, 1, 0]);
  // A 5×5 block inside a 7×7 grid: its centre is 3 from the border ring, a corner cell 1.
  const inside = new Uint8Array(49);
  for (let y = 1; y < 6; y++) for (let x = 1; x < 6; x++) inside[y * 7 + x] = 1;
  const d = distanceToOutside(inside, 7, 7);
  assert.equal(d[3 * 7 + 3], 3);
  assert.equal(d[1 * 7 + 1], 1);
  assert.equal(d[2 * 7 + 2], 2);
  // Diagonal distances are Euclidean: one outside cell in a corner of an all-inside grid.
  const open = new Uint8Array(16).fill(1);
  open[0] = 0;
  assert.ok(Math.abs(distanceToOutside(open, 4, 4)[3 * 4 + 3]! - Math.hypot(3, 3)) < 1e-6);
});
