import { LEASE_MS, type BatchStore, type RunRecord } from './sinks/batch-store.js';

/** `ok`: fresh enough and the last run did not fail; `stale`: the newest success is too old (or there is none); `failed`: the last run failed or was interrupted. */
export type TableState = 'ok' | 'stale' | 'failed';

export interface RunBrief {
  id: string;
  /** `running` only while its owner is alive; a dead owner's run reads `interrupted`. */
  status: string;
  model: string;
  model_version: string;
  started_at: string;
  finished_at: string | null;
  rows_read: number;
  rows_predicted: number;
  rows_rejected: number;
  error: string | null;
}

export interface TableHealth {
  table: string;
  job: string;
  state: TableState;
  /** Seconds since the newest successful run finished; null when none ever did. */
  age_seconds: number | null;
  last_success: RunBrief | null;
  last_run: RunBrief;
  /** Why the table is not `ok`, for people. */
  problems: string[];
}

/** A run's status as monitoring should read it: a `running` run whose heartbeat stopped is `interrupted`. */
export function effectiveStatus(run: RunRecord, now: number): string {
  if (run.status === 'running' && now - run.heartbeatAt.getTime() > LEASE_MS) return 'interrupted';
  return run.status;
}

function brief(run: RunRecord, now: number): RunBrief {
  return {
    id: run.id,
    status: effectiveStatus(run, now),
    model: run.model,
    model_version: run.modelVersion,
    started_at: run.startedAt.toISOString(),
    finished_at: run.finishedAt?.toISOString() ?? null,
    rows_read: run.rowsRead,
    rows_predicted: run.rowsPredicted,
    rows_rejected: run.rowsRejected,
    error: run.error ?? null,
  };
}

/**
 * Judges each table: stale when its newest successful run finished longer than `maxAgeMs` ago (or
 * never), failed when its last run failed or was left interrupted. Without `maxAgeMs` only failures
 * count: the age is still reported.
 */
export function assessTables(
  rows: ReadonlyArray<{ table: string; last: RunRecord; lastSuccess: RunRecord | undefined }>,
  now: number,
  maxAgeMs: number | undefined,
): TableHealth[] {
  return rows.map(({ table, last, lastSuccess }) => {
    const problems: string[] = [];
    const lastBrief = brief(last, now);
    const age = lastSuccess?.finishedAt === undefined ? null : Math.max(0, Math.round((now - lastSuccess.finishedAt.getTime()) / 1000));
    let state: TableState = 'ok';
    if (lastBrief.status === 'failed' || lastBrief.status === 'interrupted') {
      state = 'failed';
      problems.push(`the last run (${last.id}) ${lastBrief.status === 'failed' ? `failed: ${last.error ?? 'no reason recorded'}` : 'was interrupted and has not been resumed'}`);
    }
    if (maxAgeMs !== undefined) {
      if (age === null) {
        problems.push('no run has succeeded yet');
        if (state === 'ok') state = 'stale';
      } else if (age * 1000 > maxAgeMs) {
        problems.push(`the newest successful run finished ${age} s ago, more than the allowed ${Math.round(maxAgeMs / 1000)} s`);
        if (state === 'ok') state = 'stale';
      }
    }
    return {
      table,
      job: last.job,
      state,
      age_seconds: age,
      last_success: lastSuccess === undefined ? null : brief(lastSuccess, now),
      last_run: lastBrief,
      problems,
    };
  });
}

/** Reads `slipway_runs` and judges every table (or just `table`). */
export async function tableHealth(store: BatchStore, options: { table?: string; maxAgeMs?: number; now?: number } = {}): Promise<TableHealth[]> {
  const rows = (await store.tableRuns()).filter((r) => options.table === undefined || r.table === options.table);
  return assessTables(rows, options.now ?? Date.now(), options.maxAgeMs);
}

/** `batch status` exit codes: 0 all ok, 1 stale (or nothing recorded), 3 a last run failed (wins over stale). */
export function statusExitCode(health: readonly TableHealth[]): 0 | 1 | 3 {
  if (health.some((h) => h.state === 'failed')) return 3;
  if (health.length === 0 || health.some((h) => h.state === 'stale')) return 1;
  return 0;
}
