import pg from 'pg';
import { ServingError } from '../../errors/serving-error.js';
import {
  FEEDBACK_SCHEMA_VERSION,
  type FeedbackBlob,
  type FeedbackCounts,
  type FeedbackStore,
  type FlagFilter,
  type FlagQuery,
  type NewFlag,
  type StoredFlag,
} from './feedback-store.js';
import { redactUrl } from '../../config/redact-url.js';
import { blobRefs } from './flag-document.js';
import { flagFromRow, type FlagRow } from './flag-rows.js';

/** Removes the password from a URL for messages and logs. */
export function redactPassword(url: string): string {
  return /^postgres(ql)?:\/\//i.test(url) ? redactUrl(url) : url;
}

// Documents come back as their text, exactly as stored (pg would otherwise parse json columns itself).
const FLAG_COLUMNS = 'id, created_at, model, model_version, api, label, expected, comment, latency_ms, input::text AS input, output::text AS output';

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Feedback in PostgreSQL (pg). A `schema` query parameter (`postgres://…/db?schema=ui`) puts the
 * tables in that schema, created when missing. Documents are `json` (kept as sent, NUL escapes and
 * key order included), files `bytea`.
 */
export class PostgresFeedbackStore implements FeedbackStore {
  readonly location: string;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string | undefined,
    url: string,
  ) {
    this.location = redactPassword(url);
  }

  static async open(url: string): Promise<PostgresFeedbackStore> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ServingError('CONFIG_INVALID', `feedback database URL '${redactPassword(url)}' is not a valid URL`);
    }
    const schema = parsed.searchParams.get('schema') || undefined;
    parsed.searchParams.delete('schema');
    const pool = new pg.Pool({ connectionString: parsed.toString(), max: 4, connectionTimeoutMillis: 10_000 });
    // An idle client losing its connection must not crash the server; the next query reports it.
    pool.on('error', () => undefined);
    const store = new PostgresFeedbackStore(pool, schema, url);
    try {
      await store.migrate();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new ServingError('DATABASE_UNAVAILABLE', `cannot open the feedback database ${redactPassword(url)}: ${(error as Error).message}`, { cause: error });
    }
    return store;
  }

  private table(name: string): string {
    return this.schema === undefined ? quoteIdent(name) : `${quoteIdent(this.schema)}.${quoteIdent(name)}`;
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      // Two servers starting on one database would otherwise race in the catalog.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('slipway_feedback_ddl'))`);
      if (this.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.table('feedback_schema')} (version integer NOT NULL)`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.table('feedback_blobs')} (
          sha256 text PRIMARY KEY,
          media_type text NOT NULL,
          size_bytes bigint NOT NULL,
          data bytea NOT NULL,
          created_at timestamptz NOT NULL
        )`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.table('feedback_flags')} (
          id bigserial PRIMARY KEY,
          created_at timestamptz NOT NULL,
          model text NOT NULL,
          model_version text,
          api text NOT NULL,
          label text NOT NULL,
          expected text,
          comment text NOT NULL,
          latency_ms double precision,
          input json NOT NULL,
          output json NOT NULL
        )`);
      await client.query(`CREATE INDEX IF NOT EXISTS feedback_flags_model ON ${this.table('feedback_flags')} (model, id)`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.table('feedback_flag_blobs')} (
          flag_id bigint NOT NULL REFERENCES ${this.table('feedback_flags')} (id),
          sha256 text NOT NULL REFERENCES ${this.table('feedback_blobs')} (sha256),
          PRIMARY KEY (flag_id, sha256)
        )`);
      const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${this.table('feedback_schema')}`);
      const version = rows[0]?.version ?? null;
      if (version === null) await client.query(`INSERT INTO ${this.table('feedback_schema')} (version) VALUES ($1)`, [FEEDBACK_SCHEMA_VERSION]);
      else if (version > FEEDBACK_SCHEMA_VERSION) {
        throw new Error(`it was written by a newer Slipway (feedback schema ${version}; this one reads ${FEEDBACK_SCHEMA_VERSION})`);
      }
    });
  }

  private static row(row: Record<string, unknown>): StoredFlag {
    return flagFromRow({ ...(row as unknown as FlagRow), created_at: (row.created_at as Date).toISOString() });
  }

  async addFlag(flag: NewFlag, blobs: readonly FeedbackBlob[]): Promise<StoredFlag> {
    const input = JSON.stringify(flag.input);
    const output = JSON.stringify(flag.output);
    const id = await this.transaction(async (client) => {
      for (const blob of blobs) {
        await client.query(
          `INSERT INTO ${this.table('feedback_blobs')} (sha256, media_type, size_bytes, data, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING`,
          [blob.sha256, blob.mediaType, blob.data.byteLength, Buffer.from(blob.data.buffer, blob.data.byteOffset, blob.data.byteLength), flag.createdAt],
        );
      }
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO ${this.table('feedback_flags')} (created_at, model, model_version, api, label, expected, comment, latency_ms, input, output)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
        [flag.createdAt, flag.model, flag.modelVersion, flag.api, flag.label, flag.expected, flag.comment, flag.latencyMs, input, output],
      );
      const flagId = Number(rows[0]!.id);
      for (const sha of blobRefs(flag.input, blobRefs(flag.output))) {
        await client.query(`INSERT INTO ${this.table('feedback_flag_blobs')} (flag_id, sha256) VALUES ($1, $2)`, [flagId, sha]);
      }
      return flagId;
    });
    return { ...flag, id, input: JSON.parse(input), output: JSON.parse(output) };
  }

  async getFlag(id: number): Promise<StoredFlag | undefined> {
    const { rows } = await this.pool.query(`SELECT ${FLAG_COLUMNS} FROM ${this.table('feedback_flags')} WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : PostgresFeedbackStore.row(rows[0]);
  }

  private where(filter: FlagFilter, clauses: string[], params: unknown[]): string {
    if (filter.model !== undefined) {
      params.push(filter.model);
      clauses.push(`model = $${params.length}`);
    }
    if (filter.label !== undefined) {
      params.push(filter.label);
      clauses.push(`label = $${params.length}`);
    }
    return clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
  }

  async listFlags(query: FlagQuery): Promise<StoredFlag[]> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (query.beforeId !== undefined) {
      params.push(query.beforeId);
      clauses.push(`id < $${params.length}`);
    }
    if (query.afterId !== undefined) {
      params.push(query.afterId);
      clauses.push(`id > $${params.length}`);
    }
    const sql = this.where(query, clauses, params);
    params.push(query.limit);
    const order = query.afterId !== undefined ? 'ASC' : 'DESC';
    const { rows } = await this.pool.query(`SELECT ${FLAG_COLUMNS} FROM ${this.table('feedback_flags')} ${sql} ORDER BY id ${order} LIMIT $${params.length}`, params);
    return rows.map((row) => PostgresFeedbackStore.row(row));
  }

  async countFlags(filter: FlagFilter): Promise<number> {
    const params: unknown[] = [];
    const sql = this.where(filter, [], params);
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table('feedback_flags')} ${sql}`, params);
    return Number(rows[0]!.n);
  }

  async getBlob(sha256: string): Promise<FeedbackBlob | undefined> {
    const { rows } = await this.pool.query<{ sha256: string; media_type: string; data: Buffer }>(
      `SELECT sha256, media_type, data FROM ${this.table('feedback_blobs')} WHERE sha256 = $1`,
      [sha256],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { sha256: row.sha256, mediaType: row.media_type, data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) };
  }

  async counts(): Promise<FeedbackCounts> {
    const flags = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table('feedback_flags')}`);
    const blobs = await this.pool.query<{ n: string; bytes: string }>(
      `SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS bytes FROM ${this.table('feedback_blobs')}`,
    );
    return { flags: Number(flags.rows[0]!.n), blobs: Number(blobs.rows[0]!.n), blobBytes: Number(blobs.rows[0]!.bytes) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
