/**
 * Where a batch job's rows come from (CSV or JSONL files, or a SQL query), read as a stream of
 * blocks. Rows are numbered from 0 across the whole input in a fixed order, so a checkpoint is just
 * "how many rows were consumed" (plus, for a query, the last key seen), and a resumed run can skip
 * exactly what was already committed.
 */

/** How far a run got: committed together with the predictions, in one transaction. */
export interface Checkpoint {
  /** Rows consumed (predicted or rejected), counting from the start of the input. */
  position: number;
  /** Query inputs only: the last key committed and how many rows carried it (for duplicate keys). */
  lastKey?: string | number;
  rowsAtLastKey?: number;
}

/**
 * One row of a block. For speed it is a view that the block re-points (`RowBlock.row(i)`): read what
 * you need before asking for the next row. Field slots are the indices `bind` handed out.
 */
export interface RowView {
  readonly position: number;
  /** The value in a bound slot: a string for CSV, any JSON value for JSONL, a column value for SQL; undefined when absent. */
  get(slot: number): unknown;
  /** A plain decimal number in a slot read without building a string; NaN when the slot holds anything else. */
  fastNumber(slot: number): number;
  /**
   * Optional fast path for numeric inputs: writes the plain decimals of `slots` into `target` from
   * `offset` and returns how many it wrote before the first slot that is not one (slots.length when all were).
   */
  fillNumbers?(slots: readonly number[], target: Float32Array | Float64Array, offset: number): number;
  /** Why this row could not even be split into fields (bad CSV quoting, invalid JSON); undefined when it could. */
  problem(): string | undefined;
  /** Where the row is, for messages: `data.csv:17`. */
  location(): string;
  /** The row as written (truncated), for the rejects table. */
  raw(): string;
}

export interface RowBlock {
  readonly size: number;
  row(index: number): RowView;
}

/**
 * A RowView over blocks of already-read rows (JSONL records, query rows): the view is reused for
 * every row, so reading a row allocates nothing. Subclasses say how a slot reads a row.
 */
export abstract class BlockRowView<Row> implements RowView {
  private rows: readonly Row[] = [];
  private first = 0;
  private index = 0;

  block(rows: readonly Row[], first: number): RowBlock {
    return {
      size: rows.length,
      row: (i: number) => {
        this.rows = rows;
        this.first = first;
        this.index = i;
        return this;
      },
    };
  }

  get position(): number {
    return this.first + this.index;
  }

  protected current(): Row {
    return this.rows[this.index]!;
  }

  abstract get(slot: number): unknown;

  fastNumber(slot: number): number {
    const value = this.get(slot);
    return typeof value === 'number' ? value : Number.NaN;
  }

  abstract problem(): string | undefined;
  abstract location(): string;
  abstract raw(): string;
}

/** A field a mapping refers to: a CSV column, a JSON field (dotted path into nested objects), or a query column. */
export type FieldRef = string;

export interface RowSource {
  readonly kind: 'csv' | 'jsonl' | 'sql';
  /** What `slipway_runs.input` records: the files, or the query. */
  readonly description: string;
  /** Top-level columns or fields in their order (CSV header, first JSON record's keys, query columns). */
  readonly columns: readonly string[];
  /**
   * Resolves the fields a mapping reads into slots. Unknown fields are mapping errors named up front
   * for CSV and SQL (whose columns are known); JSONL rows without a field are rejected one by one.
   */
  bind(fields: readonly FieldRef[]): void;
  /** Identifies the input (files, sizes, modification times) so a resumed run can refuse a changed input. */
  fingerprint(): string;
  /** Units of progress and the total when known: bytes for files, rows for a query. */
  progressTotal(): { unit: 'bytes' | 'rows'; total: number | undefined };
  /** Progress done so far, in the unit above. */
  progressDone(): number;
  /** Streams the rows after `from`, in blocks. */
  blocks(from: Checkpoint): AsyncIterable<RowBlock>;
  close(): Promise<void>;
}

/** Longest raw row text kept in the rejects table. */
export const MAX_RAW_CHARS = 4096;

export function truncateRaw(text: string): string {
  return text.length <= MAX_RAW_CHARS ? text : `${text.slice(0, MAX_RAW_CHARS)}… (${text.length} characters)`;
}
