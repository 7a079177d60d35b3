import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { SLIPWAY_VERSION } from '../../../version.js';
import {
  azureScoreRequestSchema,
  errorSchema,
  inferRequestSchema,
  inferResponseSchema,
  liveSchema,
  modelConfigSchema,
  modelMetadataSchema,
  modelReadySchema,
  readySchema,
  repositoryIndexRequestSchema,
  repositoryIndexResponseSchema,
  repositoryLoadRequestSchema,
  rolloutActionRequestSchema,
  rolloutStartRequestSchema,
  rolloutStatusSchema,
  serverMetadataSchema,
  trafficRequestSchema,
  trafficResponseSchema,
  tfPredictRequestSchema,
  tfPredictResponseSchema,
  tfStatusSchema,
} from './schemas.js';

type Method = 'get' | 'post' | 'put' | 'delete';

/** One documented route: the path in OpenAPI form (`{model}`), its bodies and statuses. */
export interface RouteDoc {
  method: Method;
  path: string;
  tag: string;
  summary: string;
  request?: z.ZodType;
  /** Content types the body may have besides JSON (binary tensors, CSV, raw bytes). */
  requestTypes?: string[];
  response?: z.ZodType;
  /** The success body is not JSON (text, CSV) or is empty. */
  responseType?: string;
  /** Error statuses worth listing (every route may also answer 500). */
  errors?: number[];
  admin?: boolean;
  /** Whether the body is required (default: for POSTs that are not admin actions). */
  bodyRequired?: boolean;
}

