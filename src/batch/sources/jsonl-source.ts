import { createInterface } from 'node:readline';
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
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      const where = displayPath(file.path);
      let rows: JsonRow[] = [];
      let line = 0;
      try {
        for await (const text of lines) {
          line++;
          if (text.trim() === '') continue;
          if (position++ < from.position) continue;
          rows.push(parseLine(text, line, where));
          if (rows.length === BLOCK_ROWS) {
            yield view.block(rows, position - rows.length);
            rows = [];
          }
        }
        if (rows.length > 0) yield view.block(rows, position - rows.length);
      } finally {
        lines.close();
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

class JsonRowView extends BlockRowView<JsonRow> {
  constructor(
    private readonly names: readonly string[],
    private readonly paths: readonly string[][],
  ) {
    super();
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
