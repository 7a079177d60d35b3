// IEEE 754 binary16 <-> number. Node 20 has no Float16Array, so FP16 tensors travel as their raw bits
// in a Uint16Array (which is also what onnxruntime-node accepts for 'float16').

/** Smallest magnitude that rounds to infinity: halfway between 65504 (odd mantissa) and 2^16. */
export const HALF_OVERFLOW = 65520;

/**
 * Rounds a number to the nearest half, ties to even, and returns its bit pattern. Rounds straight
 * from the double: going through float32 first would round twice and miss near-ties.
 */
export function toHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const v = Math.abs(value);
  if (v >= HALF_OVERFLOW) return sign | 0x7c00;
  if (v < 2 ** -14) return sign | roundEven(v * 2 ** 24); // subnormal; 0x400 is the smallest normal, as it should be
  let e = Math.floor(Math.log2(v));
  if (2 ** e > v) e--; // log2 can be off by one ulp at powers of two
  else if (2 ** (e + 1) <= v) e++;
  let mantissa = roundEven(v * 2 ** (10 - e)); // in [1024, 2048]; scaling by a power of two is exact
  if (mantissa === 2048) {
    mantissa = 1024;
    e++;
  }
  return sign | ((e + 15) << 10) | (mantissa - 1024);
}

function roundEven(q: number): number {
  const floor = Math.floor(q);
  const rest = q - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
