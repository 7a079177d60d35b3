import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServingError } from '../../errors/serving-error.js';
import type { Slipway } from '../../slipway.js';
import { AdminGuard } from '../admin-token.js';
import type { AccessKeys } from '../access/access-keys.js';
import { parseJsonBody } from './oip-json.js';
import { checkBody, repositoryLoadRequestSchema } from './openapi/schemas.js';

type LoadRequest = FastifyRequest<{ Params: { model: string }; Body: Buffer | undefined }>;

/** The optional `{"parameters": {...}}` body of load and unload, checked and returned. */
function repositoryParameters(body: Buffer | undefined): Record<string, unknown> {
  if (body === undefined || body.length === 0) return {};
  return checkBody(repositoryLoadRequestSchema, parseJsonBody(body), 'request body').parameters ?? {};
}

/**
 * Triton's model repository extension: `POST /v2/repository/models/{m}/load` loads a model dropped
 * into a repository folder (or reloads a served one) and `/unload` unloads one without dropping its
 * requests. They change what the server serves, so they answer 403 unless an admin token is
 * configured, and 401 unless the caller sends it as `Authorization: Bearer <token>`.
 */
export function registerRepositoryRoutes(app: FastifyInstance, slipway: Slipway, adminToken: string | AccessKeys | undefined): void {
  const guard = new AdminGuard(adminToken);

  app.post('/v2/repository/models/:model/load', async (request: LoadRequest) => {
    guard.check(request.headers);
    const overrides = Object.keys(repositoryParameters(request.body));
    if (overrides.length > 0) {
      throw new ServingError(
        'NOT_IMPLEMENTED',
        `load parameters (${overrides.join(', ')}) are not supported: Slipway loads '${request.params.model}' from its repository folder; copy the files there, then load`,
      );
    }
    await slipway.loadModel(request.params.model);
    return {};
  });

  app.post('/v2/repository/models/:model/unload', async (request: LoadRequest) => {
    guard.check(request.headers);
    const parameters = repositoryParameters(request.body);
    const unknown = Object.keys(parameters).filter((k) => k !== 'unload_dependents');
    if (unknown.length > 0) throw new ServingError('INVALID_INPUT', `unknown unload parameters: ${unknown.join(', ')} (only unload_dependents)`);
    await slipway.unloadModel(request.params.model);
    return {};
  });
}
