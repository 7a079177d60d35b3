import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { expandInputFiles } from '../../../src/batch/sources/input-files.js';
import { JsonlScanner, ScannedValues } from '../../../src/batch/sources/jsonl-scanner.js';
import { JsonlSource } from '../../../src/batch/sources/jsonl-source.js';
import { prng, tempDir } from '../../helpers/batch-data.js';

// The scanner must read a line exactly as JSON.parse does, or hand it back (scan returns false) so
// that JSON.parse reads it. These tests generate records with a seeded generator, so a failure names
// its seed and index and reproduces.

const BOUND = ['a', 'b', 'p0', 'p1', 'x.y', '__proto__', 'constructor', '', 'ü', 'long_field_name_7'];

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const digits = (random: Random, n: number): string => Array.from({ length: n }, () => String(Math.floor(random() * 10))).join('');

/** A valid JSON number, from the plain decimals batch data holds to the hard cases of float parsing. */
function jsonNumber(random: Random): string {
  const special = ['0', '-0', '-0.0', '0e5', '-0E-3', '1e308', '1.7976931348623157e308', '1e309', '-1e400', '5e-324', '2e-324', '2.2250738585072014e-308',
    '9007199254740993', '123456789012345678901234567890', '0.1', '0.30000000000000004', '1e22', '1e23', '1e-22', '1e-23', '3.4028234663852886e38',
    '3.4028235e38', '3.5e38', '-3.5e38', '123456789012345', '1234567890123456', '0.000000000000000000000001', '1.5e+2', '100e-2', '12.34', '16'];
  if (random() < 0.25) return pick(random, special);
  let text = random() < 0.3 ? '-' : '';
  text += random() < 0.2 ? '0' : String(1 + Math.floor(random() * 9)) + digits(random, Math.floor(random() * (random() < 0.8 ? 4 : 20)));
  if (random() < 0.7) text += `.${random() < 0.2 ? '0'.repeat(Math.floor(random() * 25)) : ''}${digits(random, 1 + Math.floor(random() * (random() < 0.8 ? 3 : 20)))}`;
  if (random() < 0.25) text += `${pick(random, ['e', 'E'])}${pick(random, ['', '+', '-'])}${digits(random, 1 + Math.floor(random() * 3))}`;
  return text;
}

/** Not JSON numbers (JSON.parse rejects them all), though Number() reads several. */
const BAD_NUMBERS = ['01', '-01', '1.', '.5', '+1', '-', '1e', '1e+', '--1', '0x10', '1.e5', 'Infinity', 'NaN', '1_000', '00', '-.5', '1.5.2', '1e5.5'];

interface Piece {
  text: string;
  /** False when the scanner should hand the line back (escapes, nesting, non-ASCII, odd whitespace). */
  flat: boolean;
}

function key(random: Random): Piece {
  const r = random();
  if (r < 0.6) {
    const name = pick(random, BOUND);
    return { text: JSON.stringify(name), flat: /^[\x20-\x7e]*$/.test(name) }; // non-ASCII keys go to JSON.parse
  }
  if (r < 0.75) return { text: JSON.stringify(`k${Math.floor(random() * 20)}`), flat: true };
  if (r < 0.85) return { text: pick(random, ['"\\u0061"', '"p\\u0030"', '"a\\"b"', '"x\\/y"']), flat: false }; // escapes, one spelling a bound name
  if (r < 0.95) return { text: JSON.stringify(pick(random, ['ü', 'ключ', '😀'])), flat: false };
  return { text: JSON.stringify(pick(random, ['p0', 'a'])), flat: true };
}

function value(random: Random): Piece {
  const r = random();
  if (r < 0.6) return { text: jsonNumber(random), flat: true };
  if (r < 0.7) return { text: JSON.stringify(pick(random, ['k1', '', 'hello world', 'x.y', '12', '{not nested}', '[1]'])), flat: true };
  if (r < 0.75) return { text: pick(random, ['"a\\nb"', '"tab\\there"', '"\\u00e9"', '"q\\"q"', '"ünï"', '"😀"']), flat: false };
  if (r < 0.85) return { text: pick(random, ['true', 'false', 'null']), flat: true };
  return { text: pick(random, ['{}', '{"a":1}', '[]', '[1,2]', '[[1],[2]]', '{"x":{"y":3}}']), flat: false };
}

function space(random: Random): Piece {
  const r = random();
  if (r < 0.75) return { text: '', flat: true };
  if (r < 0.95) return { text: pick(random, [' ', '\t', '  ', ' \t ']), flat: true };
  return { text: pick(random, ['\u00a0', '\f', '\v', '\u2028', '\ufeff']), flat: false }; // JSON.parse rejects these
}

/** A random record line; `flat` says whether the scanner must read it itself. */
function record(random: Random): Piece {
  const parts: Piece[] = [space(random), { text: '{', flat: true }];
  const n = Math.floor(random() * 8);
  for (let i = 0; i < n; i++) {
    if (i > 0) parts.push(space(random), { text: ',', flat: true });
    parts.push(space(random), key(random), space(random), { text: ':', flat: true }, space(random), value(random));
  }
  parts.push(space(random), { text: '}', flat: true }, space(random));
  return { text: parts.map((p) => p.text).join(''), flat: parts.every((p) => p.flat) };
}

