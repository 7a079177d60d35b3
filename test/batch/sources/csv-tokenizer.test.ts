import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseCsv } from 'csv-parse/sync';
import { CsvRecords, csvFieldText, parsePlainDecimal, tokenizeCsv, type CsvCursor } from '../../../src/batch/sources/csv-tokenizer.js';
import { prng } from '../../helpers/batch-data.js';

/** Tokenizes `text` fed in pieces cut at `cuts` (as a stream would), returning every record's fields. */
function tokenize(text: string, cuts: number[] = [], delimiter = ','): { fields: string[][]; lines: number[]; problems: Array<string | undefined> } {
  const bytes = Buffer.from(text);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  const cursor: CsvCursor = { line: 1 };
  const fields: string[][] = [];
  const lines: number[] = [];
  const problems: Array<string | undefined> = [];
  let pending: Buffer = Buffer.alloc(0);
  pieces.forEach((piece, i) => {
    const data = Buffer.concat([pending, piece]);
    const records = new CsvRecords(64, 2);
    const final = i === pieces.length - 1;
    const offset = tokenizeCsv(data, 0, final, delimiter.charCodeAt(0), cursor, records);
    for (let r = 0; r < records.size; r++) {
      fields.push(Array.from({ length: records.fieldCounts[r]! }, (_, f) => csvFieldText(data, records, r, f)));
      lines.push(records.lines[r]!);
      problems.push(records.problems.get(r));
    }
    pending = data.subarray(offset);
  });
  return { fields, lines, problems };
}

const reference = (text: string, delimiter = ','): string[][] =>
  parseCsv(text, { delimiter, skip_empty_lines: true, relax_column_count: true, bom: true }) as string[][];

const CASES: Record<string, string> = {
  plain: 'a,b,c\n1,2,3\n4,5,6\n',
  'no final newline': 'a,b\n1,2',
  crlf: 'a,b\r\n1,2\r\n3,4\r\n',
  'quoted fields': 'name,note\n"Smith, J.","said ""hi"""\n"",x\n',
  'newline inside quotes': 'id,text\n1,"line one\nline two"\n2,"crlf\r\ninside"\n3,plain\n',
  'empty fields': ',,\na,,c\n,b,\n',
  'blank lines': 'a,b\n\n1,2\n\n3,4\n\n',
  'blank CRLF lines': 'a,b\r\n\r\n1,2\r\n',
  'ragged rows': 'a,b,c\n1,2\n1,2,3,4\n',
  'unicode': 'mot,sens\ncafé,"naïve, ça"\n日本,語\n',
  bom: '\ufeffa,b\n1,2\n',
  'quote at end of piece': 'a,b\n"x""y",z\n',
};

describe('CSV tokenizer', () => {
  for (const [name, text] of Object.entries(CASES)) {
    test(`${name}: the same fields as csv-parse, however the stream is cut`, () => {
      const expected = reference(text);
      const body = text.startsWith('\ufeff') ? text.slice(1) : text; // the source strips the BOM before tokenizing
      const whole = tokenize(body);
      assert.deepEqual(whole.fields, expected);
      const bytes = Buffer.byteLength(body);
      for (let cut = 1; cut < bytes; cut++) assert.deepEqual(tokenize(body, [cut]).fields, expected, `cut at byte ${cut}`);
    });
  }

  test('random CSV with quotes, delimiters and newlines in fields matches csv-parse', () => {
    const random = prng(42);
    const alphabet = ['a', 'b', '1', '.', ' ', ',', '"', '\n', 'é', '\t'];
    for (let round = 0; round < 200; round++) {
      const rows: string[] = [];
      const columns = 1 + Math.floor(random() * 4);
      for (let r = 0; r < 1 + Math.floor(random() * 6); r++) {
        const cells: string[] = [];
        for (let c = 0; c < columns; c++) {
          let cell = '';
          for (let k = 0; k < Math.floor(random() * 6); k++) cell += alphabet[Math.floor(random() * alphabet.length)];
          cells.push(/[",\n]/.test(cell) || cell.startsWith(' ') ? `"${cell.replaceAll('"', '""')}"` : cell);
        }
        rows.push(cells.join(','));
      }
      // One line ending per file: csv-parse takes the first record's ending as the only one.
      const eol = random() < 0.5 ? '\n' : '\r\n';
      const text = `${rows.join(eol)}${eol}`;
      const expected = reference(text);
      const cuts = [Math.floor(random() * text.length), Math.floor(random() * text.length)].sort((a, b) => a - b);
      assert.deepEqual(tokenize(text, [...new Set(cuts)].filter((c) => c > 0)).fields, expected, JSON.stringify(text));
    }
  });

  test('tab-separated input', () => {
    assert.deepEqual(tokenize('a\tb\n"x\ty"\t2\n', [], '\t').fields, [['a', 'b'], ['x\ty', '2']]);
  });

  test('line numbers count newlines inside quoted fields', () => {
    const { lines } = tokenize('h\n"a\nb"\nc\n\nd\n');
    assert.deepEqual(lines, [1, 2, 4, 6]);
  });

  test('an unterminated quote or junk after a closing quote is a problem of that record only', () => {
    const junk = tokenize('a,b\n"x"y,1\n2,3\n');
    assert.deepEqual(junk.problems, [undefined, 'field 1: unexpected character after a closing quote', undefined]);
    assert.deepEqual(junk.fields[2], ['2', '3']);
    const open = tokenize('a,b\n1,"never closed\n');
    assert.equal(open.problems[1], 'field 2: a quoted field is never closed');
  });
});

describe('parsePlainDecimal', () => {
  const parse = (text: string): number => {
    const b = Buffer.from(text);
    return parsePlainDecimal(b, 0, b.length);
  };

  test('equals Number() for plain decimals', () => {
    const random = prng(9);
    const samples = ['0', '-0', '16', '3.25', '-12.5', '+7', '0.1', '0.30000000000000004', '123456789012345', '0.000001', '00012.50', '9007199254740991'];
    for (let i = 0; i < 5000; i++) samples.push((random() * 10 ** Math.floor(random() * 12) * (random() < 0.3 ? -1 : 1)).toFixed(Math.floor(random() * 10)));
    for (const text of samples) {
      const fast = parse(text);
      if (Number.isNaN(fast)) continue; // handed to the slow path: fine
      assert.ok(Object.is(fast, Number(text)), `${text}: ${fast} !== ${Number(text)}`);
    }
    assert.equal(parse('3.25'), 3.25);
    assert.equal(parse('16'), 16);
  });

  test('returns NaN (so the text is parsed properly) for anything that is not a plain decimal', () => {
    for (const text of ['', '-', '.', '1e5', ' 1', '1 ', 'NaN', 'Infinity', '0x10', '1.2.3', '1,5', '12345678901234567']) {
      assert.ok(Number.isNaN(parse(text)), JSON.stringify(text));
    }
  });
});
