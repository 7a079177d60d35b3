import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ServingError } from '../../errors/serving-error.js';
import { failpoint } from '../failpoint.js';
import {
  RUNS_TABLE,
  quoteIdent,
  rejectsTable,
  runConflict,
  type BatchStore,
  type ColumnSpec,
  type PredictionBatch,
  type QueryPage,
  type RejectRow,
  type RunProgress,
  type RunRecord,
  type RunStatus,
  type RunWriter,
  type StoredPrediction,
  type TableLayout,
} from './batch-store.js';
import { RUN_COLUMNS, diffColumns, runFromRow, runToValues, type RunRow } from './run-rows.js';

const SQL_TYPES: Record<ColumnSpec['type'], string> = {
  integer: 'INTEGER',
  real: 'REAL',
  text: 'TEXT',
  json: 'TEXT',
  boolean: 'INTEGER',
};

const sqlType = (c: ColumnSpec): string => SQL_TYPES[c.type];
const iso = (d: Date | undefined): string | null => (d === undefined ? null : d.toISOString());
const RUNS = quoteIdent(RUNS_TABLE);
const STATEMENT_ROWS = 64;

/** Strips a trailing semicolon so a query can be wrapped as a subquery. */
export function subquery(sql: string): string {
  const trimmed = sql.trim().replace(/;\s*$/, '');
  if (trimmed === '') throw new ServingError('CONFIG_INVALID', '--query is empty');
  return trimmed;
}

/**
 * SQLite through better-sqlite3, in WAL mode so the server and `batch status` read while a job
 * writes. `synchronous=NORMAL` may lose the last commits on power loss, never on a crash, and the
 * checkpoint is in the same transaction as the rows, so a resumed run redoes exactly what was lost.
 */
export class SqliteStore implements BatchStore {
  readonly dialect = 'sqlite';
  readonly displayUrl: string;
  private reader: Database.Database | undefined;

