import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHalfBits, toHalfBits } from '../../src/tensor/fp16.js';

const hex = (bits: number): string => `0x${bits.toString(16).padStart(4, '0')}`;
const isNanBits = (bits: number): boolean => (bits & 0x7c00) === 0x7c00 && (bits & 0x03ff) !== 0;

/** Asserts toHalfBits(value) === bits, printing both in hex on failure. */
function assertHalf(value: number, bits: number): void {
  const actual = toHalfBits(value);
  assert.equal(hex(actual), hex(bits), `toHalfBits(${value})`);
}

describe('toHalfBits exact bit patterns', () => {
  const cases: Array<[string, number, number]> = [
    ['0', 0, 0x0000],
    ['-0', -0, 0x8000],
    ['1', 1, 0x3c00],
    ['-1', -1, 0xbc00],
    ['-2', -2, 0xc000],
    ['0.5', 0.5, 0x3800],
    ['1/3 (rounds to nearest)', 1 / 3, 0x3555],
    ['65504 (largest finite)', 65504, 0x7bff],
    ['-65504', -65504, 0xfbff],
    ['2^-14 (smallest normal)', 2 ** -14, 0x0400],
    ['2^-24 (smallest subnormal)', 2 ** -24, 0x0001],
    ['-2^-24', -(2 ** -24), 0x8001],
    ['1023 * 2^-24 (largest subnormal)', 1023 * 2 ** -24, 0x03ff],
    ['Infinity', Number.POSITIVE_INFINITY, 0x7c00],
    ['-Infinity', Number.NEGATIVE_INFINITY, 0xfc00],
    ['70000 overflows to Infinity', 70000, 0x7c00],
    ['-70000 overflows to -Infinity', -70000, 0xfc00],
    ['1e10 overflows to Infinity', 1e10, 0x7c00],
    ['Number.MAX_VALUE overflows to Infinity', Number.MAX_VALUE, 0x7c00],
    ['65519 rounds down to 65504', 65519, 0x7bff],
    ['65520 (tie between 65504 and 2^16) rounds to even = Infinity', 65520, 0x7c00],
    ['2^-26 underflows to +0', 2 ** -26, 0x0000],
    ['-2^-26 underflows to -0', -(2 ** -26), 0x8000],
    ['1e-10 underflows to +0', 1e-10, 0x0000],
  ];
  for (const [label, value, bits] of cases) {
    test(`${label} → ${hex(bits)}`, () => assertHalf(value, bits));
  }

  test('NaN → exponent all ones, mantissa non-zero', () => {
    const bits = toHalfBits(Number.NaN);
    assert.equal(bits & 0x7c00, 0x7c00, hex(bits));
    assert.notEqual(bits & 0x03ff, 0, hex(bits));
    assert.ok(bits <= 0xffff, hex(bits));
  });
});

describe('toHalfBits rounds to nearest, ties to even', () => {
  test('1 + 2^-11 (tie between 0x3c00 and 0x3c01) → 0x3c00 (even)', () => assertHalf(1 + 2 ** -11, 0x3c00));
  test('1 + 3*2^-11 (tie between 0x3c01 and 0x3c02) → 0x3c02 (even)', () => assertHalf(1 + 3 * 2 ** -11, 0x3c02));
  test('just above a tie rounds up: 1 + 2^-11 + 2^-23 → 0x3c01', () => assertHalf(1 + 2 ** -11 + 2 ** -23, 0x3c01));
  test('just below a tie rounds down: 1 + 3*2^-11 - 2^-23 → 0x3c01', () => assertHalf(1 + 3 * 2 ** -11 - 2 ** -23, 0x3c01));
  test('a tie that carries into the exponent: 2 - 2^-11 → 2 (0x4000)', () => assertHalf(2 - 2 ** -11, 0x4000));
  test('subnormal tie 2^-25 (between 0 and 0x0001) → 0x0000 (even)', () => assertHalf(2 ** -25, 0x0000));
  test('subnormal tie 3*2^-25 (between 0x0001 and 0x0002) → 0x0002 (even)', () => assertHalf(3 * 2 ** -25, 0x0002));
  test('just above the smallest tie: 2^-25 * (1 + 2^-23) → 0x0001', () => assertHalf(2 ** -25 * (1 + 2 ** -23), 0x0001));
  test('largest subnormal + half an ulp (tie, odd) → smallest normal 0x0400', () => assertHalf(1023.5 * 2 ** -24, 0x0400));
  test('-(1 + 3*2^-11) → 0xbc02 (sign kept through rounding)', () => assertHalf(-(1 + 3 * 2 ** -11), 0xbc02));

  test('the midpoint between every two adjacent finite halves rounds to the even one (both signs)', () => {
    for (let b = 0; b < 0x7bff; b++) {
      const mid = (fromHalfBits(b) + fromHalfBits(b + 1)) / 2;
      const even = b % 2 === 0 ? b : b + 1;
      const up = toHalfBits(mid);
      if (up !== even) assert.fail(`midpoint of ${hex(b)} and ${hex(b + 1)} (${mid}) → ${hex(up)}, expected ${hex(even)}`);
      const down = toHalfBits(-mid);
      if (down !== (0x8000 | even)) assert.fail(`-(${mid}) → ${hex(down)}, expected ${hex(0x8000 | even)}`);
    }
  });

  test('agrees with a brute-force nearest-even reference on 20000 float32 values', () => {
    // All positive finite halves in increasing order: bit patterns 0x0000..0x7bff.
    const halves = new Float64Array(0x7c00);
    for (let b = 0; b < 0x7c00; b++) halves[b] = fromHalfBits(b);
    const reference = (value: number): number => {
      const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
      const v = Math.abs(value);
      if (v >= 65520) return sign | 0x7c00;
      let lo = 0;
      let hi = 0x7bff;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (halves[mid]! <= v) lo = mid;
        else hi = mid;
      }
      const dLo = v - halves[lo]!;
      const dHi = halves[hi]! - v;
      if (dLo < dHi) return sign | lo;
      if (dHi < dLo) return sign | hi;
      return sign | (lo % 2 === 0 ? lo : hi);
    };
    // Deterministic float32 inputs (so that no double → float32 rounding is involved).
    const f32 = new Float32Array(1);
    let seed = 12345;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    for (let i = 0; i < 20000; i++) {
      const exponent = (next() % 44) - 28; // 2^-28 .. 2^15: underflow, subnormals, normals, overflow edge
      f32[0] = (1 + next() / 2 ** 32) * 2 ** exponent * (next() % 2 === 0 ? 1 : -1);
      const value = f32[0];
      assert.equal(hex(toHalfBits(value)), hex(reference(value)), `toHalfBits(${value})`);
    }
  });
});

