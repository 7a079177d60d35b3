import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ServingError } from '../../errors/serving-error.js';
import { displayPath } from './csv-source.js';
import { filesFingerprint, openInputStream, type InputFile } from './input-files.js';
import { JsonlScanner, NUMBER, ScannedValues } from './jsonl-scanner.js';
import { truncateRaw, type Checkpoint, type FieldRef, type RowBlock, type RowSource, type RowView } from './row-source.js';

/** Rows per block at most. */
const BLOCK_ROWS = 1024;

/**
 * The rows of one block: byte spans of the chunk they were cut from, and for each either what the
 * scanner read (`values`) or what JSON.parse made of it. Reused from block to block, as the CSV
 * source reuses its token buffers: a block is read before the next is asked for.
 */
class JsonlRows {
  data: Buffer = Buffer.alloc(0);
  file = '';
  size = 0;
  readonly starts = new Int32Array(BLOCK_ROWS);
  readonly ends = new Int32Array(BLOCK_ROWS);
  readonly lines = new Int32Array(BLOCK_ROWS);
  /** 1 when the scanner read the row (its fields are in `values`), 0 when JSON.parse did. */
  readonly scanned = new Uint8Array(BLOCK_ROWS);
  readonly parsed: Array<Record<string, unknown> | undefined> = [];
  readonly problems: Array<string | undefined> = [];
  readonly values: ScannedValues;

  constructor(width: number) {
    this.values = new ScannedValues(width, BLOCK_ROWS);
  }

  reset(data: Buffer, file: string): void {
    this.data = data;
    this.file = file;
    this.size = 0;
  }

  /** Adds the line `data[start, end)`: scanned when it is a flat record, parsed by JSON.parse otherwise. */
  add(start: number, end: number, line: number, scanner: JsonlScanner): void {
    const r = this.size++;
    this.starts[r] = start;
    this.ends[r] = end;
    this.lines[r] = line;
    if (scanner.scan(this.data, start, end, this.values, r)) {
      this.scanned[r] = 1;
      return;
    }
    this.scanned[r] = 0;
    const parsed = parseRecord(this.data.toString('utf8', start, end));
    this.parsed[r] = parsed.value;
    this.problems[r] = parsed.problem;
  }

  text(r: number): string {
    return this.data.toString('utf8', this.starts[r]!, this.ends[r]!);
  }
}

/** Byte spans of lines, filled by `cutLines`. */
export class LineSpans {
  count = 0;
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);

  push(start: number, end: number): void {
    if (this.count === this.starts.length) {
      const starts = new Int32Array(this.count * 2);
      const ends = new Int32Array(this.count * 2);
      starts.set(this.starts);
      ends.set(this.ends);
      this.starts = starts;
      this.ends = ends;
    }
    this.starts[this.count] = start;
    this.ends[this.count++] = end;
  }
}

/**
 * JSON Lines files (one object per line), streamed line by line. A field may be a dotted path into
 * nested objects (`features.pixels`); a field literally named with a dot wins over the path.
 */
export class JsonlSource implements RowSource {
  readonly kind = 'jsonl';
  readonly description: string;
  private paths: string[][] = [];
  private names: string[] = [];
  private bytesRead = 0;
  private readonly totalBytes: number;

  private constructor(
    private readonly files: readonly InputFile[],
    readonly columns: readonly string[],
  ) {
    this.description = files.map((f) => displayPath(f.path)).join(', ');
    this.totalBytes = files.reduce((sum, f) => sum + f.sizeBytes, 0);
  }

  /** Opens the files; the first record's keys stand for the columns (used by default mappings). */
  static async open(files: readonly InputFile[]): Promise<JsonlSource> {
    if (files.length === 0) throw new ServingError('CONFIG_INVALID', 'no input files');
    let columns: string[] = [];
    for (const file of files) {
      const first = await firstRecord(file);
      if (first !== undefined) {
        columns = Object.keys(first);
        break;
      }
    }
    return new JsonlSource(files, columns);
  }

