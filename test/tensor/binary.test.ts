import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeBytesElements, tensorDataFromBinary, tensorDataToBinary } from '../../src/tensor/binary.js';
import { DATATYPES } from '../../src/tensor/datatypes.js';
import { SAMPLES } from '../helpers/samples.js';

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
