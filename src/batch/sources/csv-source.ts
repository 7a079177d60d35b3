import { relative, isAbsolute } from 'node:path';
import { ServingError } from '../../errors/serving-error.js';
import { CsvRecords, csvFieldText, parsePlainDecimal, tokenizeCsv, type CsvCursor } from './csv-tokenizer.js';
import { filesFingerprint, openInputStream, type InputFile } from './input-files.js';
import { truncateRaw, type Checkpoint, type FieldRef, type RowBlock, type RowSource, type RowView } from './row-source.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const FP32_MAX = 3.4028234663852886e38;

export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * CSV (or TSV) files with a header row, streamed in 1 MiB pieces. Every file must have the same
 * header as the first, checked before the job starts, so a column means the same thing in every file.
 */
export class CsvSource implements RowSource {
  readonly kind = 'csv';
  readonly description: string;
  private slotColumns: number[] = [];
  private bytesRead = 0;
  private readonly totalBytes: number;

  private constructor(
    private readonly files: readonly InputFile[],
    readonly columns: readonly string[],
  ) {
    this.description = files.map((f) => displayPath(f.path)).join(', ');
    this.totalBytes = files.reduce((sum, f) => sum + f.sizeBytes, 0);
  }

  static async open(files: readonly InputFile[]): Promise<CsvSource> {
    if (files.length === 0) throw new ServingError('CONFIG_INVALID', 'no input files');
    let columns: string[] | undefined;
    for (const file of files) {
      const header = await readHeader(file);
      if (columns === undefined) {
        const duplicate = header.find((name, i) => header.indexOf(name) !== i);
        if (duplicate !== undefined) {
          throw new ServingError('CONFIG_INVALID', `${displayPath(file.path)}: column '${duplicate}' appears twice in the header`);
        }
        columns = header;
      } else if (header.join('\u0000') !== columns.join('\u0000')) {
        throw new ServingError(
          'CONFIG_INVALID',
          `${displayPath(file.path)}: header (${header.join(', ')}) differs from ${displayPath(files[0]!.path)}'s (${columns.join(', ')}); every input file must have the same columns`,
        );
      }
    }
    return new CsvSource(files, columns!);
  }

  bind(fields: readonly FieldRef[]): void {
    this.slotColumns = fields.map((field) => {
      const index = this.columns.indexOf(field);
      if (index < 0) {
        throw new ServingError('CONFIG_INVALID', `the CSV has no column '${field}'; its columns are ${listColumns(this.columns)}`);
      }
      return index;
    });
  }

  fingerprint(): string {
    return filesFingerprint(this.files);
  }

  progressTotal(): { unit: 'bytes'; total: number } {
    return { unit: 'bytes', total: this.totalBytes };
  }

  progressDone(): number {
    return this.bytesRead;
  }

  async *blocks(from: Checkpoint): AsyncIterable<RowBlock> {
    let position = 0;
    const records = new CsvRecords(this.columns.length, 4096);
    const view = new CsvRowView(this.slotColumns, this.columns.length);
    for (const file of this.files) {
      const delimiter = file.delimiter.charCodeAt(0);
      const cursor: CsvCursor = { line: 1 };
      const where = displayPath(file.path);
      let pending: Buffer | undefined;
      let header = true;
      let first = true;
      const stream = openInputStream(file, (n) => (this.bytesRead += n));
      const emit = function* (data: Buffer, final: boolean): Generator<RowBlock, Buffer | undefined> {
        records.clear();
        const offset = tokenizeCsv(data, 0, final, delimiter, cursor, records);
        let startRecord = 0;
        if (header && records.size > 0) {
          header = false;
          startRecord = 1;
        }
        // Skip what a previous attempt of this run already committed.
        const skip = Math.min(records.size - startRecord, Math.max(0, from.position - position));
        position += skip;
        startRecord += skip;
        const size = records.size - startRecord;
        if (size > 0) {
          view.reset(data, records, where, position - startRecord);
          position += size;
          yield { size, row: (i: number) => view.at(startRecord + i) };
        }
        return offset < data.length ? data.subarray(offset) : undefined;
      };
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          let data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
          if (first) {
            first = false;
            if (data.subarray(0, 3).equals(BOM)) data = data.subarray(3);
          }
          pending = yield* emit(data, false);
        }
        if (pending !== undefined && pending.length > 0) yield* emit(pending, true);
      } finally {
        stream.destroy();
      }
    }
  }

  async close(): Promise<void> {}
}

