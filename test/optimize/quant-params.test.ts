import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { computeScaleZeroPoint, quantRange, quantizeWeightPerChannel, quantizeWeightPerTensor, roundHalfEven } from '../../src/optimize/quant-params.js';

// Expected values worked out by hand from onnxruntime's quant_utils.py (compute_scale_zp,
// quantize_nparray) and cross-checked with numpy running those same formulas: scale = (rmax − rmin)
// / (qmax − qmin) over a range widened to include 0, stored as float32; q = round(x / scale) + zp,
// rounding halves to even, clipped to the type's full range.
describe("onnxruntime's quantization rules", () => {
  test('ranges: full, symmetric (one code dropped) and reduced (7-bit)', () => {
    assert.deepEqual(quantRange('int8'), { qmin: -128, qmax: 127 });
    assert.deepEqual(quantRange('int8', { symmetric: true }), { qmin: -127, qmax: 127 });
    assert.deepEqual(quantRange('uint8', { symmetric: true }), { qmin: 0, qmax: 254 });
    assert.deepEqual(quantRange('int8', { reduceRange: true, symmetric: true }), { qmin: -64, qmax: 64 });
    assert.deepEqual(quantRange('uint8', { reduceRange: true }), { qmin: 0, qmax: 127 });
  });

  test('numpy rounding: halves go to the even neighbour', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -63.5, 2.4999].map(roundHalfEven), [0, 2, 2, 0, -2, -64, 2]);
  });

  test('int8 symmetric per tensor (quantize_dynamic default): absmax 1.27 → scale 2.54/254 = 0.01, zero point 0', () => {
    const w = quantizeWeightPerTensor(Float32Array.of(-1.27, 0.5, 0.013, 0.015, 0.025, 1.0), { type: 'int8', symmetric: true, reduceRange: false });
    assert.equal(w.scales[0], Math.fround(0.01));
    assert.equal(w.scales[0], 0.009999999776482582);
    assert.deepEqual(w.zeroPoints, [0]);
    // 0.015 / 0.01 = 1.5 → 2 and 0.025 / 0.01 = 2.5 → 2 (half to even, not half up).
    assert.deepEqual([...w.values], [-127, 50, 1, 2, 2, 100]);
  });

  test('uint8 asymmetric: [-1, 3] → scale 4/255, zero point round(0 + 1/scale) = round(63.75) = 64', () => {
    const w = quantizeWeightPerTensor(Float32Array.of(-1, 3, 0.5, 1.5), { type: 'uint8', symmetric: false, reduceRange: false });
    assert.equal(w.scales[0], Math.fround(4 / 255));
    assert.deepEqual(w.zeroPoints, [64]);
    assert.deepEqual([...w.values], [0, 255, 96, 160]);
  });

  test('reduce_range: int8 weights in [-64, 64], scale 2.54/128', () => {
    const w = quantizeWeightPerTensor(Float32Array.of(-1.27, 0.5, 0.013, 0.015, 0.025, 1.0), { type: 'int8', symmetric: true, reduceRange: true });
    assert.equal(w.scales[0], Math.fround(2.54 / 128));
    assert.deepEqual([...w.values], [-64, 25, 1, 1, 1, 50]);
  });

  test('a range of zero width gets scale 1 and zero point 0', () => {
    const w = quantizeWeightPerTensor(new Float32Array(4), { type: 'int8', symmetric: true, reduceRange: false });
    assert.deepEqual([...w.scales, ...w.zeroPoints, ...w.values], [1, 0, 0, 0, 0, 0]);
    assert.deepEqual(computeScaleZeroPoint(0, 0, quantRange('uint8'), false), { scale: 1, zeroPoint: 0 });
  });

  test("per channel along MatMul B's last axis: one symmetric scale per column", () => {
    // B = [[0.5, -2, 0], [-0.25, 1, 0]]: columns absmax 0.5, 2 and 0.
    const w = quantizeWeightPerChannel(Float32Array.of(0.5, -2, 0, -0.25, 1, 0), [2, 3], -1, { type: 'int8', symmetric: true, reduceRange: false });
    assert.equal(w.axis, 1);
    assert.deepEqual([...w.scales], [Math.fround(1 / 254), Math.fround(4 / 254), 1]);
    assert.deepEqual(w.zeroPoints, [0, 0, 0]);
    // Row-major: -0.25 / (1/254) = -63.5 → -64 (half to even).
    assert.deepEqual([...w.values], [127, -127, 0, -64, 64, 0]);
  });

  test('static activations: int8 with a zero point, [-0.5, 6] → scale 6.5/255, zero point round(-128 + 0.5/scale) = -108', () => {
    const p = computeScaleZeroPoint(-0.5, 6, quantRange('int8'), false);
    assert.equal(p.scale, Math.fround(6.5 / 255));
    assert.equal(p.zeroPoint, -108);
  });
});
