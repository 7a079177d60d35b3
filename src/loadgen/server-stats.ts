import { request } from 'undici';

interface Stat {
  count: number;
  ns: number;
}
interface StatsRow {
  inference_count: number;
  execution_count: number;
  inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output' | 'cache_hit', Stat>;
}

/** The server's side of a run, from the difference of two statistics snapshots (per request, µs). */
export interface ServerSplit {
  requests: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
  cacheHits: number;
  /** Rows per model execution: how much the dynamic batcher grouped. */
  avgBatchRows: number;
}

export async function fetchStats(url: string, model: string, version?: string): Promise<StatsRow | undefined> {
  const path = `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}/stats`;
  const response = await request(`${url}${path}`);
  if (response.statusCode !== 200) {
    await response.body.dump();
    return undefined;
  }
  const body = (await response.body.json()) as { model_stats?: StatsRow[] };
  const rows = body.model_stats ?? [];
  // Unversioned: sum over the versions the server reports (normally the one serving).
  if (rows.length === 0) return undefined;
  return rows.reduce((sum, row) => ({
    inference_count: sum.inference_count + row.inference_count,
    execution_count: sum.execution_count + row.execution_count,
    inference_stats: Object.fromEntries(
      Object.entries(sum.inference_stats).map(([k, v]) => {
        const other = row.inference_stats[k as keyof StatsRow['inference_stats']];
        return [k, { count: v.count + other.count, ns: v.ns + other.ns }];
      }),
    ) as StatsRow['inference_stats'],
  }));
}

export function splitBetween(before: StatsRow | undefined, after: StatsRow | undefined): ServerSplit | undefined {
  if (before === undefined || after === undefined) return undefined;
  const d = (k: keyof StatsRow['inference_stats']): Stat => ({
    count: after.inference_stats[k].count - before.inference_stats[k].count,
    ns: after.inference_stats[k].ns - before.inference_stats[k].ns,
  });
  const per = (s: Stat): number => (s.count === 0 ? 0 : s.ns / s.count / 1000);
  const executions = after.execution_count - before.execution_count;
  const rows = after.inference_count - before.inference_count - d('cache_hit').count;
  return {
    requests: d('success').count,
    queueUs: per(d('queue')),
    computeInputUs: per(d('compute_input')),
    computeInferUs: per(d('compute_infer')),
    computeOutputUs: per(d('compute_output')),
    cacheHits: d('cache_hit').count,
    avgBatchRows: executions === 0 ? 0 : rows / executions,
  };
}