function listColumns(columns: readonly string[]): string {
  return columns.length <= 12 ? columns.map((c) => `'${c}'`).join(', ') : `${columns.slice(0, 12).map((c) => `'${c}'`).join(', ')} and ${columns.length - 12} more`;
}

/** A view re-pointed at each record of a block. */
class CsvRowView implements RowView {
  private data: Buffer = Buffer.alloc(0);
  private records!: CsvRecords;
  private where = '';
  private firstPosition = 0;
  private record = 0;

  constructor(
    private readonly slotColumns: readonly number[],
    private readonly headerLength: number,
  ) {}

  reset(data: Buffer, records: CsvRecords, where: string, firstPosition: number): void {
    this.data = data;
    this.records = records;
    this.where = where;
    this.firstPosition = firstPosition;
  }

  at(record: number): RowView {
    this.record = record;
    return this;
  }

  get position(): number {
    return this.firstPosition + this.record;
  }

  get(slot: number): unknown {
    const column = this.slotColumns[slot]!;
    if (column >= this.records.fieldCounts[this.record]!) return undefined;
    return csvFieldText(this.data, this.records, this.record, column);
  }

  fastNumber(slot: number): number {
    const column = this.slotColumns[slot]!;
    const records = this.records;
    if (column >= records.fieldCounts[this.record]!) return Number.NaN;
    const at = this.record * records.maxFields + column;
    if (records.escaped[at] === 1) return Number.NaN;
    return parsePlainDecimal(this.data, records.starts[at]!, records.ends[at]!);
  }

  fillNumbers(slots: readonly number[], target: Float32Array | Float64Array, offset: number): number {
    const records = this.records;
    const fields = records.fieldCounts[this.record]!;
    const base = this.record * records.maxFields;
    const columns = this.slotColumns;
    const data = this.data;
    const starts = records.starts;
    const ends = records.ends;
    const escaped = records.escaped;
    for (let i = 0; i < slots.length; i++) {
      const column = columns[slots[i]!]!;
      if (column >= fields) return i;
      const at = base + column;
      if (escaped[at] === 1) return i;
      const v = parsePlainDecimal(data, starts[at]!, ends[at]!);
      if (v !== v || v > FP32_MAX || v < -FP32_MAX) return i;
      target[offset + i] = v;
    }
    return slots.length;
  }

  problem(): string | undefined {
    const problem = this.records.problems.get(this.record);
    if (problem !== undefined) return problem;
    const fields = this.records.fieldCounts[this.record]!;
    if (fields !== this.headerLength) return `the row has ${fields} fields but the header has ${this.headerLength}`;
    return undefined;
  }

  location(): string {
    return `${this.where}:${this.records.lines[this.record]}`;
  }

  raw(): string {
    const records = this.records;
    return truncateRaw(this.data.toString('utf8', records.recordStarts[this.record]!, records.recordEnds[this.record]!));
  }
}

/** Reads just the header record of a file. */
async function readHeader(file: InputFile): Promise<string[]> {
  const stream = openInputStream(file, () => undefined);
  const records = new CsvRecords(16384, 1);
  const cursor: CsvCursor = { line: 1 };
  const delimiter = file.delimiter.charCodeAt(0);
  let data: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
      if (data.subarray(0, 3).equals(BOM)) data = data.subarray(3);
      records.clear();
      tokenizeCsv(data, 0, false, delimiter, cursor, records, 1);
      cursor.line = 1;
      if (records.size > 0) break;
      if (data.length > 16 << 20) break;
    }
    if (records.size === 0) {
      records.clear();
      tokenizeCsv(data, 0, true, delimiter, cursor, records, 1);
    }
  } finally {
    stream.destroy();
  }
  if (records.size === 0) throw new ServingError('CONFIG_INVALID', `${displayPath(file.path)} is empty: a CSV input needs a header row naming its columns`);
  const count = Math.min(records.fieldCounts[0]!, records.maxFields);
  const header = Array.from({ length: count }, (_, i) => csvFieldText(data, records, 0, i).trim());
  if (header.some((h) => h === '')) throw new ServingError('CONFIG_INVALID', `${displayPath(file.path)}: the header row has an empty column name`);
  return header;
}
