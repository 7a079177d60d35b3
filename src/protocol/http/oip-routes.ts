import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { fullShape } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import type { Slipway } from '../../slipway.js';
import { SLIPWAY_VERSION } from '../../version.js';
import { sendError } from './error-reply.js';
import { modelConfigJson } from './model-config-json.js';
import { JsonCodec } from './codec/json-codec.js';
import { parseJsonBody } from './oip-json.js';

export interface OipRoutesOptions {
  slipway: Slipway;
  /** Largest request body accepted, in bytes (413 beyond). Default 128 MiB: real image tensors as JSON are big. */
  bodyLimitBytes?: number;
  /** Where JSON is decoded and encoded by size; one with default thresholds is made (and closed with the app) when absent. */
  codec?: JsonCodec;
}

export const DEFAULT_BODY_LIMIT_BYTES = 128 * 1024 * 1024;

/** Extensions of the protocol this server implements (reported by `GET /v2`). */
export const EXTENSIONS = ['model_configuration'];

type ModelParams = { model: string; version?: string };

/**
 * The Open Inference Protocol (KServe v2) REST routes as a Fastify plugin. Registered on its own
 * Fastify instance by `createHttpServer`, or mounted on an existing app (model-in-service); its body
 * parsing and error replies are scoped to the plugin and leave the host app's untouched.
 *
 * @example
 * import Fastify from 'fastify';
 * import { Slipway, oipRoutes } from 'slipway';
 * const app = Fastify();
 * const slipway = await Slipway.open({ models: './models' });
 * await app.register(oipRoutes, { slipway, prefix: '/ml' }); // POST /ml/v2/models/digits/infer
 */
export const oipRoutes: FastifyPluginAsync<OipRoutesOptions> = async (app, options) => {
  const { slipway } = options;
  const router = slipway.router;
  const codec = options.codec ?? new JsonCodec();
  if (options.codec === undefined) app.addHook('onClose', () => codec.close());

  // Bodies are read raw and parsed by us: OIP clients do not all send a JSON content type (curl -d
  // sends form-urlencoded), and our parse errors name the problem.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));

  app.get('/v2/health/live', async () => ({ live: true }));

  app.get('/v2/health/ready', async (_request, reply) => {
    const reason = slipway.notReadyReason();
    if (reason === undefined) return { ready: true };
    return reply.code(503).send({ ready: false, error: reason });
  });

  app.get('/v2', async () => ({ name: 'slipway', version: SLIPWAY_VERSION, extensions: EXTENSIONS }));

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    const { model, version } = request.params;
    const target = router.resolve(model, version);
    const config = target.config;
    const versions =
      version !== undefined
        ? [String(target.version)]
        : [...slipway.repository.get(model)!.versions.values()].filter((v) => v.state === 'READY').map((v) => String(v.version));
    const tensor = (t: (typeof config.inputs)[number]) => ({ name: t.name, datatype: t.datatype, shape: fullShape(config, t) });
    return {
      name: model,
      versions,
      platform: config.platform,
      inputs: config.inputs.map(tensor),
      outputs: config.outputs.map(tensor),
    };
  };
  app.get('/v2/models/:model', metadata);
  app.get('/v2/models/:model/versions/:version', metadata);

  const ready = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { model, version } = request.params;
    const target = router.find(model, version);
    if (target.state === 'READY') return { name: model, ready: true };
    const reason = `model '${model}' version ${target.version} is ${target.state}${target.reason ? `: ${target.reason}` : ''}`;
    return reply.code(503).send({ name: model, ready: false, error: reason });
  };
  app.get('/v2/models/:model/ready', ready);
  app.get('/v2/models/:model/versions/:version/ready', ready);

  const config = async (request: FastifyRequest<{ Params: ModelParams }>) =>
    modelConfigJson(router.resolve(request.params.model, request.params.version).config);
  app.get('/v2/models/:model/config', config);
  app.get('/v2/models/:model/versions/:version/config', config);

  const infer = async (request: FastifyRequest<{ Params: ModelParams; Body: Buffer | undefined }>, reply: FastifyReply) => {
    if (request.headers['inference-header-content-length'] !== undefined) {
      throw new ServingError('NOT_IMPLEMENTED', 'binary tensor data (Inference-Header-Content-Length) is not supported yet; send JSON tensors');
    }
    const { model, version } = request.params;
    // Resolve first: an unknown model is a 404 whatever the body says.
    router.find(model, version);
    const inferRequest = await codec.decode(request.body, model, version);
    const response = await router.infer(inferRequest);
    if (response.timing !== undefined) {
      const ms = (ns: number) => (ns / 1e6).toFixed(3);
      reply.header('server-timing', `queue;dur=${ms(response.timing.queueNs)}, compute;dur=${ms(response.timing.computeNs)}`);
    }
    return reply.type('application/json').send(await codec.encode(response));
  };
  app.post('/v2/models/:model/infer', infer);
  app.post('/v2/models/:model/versions/:version/infer', infer);

  app.post('/v2/repository/index', async (request: FastifyRequest<{ Body: Buffer | undefined }>) => {
    const body = request.body !== undefined && request.body.length > 0 ? parseJsonBody(request.body) : {};
    const readyOnly = typeof body === 'object' && body !== null && (body as { ready?: unknown }).ready === true;
    const rows = slipway.index();
    return readyOnly ? rows.filter((r) => r.state === 'READY') : rows;
  });
};

/** Registers the 404 reply for unknown routes in OIP error form (the host app keeps its own when mounting). */
export function setOipNotFound(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendError(new ServingError('ROUTE_NOT_FOUND', `no route for ${request.method} ${request.url}`), request, reply),
  );
}