/** Every HTTP route the server registers, documented. A test checks this list against the server's routes. */
export const ROUTES: readonly RouteDoc[] = [
  { method: 'get', path: '/v2/health/live', tag: 'OIP', summary: 'Server liveness', response: liveSchema },
  { method: 'get', path: '/v2/health/ready', tag: 'OIP', summary: 'Server readiness (503 while loading or draining)', response: readySchema, errors: [503] },
  { method: 'get', path: '/v2', tag: 'OIP', summary: 'Server metadata and extensions', response: serverMetadataSchema },
  { method: 'get', path: '/v2/models/{model}', tag: 'OIP', summary: 'Model metadata', response: modelMetadataSchema, errors: [404, 503] },
  { method: 'get', path: '/v2/models/{model}/versions/{version}', tag: 'OIP', summary: 'Model version metadata', response: modelMetadataSchema, errors: [404, 503] },
  { method: 'get', path: '/v2/models/{model}/ready', tag: 'OIP', summary: 'Model readiness', response: modelReadySchema, errors: [404, 503] },
  { method: 'get', path: '/v2/models/{model}/versions/{version}/ready', tag: 'OIP', summary: 'Model version readiness', response: modelReadySchema, errors: [404, 503] },
  { method: 'get', path: '/v2/models/{model}/config', tag: 'OIP', summary: 'Model configuration (Triton JSON)', response: modelConfigSchema, errors: [404, 503] },
  { method: 'get', path: '/v2/models/{model}/versions/{version}/config', tag: 'OIP', summary: 'Model version configuration', response: modelConfigSchema, errors: [404, 503] },
  ...(['/v2/models/{model}/infer', '/v2/models/{model}/versions/{version}/infer'] as const).map(
    (path): RouteDoc => ({
      method: 'post',
      path,
      tag: 'OIP',
      summary:
        'Inference. JSON tensors, or binary tensor data: send Inference-Header-Content-Length with the JSON header length, then each binary input\'s little-endian bytes (BYTES: 4-byte length + bytes per element).',
      request: inferRequestSchema,
      requestTypes: ['application/octet-stream'],
      response: inferResponseSchema,
      errors: [400, 404, 413, 429, 503, 504],
    }),
  ),
  { method: 'get', path: '/v2/models/stats', tag: 'OIP', summary: 'Inference statistics of every model (Triton statistics extension)', errors: [] },
  { method: 'get', path: '/v2/models/{model}/stats', tag: 'OIP', summary: 'Inference statistics of a model', errors: [404] },
  { method: 'get', path: '/v2/models/{model}/versions/{version}/stats', tag: 'OIP', summary: 'Inference statistics of a model version', errors: [404] },
  { method: 'post', path: '/v2/repository/index', tag: 'Repository', summary: 'Every model and version with its state', request: repositoryIndexRequestSchema, response: repositoryIndexResponseSchema },
  { method: 'post', path: '/v2/repository/models/{model}/load', tag: 'Repository', summary: 'Load or reload a model from the repository folder (admin token)', request: repositoryLoadRequestSchema, errors: [400, 401, 403, 404], admin: true },
  { method: 'post', path: '/v2/repository/models/{model}/unload', tag: 'Repository', summary: 'Unload a model; running and queued requests finish (admin token)', request: repositoryLoadRequestSchema, errors: [401, 403, 404], admin: true },
  { method: 'get', path: '/v2/models/{model}/traffic', tag: 'Traffic', summary: "The model's traffic policy: each version's weight and the share of requests it gets now, the stable version, shadow traffic", response: trafficResponseSchema, errors: [404] },
  {
    method: 'put',
    path: '/v2/models/{model}/traffic',
    tag: 'Traffic',
    summary: 'Set the weights of READY versions (requests naming no version split by them; x-slipway-key / routing_key keeps a key on one version), the stable version and shadow traffic (admin token). Refused while a rollout runs.',
    request: trafficRequestSchema,
    response: trafficResponseSchema,
    errors: [400, 401, 403, 404, 409, 503],
    admin: true,
    bodyRequired: true,
  },
  { method: 'delete', path: '/v2/models/{model}/traffic', tag: 'Traffic', summary: "Forget the policy set here: config.yaml's traffic applies again, or the newest READY version (admin token)", response: trafficResponseSchema, errors: [401, 403, 404, 409], admin: true },
  { method: 'get', path: '/v2/models/{model}/rollout', tag: 'Traffic', summary: 'The current (or last) rollout: state, step, weights, every decision with its analysis, and earlier rollouts', response: rolloutStatusSchema, errors: [404] },
  {
    method: 'post',
    path: '/v2/models/{model}/rollout',
    tag: 'Traffic',
    summary:
      'Start a canary rollout of version `to` (admin token): steps (default 10→25→50→100%), each judged after `interval` on error rate, p99 ratio (with a Mann-Whitney U test) and shadow agreement; a breach rolls back at once, too few requests waits up to step_deadline. 201 with the status.',
    request: rolloutStartRequestSchema,
    response: rolloutStatusSchema,
    errors: [400, 401, 403, 404, 409, 503],
    admin: true,
    bodyRequired: true,
  },
  { method: 'post', path: '/v2/models/{model}/rollout/rollback', tag: 'Traffic', summary: 'Every request to the stable version now; a rollout in progress ends rolled back, its candidate stays loaded (admin token)', request: rolloutActionRequestSchema, response: rolloutStatusSchema, errors: [401, 403, 404, 503], admin: true },
  { method: 'post', path: '/v2/models/{model}/rollout/promote', tag: 'Traffic', summary: 'End the rollout in progress by giving its candidate every request now (admin token)', request: rolloutActionRequestSchema, response: rolloutStatusSchema, errors: [401, 403, 404, 503], admin: true },
  { method: 'post', path: '/v1/models/{model}:predict', tag: 'TF Serving / Vertex AI', summary: 'TF Serving predict: row "instances" or columnar "inputs"', request: tfPredictRequestSchema, response: tfPredictResponseSchema, errors: [400, 404, 503] },
  { method: 'post', path: '/v1/models/{model}/versions/{version}:predict', tag: 'TF Serving / Vertex AI', summary: 'TF Serving predict on a version', request: tfPredictRequestSchema, response: tfPredictResponseSchema, errors: [400, 404, 503] },
  { method: 'get', path: '/v1/models/{model}', tag: 'TF Serving / Vertex AI', summary: 'TF Serving model status', response: tfStatusSchema, errors: [404] },
  { method: 'get', path: '/v1/models/{model}/versions/{version}', tag: 'TF Serving / Vertex AI', summary: 'TF Serving model version status', response: tfStatusSchema, errors: [404] },
  { method: 'get', path: '/v1/models/{model}/metadata', tag: 'TF Serving / Vertex AI', summary: 'TF Serving signature metadata', errors: [404] },
  { method: 'get', path: '/ping', tag: 'SageMaker', summary: 'SageMaker health check (200 once ready)', responseType: 'none', errors: [503] },
  { method: 'get', path: '/execution-parameters', tag: 'SageMaker', summary: 'SageMaker batch transform parameters' },
  {
    method: 'post',
    path: '/invocations',
    tag: 'SageMaker',
    summary:
      'SageMaker inference: JSON (OIP, TF Serving instances/inputs or a list of rows), text/csv (one row per line), application/octet-stream (raw little-endian input; X-Slipway-Shape), or application/vnd.sagemaker-triton.binary+json. The model: X-Amzn-SageMaker-Target-Model or X-Slipway-Model, else the default.',
    request: tfPredictRequestSchema,
    requestTypes: ['text/csv', 'application/octet-stream', 'application/vnd.sagemaker-triton.binary+json'],
    response: tfPredictResponseSchema,
    errors: [400, 404, 503],
  },
  { method: 'get', path: '/', tag: 'Azure ML', summary: 'Azure inference server liveness ("Healthy")', responseType: 'text/plain' },
  { method: 'post', path: '/score', tag: 'Azure ML', summary: 'Azure ML scoring: {"data": …} or {"input_data": …}; the model: X-Slipway-Model or ?model=, else the default', request: azureScoreRequestSchema, errors: [400, 404, 503] },
  { method: 'get', path: '/api/models', tag: 'Handlers', summary: 'Every model: its kind (graph, or pipeline: a handler with no graph), state and handler state' },
  { method: 'get', path: '/api/models/{model}', tag: 'Handlers', summary: "A model and its handler: the handler's input and output JSON Schemas, content types and limits", errors: [404] },
  {
    method: 'post',
    path: '/api/models/{model}/predict',
    tag: 'Handlers',
    summary:
      "Predict through the model's handler: a JSON body, multipart fields (files as parts), or a raw upload (image/*, application/octet-stream) for a handler with one file field. The body is the handler's input schema (GET /api/models/{model}); 500 is a handler that threw, 504 one past handler.timeout_ms.",
    requestTypes: ['multipart/form-data', 'image/*', 'application/octet-stream'],
    errors: [400, 404, 413, 429, 503, 504],
  },
  { method: 'get', path: '/openapi.json', tag: 'Docs', summary: 'This document' },
  { method: 'get', path: '/docs', tag: 'Docs', summary: 'Interactive documentation (Swagger UI)', responseType: 'text/html' },
  { method: 'get', path: '/docs/{asset}', tag: 'Docs', summary: "Swagger UI's script and style sheet", responseType: 'text/plain' },
];