/** Breaks a line the ways files get broken: a byte dropped, doubled or replaced, a bad number, a cut-off end. */
function mutate(random: Random, text: string): string {
  const at = Math.floor(random() * (text.length + 1));
  switch (Math.floor(random() * 6)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + text.charAt(at) + text.slice(at);
    case 2:
      return text.slice(0, at) + pick(random, [',', ':', '"', '{', '}', '[', ']', '\\', '-', '.', 'e', '0', 'x', ' ', '\u0001']) + text.slice(at + 1);
    case 3:
      return `{"a":${pick(random, BAD_NUMBERS)}}`;
    case 4:
      return text.slice(0, at);
    default:
      return pick(random, ['[1,2]', '3', '"text"', 'null', 'true', '{"a":1}{"b":2}', '{"a":1,}', '{,}', '{"a" 1}', '{"a":1 "b":2}', "{'a':1}", '{a:1}', '{"a":tru}', '{"a":nul}', '{"a":True}']);
  }
}

/** What JSON.parse gives for each bound name: an own property's value, or undefined. */
function expectedFields(parsed: Record<string, unknown>, names: readonly string[]): unknown[] {
  return names.map((name) => (Object.hasOwn(parsed, name) ? parsed[name] : undefined));
}

function checkLine(scanner: JsonlScanner, values: ScannedValues, text: string, label: string): boolean {
  const bytes = Buffer.from(text);
  const scanned = scanner.scan(bytes, 0, bytes.length, values, 0);
  let parsed: unknown;
  let error: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    error = e;
  }
  if (!scanned) return false;
  assert.equal(error, undefined, `${label}: the scanner accepted ${JSON.stringify(text)}, which JSON.parse rejects`);
  assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), `${label}: accepted a non-object ${JSON.stringify(text)}`);
  const got = scanner.fields.map((_, f) => values.value(0, f));
  const want = expectedFields(parsed as Record<string, unknown>, scanner.fields);
  for (let f = 0; f < want.length; f++) {
    // Object.is: -0 must stay -0, and NaN cannot appear in JSON.
    assert.ok(Object.is(got[f], want[f]), `${label}: field '${scanner.fields[f]}' of ${JSON.stringify(text)}: scanned ${String(got[f])}, JSON.parse ${String(want[f])}`);
  }
  return true;
}

test('the scanner reads random flat records exactly as JSON.parse, and hands back every other line', () => {
  for (const seed of [1, 2, 3]) {
    const random = prng(seed);
    const scanner = new JsonlScanner(BOUND);
    const values = new ScannedValues(scanner.fields.length, 1);
    let scannedCount = 0;
    for (let i = 0; i < 4000; i++) {
      const line = record(random);
      const scanned = checkLine(scanner, values, line.text, `seed ${seed} record ${i}`);
      // Lines built only of what the scanner handles must take the fast path; the others must not.
      assert.equal(scanned, line.flat, `seed ${seed} record ${i}: ${JSON.stringify(line.text)} scanned=${scanned}, expected ${line.flat}`);
      if (scanned) scannedCount++;
      const broken = mutate(random, line.text);
      checkLine(scanner, values, broken, `seed ${seed} mutation ${i}`);
    }
    assert.ok(scannedCount > 600, `seed ${seed}: only ${scannedCount} of 4000 records took the fast path`);
  }
});

