import type { Checkpoint } from '../sources/row-source.js';
import type { ColumnSpec, RunRecord, RunStatus } from './batch-store.js';

/** The columns of `slipway_runs`, in order, shared by both stores so they stay alike. */
export const RUN_COLUMNS = [
  'id',
  'job',
  'table_name',
  'model',
  'model_version',
  'input',
  'key_column',
  'status',
  'started_at',
  'finished_at',
  'heartbeat_at',
  'rows_read',
  'rows_predicted',
  'rows_rejected',
  'error',
  'checkpoint',
  'fingerprint',
  'spec',
  'owner',
] as const;

type Time = Date | string | null;

/** A `slipway_runs` row as either driver returns it (SQLite: ISO strings, PostgreSQL: Dates, bigint as string). */
export interface RunRow {
  id: string;
  job: string;
  table_name: string;
  model: string;
  model_version: string;
  input: string;
  key_column: string;
  status: string;
  started_at: Time;
  finished_at: Time;
  heartbeat_at: Time;
  rows_read: number | string;
  rows_predicted: number | string;
  rows_rejected: number | string;
  error: string | null;
  checkpoint: string;
  fingerprint: string;
  spec: string;
  owner: string;
}

const toDate = (t: Time): Date | undefined => (t === null ? undefined : t instanceof Date ? t : new Date(t));

export function runFromRow(row: RunRow): RunRecord {
  return {
    id: row.id,
    job: row.job,
    table: row.table_name,
    model: row.model,
    modelVersion: row.model_version,
    input: row.input,
    keyColumn: row.key_column,
    status: row.status as RunStatus,
    startedAt: toDate(row.started_at)!,
    finishedAt: toDate(row.finished_at),
    heartbeatAt: toDate(row.heartbeat_at)!,
    rowsRead: Number(row.rows_read),
    rowsPredicted: Number(row.rows_predicted),
    rowsRejected: Number(row.rows_rejected),
    error: row.error ?? undefined,
    checkpoint: JSON.parse(row.checkpoint) as Checkpoint,
    fingerprint: row.fingerprint,
    spec: row.spec,
    owner: row.owner,
  };
}

/** Values in RUN_COLUMNS order; `time` renders dates the way the store keeps them. */
export function runToValues(run: RunRecord, time: (d: Date | undefined) => unknown): unknown[] {
  return [
    run.id,
    run.job,
    run.table,
    run.model,
    run.modelVersion,
    run.input,
    run.keyColumn,
    run.status,
    time(run.startedAt),
    time(run.finishedAt),
    time(run.heartbeatAt),
    run.rowsRead,
    run.rowsPredicted,
    run.rowsRejected,
    run.error ?? null,
    JSON.stringify(run.checkpoint),
    run.fingerprint,
    run.spec,
    run.owner,
  ];
}

/** Output columns a table lacks (added with ALTER TABLE) and columns whose type changed (an error). */
export function diffColumns(
  existing: ReadonlyMap<string, string>,
  wanted: readonly ColumnSpec[],
  sqlType: (c: ColumnSpec) => string,
): { missing: ColumnSpec[]; mismatched: string[] } {
  const missing: ColumnSpec[] = [];
  const mismatched: string[] = [];
  for (const column of wanted) {
    const have = existing.get(column.name);
    if (have === undefined) missing.push(column);
    else if (have.toLowerCase() !== sqlType(column).toLowerCase()) {
      mismatched.push(`'${column.name}' is ${have}, the mapping makes ${sqlType(column)}`);
    }
  }
  return { missing, mismatched };
}