/** One served handler, so the docs' "Try it out" for `POST /api/models/{model}/predict` has its form and a body that works. */
export interface HandlerRouteDoc {
  model: string;
  /** The handler's input JSON Schema (GET /api/models/{model}). */
  inputSchema: Record<string, unknown>;
  /** Its file fields: multipart file parts. */
  fileFields: readonly string[];
  /** A JSON body the handler accepts (files as data: URLs), e.g. made from one of its examples. */
  example?: Record<string, unknown>;
}

const PREDICT_PATH = '/api/models/{model}/predict';

/** What a multipart form part can be described as in OpenAPI 3.0 (the schema's plain keywords). */
function formField(schema: Record<string, unknown>, isFile: boolean): Record<string, unknown> {
  if (isFile) return { type: 'string', format: 'binary', ...(schema.description !== undefined && { description: schema.description }) };
  const kept = ['type', 'description', 'default', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength'];
  const field = Object.fromEntries(Object.entries(schema).filter(([k]) => kept.includes(k)));
  // Lists and objects go as a JSON text part (the server reads it as JSON).
  if (field.type === 'array' || field.type === 'object' || field.type === undefined) return { type: 'string', description: `JSON${schema.description ? `: ${String(schema.description)}` : ''}` };
  return field;
}

/**
 * The predict route's request body and model parameter for the handlers served: the multipart
 * form lists every part by name (files as binary), the JSON body has each handler's example, and
 * the model parameter defaults to the first handler.
 */
function handlerRequest(handlers: readonly HandlerRouteDoc[]): { parameters: object[]; requestBody: object } {
  const properties: Record<string, Record<string, unknown>> = {};
  for (const handler of handlers) {
    const fields = (handler.inputSchema.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, schema] of Object.entries(fields)) {
      const { default: preset, ...field } = formField(schema, handler.fileFields.includes(name));
      const users = handlers.filter((h) => name in ((h.inputSchema.properties ?? {}) as object)).map((h) => h.model);
      const shared = users.length === handlers.length;
      // A default fills the form in, and the form is sent whole: only where every handler takes the field.
      properties[name] ??= {
        ...field,
        ...(shared && preset !== undefined && { default: preset }),
        description: `${String(field.description ?? name)}${shared ? '' : ` (${users.join(', ')}${preset === undefined ? '' : `; default ${JSON.stringify(preset)}`})`}`,
      };
    }
  }
  const examples = Object.fromEntries(handlers.filter((h) => h.example !== undefined).map((h) => [h.model, { summary: `${h.model}: its first example`, value: h.example }]));
  const first = handlers[0]!;
  return {
    parameters: [
      {
        name: 'model',
        in: 'path',
        required: true,
        description: `a model with a handler: ${handlers.map((h) => h.model).join(', ')}`,
        schema: { type: 'string', default: first.model },
        examples: Object.fromEntries(handlers.map((h) => [h.model, { value: h.model }])),
      },
    ],
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: { type: 'object', description: "the model's handler input schema (GET /api/models/{model}); files as base64 or data: URLs" },
          ...(Object.keys(examples).length > 0 && { examples }),
        },
        'multipart/form-data': { schema: { type: 'object', properties } },
        'image/*': { schema: { type: 'string', format: 'binary' } },
        'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      },
    },
  };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request: the message names the field, tensor or column',
  401: 'Missing or wrong admin token',
  403: 'Changes are disabled (no admin token configured)',
  409: 'A rollout of this model is already in progress',
  404: 'Unknown model, version or route',
  413: 'Body over the server limit',
  429: 'Queue full; retry after Retry-After',
  503: 'Not ready (loading, unloading or draining)',
  504: 'Request timed out in the queue',
};

