import pg from 'pg';
import { postgresTarget, quoteIdent, redactPassword } from '../config/database-url.js';
import { ServingError } from '../errors/serving-error.js';
import { parseDocument, type ModelRolloutDocument, type RolloutStore, type StoredModelRollout } from './rollout-store.js';

/**
 * Rollout state in PostgreSQL (pg), shared by every replica that points at it. A `schema` query
 * parameter (`postgres://…/db?schema=ml`) puts the table in that schema, created when missing.
 */
export class PostgresRolloutStore implements RolloutStore {
  readonly location: string;
  private readonly table: string;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    schema: string | undefined,
    url: string,
  ) {
    this.location = redactPassword(url);
    this.table = schema === undefined ? quoteIdent('slipway_rollouts') : `${quoteIdent(schema)}.${quoteIdent('slipway_rollouts')}`;
  }

  static async open(url: string): Promise<PostgresRolloutStore> {
    let target: ReturnType<typeof postgresTarget>;
    try {
      target = postgresTarget(url);
    } catch {
      throw new ServingError('CONFIG_INVALID', `rollout database URL '${redactPassword(url)}' is not a valid URL`);
    }
    const pool = new pg.Pool({ connectionString: target.connectionString, max: 2, connectionTimeoutMillis: 10_000 });
    // An idle client losing its connection must not crash the server; the next query reports it.
    pool.on('error', () => undefined);
    const store = new PostgresRolloutStore(pool, target.schema, url);
    try {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // Two replicas starting at once would otherwise race in the catalog.
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('slipway_rollouts_ddl'))`);
        if (target.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
        await client.query(`
          CREATE TABLE IF NOT EXISTS ${store.table} (
            model text PRIMARY KEY,
            revision bigint NOT NULL,
            document jsonb NOT NULL,
            updated_at timestamptz NOT NULL,
            lease_owner text,
            lease_until_ms bigint
          )`);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new ServingError('DATABASE_UNAVAILABLE', `cannot open the rollout database ${redactPassword(url)}: ${(error as Error).message}`, { cause: error });
    }
    return store;
  }

  private async query<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, values);
    } catch (error) {
      throw new ServingError('DATABASE_UNAVAILABLE', `rollout database ${this.location}: ${(error as Error).message}`, { cause: error });
    }
  }

  async list(): Promise<StoredModelRollout[]> {
    const result = await this.query<{ model: string; revision: string; document: string }>(`SELECT model, revision, document::text AS document FROM ${this.table} ORDER BY model`, []);
    return result.rows.map((r) => ({ model: r.model, revision: Number(r.revision), document: parseDocument(r.document, r.model) }));
  }

  async get(model: string): Promise<StoredModelRollout | undefined> {
    const result = await this.query<{ revision: string; document: string }>(`SELECT revision, document::text AS document FROM ${this.table} WHERE model = $1`, [model]);
    const row = result.rows[0];
    return row === undefined ? undefined : { model, revision: Number(row.revision), document: parseDocument(row.document, model) };
  }

  async put(model: string, document: ModelRolloutDocument, expectedRevision: number): Promise<number | undefined> {
    const text = JSON.stringify(document);
    const result =
      expectedRevision === 0
        ? await this.query(`INSERT INTO ${this.table} (model, revision, document, updated_at) VALUES ($1, 1, $2::jsonb, now()) ON CONFLICT (model) DO NOTHING`, [model, text])
        : await this.query(`UPDATE ${this.table} SET revision = revision + 1, document = $2::jsonb, updated_at = now() WHERE model = $1 AND revision = $3`, [model, text, expectedRevision]);
    return result.rowCount === 1 ? expectedRevision + 1 : undefined;
  }

  async acquireLease(model: string, owner: string, nowMs: number, ttlMs: number): Promise<boolean> {
    const result = await this.query(
      `UPDATE ${this.table} SET lease_owner = $2, lease_until_ms = $3
       WHERE model = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until_ms < $4)`,
      [model, owner, nowMs + ttlMs, nowMs],
    );
    return result.rowCount === 1;
  }

  async releaseLease(model: string, owner: string): Promise<void> {
    await this.query(`UPDATE ${this.table} SET lease_owner = NULL, lease_until_ms = NULL WHERE model = $1 AND lease_owner = $2`, [model, owner]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
