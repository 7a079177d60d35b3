import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ModelStatsSnapshot } from '../../scheduler/model-stats.js';
import type { Slipway } from '../../slipway.js';

type Params = { model?: string; version?: string };

/**
 * Triton's statistics extension: `GET /v2/models/stats`, `/v2/models/{m}/stats` and
 * `/v2/models/{m}/versions/{v}/stats`, each answering `{"model_stats": [...]}`.
 */
export function registerStatsRoutes(app: FastifyInstance, slipway: Slipway): void {
  const stats = async (request: FastifyRequest<{ Params: Params }>) => {
    const { model, version } = request.params;
    const rows: ModelStatsSnapshot[] = [];
    const models = model === undefined ? slipway.repository.names() : [slipway.router.find(model, version).model];
    for (const name of models) {
      const versions = [...(slipway.repository.get(name)?.versions.values() ?? [])];
      for (const v of versions) {
        if (version !== undefined && String(v.version) !== version) continue;
        if (v.scheduler !== undefined) rows.push(v.scheduler.stats.snapshot());
      }
    }
    return { model_stats: rows };
  };
  app.get('/v2/models/stats', stats);
  app.get('/v2/models/:model/stats', stats);
  app.get('/v2/models/:model/versions/:version/stats', stats);
}
