import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ServingError } from '../errors/serving-error.js';
import { parseDocument, type ModelRolloutDocument, type RolloutStore, type StoredModelRollout } from './rollout-store.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS slipway_rollouts (
    model TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_until_ms INTEGER
  );
`;

export interface SqliteRolloutStoreOptions {
  /**
   * `at-open` (default): the file is created now. `on-first-write`: a file that does not exist yet is
   * created only when something is stored (the default location: serving a folder leaves no file
   * beside it until someone sets a policy or starts a rollout).
   */
  create?: 'at-open' | 'on-first-write';
}

/**
 * Rollout state in a SQLite file (better-sqlite3, WAL, a 5 s busy timeout so replicas on one host
 * can share it). A few small writes per rollout step, so they run on the calling thread.
 */
export class SqliteRolloutStore implements RolloutStore {
  readonly location: string;
  private db: Database.Database | undefined;

  private constructor(private readonly path: string) {
    this.location = `sqlite:${path}`;
  }

  static open(path: string, options: SqliteRolloutStoreOptions = {}): SqliteRolloutStore {
    const store = new SqliteRolloutStore(resolve(path));
    if (options.create !== 'on-first-write' || existsSync(store.path)) store.connect();
    return store;
  }

  private connect(): Database.Database {
    if (this.db !== undefined) return this.db;
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      db = new Database(this.path);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
    } catch (error) {
      db?.close();
      throw new ServingError('DATABASE_UNAVAILABLE', `cannot open the rollout database ${this.location}: ${(error as Error).message}`, { cause: error });
    }
    this.db = db;
    return db;
  }

  async list(): Promise<StoredModelRollout[]> {
    if (this.db === undefined) return [];
    const rows = this.db.prepare('SELECT model, revision, document FROM slipway_rollouts ORDER BY model').all() as Array<{ model: string; revision: number; document: string }>;
    return rows.map((r) => ({ model: r.model, revision: r.revision, document: parseDocument(r.document, r.model) }));
  }

  async get(model: string): Promise<StoredModelRollout | undefined> {
    if (this.db === undefined) return undefined;
    const row = this.db.prepare('SELECT revision, document FROM slipway_rollouts WHERE model = ?').get(model) as { revision: number; document: string } | undefined;
    return row === undefined ? undefined : { model, revision: row.revision, document: parseDocument(row.document, model) };
  }

  async put(model: string, document: ModelRolloutDocument, expectedRevision: number): Promise<number | undefined> {
    const db = this.connect();
    const text = JSON.stringify(document);
    const now = new Date().toISOString();
    const result =
      expectedRevision === 0
        ? db.prepare('INSERT INTO slipway_rollouts (model, revision, document, updated_at) VALUES (?, 1, ?, ?) ON CONFLICT (model) DO NOTHING').run(model, text, now)
        : db.prepare('UPDATE slipway_rollouts SET revision = revision + 1, document = ?, updated_at = ? WHERE model = ? AND revision = ?').run(text, now, model, expectedRevision);
    return result.changes === 1 ? expectedRevision + 1 : undefined;
  }

  async acquireLease(model: string, owner: string, nowMs: number, ttlMs: number): Promise<boolean> {
    const result = this.connect()
      .prepare(
        `UPDATE slipway_rollouts SET lease_owner = ?, lease_until_ms = ?
         WHERE model = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until_ms < ?)`,
      )
      .run(owner, nowMs + ttlMs, model, owner, nowMs);
    return result.changes === 1;
  }

  async releaseLease(model: string, owner: string): Promise<void> {
    this.db?.prepare('UPDATE slipway_rollouts SET lease_owner = NULL, lease_until_ms = NULL WHERE model = ? AND lease_owner = ?').run(model, owner);
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}
