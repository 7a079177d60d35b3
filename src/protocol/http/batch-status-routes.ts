import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { parseDuration } from '../../config/duration.js';
import type { BatchStore } from '../../batch/sinks/batch-store.js';
import { openStore } from '../../batch/sinks/open-store.js';
import { tableHealth } from '../../batch/staleness.js';
import { ServingError, isServingError } from '../../errors/serving-error.js';
import type { Metrics } from '../../observability/metrics.js';
import { sendError } from './error-reply.js';

export interface BatchStatusRoutesOptions {
  /** The batch database the jobs write: `sqlite:PATH` or `postgres://…` (`slipway serve --batch-db`). */
  url: string;
  /** Where to export each table's newest successful run (`slipway_batch_last_success_timestamp_seconds`). */
  metrics?: Metrics;
}

/**
 * Batch predictions as the running server sees them:
 *
 * - `GET /v2/batch/status[?table=T][&max_age=2h]`: per table, the age of its newest successful run
 *   and how its last run ended. With `max_age`, the answer is 503 when any table is stale or its last
 *   run failed, so an HTTP probe can alert on it.
 * - `GET /v1/batch/{table}/{key}`: the newest stored prediction for one key, with its model version
 *   and age (the lecture's "fast to retrieve": no model runs).
 *
 * The database is opened on first use (read-only for SQLite), so the server starts before the first job has run.
 *
 * @example
 * const app = createHttpServer(slipway);
 * await app.register(batchStatusRoutes, { url: 'sqlite:./predictions.db' });
 */
export const batchStatusRoutes: FastifyPluginAsync<BatchStatusRoutesOptions> = async (app, options) => {
  let store: BatchStore | undefined;
  let opening: Promise<BatchStore> | undefined;
  const getStore = async (): Promise<BatchStore> => {
    if (store !== undefined) return store;
    opening ??= openStore(options.url, { readonly: true }).then(
      (opened) => (store = opened),
      (error: unknown) => {
        opening = undefined;
        throw new ServingError(
          'DATABASE_UNAVAILABLE',
          `the batch database is not available yet (${isServingError(error) ? error.message : String(error)}); it appears once a batch job has written to it`,
        );
      },
    );
    return opening;
  };
  app.addHook('onClose', async () => {
    await store?.close();
  });
  // Read at scrape time, so the staleness alert (deploy/monitoring) sees what `batch status` sees.
  options.metrics?.setBatchRunSource(async () =>
    (await tableHealth(await getStore())).flatMap((h) =>
      h.last_success?.finished_at ? [{ table: h.table, finishedAt: new Date(h.last_success.finished_at) }] : [],
    ),
  );
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));

  app.get('/v2/batch/status', async (request: FastifyRequest<{ Querystring: { table?: string; max_age?: string } }>, reply: FastifyReply) => {
    const { table, max_age: maxAge } = request.query;
    let maxAgeMs: number | undefined;
    if (maxAge !== undefined) {
      maxAgeMs = parseDuration(maxAge);
      if (maxAgeMs === undefined) throw new ServingError('MALFORMED_REQUEST', `max_age '${maxAge}': expected a duration such as 30m, 2h or 1d`);
    }
    const now = Date.now();
    const health = await tableHealth(await getStore(), { ...(table !== undefined && { table }), ...(maxAgeMs !== undefined && { maxAgeMs }), now });
    if (table !== undefined && health.length === 0) throw new ServingError('TABLE_NOT_FOUND', `no batch job has written a table named '${table}'`);
    const healthy = health.every((h) => h.state === 'ok') && health.length > 0;
    const body = { now: new Date(now).toISOString(), ...(maxAge !== undefined && { max_age_seconds: Math.round(maxAgeMs! / 1000), healthy }), tables: health };
    return reply.code(maxAge !== undefined && !healthy ? 503 : 200).send(body);
  });

  app.get('/v1/batch/:table/:key', async (request: FastifyRequest<{ Params: { table: string; key: string } }>) => {
    const { table, key } = request.params;
    const found = await (await getStore()).lookup(table, key);
    if (found === undefined) throw new ServingError('PREDICTION_NOT_FOUND', `table '${table}' has no prediction for key '${key}'`);
    return {
      table,
      key: found.key,
      prediction: found.columns,
      model_version: found.modelVersion,
      run_id: found.runId,
      run_status: found.runStatus ?? null,
      predicted_at: found.predictedAt.toISOString(),
      age_seconds: Math.max(0, Math.round((Date.now() - found.predictedAt.getTime()) / 1000)),
    };
  });
};
