import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GjsonSyntaxError, gjsonExists, gjsonGet, parseGjson } from '../../../src/repository/graph/gjson.js';

// The document of GJSON's SYNTAX.md, and the answers it gives for each path.
const DOC = {
  name: { first: 'Tom', last: 'Anderson' },
  age: 37,
  children: ['Sara', 'Alex', 'Jack'],
  'fav.movie': 'Deer Hunter',
  friends: [
    { first: 'Dale', last: 'Murphy', age: 44, nets: ['ig', 'fb', 'tw'] },
    { first: 'Roger', last: 'Craig', age: 68, nets: ['fb', 'tw'] },
    { first: 'Jane', last: 'Murphy', age: 47, nets: ['ig', 'tw'] },
  ],
};

const get = (path: string, doc: unknown = DOC): unknown => gjsonGet(parseGjson(path), doc);

test('paths from GJSON SYNTAX.md give the documented values', () => {
  const cases: Array<[string, unknown]> = [
    ['name.last', 'Anderson'],
    ['age', 37],
    ['children', ['Sara', 'Alex', 'Jack']],
    ['children.1', 'Alex'],
    ['friends.1.first', 'Roger'],
    ['child*.2', 'Jack'],
    ['c?ildren.0', 'Sara'],
    ['fav\\.movie', 'Deer Hunter'],
    ['friends.#', 3],
    ['friends.#.age', [44, 68, 47]],
    ['friends.#(last=="Murphy").first', 'Dale'],
    ['friends.#(last=="Murphy")#.first', ['Dale', 'Jane']],
    ['friends.#(age>45)#.last', ['Craig', 'Murphy']],
    ['friends.#(first%"D*").last', 'Murphy'],
    ['friends.#(first!%"D*").last', 'Craig'],
    ['children.#(!%"*a*")', 'Alex'],
    ['children.#(%"*a*")#', ['Sara', 'Jack']],
    ['friends.#(nets.#(=="fb"))#.first', ['Dale', 'Roger']],
    ['friends|0.first', 'Dale'],
    ['friends.#(last="Murphy")#|#', 2],
    ['friends.#(last="Murphy")#|0.first', 'Dale'],
    ['friends.#(last="Murphy")#|first', undefined],
    ['{name.first,age,"the_murphys":friends.#(last="Murphy")#.first}', { first: 'Tom', age: 37, the_murphys: ['Dale', 'Jane'] }],
    ['[@this].0.age', 37],
    ['nothing.here', undefined],
  ];
  for (const [path, expected] of cases) assert.deepEqual(get(path), expected, path);
});

test('~true, ~false, ~null and ~* convert values as GJSON does', () => {
  const doc = { vals: [{ a: 1, b: 'data' }, { a: 2, b: true }, { a: 3, b: false }, { a: 4, b: '0' }, { a: 5, b: 0 }, { a: 6, b: '1' }, { a: 7, b: 1 }, { a: 8, b: 'true' }, { a: 9, b: false }, { a: 10, b: null }, { a: 11 }] };
  assert.deepEqual(get('vals.#(b==~true)#.a', doc), [2, 6, 7, 8]);
  assert.deepEqual(get('vals.#(b==~false)#.a', doc), [3, 4, 5, 9, 10, 11]);
  assert.deepEqual(get('vals.#(b==~null)#.a', doc), [10, 11]);
  assert.deepEqual(get('vals.#(b==~*)#.a', doc), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(get('vals.#(b!=~*)#.a', doc), [11]);
});

test("KServe's documented conditions decide as KServe's router does", () => {
  const news = parseGjson('[@this].#(predictions.0.class=="news")');
  assert.equal(gjsonExists(news, { predictions: [{ class: 'news' }] }), true);
  assert.equal(gjsonExists(news, { predictions: [{ class: 'sports' }] }), false);
  assert.equal(gjsonExists(news, { outputs: [] }), false, 'a document without the field does not match');
  const dog = parseGjson('[@this].#(predictions.0=="dog")');
  assert.equal(gjsonExists(dog, { predictions: ['dog'] }), true);
  assert.equal(gjsonExists(dog, { predictions: ['cat'] }), false);
  const upper = parseGjson('[@this].#(instances.0.data>0.9)');
  assert.equal(gjsonExists(upper, { instances: [{ data: 0.95 }] }), true);
  assert.equal(gjsonExists(upper, { instances: [{ data: 0.5 }] }), false);
  // GJSON has no &&: Slipway reads it as KServe's documentation means it.
  const middle = parseGjson('[@this].#(instances.0.data>0.5 && instances.0.data<=0.9)');
  for (const [x, expected] of [[0.4, false], [0.6, true], [0.9, true], [0.95, false]] as const) {
    assert.equal(gjsonExists(middle, { instances: [{ data: x }] }), expected, `data ${x}`);
  }
  const either = parseGjson('[@this].#(parameters.lang=="fr" || parameters.lang=="de")');
  assert.equal(gjsonExists(either, { parameters: { lang: 'de' } }), true);
  assert.equal(gjsonExists(either, { parameters: { lang: 'en' } }), false);
  // @this alone always exists: KServe users write it as a Switch's catch-all.
  assert.equal(gjsonExists(parseGjson('@this'), {}), true);
});

test('numbers compare as GJSON compares them: by the document value type', () => {
  assert.equal(get('a.#(==3)', { a: [1, 3] }), 3);
  assert.equal(get('a.#(>="b")', { a: ['a', 'c'] }), 'c', 'strings compare as strings');
  assert.equal(get('a.#(=="3")', { a: [3] }), 3, 'a quoted number still compares with a number value');
});

test('syntax this subset does not implement is refused with where and why', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['children.@reverse', /modifier '@reverse' is not supported/],
    ['{name.first,"x":!true}', /literals/],
    ['friends.#(age>45', /unclosed query/],
    ['friends.#(age>abc)', /expected a JSON value .* found 'abc'/],
    ['friends.', /ends with a separator/],
  ];
  for (const [path, message] of cases) {
    assert.throws(() => parseGjson(path), (error: Error) => error instanceof GjsonSyntaxError && message.test(error.message), path);
  }
});
