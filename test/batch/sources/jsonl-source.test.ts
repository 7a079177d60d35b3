import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { splitLines } from '../../../src/batch/sources/jsonl-source.js';
import { digitsCsv, DIGITS_MODEL, PIXEL_COLUMNS, runCli, tempDir, writeText } from '../../helpers/batch-data.js';

async function viaReadline(text: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: Readable.from([Buffer.from(text)]), crlfDelay: Infinity })) lines.push(line);
  return lines;
}

async function viaSplit(chunks: Buffer[]): Promise<Array<{ text: string; line: number }>> {
  const out: Array<{ text: string; line: number }> = [];
  for await (const lines of splitLines(Readable.from(chunks))) out.push(...lines);
  return out;
}

test('splitLines cuts lines as readline does, wherever the chunks end', async () => {
  const texts = [
    '{"a":1}\n{"b":2}\n',
    '{"a":1}\r\n\r\n{"b":"ünï€😀"}\r\n{"c":3}',
    'one\rtwo\r\nthree\n\nfour\r',
    '',
    '\n\n',
    'no newline at all',
  ];
  for (const text of texts) {
    const expected = await viaReadline(text);
    const bytes = Buffer.from(text);
    // Every split point, so CRLF pairs and multi-byte characters fall across chunk boundaries.
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got = await viaSplit([bytes.subarray(0, cut), bytes.subarray(cut)].filter((b) => b.length > 0));
      assert.deepEqual(got.map((l) => l.text), expected, `${JSON.stringify(text)} cut at ${cut}`);
      assert.deepEqual(got.map((l) => l.line), expected.map((_, i) => i + 1));
    }
    const oneByte = await viaSplit([...bytes].map((b) => Buffer.from([b])));
    assert.deepEqual(oneByte.map((l) => l.text), expected, `${JSON.stringify(text)} one byte at a time`);
  }
});

describe('JSONL fast path: results identical to the CSV of the same rows', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  before(async () => (dir = await tempDir()));
  after(async () => dir.remove());

  test('flat numeric fields, blank lines, CRLF and a bad line: the same predictions and rejects as CSV', async () => {
    const csvText = digitsCsv(700);
    const [, ...rows] = csvText.trim().split('\n');
    const records = rows.map((line) => {
      const [id, ...pixels] = line.split(',');
      return JSON.stringify({ id, ...Object.fromEntries(PIXEL_COLUMNS.map((c, i) => [c, Number(pixels[i])])) });
    });
    // A bad row in each: a pixel that is not a number.
    const badCsv = csvText.replace(/\nk5,[^\n]*/, (line) => line.replace(/,([^,]*)$/, ',oops'));
    records[5] = records[5]!.replace(/"p63":[^}]*}/, '"p63":"oops"}');
    const jsonlText = records.map((r, i) => (i % 97 === 0 ? `${r}\r\n\n` : `${r}\n`)).join('');
    const csv = await writeText(join(dir.dir, 'same.csv'), badCsv);
    const jsonl = await writeText(join(dir.dir, 'same.jsonl'), jsonlText);
    const tables: Array<Array<Record<string, unknown>>> = [];
    const rejects: Array<Array<Record<string, unknown>>> = [];
    for (const [input, name] of [[csv, 'csv'], [jsonl, 'jsonl']] as const) {
      const db = join(dir.dir, `${name}.db`);
      const result = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', input, '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /700 rows read, 699 predicted, 1 rejected/);
      const sqlite = new Database(db, { readonly: true });
      tables.push(sqlite.prepare('SELECT id, label, score FROM digits_predictions ORDER BY id').all() as Array<Record<string, unknown>>);
      rejects.push(sqlite.prepare('SELECT position, "key" FROM digits_predictions_rejects').all() as Array<Record<string, unknown>>);
      sqlite.close();
    }
    assert.equal(tables[0]!.length, 699);
    assert.deepEqual(tables[1], tables[0]);
    assert.deepEqual(rejects[1], rejects[0]);
  });
});
