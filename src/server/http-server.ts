import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Slipway } from '../slipway.js';
import { decodeContentEncoding } from '../protocol/http/content-encoding.js';
import { sendError } from '../protocol/http/error-reply.js';
import { observeRequests, registerMetricsRoute, requestId } from '../protocol/http/observe-requests.js';
import { DEFAULT_BODY_LIMIT_BYTES, oipRoutes, setOipNotFound } from '../protocol/http/oip-routes.js';
import { dialectRoutes } from '../protocol/http/dialects/dialect-routes.js';
import { openApiRoutes, vertexRouteDocs } from '../protocol/http/openapi/openapi.js';
import { predictRoutes } from '../protocol/http/predict-routes.js';
import { edgeRouteDocs } from '../edge/edge-route-docs.js';
import type { UiRoutesOptions } from '../ui/ui-routes.js';
import { handlerRouteDocs, uiRouteDocs } from '../ui/ui-route-docs.js';
import { InflightBudget } from '../scheduler/inflight-budget.js';
import { admitRequestBytes } from '../protocol/http/request-bytes-admission.js';
import { applyConnectionLimits, connectionServerOptions, type ConnectionLimits } from './connection-limits.js';
import { AccessKeys } from '../protocol/access/access-keys.js';
import { installHttpAccess } from '../protocol/access/http-access.js';
import type { RateLimiter } from '../protocol/access/rate-limiter.js';
import { routeAccess } from '../protocol/access/route-access.js';
import { AddressConnectionLimit } from '../protocol/access/address-connection-limit.js';