describe('fromHalfBits', () => {
  const cases: Array<[number, number]> = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3800, 0.5],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0xfbff, -65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x7c00, Number.POSITIVE_INFINITY],
    [0xfc00, Number.NEGATIVE_INFINITY],
  ];
  for (const [bits, value] of cases) {
    test(`${hex(bits)} → ${value}`, () => assert.equal(fromHalfBits(bits), value));
  }

  test('0x8000 → -0', () => assert.ok(Object.is(fromHalfBits(0x8000), -0)));

  test('every NaN pattern (exponent all ones, mantissa non-zero, either sign) → NaN', () => {
    for (const sign of [0, 0x8000]) {
      for (let mant = 1; mant <= 0x3ff; mant++) {
        assert.ok(Number.isNaN(fromHalfBits(sign | 0x7c00 | mant)), hex(sign | 0x7c00 | mant));
      }
    }
  });

  test('positive patterns 0x0000..0x7c00 decode to strictly increasing values', () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (let b = 0; b <= 0x7c00; b++) {
      const v = fromHalfBits(b);
      assert.ok(v > previous, `${hex(b)} → ${v} is not above ${previous}`);
      previous = v;
    }
  });
});

describe('round trip', () => {
  test('toHalfBits(fromHalfBits(b)) === b for every one of the 65536 patterns that is not NaN', () => {
    let checked = 0;
    for (let b = 0; b <= 0xffff; b++) {
      if (isNanBits(b)) continue;
      const back = toHalfBits(fromHalfBits(b));
      if (back !== b) assert.fail(`${hex(b)} → ${fromHalfBits(b)} → ${hex(back)}`);
      checked++;
    }
    assert.equal(checked, 65536 - 2 * 1023);
  });

  test('NaN patterns come back as NaN patterns', () => {
    for (let b = 0; b <= 0xffff; b++) {
      if (!isNanBits(b)) continue;
      const back = toHalfBits(fromHalfBits(b));
      assert.ok(isNanBits(back), `${hex(b)} → ${hex(back)}`);
    }
  });
});

describe('toHalfBits on doubles that float32 cannot hold', () => {
  // toHalfBits rounds the double to float32 first, then float32 to half. Rounding twice is wrong when
  // the first rounding lands exactly on a half-way point of the second.
  test('1 + 2^-11 + 2^-40 (just above a tie) → 0x3c01', () =>
    assertHalf(1 + 2 ** -11 + 2 ** -40, 0x3c01));
  test('1 + 3*2^-11 - 2^-40 (just below a tie) → 0x3c01', () =>
    assertHalf(1 + 3 * 2 ** -11 - 2 ** -40, 0x3c01));
  test('doubles that are not near a tie round as expected', () => {
    assertHalf(0.1, 0x2e66);
    assertHalf(3.141592653589793, 0x4248);
    assertHalf(-1e-5, 0x80a8);
  });
});