function parametersOf(path: string): object[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
}

/**
 * The OpenAPI 3 document for every HTTP route, generated from the zod schemas the routes validate
 * with. `extraRoutes` documents routes an embedding app adds (Vertex's configured routes);
 * `handlers` fills in the handler route's forms for the handlers served.
 */
export function openApiDocument(extraRoutes: readonly RouteDoc[] = [], handlers: readonly HandlerRouteDoc[] = []): Record<string, unknown> {
  const schemaOf = (schema: z.ZodType): object => z.toJSONSchema(schema, { target: 'openapi-3.0', unrepresentable: 'any', io: 'input' });
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...ROUTES, ...extraRoutes]) {
    const responses: Record<string, unknown> = {
      200: {
        description: 'OK',
        ...(route.responseType === 'none'
          ? {}
          : route.responseType !== undefined
            ? { content: { [route.responseType]: { schema: { type: 'string' } } } }
            : { content: { 'application/json': { schema: route.response ? schemaOf(route.response) : { type: 'object' } } } }),
      },
    };
    for (const status of route.errors ?? []) {
      responses[status] = { description: STATUS_TEXT[status] ?? 'Error', content: { 'application/json': { schema: schemaOf(errorSchema) } } };
    }
    const operation: Record<string, unknown> = {
      tags: [route.tag],
      summary: route.summary,
      operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      parameters: parametersOf(route.path),
      responses,
    };
    if (route.request !== undefined || route.requestTypes !== undefined) {
      const content: Record<string, unknown> = { 'application/json': { schema: route.request ? schemaOf(route.request) : { type: 'object' } } };
      for (const type of route.requestTypes ?? []) content[type] = { schema: { type: 'string', format: 'binary' } };
      operation.requestBody = { required: route.bodyRequired ?? (route.method === 'post' && !route.admin && route.path !== '/v2/repository/index'), content };
    }
    if (route.path === PREDICT_PATH && handlers.length > 0) Object.assign(operation, handlerRequest(handlers));
    if (route.admin) operation.security = [{ adminToken: [] }];
    (paths[route.path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Slipway',
      version: SLIPWAY_VERSION,
      description:
        'Open Inference Protocol (KServe v2) REST with Triton\'s binary tensor data, statistics and model repository extensions, plus the TF Serving / Vertex AI, SageMaker and Azure ML dialects. The same models answer over gRPC (proto/grpc_predict_v2.proto).',
    },
    tags: [...new Set([...ROUTES, ...extraRoutes].map((r) => r.tag))].map((name) => ({ name })),
    paths,
    // Keys are needed only where the server is started with them (see the README's Access control): optional here.
    security: [{}, { apiKey: [] }, { apiKeyHeader: [] }],
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: '--admin-token / SLIPWAY_ADMIN_TOKEN' },
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key: --api-key, --ui-key or a keys file (needed for inference when keys are configured, for feedback reads beyond loopback)' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'the same API key in x-api-key' },
      },
    },
  };
}

