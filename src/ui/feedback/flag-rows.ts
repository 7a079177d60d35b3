import type { StoredFlag } from './feedback-store.js';

/** A flag as both stores select it: documents as JSON text, the time as ISO 8601 text. */
export interface FlagRow {
  id: number;
  created_at: string;
  model: string;
  model_version: string | null;
  api: string;
  label: string;
  expected: string | null;
  comment: string;
  latency_ms: number | null;
  input: string;
  output: string;
}

export function flagFromRow(row: FlagRow): StoredFlag {
  return {
    id: Number(row.id),
    createdAt: row.created_at,
    model: row.model,
    modelVersion: row.model_version,
    api: row.api as StoredFlag['api'],
    label: row.label as StoredFlag['label'],
    expected: row.expected,
    comment: row.comment,
    latencyMs: row.latency_ms,
    input: JSON.parse(row.input),
    output: JSON.parse(row.output),
  };
}
