import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dataToJsonText } from '../../src/tensor/to-json.js';
import { tensorFromJson } from '../../src/tensor/from-json.js';
import { DATATYPES, allocateData, type Datatype, type TensorData } from '../../src/tensor/datatypes.js';

const CASES: Array<{ datatype: Datatype; data: TensorData; text: string }> = [
  { datatype: 'BOOL', data: new Uint8Array([1, 0, 0, 1]), text: '[true,false,false,true]' },
  { datatype: 'UINT8', data: new Uint8Array([0, 7, 255]), text: '[0,7,255]' },
  { datatype: 'UINT16', data: new Uint16Array([0, 7, 65535]), text: '[0,7,65535]' },
  { datatype: 'UINT32', data: new Uint32Array([0, 7, 4294967295]), text: '[0,7,4294967295]' },
  { datatype: 'UINT64', data: new BigUint64Array([0n, 7n, 2n ** 64n - 1n]), text: '[0,7,18446744073709551615]' },
  { datatype: 'INT8', data: new Int8Array([-128, 0, 127]), text: '[-128,0,127]' },
  { datatype: 'INT16', data: new Int16Array([-32768, 0, 32767]), text: '[-32768,0,32767]' },
  { datatype: 'INT32', data: new Int32Array([-2147483648, 0, 2147483647]), text: '[-2147483648,0,2147483647]' },
  {
    datatype: 'INT64',
    data: new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n]),
    text: '[-9223372036854775808,-1,0,9223372036854775807]',
  },
  {
    datatype: 'FP16',
    data: new Uint16Array([0x3c00, 0xc000, 0x3800, 0x3555, 0x7bff, 0xfbff, 0x0001, 0x0000]),
    text: '[1,-2,0.5,0.333251953125,65504,-65504,5.960464477539063e-8,0]',
  },
  { datatype: 'FP32', data: new Float32Array([1.5, -2, 0, 0.25, 3.4028234663852886e38]), text: '[1.5,-2,0,0.25,3.4028234663852886e+38]' },
  { datatype: 'FP64', data: new Float64Array([0.1, -1e300, 5e-324, 3]), text: '[0.1,-1e+300,5e-324,3]' },
  { datatype: 'BYTES', data: ['a', '', 'say "hi"', 'ü\n\\'], text: '["a","","say \\"hi\\"","ü\\n\\\\"]' },
];

describe('dataToJsonText: every datatype', () => {
  test('the cases cover all 13 datatypes', () => {
    assert.deepEqual(CASES.map((c) => c.datatype), [...DATATYPES]);
  });

  for (const { datatype, data, text } of CASES) {
    test(`${datatype}: exact text ${text}`, () => {
      const actual = dataToJsonText(datatype, data);
      assert.equal(actual, text);
      // Whatever it prints must be JSON a client can parse.
      assert.ok(Array.isArray(JSON.parse(actual)));
    });
    test(`${datatype}: empty data → []`, () => {
      assert.equal(dataToJsonText(datatype, allocateData(datatype, 0)), '[]');
    });
  }
});

describe('dataToJsonText: exactness and special values', () => {
  test('INT64 max and min are printed digit for digit (not rounded through a double)', () => {
    assert.equal(dataToJsonText('INT64', new BigInt64Array([9223372036854775807n])), '[9223372036854775807]');
    assert.equal(dataToJsonText('INT64', new BigInt64Array([-9223372036854775808n])), '[-9223372036854775808]');
    assert.equal(dataToJsonText('INT64', new BigInt64Array([2n ** 53n + 1n])), '[9007199254740993]');
  });

  test('UINT64 max is printed exactly', () => {
    assert.equal(dataToJsonText('UINT64', new BigUint64Array([18446744073709551615n])), '[18446744073709551615]');
  });

  test('BOOL prints any non-zero byte as true', () => {
    assert.equal(dataToJsonText('BOOL', new Uint8Array([2, 0, 255])), '[true,false,true]');
  });

  test('FP32 prints the float32 value as its shortest double text', () => {
    assert.equal(dataToJsonText('FP32', new Float32Array([0.1])), '[0.10000000149011612]');
  });

  test('FP32: NaN, Infinity and -Infinity become null', () => {
    assert.equal(dataToJsonText('FP32', new Float32Array([1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2])), '[1,null,null,null,2]');
  });

  test('FP64: NaN, Infinity and -Infinity become null', () => {
    assert.equal(dataToJsonText('FP64', new Float64Array([Number.NEGATIVE_INFINITY, 0.5, Number.NaN])), '[null,0.5,null]');
  });

  test('FP16: Infinity, -Infinity and NaN bits become null', () => {
    assert.equal(dataToJsonText('FP16', new Uint16Array([0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x3c00])), '[null,null,null,null,1]');
  });

  test('FP16 bits print as the decimal value, largest subnormal included', () => {
    assert.equal(dataToJsonText('FP16', new Uint16Array([0x03ff, 0x0400, 0x2e66])), '[0.00006097555160522461,0.00006103515625,0.0999755859375]');
  });

  test('-0 prints as 0, as JSON.stringify does', () => {
    assert.equal(dataToJsonText('FP32', new Float32Array([-0])), '[0]');
    assert.equal(dataToJsonText('FP64', new Float64Array([-0])), '[0]');
    assert.equal(dataToJsonText('FP16', new Uint16Array([0x8000])), '[0]');
  });

  test('prints a subarray view exactly, not its whole buffer', () => {
    const whole = new Int32Array([1, 2, 3, 4, 5, 6]);
    assert.equal(dataToJsonText('INT32', whole.subarray(2, 4)), '[3,4]');
    const floats = new Float32Array([Number.NaN, 1, 2, Number.NaN]);
    assert.equal(dataToJsonText('FP32', floats.subarray(1, 3)), '[1,2]');
  });

  test('decoding JSON and printing it again gives the same values for every datatype', () => {
    const json: Record<Datatype, unknown[]> = {
      BOOL: [true, false],
      UINT8: [0, 255],
      UINT16: [1, 65535],
      UINT32: [2, 4294967295],
      UINT64: [3, 9007199254740991],
      INT8: [-128, 127],
      INT16: [-32768, 32767],
      INT32: [-2147483648, 2147483647],
      INT64: [-9007199254740991, 9007199254740991],
      FP16: [0.5, -65504],
      FP32: [1.5, -0.25],
      FP64: [0.1, 1e300],
      BYTES: ['x', 'y z'],
    };
    for (const datatype of DATATYPES) {
      const tensor = tensorFromJson({ name: 't', datatype, shape: [2], data: json[datatype] });
      assert.equal(dataToJsonText(datatype, tensor.data), JSON.stringify(json[datatype]), datatype);
    }
  });
});