  private constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    this.displayUrl = `sqlite:${path}`;
  }

  static open(path: string, options: { readonly?: boolean } = {}): SqliteStore {
    const full = resolve(path);
    if (!existsSync(dirname(full))) {
      throw new ServingError('DATABASE_UNAVAILABLE', `cannot open sqlite:${path}: folder ${dirname(full)} does not exist`);
    }
    let db: Database.Database;
    try {
      db = new Database(full, { readonly: options.readonly === true, fileMustExist: options.readonly === true, timeout: 10_000 });
      if (options.readonly !== true) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
    } catch (error) {
      throw new ServingError('DATABASE_UNAVAILABLE', `cannot open sqlite:${path}: ${(error as Error).message}`, { cause: error });
    }
    return new SqliteStore(db, full);
  }

  async prepareRuns(): Promise<void> {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${RUNS} (
        id TEXT PRIMARY KEY,
        job TEXT NOT NULL,
        table_name TEXT NOT NULL,
        model TEXT NOT NULL,
        model_version TEXT NOT NULL,
        input TEXT NOT NULL,
        key_column TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        heartbeat_at TEXT NOT NULL,
        rows_read INTEGER NOT NULL DEFAULT 0,
        rows_predicted INTEGER NOT NULL DEFAULT 0,
        rows_rejected INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        checkpoint TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        spec TEXT NOT NULL,
        owner TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS slipway_runs_job ON ${RUNS} (job, started_at);
      CREATE INDEX IF NOT EXISTS slipway_runs_table ON ${RUNS} (table_name, started_at);
    `);
  }

  async prepareTable(layout: TableLayout): Promise<void> {
    const table = quoteIdent(layout.table);
    const key = quoteIdent(layout.keyColumn);
    const existing = this.db.prepare(`SELECT name, type, pk FROM pragma_table_info(?)`).all(layout.table) as Array<{ name: string; type: string; pk: number }>;
    if (existing.length === 0) {
      const columns = layout.columns.map((c) => `${quoteIdent(c.name)} ${sqlType(c)}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS ${table} (
          ${key} TEXT NOT NULL,
          run_id TEXT NOT NULL,
          model_version TEXT NOT NULL,
          predicted_at TEXT NOT NULL,
          ${columns.map((c) => `${c},`).join('\n')}
          PRIMARY KEY (${key}, run_id)
        ) WITHOUT ROWID`);
    } else {
      const pk = existing.filter((c) => c.pk > 0).map((c) => c.name);
      if (pk[0] !== layout.keyColumn || !pk.includes('run_id')) {
        throw new ServingError(
          'CONFIG_INVALID',
          `table '${layout.table}' exists with primary key (${pk.join(', ') || 'none'}), not ('${layout.keyColumn}', run_id): use another --table, or the --key it was written with`,
        );
      }
      const { missing, mismatched } = diffColumns(new Map(existing.map((c) => [c.name, c.type])), layout.columns, sqlType);
      if (mismatched.length > 0) throw new ServingError('CONFIG_INVALID', `table '${layout.table}' has columns of other types: ${mismatched.join('; ')}`);
      for (const column of missing) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(column.name)} ${sqlType(column)}`);
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${quoteIdent(rejectsTable(layout.table))} (
        run_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        location TEXT NOT NULL,
        "key" TEXT,
        reason TEXT NOT NULL,
        raw TEXT NOT NULL,
        rejected_at TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
      )`);
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.db.prepare(`SELECT * FROM ${RUNS} WHERE id = ?`).get(id) as RunRow | undefined;
    return row === undefined ? undefined : runFromRow(row);
  }

  async latestRun(job: string): Promise<RunRecord | undefined> {
    const row = this.db.prepare(`SELECT * FROM ${RUNS} WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT 1`).get(job) as RunRow | undefined;
    return row === undefined ? undefined : runFromRow(row);
  }

  async insertRun(run: RunRecord): Promise<void> {
    const values = runToValues(run, iso);
    const info = this.db
      .prepare(`INSERT INTO ${RUNS} (${RUN_COLUMNS.join(', ')}) VALUES (${RUN_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`)
      .run(values);
    if (info.changes === 0) throw runConflict(run.id, 'exists already');
  }

  async claimRun(id: string, fromOwner: string, toOwner: string): Promise<RunRecord | undefined> {
    const now = iso(new Date());
    const info = this.db
      .prepare(`UPDATE ${RUNS} SET owner = ?, status = 'running', heartbeat_at = ?, finished_at = NULL, error = NULL WHERE id = ? AND owner = ?`)
      .run(toOwner, now, id, fromOwner);
    return info.changes === 1 ? this.getRun(id) : undefined;
  }

  async heartbeat(id: string, owner: string): Promise<boolean> {
    return this.db.prepare(`UPDATE ${RUNS} SET heartbeat_at = ? WHERE id = ? AND owner = ?`).run(iso(new Date()), id, owner).changes === 1;
  }

  async finishRun(id: string, owner: string, status: Exclude<RunStatus, 'running'>, error: string | undefined): Promise<boolean> {
    const now = iso(new Date());
    return (
      this.db
        .prepare(`UPDATE ${RUNS} SET status = ?, error = ?, finished_at = ?, heartbeat_at = ? WHERE id = ? AND owner = ?`)
        .run(status, error ?? null, now, now, id, owner).changes === 1
    );
  }

  async writer(layout: TableLayout, runId: string, owner: string, modelVersion: string): Promise<RunWriter> {
    return new SqliteRunWriter(this.db, layout, runId, owner, modelVersion);
  }

  async runs(filter: { table?: string; job?: string; limit: number }): Promise<RunRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.table !== undefined) {
      where.push('table_name = ?');
      params.push(filter.table);
    }
    if (filter.job !== undefined) {
      where.push('job = ?');
      params.push(filter.job);
    }
    if (!this.hasRunsTable()) return [];
    const rows = this.db
      .prepare(`SELECT * FROM ${RUNS} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`)
      .all(...params, filter.limit) as RunRow[];
    return rows.map(runFromRow);
  }

  async tableRuns(): Promise<Array<{ table: string; last: RunRecord; lastSuccess: RunRecord | undefined }>> {
    if (!this.hasRunsTable()) return [];
    const last = this.db
      .prepare(`SELECT * FROM ${RUNS} r WHERE id = (SELECT id FROM ${RUNS} s WHERE s.table_name = r.table_name ORDER BY started_at DESC, id DESC LIMIT 1) ORDER BY table_name`)
      .all() as RunRow[];
    const success = this.db
      .prepare(
        `SELECT * FROM ${RUNS} r WHERE id = (SELECT id FROM ${RUNS} s WHERE s.table_name = r.table_name AND s.status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1)`,
      )
      .all() as RunRow[];
    const successes = new Map(success.map((row) => [row.table_name, runFromRow(row)] as const));
    return last.map((row) => ({ table: row.table_name, last: runFromRow(row), lastSuccess: successes.get(row.table_name) }));
  }

  async lookup(table: string, key: string): Promise<StoredPrediction | undefined> {
    const owner = this.hasRunsTable()
      ? (this.db.prepare(`SELECT key_column, spec FROM ${RUNS} WHERE table_name = ? ORDER BY started_at DESC LIMIT 1`).get(table) as { key_column: string; spec: string } | undefined)
      : undefined;
    if (owner === undefined) throw new ServingError('TABLE_NOT_FOUND', `no batch job has written a table named '${table}'`);
    const row = this.db
      .prepare(
        `SELECT p.*, r.status AS slipway_run_status FROM ${quoteIdent(table)} p LEFT JOIN ${RUNS} r ON r.id = p.run_id
         WHERE p.${quoteIdent(owner.key_column)} = ? ORDER BY p.predicted_at DESC, p.run_id DESC LIMIT 1`,
      )
      .get(key) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : storedPrediction(row, owner.key_column, owner.spec);
  }

  async queryColumns(sql: string): Promise<string[]> {
    try {
      return this.readConnection()
        .prepare(`SELECT * FROM (${subquery(sql)}) AS slipway_q`)
        .columns()
        .map((c) => c.name);
    } catch (error) {
      throw queryError(error);
    }
  }

  async countQuery(sql: string): Promise<number> {
    try {
      const row = this.readConnection().prepare(`SELECT count(*) AS n FROM (${subquery(sql)}) AS slipway_q`).get() as { n: number };
      return row.n;
    } catch (error) {
      throw queryError(error);
    }
  }

  async queryPage(sql: string, keyColumn: string, after: { key: string | number; inclusive: boolean } | undefined, limit: number): Promise<QueryPage> {
    const key = quoteIdent(keyColumn);
    const where = after === undefined ? '' : `WHERE ${key} ${after.inclusive ? '>=' : '>'} ?`;
    const params: unknown[] = after === undefined ? [limit] : [after.key, limit];
    try {
      const rows = this.readConnection()
        .prepare(`SELECT * FROM (${subquery(sql)}) AS slipway_q ${where} ORDER BY ${key} LIMIT ?`)
        .all(...params) as Array<Record<string, unknown>>;
      return { rows };
    } catch (error) {
      throw queryError(error);
    }
  }

  async prune(layout: TableLayout, runId: string, keepRuns: number): Promise<number> {
    const table = quoteIdent(layout.table);
    const key = quoteIdent(layout.keyColumn);
    return this.db.transaction(() => {
      const deleted = this.db
        .prepare(
          `DELETE FROM ${table} WHERE (${key}, run_id) IN (
             SELECT k, r FROM (
               SELECT ${key} AS k, run_id AS r, row_number() OVER (PARTITION BY ${key} ORDER BY predicted_at DESC, run_id DESC) AS n
               FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE run_id = ?)
             ) WHERE n > ?)`,
        )
        .run(runId, keepRuns).changes;
      this.db
        .prepare(
          `DELETE FROM ${quoteIdent(rejectsTable(layout.table))} WHERE run_id NOT IN (
             SELECT id FROM ${RUNS} WHERE table_name = ? ORDER BY started_at DESC, id DESC LIMIT ?)`,
        )
        .run(layout.table, keepRuns);
      return deleted;
    }).immediate();
  }

  async close(): Promise<void> {
    this.reader?.close();
    this.db.close();
  }

  private hasRunsTable(): boolean {
    return this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(RUNS_TABLE) !== undefined;
  }

  /** Queries read on their own connection: better-sqlite3 allows one running statement per connection, and this one may write. */
  private readConnection(): Database.Database {
    this.reader ??= new Database(this.path, { readonly: true, timeout: 10_000 });
    return this.reader;
  }
}

function queryError(error: unknown): ServingError {
  if (error instanceof ServingError) return error;
  return new ServingError('CONFIG_INVALID', `--query failed: ${(error as Error).message}`, { cause: error });
}

/** A predictions row as the lookup route answers it; JSON columns (SQLite keeps them as text) are parsed. */
export function storedPrediction(row: Record<string, unknown>, keyColumn: string, spec: string): StoredPrediction {
  let jsonColumns = new Set<string>();
  try {
    const outputs = (JSON.parse(spec) as { outputs?: Array<[string, string]> }).outputs ?? [];
    jsonColumns = new Set(outputs.filter(([, expression]) => /^\s*json\s*\(/.test(expression)).map(([name]) => name));
  } catch {
    // A spec that does not parse leaves every column as stored.
  }
  const columns: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    if (name === keyColumn || name === 'run_id' || name === 'model_version' || name === 'predicted_at' || name === 'slipway_run_status') continue;
    columns[name] = jsonColumns.has(name) && typeof value === 'string' ? JSON.parse(value) : typeof value === 'bigint' ? value.toString() : value;
  }
  const predictedAt = row.predicted_at;
  return {
    key: String(row[keyColumn]),
    runId: String(row.run_id),
    runStatus: row.slipway_run_status === null || row.slipway_run_status === undefined ? undefined : String(row.slipway_run_status),
    modelVersion: String(row.model_version),
    predictedAt: predictedAt instanceof Date ? predictedAt : new Date(String(predictedAt)),
    columns,
  };
}

class SqliteRunWriter implements RunWriter {
  private open = false;
  private readonly inserts = new Map<number, Database.Statement>();
  private readonly insertOne: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;
  private readonly insertReject: Database.Statement;
  private readonly progress: Database.Statement;
  private readonly columnList: string;
  private readonly width: number;

  constructor(
    private readonly db: Database.Database,
    private readonly layout: TableLayout,
    private readonly runId: string,
    private readonly owner: string,
    private readonly modelVersion: string,
  ) {
    this.columnList = [layout.keyColumn, 'run_id', 'model_version', 'predicted_at', ...layout.columns.map((c) => c.name)].map(quoteIdent).join(', ');
    this.width = 4 + layout.columns.length;
    this.insertOne = this.insertStatement(1);
    this.savepoint = db.prepare('SAVEPOINT slipway_chunk');
    this.release = db.prepare('RELEASE slipway_chunk');
    this.rollbackTo = db.prepare('ROLLBACK TO slipway_chunk');
    this.insertReject = db.prepare(
      `INSERT INTO ${quoteIdent(rejectsTable(layout.table))} (run_id, position, location, "key", reason, raw, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    this.progress = db.prepare(
      `UPDATE ${RUNS} SET checkpoint = ?, rows_read = ?, rows_predicted = ?, rows_rejected = ?, heartbeat_at = ? WHERE id = ? AND owner = ?`,
    );
  }

  private insertStatement(rows: number): Database.Statement {
    const one = `(${Array.from({ length: this.width }, () => '?').join(', ')})`;
    return this.db.prepare(
      `INSERT INTO ${quoteIdent(this.layout.table)} (${this.columnList}) VALUES ${Array.from({ length: rows }, () => one).join(', ')} ON CONFLICT DO NOTHING`,
    );
  }

  private begin(): void {
    if (this.open) return;
    this.db.exec('BEGIN IMMEDIATE');
    this.open = true;
  }

  async insert(batch: PredictionBatch, predictedAt: Date): Promise<number[]> {
    const n = batch.keys.length;
    if (n === 0) return [];
    this.begin();
    // Statements of at most STATEMENT_ROWS rows: SQLite caps a statement's parameters, and a few
    // statement sizes keep the prepared-statement cache small.
    const perStatement = Math.max(1, Math.min(STATEMENT_ROWS, Math.floor(32_000 / this.width)));
    if (n > perStatement) {
      const duplicates: number[] = [];
      for (let start = 0; start < n; start += perStatement) {
        const count = Math.min(perStatement, n - start);
        const part: PredictionBatch = { keys: batch.keys.slice(start, start + count), values: batch.values.map((v) => v.slice(start, start + count)) };
        for (const d of await this.insert(part, predictedAt)) duplicates.push(start + d);
      }
      return duplicates;
    }
    const at = predictedAt.toISOString();
    const params: unknown[] = new Array(n * this.width);
    let p = 0;
    for (let r = 0; r < n; r++) {
      params[p++] = batch.keys[r];
      params[p++] = this.runId;
      params[p++] = this.modelVersion;
      params[p++] = at;
      for (const column of batch.values) params[p++] = sqliteValue(column[r]);
    }
    let statement = this.inserts.get(n);
    if (statement === undefined) {
      statement = this.insertStatement(n);
      this.inserts.set(n, statement);
    }
    // RETURNING would say which rows went in, but costs more than the insert itself; a savepoint
    // lets the rare chunk with a duplicate key be redone row by row instead.
    this.savepoint.run();
    if (statement.run(params).changes === n) {
      this.release.run();
      return [];
    }
    // Some key was already predicted in this run (a duplicate key in the input): find which, in order,
    // so the first row with a key is the one kept.
    this.rollbackTo.run();
    const duplicates: number[] = [];
    for (let r = 0; r < n; r++) {
      if (this.insertOne.run(params.slice(r * this.width, (r + 1) * this.width)).changes === 0) duplicates.push(r);
    }
    this.release.run();
    return duplicates;
  }

  async reject(rows: readonly RejectRow[]): Promise<void> {
    if (rows.length === 0) return;
    this.begin();
    const at = new Date().toISOString();
    for (const row of rows) this.insertReject.run(this.runId, row.position, row.location, row.key, row.reason, row.raw, at);
  }

  async commit(progress: RunProgress): Promise<void> {
    this.begin();
    const changed = this.progress.run(
      JSON.stringify(progress.checkpoint),
      progress.rowsRead,
      progress.rowsPredicted,
      progress.rowsRejected,
      new Date().toISOString(),
      this.runId,
      this.owner,
    ).changes;
    if (changed !== 1) {
      await this.rollback();
      throw runConflict(this.runId, 'was taken over by another process; this one stops without committing');
    }
    failpoint('mid-commit');
    this.db.exec('COMMIT');
    this.open = false;
  }

  async rollback(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.db.exec('ROLLBACK');
  }
}

function sqliteValue(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === undefined) return null;
  return value;
}