const require = createRequire(import.meta.url);

/** Swagger UI's files, served from the swagger-ui-dist package (no CDN: works offline). */
function swaggerDir(): string {
  return dirname(require.resolve('swagger-ui-dist/package.json'));
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Slipway API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#ui', deepLinking: true, tryItOutEnabled: true });
</script>
</body>
</html>
`;

export interface OpenApiRoutesOptions {
  extraRoutes?: readonly RouteDoc[];
  /** The handlers served now (asked at every request: handlers load and reload). */
  handlers?: () => Promise<readonly HandlerRouteDoc[]>;
}

/**
 * `GET /openapi.json` (the document) and `GET /docs` (Swagger UI on it, served locally).
 *
 * @example
 * await app.register(openApiRoutes, {});
 */
export const openApiRoutes: FastifyPluginAsync<OpenApiRoutesOptions> = async (app, options) => {
  const fixed = JSON.stringify(openApiDocument(options.extraRoutes));
  app.get('/openapi.json', async (_request, reply) => {
    const handlers = (await options.handlers?.()) ?? [];
    return reply.type('application/json').send(handlers.length === 0 ? fixed : JSON.stringify(openApiDocument(options.extraRoutes, handlers)));
  });
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DOCS_HTML));
  const assets: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'application/javascript' };
  app.get('/docs/:asset', async (request, reply) => {
    const { asset } = request.params as { asset: string };
    const type = assets[asset];
    if (type === undefined) return reply.code(404).type('application/json').send({ error: `no docs asset '${asset}'`, code: 'ROUTE_NOT_FOUND' });
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(await readFile(join(swaggerDir(), asset)));
  });
};

/** Documentation of Vertex AI's configured routes, which exist only when AIP_* is set. */
export function vertexRouteDocs(predictRoute: string | undefined, healthRoute: string | undefined): RouteDoc[] {
  const docs: RouteDoc[] = [];
  if (predictRoute !== undefined) {
    docs.push({ method: 'post', path: predictRoute, tag: 'TF Serving / Vertex AI', summary: 'Vertex AI predict (AIP_PREDICT_ROUTE): {"instances": …} → {"predictions": …}', request: tfPredictRequestSchema, response: tfPredictResponseSchema, errors: [400, 503] });
  }
  if (healthRoute !== undefined) {
    docs.push({ method: 'get', path: healthRoute, tag: 'TF Serving / Vertex AI', summary: 'Vertex AI health (AIP_HEALTH_ROUTE)', response: readySchema, errors: [503] });
  }
  return docs;
}
