import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
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
import { blobRefs } from './flag-document.js';
import { flagFromRow, type FlagRow } from './flag-rows.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS feedback_schema (version INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS feedback_blobs (
    sha256 TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS feedback_flags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    model TEXT NOT NULL,
    model_version TEXT,
    api TEXT NOT NULL,
    label TEXT NOT NULL,
    expected TEXT,
    comment TEXT NOT NULL,
    latency_ms REAL,
    input TEXT NOT NULL,
    output TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS feedback_flags_model ON feedback_flags (model, id);
  CREATE TABLE IF NOT EXISTS feedback_flag_blobs (
    flag_id INTEGER NOT NULL REFERENCES feedback_flags (id),
    sha256 TEXT NOT NULL REFERENCES feedback_blobs (sha256),
    PRIMARY KEY (flag_id, sha256)
  );
`;

function where(filter: FlagFilter, extra: string[] = []): { sql: string; params: unknown[] } {
  const clauses = [...extra];
  const params: unknown[] = [];
  if (filter.model !== undefined) {
    clauses.push('model = ?');
    params.push(filter.model);
  }
  if (filter.label !== undefined) {
    clauses.push('label = ?');
    params.push(filter.label);
  }
  return { sql: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, params };
}

/**
 * Feedback in a SQLite file (better-sqlite3, WAL). Writes are small and rare (a person clicking
 * "flag"), so they run on the calling thread; a flag and its blobs commit together.
 */
export class SqliteFeedbackStore implements FeedbackStore {
  readonly location: string;

  private constructor(
    private readonly db: Database.Database,
    path: string,
  ) {
    this.location = `sqlite:${path}`;
  }

  /** Opens (creating when missing) the database file and its tables. */
  static open(path: string): SqliteFeedbackStore {
    const full = resolve(path);
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(full), { recursive: true });
      db = new Database(full);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      const row = db.prepare('SELECT max(version) AS version FROM feedback_schema').get() as { version: number | null };
      if (row.version === null) db.prepare('INSERT INTO feedback_schema (version) VALUES (?)').run(FEEDBACK_SCHEMA_VERSION);
      else if (row.version > FEEDBACK_SCHEMA_VERSION) {
        throw new Error(`it was written by a newer Slipway (feedback schema ${row.version}; this one reads ${FEEDBACK_SCHEMA_VERSION})`);
      }
    } catch (error) {
      db?.close();
      throw new ServingError('DATABASE_UNAVAILABLE', `cannot open the feedback database sqlite:${full}: ${(error as Error).message}`, { cause: error });
    }
    return new SqliteFeedbackStore(db, full);
  }

  async addFlag(flag: NewFlag, blobs: readonly FeedbackBlob[]): Promise<StoredFlag> {
    const input = JSON.stringify(flag.input);
    const output = JSON.stringify(flag.output);
    const insertBlob = this.db.prepare(
      'INSERT INTO feedback_blobs (sha256, media_type, size_bytes, data, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING',
    );
    const insertFlag = this.db.prepare(
      `INSERT INTO feedback_flags (created_at, model, model_version, api, label, expected, comment, latency_ms, input, output)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const link = this.db.prepare('INSERT INTO feedback_flag_blobs (flag_id, sha256) VALUES (?, ?)');
    const id = this.db.transaction(() => {
      for (const blob of blobs) {
        insertBlob.run(blob.sha256, blob.mediaType, blob.data.byteLength, Buffer.from(blob.data.buffer, blob.data.byteOffset, blob.data.byteLength), flag.createdAt);
      }
      const result = insertFlag.run(
        flag.createdAt,
        flag.model,
        flag.modelVersion,
        flag.api,
        flag.label,
        flag.expected,
        flag.comment,
        flag.latencyMs,
        input,
        output,
      );
      const flagId = Number(result.lastInsertRowid);
      for (const sha of blobRefs(flag.input, blobRefs(flag.output))) link.run(flagId, sha);
      return flagId;
    })();
    return { ...flag, id, input: JSON.parse(input), output: JSON.parse(output) };
  }

  async getFlag(id: number): Promise<StoredFlag | undefined> {
    const row = this.db.prepare('SELECT * FROM feedback_flags WHERE id = ?').get(id) as FlagRow | undefined;
    return row === undefined ? undefined : flagFromRow(row);
  }

  async listFlags(query: FlagQuery): Promise<StoredFlag[]> {
    const extra: string[] = [];
    const cursor: unknown[] = [];
    if (query.beforeId !== undefined) {
      extra.push('id < ?');
      cursor.push(query.beforeId);
    }
    if (query.afterId !== undefined) {
      extra.push('id > ?');
      cursor.push(query.afterId);
    }
    const { sql, params } = where(query, extra);
    const order = query.afterId !== undefined ? 'ASC' : 'DESC';
    const rows = this.db.prepare(`SELECT * FROM feedback_flags ${sql} ORDER BY id ${order} LIMIT ?`).all(...cursor, ...params, query.limit) as FlagRow[];
    return rows.map(flagFromRow);
  }

  async countFlags(filter: FlagFilter): Promise<number> {
    const { sql, params } = where(filter);
    return (this.db.prepare(`SELECT count(*) AS n FROM feedback_flags ${sql}`).get(...params) as { n: number }).n;
  }

  async getBlob(sha256: string): Promise<FeedbackBlob | undefined> {
    const row = this.db.prepare('SELECT sha256, media_type, data FROM feedback_blobs WHERE sha256 = ?').get(sha256) as
      | { sha256: string; media_type: string; data: Buffer }
      | undefined;
    if (row === undefined) return undefined;
    return { sha256: row.sha256, mediaType: row.media_type, data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) };
  }

  async counts(): Promise<FeedbackCounts> {
    const flags = (this.db.prepare('SELECT count(*) AS n FROM feedback_flags').get() as { n: number }).n;
    const blobs = this.db.prepare('SELECT count(*) AS n, coalesce(sum(size_bytes), 0) AS bytes FROM feedback_blobs').get() as { n: number; bytes: number };
    return { flags, blobs: blobs.n, blobBytes: blobs.bytes };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
