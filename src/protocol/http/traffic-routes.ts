import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Slipway } from '../../slipway.js';
import { AdminGuard } from '../admin-token.js';
import type { AccessKeys } from '../access/access-keys.js';
import { parseJsonBody } from './oip-json.js';
import { checkBody, rolloutActionRequestSchema, rolloutStartRequestSchema, trafficRequestSchema } from './openapi/schemas.js';

type ModelRequest = FastifyRequest<{ Params: { model: string }; Body: Buffer | undefined }>;

/** A body that may be absent (an action with nothing to say) or a JSON object. */
function optionalBody(body: Buffer | undefined): unknown {
  return body === undefined || body.length === 0 ? {} : parseJsonBody(body);
}

/**
 * The traffic and rollout admin API. Reading is open (the UI shows it); changing needs the admin
 * token, as repository load/unload does:
 *
 * - `GET /v2/models/{m}/traffic`, `PUT` (weights, stable, shadow), `DELETE` (back to config.yaml);
 * - `GET /v2/models/{m}/rollout`, `POST` (start a canary), `POST …/rollout/rollback`, `POST …/rollout/promote`.
 *
 * @example
 * curl -X POST localhost:8000/v2/models/digits/rollout -H "Authorization: Bearer $TOKEN" -d '{"to": 2, "interval": "1m"}'
 */
export function registerTrafficRoutes(app: FastifyInstance, slipway: Slipway, adminToken: string | AccessKeys | undefined): void {
  const guard = new AdminGuard(adminToken);
  const rollouts = slipway.rollouts;
  const traffic = (model: string) => {
    const status = rollouts.status(model);
    return { model, revision: status.revision, traffic: status.traffic };
  };

  app.get('/v2/models/:model/traffic', async (request: ModelRequest) => traffic(request.params.model));

  app.put('/v2/models/:model/traffic', async (request: ModelRequest) => {
    guard.check(request.headers);
    await rollouts.setTraffic(request.params.model, checkBody(trafficRequestSchema, parseJsonBody(request.body), 'traffic'));
    return traffic(request.params.model);
  });

  app.delete('/v2/models/:model/traffic', async (request: ModelRequest) => {
    guard.check(request.headers);
    await rollouts.clearTraffic(request.params.model);
    return traffic(request.params.model);
  });

  app.get('/v2/models/:model/rollout', async (request: ModelRequest) => rollouts.status(request.params.model));

  app.post('/v2/models/:model/rollout', async (request: ModelRequest, reply) => {
    guard.check(request.headers);
    const config = checkBody(rolloutStartRequestSchema, parseJsonBody(request.body), 'rollout');
    return reply.code(201).send(await rollouts.start(request.params.model, config));
  });

  app.post('/v2/models/:model/rollout/rollback', async (request: ModelRequest) => {
    guard.check(request.headers);
    const { reason } = checkBody(rolloutActionRequestSchema, optionalBody(request.body), 'rollback');
    return rollouts.rollback(request.params.model, reason);
  });

  app.post('/v2/models/:model/rollout/promote', async (request: ModelRequest) => {
    guard.check(request.headers);
    const { reason } = checkBody(rolloutActionRequestSchema, optionalBody(request.body), 'promote');
    return rollouts.promote(request.params.model, reason);
  });
}
