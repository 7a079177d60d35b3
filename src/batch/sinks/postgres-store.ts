import pg from 'pg';
import { redactUrl } from '../../config/database-url.js';
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
import { storedPrediction, subquery } from './sqlite-store.js';

const SQL_TYPES: Record<ColumnSpec['type'], string> = {
  integer: 'bigint',
  real: 'double precision',
  text: 'text',
  json: 'jsonb',
  boolean: 'boolean',
};
const sqlType = (c: ColumnSpec): string => SQL_TYPES[c.type];

export { redactUrl } from '../../config/database-url.js';

/**
 * PostgreSQL through pg. A `schema` query parameter on the URL (`postgres://…/db?schema=ml`) puts
 * every table, `slipway_runs` included, in that schema (created when missing), and `--query` text
 * resolves unqualified names there first.
 */
export class PostgresStore implements BatchStore {
  readonly dialect = 'postgres';
  readonly displayUrl: string;
  private readonly runs_: string;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string | undefined,
    url: string,
  ) {
    this.displayUrl = redactUrl(url);
    this.runs_ = this.name(RUNS_TABLE);
  }

  static async open(url: string): Promise<PostgresStore> {
    const parsed = new URL(url);
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    const pool = new pg.Pool({ connectionString: parsed.toString(), max: 3, connectionTimeoutMillis: 10_000 });
    // An idle client losing its connection must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    // --query text names tables without a schema: resolve them in the job's schema first. (A client
    // runs its queries in order, so this SET precedes whatever the pool hands the client out for.)
    if (schema !== undefined && schema !== '') {
      pool.on('connect', (client) => {
        client.query(`SET search_path TO ${quoteIdent(schema)}, public`).catch(() => undefined);
      });
    }
    try {
      const client = await pool.connect();
      client.release();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new ServingError('DATABASE_UNAVAILABLE', `cannot connect to ${redactUrl(url)}: ${(error as Error).message}`, { cause: error });
    }
    return new PostgresStore(pool, schema === '' ? undefined : schema, url);
  }

  /** A table name, qualified with the schema when one is set. */
  private name(table: string): string {
    return this.schema === undefined ? quoteIdent(table) : `${quoteIdent(this.schema)}.${quoteIdent(table)}`;
  }

  /** DDL is serialised with an advisory lock: two jobs creating one table at once would otherwise race in the catalog. */
  private async ddl(statements: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('slipway_batch_ddl'))`);
      await statements(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async prepareRuns(): Promise<void> {
    await this.ddl(async (client) => {
      if (this.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.runs_} (
          id text PRIMARY KEY,
          job text NOT NULL,
          table_name text NOT NULL,
          model text NOT NULL,
          model_version text NOT NULL,
          input text NOT NULL,
          key_column text NOT NULL,
          status text NOT NULL,
          started_at timestamptz NOT NULL,
          finished_at timestamptz,
          heartbeat_at timestamptz NOT NULL,
          rows_read bigint NOT NULL DEFAULT 0,
          rows_predicted bigint NOT NULL DEFAULT 0,
          rows_rejected bigint NOT NULL DEFAULT 0,
          error text,
          checkpoint text NOT NULL,
          fingerprint text NOT NULL,
          spec text NOT NULL,
          owner text NOT NULL
        )`);
      await client.query(`CREATE INDEX IF NOT EXISTS slipway_runs_job ON ${this.runs_} (job, started_at)`);
      await client.query(`CREATE INDEX IF NOT EXISTS slipway_runs_table ON ${this.runs_} (table_name, started_at)`);
    });
  }

  async prepareTable(layout: TableLayout): Promise<void> {
    await this.ddl(async (client) => {
      const table = this.name(layout.table);
      const key = quoteIdent(layout.keyColumn);
      const existing = await client.query<{ name: string; type: string }>(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
           FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
        [table],
      );
      if (existing.rowCount === 0) {
        const columns = layout.columns.map((c) => `${quoteIdent(c.name)} ${sqlType(c)},`).join('\n');
        await client.query(`
          CREATE TABLE ${table} (
            ${key} text NOT NULL,
            run_id text NOT NULL,
            model_version text NOT NULL,
            predicted_at timestamptz NOT NULL,
            ${columns}
            PRIMARY KEY (${key}, run_id)
          )`);
      } else {
        const pk = await client.query<{ name: string }>(
          `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
          [table],
        );
        const names = pk.rows.map((r) => r.name);
        if (names[0] !== layout.keyColumn || !names.includes('run_id')) {
          throw new ServingError(
            'CONFIG_INVALID',
            `table '${layout.table}' exists with primary key (${names.join(', ') || 'none'}), not ('${layout.keyColumn}', run_id): use another --table, or the --key it was written with`,
          );
        }
        const { missing, mismatched } = diffColumns(new Map(existing.rows.map((r) => [r.name, r.type])), layout.columns, sqlType);
        if (mismatched.length > 0) throw new ServingError('CONFIG_INVALID', `table '${layout.table}' has columns of other types: ${mismatched.join('; ')}`);
        for (const column of missing) await client.query(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(column.name)} ${sqlType(column)}`);
      }
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.name(rejectsTable(layout.table))} (
          run_id text NOT NULL,
          position bigint NOT NULL,
          location text NOT NULL,
          "key" text,
          reason text NOT NULL,
          raw text NOT NULL,
          rejected_at timestamptz NOT NULL,
          PRIMARY KEY (run_id, position)
        )`);
    });
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const result = await this.pool.query<RunRow>(`SELECT * FROM ${this.runs_} WHERE id = $1`, [id]);
    return result.rows[0] === undefined ? undefined : runFromRow(result.rows[0]);
  }

  async latestRun(job: string): Promise<RunRecord | undefined> {
    const result = await this.pool.query<RunRow>(`SELECT * FROM ${this.runs_} WHERE job = $1 ORDER BY started_at DESC, id DESC LIMIT 1`, [job]);
    return result.rows[0] === undefined ? undefined : runFromRow(result.rows[0]);
  }

  async insertRun(run: RunRecord): Promise<void> {
    const values = runToValues(run, (d) => d ?? null);
    const result = await this.pool.query(
      `INSERT INTO ${this.runs_} (${RUN_COLUMNS.join(', ')}) VALUES (${RUN_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (id) DO NOTHING`,
      values,
    );
    if (result.rowCount === 0) throw runConflict(run.id, 'exists already');
  }

  async claimRun(id: string, fromOwner: string, toOwner: string): Promise<RunRecord | undefined> {
    const result = await this.pool.query<RunRow>(
      `UPDATE ${this.runs_} SET owner = $1, status = 'running', heartbeat_at = now(), finished_at = NULL, error = NULL
        WHERE id = $2 AND owner = $3 RETURNING *`,
      [toOwner, id, fromOwner],
    );
    return result.rows[0] === undefined ? undefined : runFromRow(result.rows[0]);
  }

  async heartbeat(id: string, owner: string): Promise<boolean> {
    const result = await this.pool.query(`UPDATE ${this.runs_} SET heartbeat_at = now() WHERE id = $1 AND owner = $2`, [id, owner]);
    return result.rowCount === 1;
  }

  async finishRun(id: string, owner: string, status: Exclude<RunStatus, 'running'>, error: string | undefined): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE ${this.runs_} SET status = $1, error = $2, finished_at = now(), heartbeat_at = now() WHERE id = $3 AND owner = $4`,
      [status, error ?? null, id, owner],
    );
    return result.rowCount === 1;
  }

  async writer(layout: TableLayout, runId: string, owner: string, modelVersion: string): Promise<RunWriter> {
    return new PostgresRunWriter(this.pool, this.name(layout.table), this.name(rejectsTable(layout.table)), this.runs_, layout, runId, owner, modelVersion);
  }

  async runs(filter: { table?: string; job?: string; limit: number }): Promise<RunRecord[]> {
    if (!(await this.hasRunsTable())) return [];
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.table !== undefined) where.push(`table_name = $${params.push(filter.table)}`);
    if (filter.job !== undefined) where.push(`job = $${params.push(filter.job)}`);
    const result = await this.pool.query<RunRow>(
      `SELECT * FROM ${this.runs_} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT $${params.push(filter.limit)}`,
      params,
    );
    return result.rows.map(runFromRow);
  }

  async tableRuns(): Promise<Array<{ table: string; last: RunRecord; lastSuccess: RunRecord | undefined }>> {
    if (!(await this.hasRunsTable())) return [];
    const last = await this.pool.query<RunRow>(`SELECT DISTINCT ON (table_name) * FROM ${this.runs_} ORDER BY table_name, started_at DESC, id DESC`);
    const success = await this.pool.query<RunRow>(
      `SELECT DISTINCT ON (table_name) * FROM ${this.runs_} WHERE status = 'succeeded' ORDER BY table_name, finished_at DESC, id DESC`,
    );
    const successes = new Map(success.rows.map((row) => [row.table_name, runFromRow(row)] as const));
    return last.rows.map((row) => ({ table: row.table_name, last: runFromRow(row), lastSuccess: successes.get(row.table_name) }));
  }

  async lookup(table: string, key: string): Promise<StoredPrediction | undefined> {
    const owner = (await this.hasRunsTable())
      ? (await this.pool.query<{ key_column: string; spec: string }>(`SELECT key_column, spec FROM ${this.runs_} WHERE table_name = $1 ORDER BY started_at DESC LIMIT 1`, [table])).rows[0]
      : undefined;
    if (owner === undefined) throw new ServingError('TABLE_NOT_FOUND', `no batch job has written a table named '${table}'`);
    const result = await this.pool.query<Record<string, unknown>>(
      `SELECT p.*, r.status AS slipway_run_status FROM ${this.name(table)} p LEFT JOIN ${this.runs_} r ON r.id = p.run_id
        WHERE p.${quoteIdent(owner.key_column)} = $1 ORDER BY p.predicted_at DESC, p.run_id DESC LIMIT 1`,
      [key],
    );
    return result.rows[0] === undefined ? undefined : storedPrediction(result.rows[0], owner.key_column, owner.spec);
  }

  async queryColumns(sql: string): Promise<string[]> {
    const result = await this.query(`SELECT * FROM (${subquery(sql)}) AS slipway_q LIMIT 0`, []);
    return result.fields.map((f) => f.name);
  }

  async countQuery(sql: string): Promise<number> {
    const result = await this.query(`SELECT count(*) AS n FROM (${subquery(sql)}) AS slipway_q`, []);
    return Number(result.rows[0]?.n ?? 0);
  }

  async queryPage(sql: string, keyColumn: string, after: { key: string | number; inclusive: boolean } | undefined, limit: number): Promise<QueryPage> {
    const key = quoteIdent(keyColumn);
    const where = after === undefined ? '' : `WHERE ${key} ${after.inclusive ? '>=' : '>'} $2`;
    const params: unknown[] = after === undefined ? [limit] : [limit, after.key];
    const result = await this.query(`SELECT * FROM (${subquery(sql)}) AS slipway_q ${where} ORDER BY ${key} LIMIT $1`, params);
    return { rows: result.rows };
  }

  async prune(layout: TableLayout, runId: string, keepRuns: number): Promise<number> {
    const table = this.name(layout.table);
    const key = quoteIdent(layout.keyColumn);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const deleted = await client.query(
        `DELETE FROM ${table} WHERE (${key}, run_id) IN (
           SELECT k, r FROM (
             SELECT ${key} AS k, run_id AS r, row_number() OVER (PARTITION BY ${key} ORDER BY predicted_at DESC, run_id DESC) AS n
             FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE run_id = $1)
           ) ranked WHERE n > $2)`,
        [runId, keepRuns],
      );
      await client.query(
        `DELETE FROM ${this.name(rejectsTable(layout.table))} WHERE run_id NOT IN (
           SELECT id FROM ${this.runs_} WHERE table_name = $1 ORDER BY started_at DESC, id DESC LIMIT $2)`,
        [layout.table, keepRuns],
      );
      await client.query('COMMIT');
      return deleted.rowCount ?? 0;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async query(sql: string, params: unknown[]): Promise<pg.QueryResult<Record<string, unknown>>> {
    try {
      return await this.pool.query<Record<string, unknown>>(sql, params);
    } catch (error) {
      throw new ServingError('CONFIG_INVALID', `--query failed: ${(error as Error).message}`, { cause: error });
    }
  }

  private async hasRunsTable(): Promise<boolean> {
    const result = await this.pool.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [this.runs_]);
    return result.rows[0]?.t !== null && result.rows[0]?.t !== undefined;
  }
}

