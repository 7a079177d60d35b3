import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tensorFromJson } from '../../src/tensor/from-json.js';
import { ServingError } from '../../src/errors/serving-error.js';
import type { ErrorCode } from '../../src/errors/codes.js';
import type { Datatype, TensorData } from '../../src/tensor/datatypes.js';

const ALL_DATATYPES_TEXT = 'BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES';

/** Asserts that `fn` throws a ServingError with `code` and a message matching `message` exactly (string) or by regex. */
function assertServingError(fn: () => unknown, code: ErrorCode, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

const decode = (datatype: string, shape: unknown, data: unknown): TensorData =>
  tensorFromJson({ name: 'x', datatype, shape, data }).data;

/** The data as a plain array, so typed arrays of every kind compare with deepEqual. */
const plain = (data: TensorData): unknown[] => Array.from(data as ArrayLike<unknown>);

interface ValidCase {
  datatype: Datatype;
  json: unknown[];
  arrayClass: string;
  values: unknown[];
}

// Four values per type (shape [2,2]); each decodes to the listed values in the listed storage class.
const VALID: ValidCase[] = [
  { datatype: 'BOOL', json: [true, false, false, true], arrayClass: 'Uint8Array', values: [1, 0, 0, 1] },
  { datatype: 'UINT8', json: [0, 1, 254, 255], arrayClass: 'Uint8Array', values: [0, 1, 254, 255] },
  { datatype: 'UINT16', json: [0, 1, 300, 65535], arrayClass: 'Uint16Array', values: [0, 1, 300, 65535] },
  { datatype: 'UINT32', json: [0, 1, 70000, 4294967295], arrayClass: 'Uint32Array', values: [0, 1, 70000, 4294967295] },
  {
    datatype: 'UINT64',
    json: [0, 1, 4294967296, 9007199254740991],
    arrayClass: 'BigUint64Array',
    values: [0n, 1n, 4294967296n, 9007199254740991n],
  },
  { datatype: 'INT8', json: [-128, -1, 0, 127], arrayClass: 'Int8Array', values: [-128, -1, 0, 127] },
  { datatype: 'INT16', json: [-32768, -1, 0, 32767], arrayClass: 'Int16Array', values: [-32768, -1, 0, 32767] },
  {
    datatype: 'INT32',
    json: [-2147483648, -1, 0, 2147483647],
    arrayClass: 'Int32Array',
    values: [-2147483648, -1, 0, 2147483647],
  },
  {
    datatype: 'INT64',
    json: [-9007199254740991, -1, 0, 9007199254740991],
    arrayClass: 'BigInt64Array',
    values: [-9007199254740991n, -1n, 0n, 9007199254740991n],
  },
  { datatype: 'FP16', json: [1, -2, 0.5, 65504], arrayClass: 'Uint16Array', values: [0x3c00, 0xc000, 0x3800, 0x7bff] },
  {
    datatype: 'FP32',
    json: [1.5, -2, 0.1, 3.4028234663852886e38],
    arrayClass: 'Float32Array',
    values: [1.5, -2, Math.fround(0.1), 3.4028234663852886e38],
  },
  { datatype: 'FP64', json: [0.1, -1e300, 5e-324, 1.7976931348623157e308], arrayClass: 'Float64Array', values: [0.1, -1e300, 5e-324, 1.7976931348623157e308] },
  { datatype: 'BYTES', json: ['a', '', 'ünïcode', 'x y'], arrayClass: 'Array', values: ['a', '', 'ünïcode', 'x y'] },
];

describe('tensorFromJson: valid data for every datatype', () => {
  test('the cases cover all 13 datatypes', () => {
    assert.equal(VALID.map((c) => c.datatype).join(', '), ALL_DATATYPES_TEXT);
  });

  for (const { datatype, json, arrayClass, values } of VALID) {
    test(`${datatype}: flat data → ${arrayClass} with the exact values`, () => {
      const tensor = tensorFromJson({ name: 'x', datatype, shape: [2, 2], data: json });
      assert.equal(tensor.name, 'x');
      assert.equal(tensor.datatype, datatype);
      assert.deepEqual(tensor.shape, [2, 2]);
      assert.equal(tensor.data.constructor.name, arrayClass);
      assert.equal(tensor.data.length, 4);
      assert.deepEqual(plain(tensor.data), values);
      assert.equal('parameters' in tensor, false);
    });

    test(`${datatype}: nested data (row-major) → the same values`, () => {
      const nested = [
        [json[0], json[1]],
        [json[2], json[3]],
      ];
      const data = decode(datatype, [2, 2], nested);
      assert.equal(data.constructor.name, arrayClass);
      assert.deepEqual(plain(data), values);
    });
  }

  test('BYTES data is a plain string[]', () => {
    const data = decode('BYTES', [2], ['a', 'b']);
    assert.ok(Array.isArray(data));
    assert.deepEqual(data, ['a', 'b']);
  });

  test('FP16 values are rounded to the nearest half and stored as bits', () => {
    assert.deepEqual(plain(decode('FP16', [4], [1 / 3, -0, 2049, 2051])), [0x3555, 0x8000, 0x6800, 0x6802]);
  });

  test('nested data must be rectangular: mixed depths are refused by position, not flattened', () => {
    assertServingError(
      () => decode('INT32', [2, 3], [[1, 2, 3], 4]),
      'INVALID_INPUT',
      "input 'x': 'data'[1] is 4 but its siblings are arrays (ragged data)",
    );
    assertServingError(
      () => decode('INT32', [2, 2], [[1], [2, 3, 4]]),
      'INVALID_INPUT',
      "input 'x': 'data'[1] has 3 values but 'data'[0] has 1 values (ragged data; shape [2,2])",
    );
    // An array hidden in a row of values is an element of the wrong type, never descended into.
    assertServingError(() => decode('INT32', [2, 2], [[1, [2]], [3, 4]]), 'INVALID_INPUT', "input 'x': element 1 is [2], expected an integer for INT32");
  });

  test('leading dimensions may be left flat (rectangular data, same element count)', () => {
    assert.deepEqual(plain(decode('INT32', [1, 2, 2], [[1, 2], [3, 4]])), [1, 2, 3, 4]);
  });
});

interface IntRange {
  datatype: Datatype;
  min: number;
  max: number;
}

const INT_RANGES: IntRange[] = [
  { datatype: 'UINT8', min: 0, max: 255 },
  { datatype: 'UINT16', min: 0, max: 65535 },
  { datatype: 'UINT32', min: 0, max: 4294967295 },
  { datatype: 'INT8', min: -128, max: 127 },
  { datatype: 'INT16', min: -32768, max: 32767 },
  { datatype: 'INT32', min: -2147483648, max: 2147483647 },
];

describe('tensorFromJson: integer ranges', () => {
  for (const { datatype, min, max } of INT_RANGES) {
    test(`${datatype}: min ${min} and max ${max} accepted`, () => {
      assert.deepEqual(plain(decode(datatype, [2], [min, max])), [min, max]);
    });
    test(`${datatype}: ${min - 1} refused, naming the input and element index`, () => {
      assertServingError(
        () => decode(datatype, [3], [min, min - 1, max]),
        'INVALID_INPUT',
        `input 'x': element 1 is ${min - 1}, expected an integer in [${min}, ${max}] for ${datatype}`,
      );
    });
    test(`${datatype}: ${max + 1} refused, naming the input and element index`, () => {
      assertServingError(
        () => decode(datatype, [2, 2], [[min, max], [0, max + 1]]),
        'INVALID_INPUT',
        `input 'x': element 3 is ${max + 1}, expected an integer in [${min}, ${max}] for ${datatype}`,
      );
    });
  }

  test('INT64: ±(2^53-1) accepted exactly', () => {
    assert.deepEqual(plain(decode('INT64', [2], [-(2 ** 53 - 1), 2 ** 53 - 1])), [-(2n ** 53n - 1n), 2n ** 53n - 1n]);
  });
  test('UINT64: 0 and 2^53-1 accepted exactly', () => {
    assert.deepEqual(plain(decode('UINT64', [2], [0, 2 ** 53 - 1])), [0n, 2n ** 53n - 1n]);
  });
  test('UINT64: -1 refused with the full UINT64 range', () => {
    assertServingError(
      () => decode('UINT64', [2], [0, -1]),
      'INVALID_INPUT',
      "input 'x': element 1 is -1, expected an integer in [0, 18446744073709551615] for UINT64",
    );
  });

  for (const datatype of ['INT64', 'UINT64'] as const) {
    for (const [label, value] of [
      ['2^53', 2 ** 53],
      ['2^63', 2 ** 63],
      ['2^64', 2 ** 64],
      ['-(2^53)', -(2 ** 53)],
      ['-(2^63)', -(2 ** 63)],
    ] as const) {
      test(`${datatype}: JSON number ${label} refused, pointing at binary data`, () => {
        assertServingError(
          () => decode(datatype, [2], [1, value]),
          'INVALID_INPUT',
          `input 'x': element 1 is ${JSON.stringify(value)}, expected an integer within ±(2^53-1) in JSON (send larger values as binary data) for ${datatype}`,
        );
      });
    }
  }
});

describe('tensorFromJson: wrong element types', () => {
  for (const datatype of ['UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64'] as const) {
    test(`${datatype}: a non-integer (1.5) refused`, () => {
      assertServingError(
        () => decode(datatype, [2], [1, 1.5]),
        'INVALID_INPUT',
        `input 'x': element 1 is 1.5, expected an integer for ${datatype}`,
      );
    });
    test(`${datatype}: a numeric string ("1") refused`, () => {
      assertServingError(() => decode(datatype, [1], ['1']), 'INVALID_INPUT', `input 'x': element 0 is "1", expected an integer for ${datatype}`);
    });
  }

  for (const datatype of ['FP16', 'FP32', 'FP64'] as const) {
    test(`${datatype}: a numeric string ("1.5") refused`, () => {
      assertServingError(() => decode(datatype, [2], [1, '1.5']), 'INVALID_INPUT', `input 'x': element 1 is "1.5", expected a number for ${datatype}`);
    });
    test(`${datatype}: null and booleans refused`, () => {
      assertServingError(() => decode(datatype, [1], [null]), 'INVALID_INPUT', `input 'x': element 0 is null, expected a number for ${datatype}`);
      assertServingError(() => decode(datatype, [1], [true]), 'INVALID_INPUT', `input 'x': element 0 is true, expected a number for ${datatype}`);
    });
  }

  test('BOOL: numbers and strings refused', () => {
    assertServingError(() => decode('BOOL', [2], [true, 1]), 'INVALID_INPUT', "input 'x': element 1 is 1, expected true or false for BOOL");
    assertServingError(() => decode('BOOL', [1], ['true']), 'INVALID_INPUT', `input 'x': element 0 is "true", expected true or false for BOOL`);
  });

  test('BYTES: numbers and objects refused', () => {
    assertServingError(() => decode('BYTES', [2], ['a', 1]), 'INVALID_INPUT', "input 'x': element 1 is 1, expected a string for BYTES");
    assertServingError(() => decode('BYTES', [1], [{ b64: 'AA==' }]), 'INVALID_INPUT', `input 'x': element 0 is {"b64":"AA=="}, expected a string for BYTES`);
  });

  test('an object element in a numeric tensor is refused', () => {
    assertServingError(() => decode('INT32', [1], [{}]), 'INVALID_INPUT', "input 'x': element 0 is {}, expected an integer for INT32");
  });
});

describe('tensorFromJson: float limits', () => {
  test('FP32: 1e39 refused', () => {
    assertServingError(
      () => decode('FP32', [2], [0, 1e39]),
      'INVALID_INPUT',
      "input 'x': element 1 is 1e+39, expected a number within ±3.4028234663852886e+38 for FP32",
    );
  });
  test('FP32: -1e39 refused', () => {
    assertServingError(
      () => decode('FP32', [1], [-1e39]),
      'INVALID_INPUT',
      "input 'x': element 0 is -1e+39, expected a number within ±3.4028234663852886e+38 for FP32",
    );
  });
  test('FP32: ±max float accepted', () => {
    assert.deepEqual(plain(decode('FP32', [2], [-3.4028234663852886e38, 3.4028234663852886e38])), [-3.4028234663852886e38, 3.4028234663852886e38]);
  });
  test('FP16: 70000 and -65505 refused', () => {
    assertServingError(() => decode('FP16', [1], [70000]), 'INVALID_INPUT', "input 'x': element 0 is 70000, expected a number within ±65504 for FP16");
    assertServingError(() => decode('FP16', [2], [1, -65505]), 'INVALID_INPUT', "input 'x': element 1 is -65505, expected a number within ±65504 for FP16");
  });
  test('FP64: 1e308 accepted', () => {
    assert.deepEqual(plain(decode('FP64', [1], [1e308])), [1e308]);
  });
});

describe('tensorFromJson: element count', () => {
  test('too few elements', () => {
    assertServingError(() => decode('FP32', [2, 2], [1, 2, 3]), 'INVALID_INPUT', "input 'x': shape [2,2] has 4 elements but 'data' has 3");
  });
  test('too many elements (flat)', () => {
    assertServingError(() => decode('FP32', [2, 2], [1, 2, 3, 4, 5]), 'INVALID_INPUT', "input 'x': shape [2,2] has 4 elements but 'data' has 5");
  });
  test('too many elements (nested) reports the count', () => {
    assertServingError(
      () => decode('INT32', [2, 2], [[1, 2], [3, 4], [5, 6]]),
      'INVALID_INPUT',
      "input 'x': shape [2,2] has 4 elements but 'data' has 6",
    );
  });
  test('too few elements (nested, BYTES)', () => {
    assertServingError(() => decode('BYTES', [2, 2], [['a', 'b']]), 'INVALID_INPUT', "input 'x': shape [2,2] has 4 elements but 'data' has 2");
  });
  test('scalar shape [] takes a bare value or a one-element array', () => {
    const tensor = tensorFromJson({ name: 's', datatype: 'FP32', shape: [], data: 2.5 });
    assert.deepEqual(tensor.shape, []);
    assert.equal(tensor.data.constructor.name, 'Float32Array');
    assert.deepEqual(plain(tensor.data), [2.5]);
    assert.deepEqual(plain(decode('INT64', [], [7])), [7n]);
    assert.deepEqual(decode('BYTES', [], 'hello'), ['hello']);
  });
  test('scalar shape [] with two elements is refused', () => {
    assertServingError(() => decode('FP32', [], [1, 2]), 'INVALID_INPUT', "input 'x': shape [] has 1 elements but 'data' has 2");
  });
  test('a bare value for a shape with more than one element is refused', () => {
    assertServingError(() => decode('FP32', [2], 1), 'INVALID_INPUT', "input 'x': shape [2] has 2 elements but 'data' has 1");
  });
  test('a zero dimension with empty data decodes to an empty array', () => {
    const flat = decode('FP32', [0, 3], []);
    assert.equal(flat.constructor.name, 'Float32Array');
    assert.equal(flat.length, 0);
    assert.deepEqual(decode('BYTES', [2, 0], [[], []]), []);
    assert.equal(decode('INT64', [0], []).constructor.name, 'BigInt64Array');
  });
  test('a zero dimension with data is refused', () => {
    assertServingError(() => decode('FP32', [0], [1]), 'INVALID_INPUT', "input 'x': shape [0] has 0 elements but 'data' has 1");
  });
  test('data nested 100000 levels deep is refused at the depth limit (the rank), not a RangeError', () => {
    let data: unknown = [7];
    for (let i = 0; i < 100_000; i++) data = [data];
    assertServingError(
      () => decode('INT32', [1, 1], data),
      'INVALID_INPUT',
      "input 'x': 'data'[0][0] nests arrays deeper than shape [1,1] allows (nesting depth limit 2, the shape's rank)",
    );
    let mixed: unknown = [1, 2];
    for (let i = 0; i < 100_000; i++) mixed = [mixed, 3];
    assertServingError(() => decode('INT32', [2], mixed), 'INVALID_INPUT', "input 'x': 'data'[1] is 3 but its siblings are arrays (ragged data)");
  });
  test('a bad element inside nesting is named by its flat index', () => {
    assertServingError(() => decode('FP64', [1, 1, 3], [[[1, 2, 'oops']]]), 'INVALID_INPUT', `input 'x': element 2 is "oops", expected a number for FP64`);
  });
});

describe('tensorFromJson: shape', () => {
  const bad: Array<[string, unknown, string]> = [
    ['a negative dim', [2, -1], "input 'x': 'shape' must be an array of non-negative integers, got [2,-1]"],
    ['a non-integer dim', [1.5], "input 'x': 'shape' must be an array of non-negative integers, got [1.5]"],
    ['a string dim', ['2'], `input 'x': 'shape' must be an array of non-negative integers, got ["2"]`],
    ['a dim past 2^53', [2 ** 53], "input 'x': 'shape' must be an array of non-negative integers, got [9007199254740992]"],
    ['a number instead of an array', 4, "input 'x': 'shape' must be an array of non-negative integers"],
    ['a string instead of an array', '[2]', "input 'x': 'shape' must be an array of non-negative integers"],
    ['a missing shape', undefined, "input 'x': 'shape' must be an array of non-negative integers"],
  ];
  for (const [label, shape, message] of bad) {
    test(`${label} is refused`, () => assertServingError(() => decode('FP32', shape, [1]), 'INVALID_INPUT', message));
  }

  test('the decoded shape is the one sent', () => {
    assert.deepEqual(tensorFromJson({ name: 'x', datatype: 'UINT8', shape: [1, 2, 1], data: [1, 2] }).shape, [1, 2, 1]);
  });
});

describe('tensorFromJson: datatype', () => {
  test('an unknown datatype is refused, listing the valid ones', () => {
    assertServingError(
      () => decode('FLOAT32', [1], [1]),
      'INVALID_INPUT',
      `input 'x': unknown datatype "FLOAT32"; expected one of ${ALL_DATATYPES_TEXT}`,
    );
  });
  test('datatypes are case-sensitive', () => {
    assertServingError(() => decode('fp32', [1], [1]), 'INVALID_INPUT', /^input 'x': unknown datatype "fp32"; expected one of BOOL, /);
  });
  test('a missing datatype is refused', () => {
    assertServingError(
      () => tensorFromJson({ name: 'x', shape: [1], data: [1] }),
      'INVALID_INPUT',
      `input 'x': unknown datatype undefined; expected one of ${ALL_DATATYPES_TEXT}`,
    );
  });
  test('BF16 is refused with UNSUPPORTED_DATATYPE', () => {
    assertServingError(() => decode('BF16', [1], [1]), 'UNSUPPORTED_DATATYPE', "input 'x': datatype BF16 is not supported yet");
  });
});

describe('tensorFromJson: name, data and the object itself', () => {
  test('a missing, empty or non-string name is refused', () => {
    for (const name of [undefined, '', 5, null]) {
      assertServingError(
        () => tensorFromJson({ name, datatype: 'FP32', shape: [1], data: [1] }),
        'INVALID_INPUT',
        "input is missing a string 'name'",
      );
    }
  });
  test('missing data is refused', () => {
    assertServingError(() => tensorFromJson({ name: 'x', datatype: 'FP32', shape: [1] }), 'INVALID_INPUT', "input 'x': 'data' is missing");
  });
  test('null data is refused as a bad element', () => {
    assertServingError(() => decode('FP32', [1], null), 'INVALID_INPUT', "input 'x': element 0 is null, expected a number for FP32");
  });
  test('a tensor that is not an object is refused', () => {
    for (const value of [null, [], 'x', 3, undefined]) {
      assertServingError(() => tensorFromJson(value), 'INVALID_INPUT', 'each input must be an object with name, datatype, shape and data');
    }
  });
  test('the role names the tensor in messages', () => {
    assertServingError(
      () => tensorFromJson({ name: 'y', datatype: 'INT8', shape: [1], data: [300] }, 'output'),
      'INVALID_INPUT',
      "output 'y': element 0 is 300, expected an integer in [-128, 127] for INT8",
    );
    assertServingError(() => tensorFromJson({}, 'output'), 'INVALID_INPUT', "output is missing a string 'name'");
  });
});

describe('tensorFromJson: parameters', () => {
  test('bool, number and string values are kept', () => {
    const parameters = { binary_data_size: 16, flag: true, note: 'hi' };
    const tensor = tensorFromJson({ name: 'x', datatype: 'FP32', shape: [1], data: [1], parameters });
    assert.deepEqual(tensor.parameters, { binary_data_size: 16, flag: true, note: 'hi' });
  });
  test('null or absent parameters leave no parameters field', () => {
    const tensor = tensorFromJson({ name: 'x', datatype: 'FP32', shape: [1], data: [1], parameters: null });
    assert.equal('parameters' in tensor, false);
  });
  test('parameters that are not an object are refused', () => {
    for (const parameters of [[], 'a=1', 5, true]) {
      assertServingError(
        () => tensorFromJson({ name: 'x', datatype: 'FP32', shape: [1], data: [1], parameters }),
        'INVALID_INPUT',
        "input 'x': 'parameters' must be an object",
      );
    }
  });
  test('a parameter value that is an object, array or null is refused, naming the parameter', () => {
    for (const value of [{}, [1], null]) {
      assertServingError(
        () => tensorFromJson({ name: 'x', datatype: 'FP32', shape: [1], data: [1], parameters: { ok: 1, bad: value } }),
        'INVALID_INPUT',
        "input 'x': parameter 'bad' must be a bool, number or string",
      );
    }
  });
});

describe('tensorFromJson: shapes far larger than the data', () => {
  // A request of a few bytes can name a shape of billions of elements. The decoder allocates
  // product(shape) elements before it has counted 'data', so the allocation itself fails.
  test(
    'FP32 shape [2^40] with one element is refused as INVALID_INPUT',
    () => {
      assertServingError(
        () => decode('FP32', [2 ** 40], [1]),
        'INVALID_INPUT',
        /^input 'x': shape \[1099511627776\] has 1099511627776 elements but 'data' has 1$/,
      );
    },
  );

  test(
    'BYTES shape [2^26] with one element is refused without exhausting the heap',
    () => {
      // Run in a child with a small heap: in this process the same call would abort the test runner.
      const moduleUrl = new URL('../../src/tensor/from-json.js', import.meta.url).href;
      const script = `
        const { tensorFromJson } = await import(${JSON.stringify(moduleUrl)});
        try { tensorFromJson({ name: 'x', datatype: 'BYTES', shape: [2 ** 26], data: ['a'] }); console.log('accepted'); }
        catch (e) { console.log(e.code + ': ' + e.message); }`;
      const child = spawnSync(process.execPath, ['--max-old-space-size=32', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(child.status, 0, `child exited with ${child.status} (signal ${child.signal}); stderr: ${child.stderr.slice(0, 300)}`);
      assert.match(child.stdout, /^INVALID_INPUT: input 'x': shape \[67108864\] has 67108864 elements but 'data' has 1$/m);
    },
  );
});
