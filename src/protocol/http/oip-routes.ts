import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { fullShape } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import type { Slipway } from '../../slipway.js';
import type { InferenceResponse } from '../../tensor/inference.js';
import { SLIPWAY_VERSION } from '../../version.js';
import { sendError } from './error-reply.js';
import { modelConfigJson } from './model-config-json.js';
import { JsonCodec } from './codec/json-codec.js';
import { parseJsonBody } from './oip-json.js';
import { acceptsBinaryOutput, binaryOutputSelector, decodeBinaryInferRequest, encodeBinaryInferResponse, HEADER_LENGTH_HEADER, DEFAULT_MAX_INFERENCE_HEADER_BYTES } from './binary-tensors.js';
import { registerStatsRoutes } from './stats-routes.js';
import { noteInference } from './request-context.js';
import { registerRepositoryRoutes } from './repository-routes.js';
import { registerTrafficRoutes } from './traffic-routes.js';
import type { AccessKeys } from '../access/access-keys.js';
import { httpRouting } from './http-routing.js';
import type { ReadyVersion } from '../../router/model-router.js';
import { rawRequestKey, type RawAnswer } from '../../scheduler/raw-answer-cache.js';

export interface OipRoutesOptions {
  slipway: Slipway;
  /** Largest request body accepted, in bytes (413 beyond). Default 128 MiB: real image tensors as JSON are big. */
  bodyLimitBytes?: number;
  /** Where JSON is decoded and encoded by size; one with default thresholds is made (and closed with the app) when absent. */
  codec?: JsonCodec;
  /** Enables repository load/unload for callers sending `Authorization: Bearer <token>` (403 without one configured). */
  adminToken?: string;
  /** Largest JSON header of a binary-tensor request (413 beyond); default 1 MiB. */
  maxInferenceHeaderBytes?: number;
  /** The server's keys: their admin keys open repository load/unload and traffic changes (wins over adminToken). */
  access?: AccessKeys;
}

export const DEFAULT_BODY_LIMIT_BYTES = 128 * 1024 * 1024;

/** Extensions of the protocol this server implements (reported by `GET /v2`). */
export const EXTENSIONS = ['model_configuration', 'statistics', 'binary_tensor_data', 'model_repository'];

type ModelParams = { model: string; version?: string };