test('numbers: every generated JSON number reads as JSON.parse reads it, including -0, exponents and overflow', () => {
  const random = prng(11);
  const scanner = new JsonlScanner(['n']);
  const values = new ScannedValues(1, 1);
  for (let i = 0; i < 30000; i++) {
    const text = `{"n":${jsonNumber(random)}}`;
    assert.ok(checkLine(scanner, values, text, `number ${i}`), `number ${i}: ${text} was not scanned`);
  }
  // Random doubles written the way JavaScript writes them (shortest round trip).
  for (let i = 0; i < 30000; i++) {
    const n = (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
    assert.ok(checkLine(scanner, values, `{"n":${JSON.stringify(n)}}`, `double ${i}`));
  }
  for (const bad of BAD_NUMBERS) assert.equal(checkLine(scanner, values, `{"n":${bad}}`, bad), false, `${bad} must be handed to JSON.parse`);
});

test('duplicate keys: the last one wins, as in JSON.parse, whatever the types', () => {
  const scanner = new JsonlScanner(['a', 'b']);
  const values = new ScannedValues(2, 1);
  for (const text of ['{"a":1,"a":2}', '{"a":"s","a":-0}', '{"a":1,"b":2,"a":null}', '{"a":true,"a":"x"}', '{"b":1,"a":2,"b":3}']) {
    assert.ok(checkLine(scanner, values, text, text));
  }
  // A later duplicate that is nested sends the whole line to JSON.parse.
  assert.equal(checkLine(scanner, values, '{"a":1,"a":{"x":1}}', 'nested duplicate'), false);
});

test('key order changes between records do not confuse the field matching', () => {
  const random = prng(5);
  const names = ['p0', 'p1', 'p2', 'p10', 'p11'];
  const scanner = new JsonlScanner(names);
  const values = new ScannedValues(names.length, 1);
  for (let i = 0; i < 2000; i++) {
    const keys = [...names, 'p', 'p1x', 'p00'].filter(() => random() < 0.7).sort(() => random() - 0.5);
    const text = `{${keys.map((k) => `"${k}":${jsonNumber(random)}`).join(',')}}`;
    assert.ok(checkLine(scanner, values, text, `record ${i}`));
  }
});

describe('JsonlSource: the same rows, problems and values as JSON.parse line by line', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  before(async () => (dir = await tempDir()));
  after(async () => dir.remove());

  test('a file of random records over several chunks, with blank lines, CRLF, bad lines and a resume point', async () => {
    const random = prng(21);
    const lines: string[] = [];
    // Over 1 MiB, so records fall across the stream's chunks.
    let size = 0;
    while (size < 2_600_000) {
      const r = random();
      let line: string;
      if (r < 0.6) line = `{"id":"r${lines.length}",${Array.from({ length: 40 }, (_, i) => `"p${i}":${jsonNumber(random)}`).join(',')}}`;
      else if (r < 0.85) line = record(random).text;
      else if (r < 0.95) line = mutate(random, record(random).text);
      else line = pick(random, ['', '   ', '\t', '\u00a0']);
      lines.push(line);
      size += line.length + 1;
    }
    const text = lines.map((l, i) => (i % 13 === 0 ? `${l}\r\n` : `${l}\n`)).join('');
    const path = join(dir.dir, 'random.jsonl');
    await writeFile(path, text);

    // The reference: readline, then JSON.parse of each non-blank line (the source before the scanner).
    const fields = ['id', 'p0', 'p7', 'p39', 'a', 'b', 'x.y', 'x.y.z', '__proto__', 'constructor', 'ü'];
    interface Expected {
      line: number;
      problem: string | undefined;
      values: unknown[];
      raw: string;
    }
    const expected: Expected[] = [];
    let lineNumber = 0;
    for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
      lineNumber++;
      if (line.trim() === '') continue;
      let parsed: unknown;
      let problem: string | undefined;
      try {
        parsed = JSON.parse(line);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          problem = `expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`;
        }
      } catch (error) {
        problem = `not valid JSON: ${(error as Error).message}`;
      }
      const values = problem !== undefined ? fields.map(() => undefined) : fields.map((f) => lookup(parsed as Record<string, unknown>, f));
      expected.push({ line: lineNumber, problem, values, raw: line });
    }

    for (const from of [0, 1234]) {
      const source = await JsonlSource.open(await expandInputFiles([path]));
      source.bind(fields);
      const slots = [1, 2, 3];
      const target = new Float64Array(3);
      let n = from;
      for await (const block of source.blocks({ position: from })) {
        for (let i = 0; i < block.size; i++, n++) {
          const row = block.row(i);
          const want = expected[n]!;
          const label = `row ${n} (line ${want.line}): ${JSON.stringify(want.raw.slice(0, 120))}`;
          assert.equal(row.position, n, label);
          assert.ok(row.location().endsWith(`random.jsonl:${want.line}`), `${label}: at ${row.location()}`);
          assert.equal(row.problem(), want.problem, label);
          assert.equal(row.raw(), want.raw, label);
          fields.forEach((_, slot) => {
            const got = row.get(slot);
            const v = want.values[slot];
            if (typeof v === 'object' && v !== null) assert.deepEqual(got, v, `${label}: field '${fields[slot]}'`);
            else assert.ok(Object.is(got, v), `${label}: field '${fields[slot]}' is ${String(got)}, expected ${String(v)}`);
          });
          fields.forEach((_, slot) => {
            const v = want.values[slot];
            assert.ok(Object.is(row.fastNumber(slot), typeof v === 'number' ? v : Number.NaN), `${label}: fastNumber('${fields[slot]}')`);
          });
          target.fill(Number.NaN);
          const written = row.fillNumbers!(slots, target, 0);
          for (let s = 0; s < written; s++) assert.ok(Object.is(target[s], want.values[slots[s]!]), `${label}: fillNumbers slot ${slots[s]}`);
          const firstMiss = slots.findIndex((slot) => {
            const v = want.values[slot];
            return !(typeof v === 'number' && Math.abs(v) <= 3.4028234663852886e38);
          });
          if (want.problem === undefined) assert.equal(written, firstMiss < 0 ? slots.length : firstMiss, `${label}: fillNumbers wrote ${written}`);
        }
      }
      assert.equal(n, expected.length, `from ${from}: every row once`);
      await source.close();
    }
  });
});

/** The field lookup the source promises: a literal key first, then a dotted path into nested objects. */
function lookup(value: Record<string, unknown>, field: string): unknown {
  if (Object.hasOwn(value, field)) return value[field];
  let node: unknown = value;
  for (const part of field.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
