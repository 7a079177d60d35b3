import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJsonBody } from '../../../src/protocol/http/oip-json.js';
import { flatArraySpans, parseJsonInPieces, PIECE_ARRAY_MIN_BYTES } from '../../../src/protocol/http/parse-json-in-pieces.js';

/** `n` six-decimal numbers, as a client writes FP32 data. */
function numbers(n: number, seed = 1): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push((((i * 7919 + seed) % 1_000_000) / 1_000_000).toFixed(6));
  return parts.join(',');
}

/** Every call's text length while `run` runs: how much one JSON.parse reads at once. */
function parsedLengths<T>(run: () => T): { value: T; lengths: number[] } {
  const original = JSON.parse;
  const lengths: number[] = [];
  JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
    lengths.push(text.length);
    return original(text, reviver);
  }) as typeof JSON.parse;
  try {
    return { value: run(), lengths };
  } finally {
    JSON.parse = original;
  }
}

describe('parseJsonInPieces', () => {
  const long = numbers(200_000); // ~1.8 MB: several pieces

  const bodies: Record<string, string> = {
    'an OIP request with flat data': `{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[200000],"data":[${long}]}]}`,
    'nested rows, each long': `{"inputs":[{"name":"x","datatype":"FP32","shape":[3,200000],"data":[[${long}],[${numbers(200_000, 7)}],[${long}]]}]}`,
    'two tensors with strings around them holding brackets, quotes and escapes':
      `{"id":"a [1,2] \\" ] [","inputs":[{"name":"a\\\\","datatype":"FP64","shape":[200000],"data":[ ${long} ]},` +
      `{"name":"b","datatype":"BYTES","shape":[2],"data":["[${'9,'.repeat(40_000)}9]","é ☃"]},{"name":"c","datatype":"BOOL","shape":[70000],"data":[${'true,null,'.repeat(35_000).slice(0, -1)}]}]}`,
    'the long array at the root': `[${long}]`,
    'a long array of whitespace only': `{"data":[${' '.repeat(PIECE_ARRAY_MIN_BYTES * 2)}]}`,
    'small arrays only': `{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1.5,2]}]}`,
  };
  for (const [what, text] of Object.entries(bodies)) {
    test(`gives what JSON.parse gives: ${what}`, () => {
      assert.deepEqual(parseJsonInPieces(Buffer.from(text)), JSON.parse(text));
    });
  }

  test('no single parse reads a long array whole (V8 holds a malloc-ed handle per element it is reading)', () => {
    const text = bodies['an OIP request with flat data']!;
    const { value, lengths } = parsedLengths(() => parseJsonBody(Buffer.from(text)));
    assert.deepEqual(value, JSON.parse(text));
    assert.ok(lengths.length > 2, `expected the array in several pieces, got ${lengths.length} parses`);
    assert.ok(Math.max(...lengths) < 300 * 1024, `one parse read ${Math.max(...lengths)} characters of a ${text.length}-character body`);
  });

  const malformed: Record<string, string> = {
    'a trailing comma': `{"data":[${long},]}`,
    'a trailing comma and spaces': `{"data":[${long},  ]}`,
    'a comma with no element': `{"data":[${long.replace(',', ',,')}]}`,
    'a leading comma': `{"data":[,${long}]}`,
    'a bad number in a later piece': `{"data":[${long},1.2.3]}`,
    'a bare word': `{"data":[${long},NaN]}`,
    'an unterminated object after the array': `{"data":[${long}]`,
  };
  for (const [what, text] of Object.entries(malformed)) {
    test(`refuses what JSON.parse refuses: ${what}`, () => {
      assert.throws(() => JSON.parse(text), SyntaxError);
      assert.throws(() => parseJsonInPieces(Buffer.from(text)), SyntaxError);
    });
  }

  test('a malformed large body is a MALFORMED_REQUEST naming the parse error', () => {
    assert.throws(() => parseJsonBody(Buffer.from(malformed['a trailing comma']!)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'MALFORMED_REQUEST');
      assert.match(error.message, /request body is not valid JSON/);
      return true;
    });
  });
});

describe('flatArraySpans', () => {
  test('finds innermost arrays only, never one inside a string', () => {
    const text = '{"s":"[1,2,3,4,5,6]","a":[[1,2,3,4,5,6],[7,8]],"b":[1,"x",2],"c":[{"d":[1,2,3,4,5,6]}]}';
    const spans = flatArraySpans(Buffer.from(text), 4).map(([start, end]) => text.slice(start, end + 1));
    assert.deepEqual(spans, ['[1,2,3,4,5,6]', '[7,8]', '[1,2,3,4,5,6]']);
  });

  test('stays linear on deep nesting (20,000 levels) and unterminated strings', () => {
    const deep = Buffer.from(`${'['.repeat(20_000)}1${']'.repeat(20_000)}`);
    assert.deepEqual(flatArraySpans(deep, 1), [[19_999, 20_001]]);
    assert.deepEqual(flatArraySpans(Buffer.from('{"a":[1,2],"b":"[3,4]'), 1), [[5, 9]]);
  });
});
