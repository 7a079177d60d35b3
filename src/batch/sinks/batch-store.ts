import { ServingError } from '../../errors/serving-error.js';
import type { Checkpoint } from '../sources/row-source.js';

/**
 * Where a batch job writes: the predictions table, its rejects table and `slipway_runs`, in SQLite or
 * PostgreSQL. Everything a chunk changes (its predictions, its rejects, the run's checkpoint) is
 * committed in one transaction, and only while this process still owns the run, which is what makes
 * a killed-and-resumed job write each row exactly once.
 */

/** `running` with a live owner; `interrupted` after a graceful stop; `running` with a dead owner is reported as interrupted too. */
export type RunStatus = 'running' | 'interrupted' | 'succeeded' | 'failed';

export const RUNS_TABLE = 'slipway_runs';

/** A run's heartbeat is refreshed this often while it works ... */
export const HEARTBEAT_MS = 5_000;
/** ... and a run whose heartbeat is older than this is considered dead (it may be taken over). */
export const LEASE_MS = 30_000;

export interface RunRecord {
  id: string;
  /** Runs of one job resume each other; defaults to the table name. */
  job: string;
  table: string;
  model: string;
  modelVersion: string;
  /** The input files or query. */
  input: string;
  keyColumn: string;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | undefined;
  heartbeatAt: Date;
  rowsRead: number;
  rowsPredicted: number;
  rowsRejected: number;
  error: string | undefined;
  checkpoint: Checkpoint;
  /** Input files, sizes and modification times when the run started. */
  fingerprint: string;
  /** The options that decide the output (model, mapping, key), as JSON: a resumed run must match. */
  spec: string;
  /** `host:pid:token` of the process working on the run. */
  owner: string;
}

export type ColumnType = 'integer' | 'real' | 'text' | 'json' | 'boolean';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
}

export interface TableLayout {
  table: string;
  keyColumn: string;
  columns: readonly ColumnSpec[];
}

/** One chunk's predictions, by column: `values[c][r]` is column c of row r. */
export interface PredictionBatch {
  keys: string[];
  values: unknown[][];
}

export interface RejectRow {
  position: number;
  location: string;
  key: string | null;
  reason: string;
  raw: string;
}

export interface RunProgress {
  checkpoint: Checkpoint;
  rowsRead: number;
  rowsPredicted: number;
  rowsRejected: number;
}

/** Writes one run's chunks; a transaction is begun on first use and ended by `commit` or `rollback`. */
export interface RunWriter {
  /** Inserts predictions; returns the indices of rows whose key this run had already predicted (not inserted). */
  insert(batch: PredictionBatch, predictedAt: Date): Promise<number[]>;
  reject(rows: readonly RejectRow[]): Promise<void>;
  /** Records the progress and commits, only while this process owns the run (RUN_CONFLICT otherwise, rolled back). */
  commit(progress: RunProgress): Promise<void>;
  rollback(): Promise<void>;
}

/** The newest prediction for one key, as `GET /v1/batch/{table}/{key}` serves it. */
export interface StoredPrediction {
  key: string;
  runId: string;
  runStatus: string | undefined;
  modelVersion: string;
  predictedAt: Date;
  columns: Record<string, unknown>;
}

export interface QueryPage {
  rows: Array<Record<string, unknown>>;
}

export interface BatchStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** The URL without its password, for messages. */
  readonly displayUrl: string;
  /** Creates `slipway_runs` when it is missing. */
  prepareRuns(): Promise<void>;
  /** Creates (or extends with new output columns) the predictions table and its rejects table. */
  prepareTable(layout: TableLayout): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  latestRun(job: string): Promise<RunRecord | undefined>;
  /** Records a new run; RUN_CONFLICT when the id exists. */
  insertRun(run: RunRecord): Promise<void>;
  /** Takes a run over (compare-and-set on its owner) and marks it running; the fresh record, or undefined if someone else got it first. */
  claimRun(id: string, fromOwner: string, toOwner: string): Promise<RunRecord | undefined>;
  heartbeat(id: string, owner: string): Promise<boolean>;
  /** Ends a run (only while owned); false when another process owns it now. */
  finishRun(id: string, owner: string, status: Exclude<RunStatus, 'running'>, error: string | undefined): Promise<boolean>;
  writer(layout: TableLayout, runId: string, owner: string, modelVersion: string): Promise<RunWriter>;
  /** Newest first. */
  runs(filter: { table?: string; job?: string; limit: number }): Promise<RunRecord[]>;
  /** Per table: its newest run and its newest successful run. */
  tableRuns(): Promise<Array<{ table: string; last: RunRecord; lastSuccess: RunRecord | undefined }>>;
  /** The newest prediction for a key of a table that batch jobs wrote (TABLE_NOT_FOUND otherwise). */
  lookup(table: string, key: string): Promise<StoredPrediction | undefined>;
  /** Column names a query returns (without running it to the end). */
  queryColumns(sql: string): Promise<string[]>;
  countQuery(sql: string): Promise<number>;
  /** One page of a query, ordered by its key column, from `after` (keyset pagination). */
  queryPage(sql: string, keyColumn: string, after: { key: string | number; inclusive: boolean } | undefined, limit: number): Promise<QueryPage>;
  /**
   * Keeps the newest `keepRuns` predictions of each key the run wrote (older runs' rows for those keys
   * are deleted), and the rejects of the table's newest `keepRuns` runs. Returns the rows deleted.
   */
  prune(layout: TableLayout, runId: string, keepRuns: number): Promise<number>;
  close(): Promise<void>;
}

export { quoteIdent } from '../../config/database-url.js';

/** Columns every predictions table has besides the key and the outputs. */
export const RESERVED_COLUMNS = ['run_id', 'model_version', 'predicted_at'] as const;

/**
 * Checks a table name: SQLite and PostgreSQL both accept any quoted name, but PostgreSQL cuts names at
 * 63 bytes and the rejects table adds `_rejects`, so names are kept to 55 bytes.
 */
export function checkTableName(name: string): void {
  if (name === '') throw new ServingError('CONFIG_INVALID', '--table must not be empty');
  if (Buffer.byteLength(name) > 55) throw new ServingError('CONFIG_INVALID', `--table '${name}' is longer than 55 bytes`);
  if (name.includes('\u0000')) throw new ServingError('CONFIG_INVALID', '--table must not contain NUL');
  if (name === RUNS_TABLE || name.endsWith('_rejects')) {
    throw new ServingError('CONFIG_INVALID', `--table '${name}' is reserved (slipway_runs and *_rejects are Slipway's own tables)`);
  }
  if (/^sqlite_/i.test(name)) throw new ServingError('CONFIG_INVALID', `--table '${name}': names starting with sqlite_ are reserved by SQLite`);
}

export function rejectsTable(table: string): string {
  return `${table}_rejects`;
}

export function runConflict(id: string, detail: string): ServingError {
  return new ServingError('RUN_CONFLICT', `run '${id}' ${detail}`);
}