interface RawLookup {
  key: string;
  target: ReadyVersion;
  hit: RawAnswer | undefined;
  lookupNs: number;
}

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
  const maxHeaderBytes = options.maxInferenceHeaderBytes ?? DEFAULT_MAX_INFERENCE_HEADER_BYTES;
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
    const { model } = request.params;
    // The path's version, else a tester's x-slipway-version; neither: the model's traffic policy decides.
    const { version, routingKey, requestId } = httpRouting(request, request.params.version);
    // Resolve first: an unknown model is a 404 whatever the body says.
    router.find(model, version);
    const headerLength = request.headers[HEADER_LENGTH_HEADER];
    const acceptsBinary = acceptsBinaryOutput(request.headers.accept);
    const raw = rawLookup(model, version, routingKey, headerLength, acceptsBinary, request.body);
    if (raw?.hit !== undefined) {
      const { hit, target } = raw;
      target.scheduler.stats.recordCacheHit(hit.batchSize, raw.lookupNs, raw.lookupNs);
      noteInference(request, { model, version: String(target.version), batchSize: hit.batchSize });
      // 'hit-bytes' tells a raw-bytes hit from a tensor-level one ('hit'); both match /cache;desc=hit/.
      reply.header('server-timing', 'queue;dur=0.000, compute;dur=0.000, cache;desc=hit-bytes');
      if (hit.headerLength !== undefined) reply.header(HEADER_LENGTH_HEADER, hit.headerLength);
      return reply.type(hit.contentType).send(hit.body);
    }
    const inferRequest =
      headerLength !== undefined
        ? decodeBinaryInferRequest(request.body, headerLength, model, version, maxHeaderBytes)
        : await codec.decode(request.body, model, version);
    if (routingKey !== undefined) inferRequest.routingKey = routingKey;
    inferRequest.requestId = requestId;
    const binaryOutput = binaryOutputSelector(inferRequest, acceptsBinary);
    const response = await router.infer(inferRequest);
    if (response.timing !== undefined) reply.header('server-timing', serverTiming(response.timing));
    noteInference(request, {
      model: response.model_name,
      version: response.model_version,
      ...(response.timing?.batchSize !== undefined && { batchSize: response.timing.batchSize }),
      ...(response.timing?.steps !== undefined && { steps: response.timing.steps }),
    });
    // Rows this request carried (not the dynamic batch it ran in), as the router counts them.
    const batchSize = raw !== undefined && raw.target.config.maxBatchSize > 0 ? (inferRequest.inputs[0]?.shape[0] ?? 1) : 1;
    if (binaryOutput !== undefined) {
      const { headerLength: length, body } = encodeBinaryInferResponse(response, binaryOutput);
      keepRaw(raw, model, response.model_version, { body, contentType: 'application/octet-stream', headerLength: length, batchSize });
      return reply.header(HEADER_LENGTH_HEADER, length).type('application/octet-stream').send(body);
    }
    const encoded = await codec.encode(response);
    if (raw !== undefined) keepRaw(raw, model, response.model_version, { body: typeof encoded === 'string' ? Buffer.from(encoded) : encoded, contentType: 'application/json; charset=utf-8', batchSize });
    return reply.type('application/json').send(encoded);
  };

  /**
   * The raw-bytes answer cache's lookup, before decoding: only for models with `response_cache`
   * (and `raw_body` not off) whose version is known without reading the body.
   */
  const rawLookup = (
    model: string,
    version: string | undefined,
    routingKey: string | undefined,
    headerLength: string | string[] | undefined,
    acceptsBinary: boolean,
    body: Buffer | undefined,
  ): RawLookup | undefined => {
    if (!slipway.rawAnswers.enabled || body === undefined || body.length === 0 || Array.isArray(headerLength)) return undefined;
    const startedMs = performance.now();
    const target = router.routeBeforeDecoding(model, version, routingKey);
    if (target === undefined || !target.config.responseCache || !target.config.responseCacheRawBody) return undefined;
    const key = rawRequestKey({ model, route: version ?? '', acceptsBinary, ...(headerLength !== undefined && { headerLength }) }, body);
    const hit = slipway.rawAnswers.get(key, target);
    return { key, target, hit, lookupNs: (performance.now() - startedMs) * 1e6 };
  };

  /** Keeps an encoded answer for byte-identical repeats, if the version that answered is the one looked up and still serves. */
  const keepRaw = (raw: RawLookup | undefined, model: string, answeredBy: string, answer: RawAnswer): void => {
    if (raw === undefined || answeredBy !== String(raw.target.version)) return;
    if (slipway.repository.get(model)?.versions.get(raw.target.version) !== raw.target) return;
    slipway.rawAnswers.set(raw.key, raw.target, answer);
  };
  app.post('/v2/models/:model/infer', infer);
  app.post('/v2/models/:model/versions/:version/infer', infer);

  registerStatsRoutes(app, slipway);
  registerRepositoryRoutes(app, slipway, options.access ?? options.adminToken);
  registerTrafficRoutes(app, slipway, options.access ?? options.adminToken);

  app.post('/v2/repository/index', async (request: FastifyRequest<{ Body: Buffer | undefined }>) => {
    const body = request.body !== undefined && request.body.length > 0 ? parseJsonBody(request.body) : {};
    const readyOnly = typeof body === 'object' && body !== null && (body as { ready?: unknown }).ready === true;
    const rows = slipway.index();
    return readyOnly ? rows.filter((r) => r.state === 'READY') : rows;
  });
};

/**
 * `Server-Timing` (shown by browsers' devtools): queue and compute time, cache hits, batch size, and
 * for a graph each step's time (`step.<label>;dur=…`, `desc=error` on a Soft step that failed).
 */
function serverTiming(timing: NonNullable<InferenceResponse['timing']>): string {
  const ms = (ns: number) => (ns / 1e6).toFixed(3);
  const parts = [`queue;dur=${ms(timing.queueNs)}`, `compute;dur=${ms(timing.computeNs)}`];
  if (timing.cacheHit === true) parts.push('cache;desc=hit');
  if (timing.batchSize !== undefined) parts.push(`batch;desc=${timing.batchSize}`);
  for (const step of timing.steps ?? []) parts.push(`step.${step.label};dur=${ms(step.ns)}${step.outcome === 'error' ? ';desc=error' : ''}`);
  return parts.join(', ');
}

/** Registers the 404 reply for unknown routes in OIP error form (the host app keeps its own when mounting). */
export function setOipNotFound(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendError(new ServingError('ROUTE_NOT_FOUND', `no route for ${request.method} ${request.url}`), request, reply),
  );
}
