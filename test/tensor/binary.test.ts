import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeBytesElements, tensorDataFromBinary, tensorDataToBinary } from '../../src/tensor/binary.js';
import { DATATYPES, type Datatype, type TensorData } from '../../src/tensor/datatypes.js';

/** Two rows of three of each datatype, at the edges of their ranges. */
export const SAMPLES: Record<Datatype, TensorData> = {
  BOOL: Uint8Array.from([1, 0, 1, 1, 0, 0]),
  UINT8: Uint8Array.from([0, 1, 2, 127, 128, 255]),
  UINT16: Uint16Array.from([0, 1, 2, 32767, 32768, 65535]),
  UINT32: Uint32Array.from([0, 1, 2, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]),
  UINT64: BigUint64Array.from([0n, 1n, 2n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]),
  INT8: Int8Array.from([-128, -1, 0, 1, 2, 127]),
  INT16: Int16Array.from([-32768, -1, 0, 1, 2, 32767]),
  INT32: Int32Array.from([-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1]),
  INT64: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n]),
  FP16: Uint16Array.from([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00]),
  FP32: Float32Array.from([0, 1, -2, 0.5, 3.25, -1e30]),
  FP64: Float64Array.from([0, 1, -2, 0.1, Math.PI, -1e300]),
  BYTES: ['', 'a', 'hello', 'ünïcødé', 'with space', 'tab\there'],
};

describe('binary tensor data', () => {
  for (const datatype of DATATYPES) {
    test(`${datatype} round-trips through its little-endian bytes`, () => {
      const bytes = tensorDataToBinary(datatype, SAMPLES[datatype]);
      const back = tensorDataFromBinary(datatype, [2, 3], bytes, "input 'x'");
      assert.deepEqual(Array.from(back as ArrayLike<unknown>), Array.from(SAMPLES[datatype] as ArrayLike<unknown>));
    });
  }

  test('numeric bytes are little-endian on the wire', () => {
    assert.deepEqual([...tensorDataToBinary('INT32', Int32Array.of(0x01020304))], [4, 3, 2, 1]);
    assert.deepEqual([...tensorDataToBinary('FP32', Float32Array.of(1))], [0, 0, 0x80, 0x3f]);
  });

  test('BYTES are a 4-byte little-endian length, then the UTF-8 bytes', () => {
    assert.deepEqual([...encodeBytesElements(['hé', ''])], [3, 0, 0, 0, 0x68, 0xc3, 0xa9, 0, 0, 0, 0]);
  });

  test('an aligned slice is viewed, not copied; a misaligned one is copied', () => {
    const body = new Uint8Array(17);
    new DataView(body.buffer).setFloat32(4, 7.5, true);
    const aligned = tensorDataFromBinary('FP32', [1], body.subarray(4, 8), 'x') as Float32Array;
    assert.equal(aligned.buffer, body.buffer);
    assert.equal(aligned[0], 7.5);
    new DataView(body.buffer).setFloat32(5, -1.25, true);
    const misaligned = tensorDataFromBinary('FP32', [1], body.subarray(5, 9), 'x') as Float32Array;
    assert.notEqual(misaligned.buffer, body.buffer);
    assert.equal(misaligned[0], -1.25);
  });

  test('a byte count that does not match the shape names both', () => {
    assert.throws(() => tensorDataFromBinary('FP32', [2, 3], new Uint8Array(20), "input 'x'"), {
      code: 'INVALID_INPUT',
      message: "input 'x': shape [2,3] of FP32 needs 24 bytes (6 × 4) but 20 were given",
    });
  });

  test('BOOL bytes other than 0 and 1 are refused by index', () => {
    assert.throws(() => tensorDataFromBinary('BOOL', [3], Uint8Array.of(0, 1, 2), "input 'b'"), /element 2 is byte 2/);
  });

  test('truncated, overlong and invalid BYTES are refused with the element index', () => {
    const two = encodeBytesElements(['ab', 'cd']);
    assert.throws(() => tensorDataFromBinary('BYTES', [2], two.subarray(0, 11), "input 's'"), /BYTES element 1 claims 2 bytes but only 1 remain/);
    assert.throws(() => tensorDataFromBinary('BYTES', [2], two.subarray(0, 9), "input 's'"), /ends inside the length of element 1/);
    assert.throws(() => tensorDataFromBinary('BYTES', [1], two, "input 's'"), /end at byte 6, but 12 bytes were given/);
    assert.throws(() => tensorDataFromBinary('BYTES', [1], Uint8Array.of(1, 0, 0, 0, 0xff), "input 's'"), /element 0 is not valid UTF-8/);
  });

  test('a huge BYTES shape with a tiny body is refused before allocating', () => {
    assert.throws(() => tensorDataFromBinary('BYTES', [2 ** 40], new Uint8Array(8), "input 's'"), /need at least/);
  });
});