export interface HttpServerOptions {
  bodyLimitBytes?: number;
  /** Largest JSON header of a binary-tensor request, OIP and SageMaker routes (413 beyond; default 1 MiB). */
  maxInferenceHeaderBytes?: number;
  /** Serve `GET /metrics` on this server (default true; false when a separate metrics port is used). */
  exposeMetrics?: boolean;
  /** Enables repository load/unload for callers sending `Authorization: Bearer <token>`. */
  adminToken?: string;
  /** The model that dialect routes naming none (Vertex, SageMaker, Azure) go to when several are served. */
  defaultModel?: string;
  /** Vertex AI's AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE, registered when given. */
  vertexPredictRoute?: string;
  vertexHealthRoute?: string;
  /** The prototype web UI at `/` with its feedback store (`slipway serve --ui`); off when absent. */
  ui?: Omit<UiRoutesOptions, 'slipway'>;
  /** Each model's browser bundle at `/edge/{model}/` (`slipway edge`, built on first request); default: on with the UI. */
  edge?: boolean;
  /** Origins whose pages may call the API from a browser (CORS), e.g. a bundle's static host; `*` for any. None by default. */
  corsOrigins?: readonly string[];
  /**
   * Memory the requests in flight may hold at their peak, estimated from their bodies before they
   * are read; beyond it requests get 429 with Retry-After. 0 or absent: no budget.
   */
  maxInflightBytes?: number;
  /** The budget itself, shared with the gRPC server so both protocols draw on one (wins over maxInflightBytes). */
  inflightBudget?: InflightBudget;
  /** Connection count and timeouts against slow or idle clients; Node's defaults where absent. */
  connections?: ConnectionLimits;
  /**
   * API keys per route group (inference, ui, admin), shared with the gRPC server. When absent, only
   * `adminToken` is a key: inference and feedback reads are open.
   */
  access?: AccessKeys;
  /** Host names the UI and feedback API answer to besides IP literals and localhost; `*` for any. */
  allowedHosts?: readonly string[];
  /** Per-key (or per-address) token buckets; share one with the gRPC server so a key has one budget. */
  rateLimiter?: RateLimiter;
  /** Serve https with this PEM certificate (chain) and private key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** Headers a browser page on another origin may send to the inference API (CORS preflight). */
const CORS_ALLOWED_HEADERS = ['content-type', 'authorization', 'x-api-key', 'inference-header-content-length', 'x-slipway-version', 'x-slipway-key', 'x-request-id'];
/** Headers it may read from the answers. */
const CORS_EXPOSED_HEADERS = ['server-timing', 'x-request-id', 'retry-after', 'inference-header-content-length', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

/**
 * A Fastify server speaking OIP REST for a loaded Slipway. This is the composition root of the HTTP
 * side: it assembles the protocol adapters (`protocol/http`) and the prototype UI (`ui/`), which
 * know nothing of each other. Not listening yet: call `listen`.
 *
 * @example
 * const app = createHttpServer(slipway);
 * await app.listen({ port: 8000, host: '127.0.0.1' });
 */
export function createHttpServer(slipway: Slipway, options: HttpServerOptions = {}): FastifyInstance {
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const { defaultModel, vertexPredictRoute, vertexHealthRoute } = options;
  const app = Fastify({
    ...(options.tls !== undefined && { https: { cert: options.tls.cert, key: options.tls.key } }),
    loggerInstance: slipway.logger as FastifyBaseLogger,
    // One line per request from our onResponse hook instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit,
    // Sockets that sit idle are closed at shutdown; in-flight requests still finish.
    forceCloseConnections: 'idle',
    genReqId: requestId,
    ...(options.connections !== undefined && connectionServerOptions(options.connections)),
    // An https server is typed apart from an http one; routes and hooks do not tell them apart.
  }) as unknown as FastifyInstance;
  if (options.connections !== undefined) applyConnectionLimits(app.server, options.connections);
  const perIp = options.connections?.maxConnectionsPerIp;
  if (perIp !== undefined) {
    const metrics = slipway.metrics;
    new AddressConnectionLimit({ maxPerAddress: perIp, protocol: 'http', logger: slipway.logger, ...(metrics !== undefined && { onRefused: (protocol) => metrics.connectionRefused(protocol, 'per_ip') }) }).guard(app.server);
  }
  observeRequests(app, slipway);
  // A request still running at shutdown keeps its keep-alive socket open afterwards, and Fastify's
  // 72 s keepAliveTimeout would hold the exit that long: its answer closes the connection instead.
  // From the start of a drain, too: a client then reconnects (to another process) instead of
  // reusing a connection that is about to close under it.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing || slipway.shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });
  const probes = vertexHealthRoute === undefined ? [] : [vertexHealthRoute];
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0) {
    const origins = options.corsOrigins;
    const any = origins.includes('*');
    // The one CORS configuration: the inference API (and its docs) for pages of these origins. The
    // UI, its feedback API and sign-in stay same-origin whatever is listed here.
    const allowed = {
      origin: any ? '*' : [...origins],
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      // A fallback call reads the answer's timing, id and limits like a same-origin page does.
      exposedHeaders: CORS_EXPOSED_HEADERS,
      // Credentials (a key in Authorization) only for listed origins: browsers refuse them with '*'.
      credentials: !any,
      maxAge: 600,
    };
    void app.register(cors, {
      delegator: (request: { url?: string; method?: string; headers: Record<string, string | string[] | undefined> }, callback: (error: Error | null, options: object) => void) => {
        const preflight = request.headers['access-control-request-method'];
        const method = typeof preflight === 'string' && request.method === 'OPTIONS' ? preflight.toUpperCase() : (request.method ?? 'GET');
        const access = routeAccess(method, (request.url ?? '/').split('?', 1)[0]!, { extraProbes: probes });
        callback(null, access === 'inference' || access === 'docs' || access === 'probe' ? allowed : { origin: false });
      },
    });
  }
  // After CORS, so that a refusal (401, 429) still carries the CORS headers a page needs to read it.
  const access = options.access ?? new AccessKeys({ keys: { admin: options.adminToken === undefined ? [] : [options.adminToken] } });
  const accessPlugin = Object.assign(
    async (instance: FastifyInstance) =>
      installHttpAccess(instance, {
        keys: access,
        probes,
        signIn: options.ui !== undefined,
        secureCookie: options.tls !== undefined,
        ...(options.allowedHosts !== undefined && { allowedHosts: options.allowedHosts }),
        ...(options.rateLimiter !== undefined && { rateLimiter: options.rateLimiter }),
      }),
    // Not encapsulated: the hook guards every route of the server.
    { [Symbol.for('skip-override')]: true },
  );
  void app.register(accessPlugin);
  // After access: a request without a valid key (or over its rate limit) is refused before it is
  // charged against the in-flight budget, so unauthenticated clients cannot crowd out the others.
  // Before any body is read or inflated: a request over the budget is refused unread.
  const budget = options.inflightBudget ?? (options.maxInflightBytes !== undefined && options.maxInflightBytes > 0 ? new InflightBudget(options.maxInflightBytes) : undefined);
  void app.register(
    Object.assign(
      async (instance: FastifyInstance) => {
        if (budget !== undefined && budget.limitBytes > 0) admitRequestBytes(instance, budget);
        decodeContentEncoding(instance);
      },
      { [Symbol.for('skip-override')]: true },
    ),
  );
  if (options.exposeMetrics !== false) registerMetricsRoute(app, slipway);
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  setOipNotFound(app);
  const headerLimit = options.maxInferenceHeaderBytes === undefined ? {} : { maxInferenceHeaderBytes: options.maxInferenceHeaderBytes };
  void app.register(oipRoutes, { slipway, bodyLimitBytes: bodyLimit, ...headerLimit, access });
  void app.register(dialectRoutes, {
    slipway,
    bodyLimitBytes: bodyLimit,
    ...headerLimit,
    ...(defaultModel !== undefined && { defaultModel }),
    ...(vertexPredictRoute !== undefined && { vertexPredictRoute }),
    ...(vertexHealthRoute !== undefined && { vertexHealthRoute }),
  });
  void app.register(predictRoutes, { slipway, bodyLimitBytes: bodyLimit });
  const edge = options.edge ?? options.ui !== undefined;
  void app.register(openApiRoutes, {
    extraRoutes: [...vertexRouteDocs(vertexPredictRoute, vertexHealthRoute), ...(options.ui ? uiRouteDocs() : []), ...(edge ? edgeRouteDocs() : [])],
    handlers: () => handlerRouteDocs(slipway),
  });
  // Loaded only when asked for: the UI's module brings the feedback stores and their drivers, the
  // edge routes the bundler; neither is on the way to the first answer.
  if (options.ui !== undefined) void app.register(import('../ui/ui-routes.js').then((m) => ({ default: m.uiRoutes })), { slipway, ...options.ui });
  if (edge) void app.register(import('../edge/edge-routes.js').then((m) => ({ default: m.edgeRoutes })), { slipway });
  return app;
}