const ARRAY_TYPES: Record<ColumnSpec['type'], string> = {
  integer: 'bigint[]',
  real: 'float8[]',
  text: 'text[]',
  json: 'jsonb[]',
  boolean: 'boolean[]',
};

class PostgresRunWriter implements RunWriter {
  private client: pg.PoolClient | undefined;
  private readonly insertSql: string;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly rejects: string,
    private readonly runs: string,
    layout: TableLayout,
    private readonly runId: string,
    private readonly owner: string,
    private readonly modelVersion: string,
  ) {
    const key = quoteIdent(layout.keyColumn);
    const outputs = layout.columns.map((c) => quoteIdent(c.name));
    const all = [key, 'run_id', 'model_version', 'predicted_at', ...outputs].join(', ');
    // One array parameter per column (unnest) keeps the statement the same for any chunk size.
    const arrays = layout.columns.map((c, i) => `$${i + 5}::${ARRAY_TYPES[c.type]}`);
    const names = layout.columns.map((_, i) => `c${i}`);
    this.insertSql = `INSERT INTO ${this.table} (${all})
      SELECT k, $2, $3, $4${names.map((n) => `, ${n}`).join('')} FROM unnest($1::text[]${arrays.map((a) => `, ${a}`).join('')}) AS u(k${names.map((n) => `, ${n}`).join('')})
      ON CONFLICT DO NOTHING RETURNING ${key} AS k`;
  }

  private async begin(): Promise<pg.PoolClient> {
    if (this.client !== undefined) return this.client;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    this.client = client;
    return client;
  }

  async insert(batch: PredictionBatch, predictedAt: Date): Promise<number[]> {
    if (batch.keys.length === 0) return [];
    const client = await this.begin();
    const params: unknown[] = [batch.keys, this.runId, this.modelVersion, predictedAt, ...batch.values.map((column) => column.map(pgValue))];
    const result = await client.query<{ k: string }>(this.insertSql, params);
    if (result.rowCount === batch.keys.length) return [];
    // Some keys were already predicted in this run (duplicate keys in the input): the first occurrence
    // of a key in a chunk is the one inserted, so count the returned keys off in order.
    const inserted = new Map<string, number>();
    for (const row of result.rows) inserted.set(row.k, (inserted.get(row.k) ?? 0) + 1);
    const duplicates: number[] = [];
    batch.keys.forEach((key, r) => {
      const left = inserted.get(key) ?? 0;
      if (left > 0) inserted.set(key, left - 1);
      else duplicates.push(r);
    });
    return duplicates;
  }

  async reject(rows: readonly RejectRow[]): Promise<void> {
    if (rows.length === 0) return;
    const client = await this.begin();
    await client.query(
      `INSERT INTO ${this.rejects} (run_id, position, location, "key", reason, raw, rejected_at)
       SELECT $1, p, l, k, r, w, now() FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(p, l, k, r, w)
       ON CONFLICT DO NOTHING`,
      [this.runId, rows.map((r) => r.position), rows.map((r) => r.location), rows.map((r) => r.key), rows.map((r) => r.reason), rows.map((r) => stripNul(r.raw))],
    );
  }

  async commit(progress: RunProgress): Promise<void> {
    const client = await this.begin();
    const result = await client.query(
      `UPDATE ${this.runs} SET checkpoint = $1, rows_read = $2, rows_predicted = $3, rows_rejected = $4, heartbeat_at = now() WHERE id = $5 AND owner = $6`,
      [JSON.stringify(progress.checkpoint), progress.rowsRead, progress.rowsPredicted, progress.rowsRejected, this.runId, this.owner],
    );
    if (result.rowCount !== 1) {
      await this.rollback();
      throw runConflict(this.runId, 'was taken over by another process; this one stops without committing');
    }
    failpoint('mid-commit');
    this.client = undefined;
    try {
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  async rollback(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    this.client = undefined;
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch (error) {
      client.release(error as Error);
    }
  }
}

/** PostgreSQL text cannot hold NUL; values become their JSON-safe form. */
function pgValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return stripNul(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return value ?? null;
}

function stripNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\\u0000') : text;
}
