import { ServingError } from '../../errors/serving-error.js';
import type { BatchStore } from '../sinks/batch-store.js';
import { BlockRowView, truncateRaw, type Checkpoint, type FieldRef, type RowBlock, type RowSource } from './row-source.js';

const PAGE_ROWS = 2000;

/** A key value as a checkpoint keeps it (JSON) and a query parameter takes it back. */
export function cursorKey(value: unknown): string | number {
  if (typeof value === 'number' || typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/**
 * The rows of a `SELECT` run against the output database, read in pages ordered by the key column
 * (keyset pagination: `WHERE key >= last ORDER BY key LIMIT n`), so the order is the same on every
 * attempt and a resumed run starts right after the last committed key without re-reading the rest.
 * Rows that share a key are counted, so a page boundary inside a run of duplicates loses nothing.
 */
export class SqlSource implements RowSource {
  readonly kind = 'sql';
  readonly description: string;
  private slotColumns: string[] = [];
  private done = 0;

  private constructor(
    private readonly store: BatchStore,
    private readonly sql: string,
    private readonly keyColumn: string,
    readonly columns: readonly string[],
    private readonly total: number,
  ) {
    this.description = `query: ${sql.trim()}`;
  }

  static async open(store: BatchStore, sql: string, keyColumn: string | undefined): Promise<SqlSource> {
    if (keyColumn === undefined) {
      throw new ServingError('CONFIG_INVALID', '--query needs --key: rows are read in key order, which is what lets a killed run resume exactly where it stopped');
    }
    const columns = await store.queryColumns(sql);
    if (!columns.includes(keyColumn)) {
      throw new ServingError('CONFIG_INVALID', `--key '${keyColumn}' is not a column of the query; it returns ${columns.map((c) => `'${c}'`).join(', ')}`);
    }
    const total = await store.countQuery(sql);
    return new SqlSource(store, sql, keyColumn, columns, total);
  }

  bind(fields: readonly FieldRef[]): void {
    for (const field of fields) {
      if (!this.columns.includes(field)) {
        throw new ServingError('CONFIG_INVALID', `the query returns no column '${field}'; it returns ${this.columns.map((c) => `'${c}'`).join(', ')}`);
      }
    }
    this.slotColumns = [...fields];
  }

  fingerprint(): string {
    // A query's rows may change between attempts by design (new rows arrive); keyset order keeps a resume exact anyway.
    return JSON.stringify(['query', this.sql.trim()]);
  }

  progressTotal(): { unit: 'rows'; total: number } {
    return { unit: 'rows', total: this.total };
  }

  progressDone(): number {
    return this.done;
  }

  async *blocks(from: Checkpoint): AsyncIterable<RowBlock> {
    let position = from.position;
    this.done = position;
    let runKey: string | number | undefined = from.lastKey;
    let runCount = from.rowsAtLastKey ?? 0;
    const view = new SqlRowView(this.slotColumns);
    for (;;) {
      const after = runKey === undefined ? undefined : { key: runKey, inclusive: true };
      const limit = PAGE_ROWS + runCount;
      const { rows } = await this.store.queryPage(this.sql, this.keyColumn, after, limit);
      // The rows equal to the last key come first; those already consumed are skipped.
      let start = 0;
      if (after !== undefined) {
        while (start < runCount && start < rows.length && String(rows[start]![this.keyColumn]) === String(runKey)) start++;
      }
      const fresh = rows.slice(start);
      for (const row of fresh) {
        const key = cursorKey(row[this.keyColumn]);
        if (runKey !== undefined && String(key) === String(runKey)) runCount++;
        else {
          runKey = key;
          runCount = 1;
        }
      }
      if (fresh.length > 0) {
        yield view.block(fresh, position);
        position += fresh.length;
        this.done = position;
      }
      if (rows.length < limit) return;
    }
  }

  async close(): Promise<void> {}
}

class SqlRowView extends BlockRowView<Record<string, unknown>> {
  constructor(private readonly slotColumns: readonly string[]) {
    super();
  }

  get(slot: number): unknown {
    const value = this.current()[this.slotColumns[slot]!];
    return value === null ? undefined : value;
  }

  problem(): string | undefined {
    return undefined;
  }

  location(): string {
    return `query row ${this.position + 1}`;
  }

  raw(): string {
    return truncateRaw(
      JSON.stringify(this.current(), (_key, value: unknown) =>
        typeof value === 'bigint' ? value.toString() : value instanceof Uint8Array ? `<${value.length} bytes>` : value,
      ),
    );
  }
}