  bind(fields: readonly FieldRef[]): void {
    this.names = [...fields];
    this.paths = fields.map((f) => f.split('.'));
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
    const scanner = new JsonlScanner(this.names);
    const rows = new JsonlRows(scanner.fields.length);
    const view = new JsonRowView(this.names, this.paths, this.names.map((n) => scanner.fieldIndex(n)!), rows);
    const spans = new LineSpans();
    for (const file of this.files) {
      const stream = openInputStream(file, (n) => (this.bytesRead += n));
      const where = displayPath(file.path);
      let line = 0;
      let pending: Buffer | undefined;
      // Lines are cut from the stream's byte chunks and records scanned in place: decoding every line
      // to a string and parsing it with JSON.parse cost several times more (bench/batch.ts).
      const emit = function* (data: Buffer, final: boolean): Generator<RowBlock, Buffer | undefined> {
        spans.count = 0;
        const rest = cutLines(data, final, spans);
        rows.reset(data, where);
        for (let k = 0; k < spans.count; k++) {
          line++;
          const start = spans.starts[k]!;
          const end = spans.ends[k]!;
          if (isBlank(data, start, end)) continue;
          if (position++ < from.position) continue;
          rows.add(start, end, line, scanner);
          // Blocks stay BLOCK_ROWS deep however short the lines are, so the scanned values stay small.
          if (rows.size === BLOCK_ROWS) {
            yield view.block(rows, position - rows.size);
            rows.reset(data, where);
          }
        }
        if (rows.size > 0) yield view.block(rows, position - rows.size);
        return rest < data.length ? data.subarray(rest) : undefined;
      };
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          pending = yield* emit(pending === undefined ? chunk : Buffer.concat([pending, chunk]), false);
        }
        if (pending !== undefined) yield* emit(pending, true);
      } finally {
        stream.destroy();
      }
    }
  }

  async close(): Promise<void> {}
}

