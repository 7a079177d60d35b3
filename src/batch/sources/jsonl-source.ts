import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ServingError } from '../../errors/serving-error.js';
import { displayPath } from './csv-source.js';
import { filesFingerprint, openInputStream, type InputFile } from './input-files.js';
import { BlockRowView, truncateRaw, type Checkpoint, type FieldRef, type RowBlock, type RowSource } from './row-source.js';

const BLOCK_ROWS = 1024;

interface JsonRow {
  value: Record<string, unknown> | undefined;
  problem: string | undefined;
  line: number;
  text: string;
  file: string;
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
    const view = new JsonRowView(this.names, this.paths);
    for (const file of this.files) {
      const stream = openInputStream(file, (n) => (this.bytesRead += n));
      const where = displayPath(file.path);
      let rows: JsonRow[] = [];
      try {
        // Lines are cut from the stream's chunks by hand: readline's async iterator costs about as
        // much per line as parsing it.
        for await (const lines of splitLines(stream)) {
          for (const { text, line } of lines) {
            if (isBlank(text)) continue;
            if (position++ < from.position) continue;
            rows.push(parseLine(text, line, where));
            if (rows.length === BLOCK_ROWS) {
              yield view.block(rows, position - rows.length);
              rows = [];
            }
          }
        }
        if (rows.length > 0) yield view.block(rows, position - rows.length);
      } finally {
        stream.destroy();
      }
    }
  }

  async close(): Promise<void> {}
}

function parseLine(text: string, line: number, file: string): JsonRow {
  const at = (value: Record<string, unknown> | undefined, problem: string | undefined): JsonRow => ({ value, problem, line, text, file });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return at(undefined, `not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return at(undefined, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return at(value as Record<string, unknown>, undefined);
}

/** The largest magnitude an FP32 element holds; beyond it the generic path reports the value. */
const FP32_MAX = 3.4028234663852886e38;

/**
 * The lines of a stream, a chunk's worth at a time, numbered from 1. A line ends at \n, \r\n or a
 * lone \r, as readline reads them.
 */
export async function* splitLines(stream: Readable): AsyncIterable<Array<{ text: string; line: number }>> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  let pendingCr = false;
  const cut = (text: string, final: boolean): Array<{ text: string; line: number }> => {
    const out: Array<{ text: string; line: number }> = [];
    let start = 0;
    // A \r ending the previous chunk was a line end; a \n right after it belongs to it.
    if (pendingCr && text.charCodeAt(0) === 10) start = 1;
    pendingCr = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      out.push({ text: text.slice(start, i), line: ++line });
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else pendingCr = true;
      }
      start = i + 1;
    }
    rest = text.slice(start);
    if (final && rest !== '') {
      out.push({ text: rest, line: ++line });
      rest = '';
    }
    return out;
  };
  for await (const chunk of stream) {
    const text = rest + decoder.write(chunk as Buffer);
    const lines = cut(text, false);
    if (lines.length > 0) yield lines;
  }
  const last = cut(rest + decoder.end(), true);
  if (last.length > 0) yield last;
}

function isBlank(text: string): boolean {
  // Most lines start with '{': skip the trim then.
  return text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '');
}

class JsonRowView extends BlockRowView<JsonRow> {
  constructor(
    private readonly names: readonly string[],
    private readonly paths: readonly string[][],
  ) {
    super();
  }

  /** Top-level numbers straight into the tensor; stops at the first slot that is anything else (the generic path takes it from there). */
  fillNumbers(slots: readonly number[], target: Float32Array | Float64Array, offset: number): number {
    const value = this.current().value as Record<string, unknown> | undefined;
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

  get(slot: number): unknown {
    const value = this.current().value;
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
    return this.current().problem;
  }

  location(): string {
    const row = this.current();
    return `${row.file}:${row.line}`;
  }

  raw(): string {
    return truncateRaw(this.current().text);
  }
}

async function firstRecord(file: InputFile): Promise<Record<string, unknown> | undefined> {
  const stream = openInputStream(file, () => undefined);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (text.trim() === '') continue;
      const row = parseLine(text, 1, file.path);
      if (row.value !== undefined) return row.value;
    }
    return undefined;
  } finally {
    lines.close();
    stream.destroy();
  }
}