function parseRecord(text: string): { value: Record<string, unknown> | undefined; problem: string | undefined } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { value: undefined, problem: `not valid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { value: undefined, problem: `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}` };
  }
  return { value: value as Record<string, unknown>, problem: undefined };
}

/** The largest magnitude an FP32 element holds; beyond it the generic path reports the value. */
const FP32_MAX = 3.4028234663852886e38;

/**
 * Cuts the complete lines of `data` into `out` and returns where the unfinished last line begins (the
 * caller prepends it to the next chunk). With `final`, the end of the data ends the last line. A line
 * ends at \n, \r\n or a lone \r, as readline reads them; line breaks are ASCII, so a span never
 * splits a UTF-8 character.
 */
export function cutLines(data: Buffer, final: boolean, out: LineSpans): number {
  let start = 0;
  // indexOf (memchr) finds line ends several times faster than a loop; most files hold no \r at all.
  let cr = data.indexOf(13);
  for (;;) {
    if (cr >= 0 && cr < start) cr = data.indexOf(13, start);
    const lf = data.indexOf(10, start);
    const end = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
    if (end < 0) break;
    let next = end + 1;
    if (end === cr) {
      if (next < data.length) {
        if (data[next] === 10) next++;
      } else if (!final) break; // a \n may begin the next chunk
    }
    out.push(start, end);
    start = next;
  }
  if (final && start < data.length) {
    out.push(start, data.length);
    start = data.length;
  }
  return start;
}

/**
 * The lines of a stream as strings, a chunk's worth at a time, numbered from 1 (cut by `cutLines`, as
 * the source cuts them).
 */
export async function* splitLines(stream: Readable): AsyncIterable<Array<{ text: string; line: number }>> {
  const spans = new LineSpans();
  let pending: Buffer | undefined;
  let line = 0;
  const cut = (data: Buffer, final: boolean): Array<{ text: string; line: number }> => {
    spans.count = 0;
    const rest = cutLines(data, final, spans);
    pending = rest < data.length ? data.subarray(rest) : undefined;
    return Array.from({ length: spans.count }, (_, k) => ({ text: data.toString('utf8', spans.starts[k]!, spans.ends[k]!), line: ++line }));
  };
  for await (const chunk of stream) {
    const lines = cut(pending === undefined ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]), false);
    if (lines.length > 0) yield lines;
  }
  if (pending !== undefined) {
    const last = cut(pending, true);
    if (last.length > 0) yield last;
  }
}

/** A line holding nothing but whitespace (as String.prototype.trim sees it) is not a record. */
function isBlank(data: Buffer, start: number, end: number): boolean {
  // Most lines start with '{': no decoding then.
  if (start === end) return true;
  const first = data[start]!;
  if (first > 0x20 && first < 0x80) return false;
  return data.toString('utf8', start, end).trim() === '';
}

/** A view re-pointed at each row of a block (reading a row allocates nothing). */
class JsonRowView implements RowView {
  private first = 0;
  private r = 0;

  /** @param fieldOfSlot each slot's field index in the scanned values (slots naming the same field share one) */
  constructor(
    private readonly names: readonly string[],
    private readonly paths: readonly string[][],
    private readonly fieldOfSlot: readonly number[],
    private readonly rows: JsonlRows,
  ) {}

  block(rows: JsonlRows, first: number): RowBlock {
    this.first = first;
    return {
      size: rows.size,
      row: (i: number) => {
        this.r = i;
        return this;
      },
    };
  }

  get position(): number {
    return this.first + this.r;
  }

  /** Top-level numbers straight into the tensor; stops at the first slot that is anything else (the generic path takes it from there). */
  fillNumbers(slots: readonly number[], target: Float32Array | Float64Array, offset: number): number {
    const rows = this.rows;
    if (rows.scanned[this.r] === 1) {
      const values = rows.values;
      const kinds = values.kinds;
      const numbers = values.numbers;
      const fieldOfSlot = this.fieldOfSlot;
      const base = this.r * values.width;
      for (let i = 0; i < slots.length; i++) {
        const at = base + fieldOfSlot[slots[i]!]!;
        if (kinds[at] !== NUMBER) return i;
        const v = numbers[at]!;
        if (!(v <= FP32_MAX && v >= -FP32_MAX)) return i;
        target[offset + i] = v;
      }
      return slots.length;
    }
    const value = rows.parsed[this.r];
    if (value === undefined) return 0;
    const names = this.names;
    for (let i = 0; i < slots.length; i++) {
      // Object.prototype has no number-valued properties, so a number here is the record's own field.
      const v = value[names[slots[i]!]!];
      if (typeof v !== 'number' || !(v <= FP32_MAX && v >= -FP32_MAX)) return i;
      target[offset + i] = v;
    }
    return slots.length;
  }

  fastNumber(slot: number): number {
    const rows = this.rows;
    if (rows.scanned[this.r] !== 1) {
      const value = this.get(slot);
      return typeof value === 'number' ? value : Number.NaN;
    }
    const at = this.r * rows.values.width + this.fieldOfSlot[slot]!;
    return rows.values.kinds[at] === NUMBER ? rows.values.numbers[at]! : Number.NaN;
  }

  get(slot: number): unknown {
    const rows = this.rows;
    // A scanned record is flat: a dotted path can only name a top-level key literally.
    if (rows.scanned[this.r] === 1) return rows.values.value(this.r, this.fieldOfSlot[slot]!);
    const value = rows.parsed[this.r];
    if (value === undefined) return undefined;
    const name = this.names[slot]!;
    if (Object.hasOwn(value, name)) return value[name];
    let node: unknown = value;
    for (const part of this.paths[slot]!) {
      if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
      node = (node as Record<string, unknown>)[part];
    }
    return node;
  }

  problem(): string | undefined {
    return this.rows.scanned[this.r] === 1 ? undefined : this.rows.problems[this.r];
  }

  location(): string {
    return `${this.rows.file}:${this.rows.lines[this.r]}`;
  }

  raw(): string {
    return truncateRaw(this.rows.text(this.r));
  }
}

async function firstRecord(file: InputFile): Promise<Record<string, unknown> | undefined> {
  const stream = openInputStream(file, () => undefined);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (text.trim() === '') continue;
      const { value } = parseRecord(text);
      if (value !== undefined) return value;
    }
    return undefined;
  } finally {
    lines.close();
    stream.destroy();
  }
}
