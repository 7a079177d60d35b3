import { InflightBudget } from '../scheduler/inflight-budget.js';
import type { Command } from 'commander';
import { resolveServerConfig, serverConfigSchema, type ServerConfig } from '../config/server-config.js';
import { findProjectConfig, projectServerLayer } from '../config/project-config.js';
import { fullShape } from '../config/model-config.js';
import { createLogger } from '../observability/logger.js';
import type { FastifyBaseLogger } from 'fastify';
import { joinCluster, runProcessCluster } from '../server/process-cluster.js';
import { drainHttp } from '../server/drain-http.js';
import cluster from 'node:cluster';
import { SLIPWAY_VERSION } from '../version.js';
import { defaultFeedbackDb } from '../ui/feedback/open-feedback-store.js';
import { defaultRolloutDb } from '../router/open-rollout-store.js';
import { redactPassword } from '../config/database-url.js';
import type { Slipway } from '../slipway.js';
import { serverAccess, type ServerAccess } from '../server/server-access.js';

interface ServeFlags {
  httpPort?: string;
  host?: string;
  bodyLimitBytes?: string;
  maxInferenceHeaderBytes?: string;
  requestLogPerSecond?: string;
  logLevel?: string;
  defaultMaxBatchSize?: string;
  strictReadiness?: boolean;
  responseCacheBytes?: string;
  responseCache?: string;
  config?: string;
  grpcPort?: string;
  grpc?: boolean;
  adminToken?: string;
  defaultModel?: string;
  sagemaker?: boolean;
  metrics?: boolean;
  metricsPort?: string;
  metricsTls?: string;
  predictionLog?: string;
  predictionLogSampleRate?: string;
  predictionLogMaxRows?: string;
  batchDb?: string;
  ui?: boolean;
  feedbackDb?: string;
  rolloutDb?: string;
  rolloutSync?: string;
  poll?: string;
  corsOrigin?: string[];
  apiKey?: string[];
  uiKey?: string[];
  keysFile?: string;
  openFeedback?: boolean;
  allowedHost?: string[];
  tlsCert?: string;
  tlsKey?: string;
  rateLimit?: string;
  rateLimitBurst?: string;
  processes?: string;
  modelName?: string;
  maxInflightBytes?: string;
  maxQueueWait?: string;
  maxConnections?: string;
  maxConnectionsPerIp?: string;
  requestTimeout?: string;
  headersTimeout?: string;
  keepAliveTimeout?: string;
  healthPort?: string;
  drainDelay?: string;
}

/** A server option's default, as the config schema has it (what `--help` shows). */
function defaultOf(option: 'http_port' | 'host' | 'grpc_port' | 'log_level' | 'body_limit_bytes' | 'request_timeout' | 'headers_timeout' | 'keep_alive_timeout'): string {
  return String(serverConfigSchema.shape[option].parse(undefined));
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve models over the Open Inference Protocol (KServe v2) REST API')
    .argument('[paths...]', 'model repository folders, model folders or .onnx files (default: the models of slipway.yaml)')
    .option('--config <file>', 'project file whose models and server settings to use (default: ./slipway.yaml if present)')
    .option('--http-port <port>', `HTTP port (default ${defaultOf('http_port')}; env SLIPWAY_HTTP_PORT)`)
    .option('--host <host>', `address to listen on (default ${defaultOf('host')}, this machine only; 0.0.0.0 for every interface; env SLIPWAY_HOST)`)
    .option('--body-limit-bytes <n>', `largest request body in bytes; 413 beyond (default ${defaultOf('body_limit_bytes')}; env SLIPWAY_BODY_LIMIT_BYTES)`)
    .option('--max-inference-header-bytes <n>', 'largest JSON header of a binary-tensor request; 413 beyond (default 1048576; env SLIPWAY_MAX_INFERENCE_HEADER_BYTES)')
    .option('--request-log-per-second <n>', 'request log lines per second and protocol; the rest are counted (default 100; env SLIPWAY_REQUEST_LOG_PER_SECOND)')
    .option('--log-level <level>', `fatal|error|warn|info|debug|trace|silent (default ${defaultOf('log_level')}; env SLIPWAY_LOG_LEVEL)`)
    .option('--default-max-batch-size <n>', 'max_batch_size for batchable graphs whose config is silent')
    .option('--strict-readiness', 'report ready only when every model is READY (Triton default)')
    .option('--response-cache-bytes <n>', 'size of the response cache models opt into; 0 = off (env SLIPWAY_RESPONSE_CACHE_BYTES)')
    .option('--response-cache <where>', 'memory (default) or redis://host:port[/db][?ttl=3600&timeout_ms=50&prefix=…]: shared by processes and replicas (env SLIPWAY_RESPONSE_CACHE)')
    .option('--grpc-port <port>', `OIP gRPC port (default ${defaultOf('grpc_port')}; env SLIPWAY_GRPC_PORT)`)
    .option('--no-grpc', 'do not serve gRPC (env SLIPWAY_GRPC=false)')
    .option('--admin-token <token>', 'allow repository load/unload with this bearer token (env SLIPWAY_ADMIN_TOKEN)')
    .option('--default-model <name>', 'model for dialect routes that name none: Vertex, SageMaker, Azure (env SLIPWAY_DEFAULT_MODEL)')
    .option('--metrics-port <port>', 'serve /metrics on this port only (env SLIPWAY_METRICS_PORT)')
    .option('--metrics-tls <on|off>', 'with --tls-cert, the metrics port serves https too (on, the default: a scrape job with scheme: https); off keeps it plain http (env SLIPWAY_METRICS_TLS)')
    .option('--no-metrics', 'no Prometheus metrics (env SLIPWAY_METRICS=false)')
    .option('--prediction-log <store>', 'sample predictions into sqlite:PATH, postgres://… or jsonl:PATH (env SLIPWAY_PREDICTION_LOG)')
    .option('--prediction-log-sample-rate <r>', 'fraction of requests logged, 0..1 (default 0.1)')
    .option('--prediction-log-max-rows <n>', 'rows the prediction log keeps (default 100000)')
    .option('--batch-db <url>', 'serve batch predictions and their freshness from sqlite:PATH or postgres://… (env SLIPWAY_BATCH_DB)')
    .option('--ui', 'serve the prototype web UI at / (default; env SLIPWAY_UI)')
    .option('--no-ui', 'no web UI and no feedback API (env SLIPWAY_UI=false)')
    .option('--feedback-db <url>', 'UI feedback store: sqlite:PATH or postgres://… (default sqlite:feedback.db beside the first path; env SLIPWAY_FEEDBACK_DB)')
    .option('--rollout-db <url>', 'traffic policies and rollouts: sqlite:PATH or postgres://… (default sqlite:rollouts.db beside the first path; env SLIPWAY_ROLLOUT_DB)')
    .option('--rollout-sync <interval>', 'how often replicas re-read the rollout store, e.g. 1s (default; env SLIPWAY_ROLLOUT_SYNC)')
    .option('--poll <interval>', "watch the model paths, e.g. 5s: load new models and versions, reload changed ones, unload removed ones (Triton's POLL mode; env SLIPWAY_POLL)")
    .option('--processes <n>', 'serving processes sharing the ports, each with its share of the cores; SIGHUP restarts them one at a time (env SLIPWAY_PROCESSES)')
    .option('--model-name <name>', 'serve the one model found under this name (KServe passes the InferenceService name; env SLIPWAY_MODEL_NAME)')
    .option('--sagemaker', 'SageMaker container: port 8080 or SAGEMAKER_BIND_TO_PORT, 0.0.0.0, models from /opt/ml/model')
    .option('--cors-origin <origin...>', 'let pages from these origins call the API (a browser bundle hosted elsewhere); * for any (env SLIPWAY_CORS_ORIGINS, comma-separated)')
    .option('--max-inflight-bytes <n>', 'memory the requests in flight may hold (estimated as 12x a JSON body, 4x a binary one), shared by the processes; 429 + Retry-After beyond; 0 = no budget (default: a quarter of the container memory limit, at most 1 GiB; env SLIPWAY_MAX_INFLIGHT_BYTES)')
    .option('--max-queue-wait <duration>', "refuse a request (429 + Retry-After) when the work queued ahead of it in its model's queue is expected to take longer than this, e.g. 20ms; auto (default): one full batch's measured run time on an instance, at least 10 ms; 0: no bound. A model's dynamic_batching.max_queue_wait_microseconds wins (env SLIPWAY_MAX_QUEUE_WAIT)")
    .option('--max-connections <n>', 'open HTTP connections at most (default: the open-files limit less 256; env SLIPWAY_MAX_CONNECTIONS)')
    .option('--max-connections-per-ip <n>', 'open connections one client address may hold, HTTP and gRPC each, per process; beyond it new ones are closed at accept (behind a proxy: the proxy\'s address; default off; env SLIPWAY_MAX_CONNECTIONS_PER_IP)')
    .option('--request-timeout <duration>', `a request's headers and body must arrive within this, else 408 (default ${defaultOf('request_timeout')} ms; env SLIPWAY_REQUEST_TIMEOUT)`)
    .option('--headers-timeout <duration>', `request headers must arrive within this (default ${defaultOf('headers_timeout')} ms; env SLIPWAY_HEADERS_TIMEOUT)`)
    .option('--keep-alive-timeout <duration>', `idle keep-alive connections close after this (default ${defaultOf('keep_alive_timeout')} ms; env SLIPWAY_KEEP_ALIVE_TIMEOUT)`)
    .option('--health-port <port>', 'also answer /v2/health/live and /ready on this port, from a thread of their own: fast probes under overload (env SLIPWAY_HEALTH_PORT)')
    .option('--drain-delay <seconds>', 'at SIGTERM, report not-ready and keep serving this long before closing the listener (default 0; env SLIPWAY_DRAIN_DELAY_SECONDS)')
    .option('--api-key <key...>', 'inference needs one of these keys (Authorization: Bearer or x-api-key; gRPC authorization metadata); env SLIPWAY_API_KEYS, comma-separated')
    .option('--ui-key <key...>', 'keys that open the UI feedback reads (flags, exports, files) and inference; env SLIPWAY_UI_KEYS')
    .option('--keys-file <file>', "'<group> <key>' lines, group inference|ui|admin, e.g. a mounted Secret (env SLIPWAY_KEYS_FILE)")
    .option('--open-feedback', 'serve feedback reads without a key even when listening beyond loopback (env SLIPWAY_OPEN_FEEDBACK)')
    .option('--allowed-host <name...>', 'host names the UI and feedback API answer to besides IP literals and localhost; * for any (env SLIPWAY_ALLOWED_HOSTS)')
    .option('--tls-cert <file>', 'PEM certificate (chain): serve https and gRPC over TLS (env SLIPWAY_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert (env SLIPWAY_TLS_KEY)')
    .option('--rate-limit <rate>', 'requests per key, or per client address without one, e.g. 100/s or 6000/min; 429 beyond (env SLIPWAY_RATE_LIMIT)')
    .option('--rate-limit-burst <n>', "requests a client may make at once (default: one second's worth; env SLIPWAY_RATE_LIMIT_BURST)")
    .action(async (paths: string[], flags: ServeFlags) => {
      // Paths on the command line serve just those; the project file joins in when asked for or
      // when it is what is being served, so `slipway serve x.onnx` inside a project stays quick.
      const project = flags.config !== undefined || paths.length === 0 ? await findProjectConfig(flags.config) : undefined;
      const config = resolveServerConfig({
        models: paths.length > 0 ? paths : undefined,
        http_port: flags.httpPort,
        host: flags.host,
        body_limit_bytes: flags.bodyLimitBytes,
        max_inference_header_bytes: flags.maxInferenceHeaderBytes,
        request_log_per_second: flags.requestLogPerSecond,
        log_level: flags.logLevel,
        default_max_batch_size: flags.defaultMaxBatchSize,
        strict_readiness: flags.strictReadiness,
        response_cache_bytes: flags.responseCacheBytes,
        response_cache: flags.responseCache,
        grpc_port: flags.grpcPort,
        // commander sets grpc=true unless --no-grpc; only the explicit "off" is a flag value.
        grpc: flags.grpc === false ? false : undefined,
        admin_token: flags.adminToken,
        default_model: flags.defaultModel,
        sagemaker: flags.sagemaker,
        metrics: flags.metrics === false ? false : undefined,
        metrics_port: flags.metricsPort,
        metrics_tls: flags.metricsTls,
        prediction_log: flags.predictionLog,
        prediction_log_sample_rate: flags.predictionLogSampleRate,
        prediction_log_max_rows: flags.predictionLogMaxRows,
        batch_db: flags.batchDb,
        ui: flags.ui,
        feedback_db: flags.feedbackDb,
        rollout_db: flags.rolloutDb,
        rollout_sync: flags.rolloutSync,
        poll: flags.poll,
        cors_origins: flags.corsOrigin,
        api_keys: flags.apiKey,
        ui_keys: flags.uiKey,
        keys_file: flags.keysFile,
        open_feedback: flags.openFeedback,
        allowed_hosts: flags.allowedHost,
        tls_cert: flags.tlsCert,
        tls_key: flags.tlsKey,
        rate_limit: flags.rateLimit,
        rate_limit_burst: flags.rateLimitBurst,
        processes: flags.processes,
        model_name: flags.modelName,
        max_inflight_bytes: flags.maxInflightBytes,
        max_queue_wait: flags.maxQueueWait,
        max_connections: flags.maxConnections,
        max_connections_per_ip: flags.maxConnectionsPerIp,
        request_timeout: flags.requestTimeout,
        headers_timeout: flags.headersTimeout,
        keep_alive_timeout: flags.keepAliveTimeout,
        health_port: flags.healthPort,
        drain_delay: flags.drainDelay,
      }, process.env, project === undefined ? {} : projectServerLayer(project));
      await serve(config);
    });
}

/**
 * Loads the models, listens, prints what is served where, and shuts down gracefully on SIGTERM/SIGINT.
 * With `processes` > 1 this process becomes the primary of a cluster of serving processes instead.
 */
export async function serve(config: Readonly<ServerConfig>): Promise<void> {
  const logger = createLogger({ level: config.log_level });
  if (config.processes > 1 && cluster.isPrimary) {
    // Keys, files and certificates are checked before any process starts; a generated UI key is
    // made here and handed to every process, so any of them accepts it.
    const access = serverAccess(config);
    if (access.generatedUiKey !== undefined) {
      process.env.SLIPWAY_UI_KEYS = access.generatedUiKey;
      warnGeneratedKey(logger);
      process.stdout.write(generatedKeyNotice(access.generatedUiKey));
    }
    let code: number;
    try {
      code = await runProcessCluster({
        processes: config.processes,
        logger,
        drainDelayMs: config.drain_delay * 1000,
        ...(config.cores !== undefined && { cores: config.cores }),
        ...(config.health_port !== undefined && { health: { host: config.host, port: config.health_port } }),
      });
    } catch (error) {
      // A process that could not start has said why on stderr (a bad path, a port in use): exit as it did.
      logger.error({ event: 'cluster_start_failed', err: error }, (error as Error).message);
      code = (error as { exitCode?: number | null }).exitCode ?? 1;
    }
    process.exit(code);
  }
  const started = performance.now();
  const access = serverAccess(config);
  if (access.generatedUiKey !== undefined) warnGeneratedKey(logger);
  const rolloutDb = config.rollout_db ?? defaultRolloutDb(config.models);
  const member = await joinCluster();
  const { Slipway } = await import('../slipway.js');
  const opening = Slipway.open({
    models: config.models,
    logger,
    defaultMaxBatchSize: config.default_max_batch_size,
    defaultMaxQueueWaitUs: config.max_queue_wait,
    requestLogPerSecond: config.request_log_per_second,
    strictReadiness: config.strict_readiness,
    responseCacheBytes: config.response_cache_bytes,
    responseCache: config.response_cache,
    ...(config.model_name !== undefined && { modelName: config.model_name }),
    ...(config.cores !== undefined && { cores: config.cores }),
    ...(!config.metrics && { metrics: false as const }),
    ...(config.prediction_log !== undefined && {
      predictionLog: { store: config.prediction_log, sampleRate: config.prediction_log_sample_rate, maxRows: config.prediction_log_max_rows },
    }),
    // The default store is made when something is first stored (and may not be writable); one asked for must open now.
    rollouts: { store: rolloutDb, createStore: config.rollout_db === undefined ? 'on-first-write' : 'at-open', syncIntervalMs: config.rollout_sync },
    ...(config.poll !== undefined && { pollIntervalMs: config.poll }),
  });
  // The HTTP side (Fastify and every route) loads on this thread while the models load on theirs;
  // after the models have started, since Fastify's modules load synchronously and would hold up the
  // instance threads' start behind them.
  const http = Promise.all([import('../server/http-server.js'), import('../protocol/http/observe-requests.js'), import('fastify')]);
  http.catch(() => undefined);
  const slipway = await opening;
  const [{ createHttpServer }, { registerMetricsRoute }, { default: Fastify }] = await http;
  // Each process of a cluster holds its share of the budget: together they stay within it. HTTP and
  // gRPC draw on the same one.
  const inflightBudget = new InflightBudget(Math.floor(config.max_inflight_bytes / config.processes));
  const app = createHttpServer(slipway, {
    bodyLimitBytes: config.body_limit_bytes,
    maxInferenceHeaderBytes: config.max_inference_header_bytes,
    exposeMetrics: config.metrics && config.metrics_port === undefined,
    access: access.keys,
    allowedHosts: access.allowedHosts,
    ...(access.rateLimiter !== undefined && { rateLimiter: access.rateLimiter }),
    ...(access.tls !== undefined && { tls: access.tls }),
    ...(config.default_model !== undefined && { defaultModel: config.default_model }),
    ...(config.vertex_predict_route !== undefined && { vertexPredictRoute: config.vertex_predict_route }),
    ...(config.vertex_health_route !== undefined && { vertexHealthRoute: config.vertex_health_route }),
    ...(config.cors_origins !== undefined && { corsOrigins: config.cors_origins }),
    inflightBudget,
    connections: {
      maxConnections: config.max_connections,
      ...(config.max_connections_per_ip !== undefined && { maxConnectionsPerIp: config.max_connections_per_ip }),
      requestTimeoutMs: config.request_timeout,
      headersTimeoutMs: config.headers_timeout,
      keepAliveTimeoutMs: config.keep_alive_timeout,
    },
    // A store asked for must open at start; the default one is made when first used (and may not be writable).
    ...(config.ui && { ui: { feedback: config.feedback_db ?? defaultFeedbackDb(config.models), openFeedback: config.feedback_db === undefined ? 'on-first-use' : 'at-start' } }),
  });
  if (member !== undefined && slipway.metrics !== undefined) {
    member.shareMetrics(slipway.metrics.registry);
    slipway.metrics.exposition = () => member.clusterMetrics();
  }
  // gRPC, the batch database and their libraries load only when asked for: a fast first answer.
  if (config.batch_db !== undefined) {
    const { batchStatusRoutes } = await import('../protocol/http/batch-status-routes.js');
    await app.register(batchStatusRoutes, { url: config.batch_db, ...(slipway.metrics !== undefined && { metrics: slipway.metrics }) });
  }
  // In a cluster the primary answers the health port (one port, one answer for the pod). Before the
  // serving port: once that answers, so do the probes.
  const health =
    config.health_port !== undefined && member === undefined
      ? await (await import('../server/health-listener.js')).HealthListener.start({ host: config.host, port: config.health_port, notReadyReason: () => slipway.notReadyReason() })
      : undefined;
  await app.listen({ port: config.http_port, host: config.host });
  // The metrics port is https like the serving port when there is a certificate: metrics name the
  // models and their traffic, and a scrape job says `scheme: https` once for the whole pod.
  const metricsTls = access.tls !== undefined && config.metrics_tls ? access.tls : undefined;
  const metricsApp =
    config.metrics && config.metrics_port !== undefined
      ? (Fastify({ loggerInstance: logger as FastifyBaseLogger, ...(metricsTls !== undefined && { https: { cert: metricsTls.cert, key: metricsTls.key } }) }) as unknown as ReturnType<typeof Fastify>)
      : undefined;
  if (metricsApp !== undefined) {
    registerMetricsRoute(metricsApp, slipway);
    await metricsApp.listen({ port: config.metrics_port!, host: config.host });
  }
  const grpc = config.grpc
    ? new (await import('../protocol/grpc/grpc-server.js')).GrpcServer(slipway, {
        maxMessageBytes: config.body_limit_bytes,
        maxConnectionIdleMs: config.grpc_max_connection_idle,
        ...(config.grpc_max_connection_age !== undefined && { maxConnectionAgeMs: config.grpc_max_connection_age }),
        access: access.keys,
        inflightBudget,
        ...(access.rateLimiter !== undefined && { rateLimiter: access.rateLimiter }),
        ...(access.tls !== undefined && { tls: access.tls }),
        ...(config.max_connections_per_ip !== undefined && { maxConnectionsPerIp: config.max_connections_per_ip }),
      })
    : undefined;
  const grpcPort = grpc === undefined ? undefined : await grpc.listen(config.host, config.grpc_port);
  const port = listeningPort(app.server, config.http_port);
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = `${access.tls === undefined ? 'http' : 'https'}://${host}:${port}`;
  const feedback = config.ui ? redactPassword(config.feedback_db ?? defaultFeedbackDb(config.models)) : undefined;
  // The load events are buffered; out first, so that in a piped log too the banner comes after them.
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  const text = banner(slipway, {
    base,
    readyMs: performance.now() - started,
    ...(grpcPort !== undefined && { grpc: `${host}:${grpcPort}${access.tls === undefined ? '' : ' (TLS)'}` }),
    access: accessSummary(access, config.open_feedback),
    ...(feedback !== undefined && { feedback }),
    ...(health !== undefined && { health: `http://${host}:${health.port}` }),
    ...(metricsApp !== undefined && { metrics: `${metricsTls === undefined ? 'http' : 'https'}://${host}:${listeningPort(metricsApp.server, config.metrics_port!)}` }),
    rollouts: `${redactPassword(rolloutDb)} (re-read every ${config.rollout_sync} ms)${config.poll === undefined ? '' : `; polling the model paths every ${config.poll} ms`}`,
  });
  // In a cluster, the primary prints one banner for all the processes.
  if (member !== undefined) member.ready(text);
  else process.stdout.write(text);

  let stopping = false;
  const shutdown = async (signal: string, drainDelayMs: number): Promise<void> => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    // Not ready at once, on every port: load balancers stop sending while this process still answers.
    slipway.beginShutdown();
    health?.update();
    if (drainDelayMs > 0) {
      logger.info({ event: 'shutdown', signal, drainDelayMs }, `shutting down: not ready, still serving for ${drainDelayMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    }
    logger.info({ event: 'shutdown', signal }, 'shutting down: no new connections, finishing in-flight requests');
    await drainHttp(app.server, CONNECTION_DRAIN_MS);
    await Promise.all([app.close(), grpc?.close(), metricsApp?.close()]);
    await slipway.close();
    await health?.close();
    logger.info({ event: 'shutdown_complete' }, 'stopped');
    process.exit(0);
  };
  const drainDelayMs = config.drain_delay * 1000;
  process.once('SIGTERM', () => void shutdown('SIGTERM', drainDelayMs));
  process.once('SIGINT', () => void shutdown('SIGINT', drainDelayMs));
  // The primary has waited its delay (SIGTERM) or keeps the other processes serving (a rolling
  // restart), and node:cluster stops handing this one connections once it stops accepting.
  member?.onDrain(() => void shutdown('drain requested by the primary', 0));
}

/** The port a server listens on (the one the system chose for port 0). */
function listeningPort(server: { address(): string | { port: number } | null }, asked: number): number {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : asked;
}

/** How long a drain waits for clients to close their connections before closing the idle rest. */
const CONNECTION_DRAIN_MS = 2000;

interface BannerPlaces {
  base: string;
  readyMs: number;
  grpc?: string;
  /** The feedback store, when the UI is on. */
  feedback?: string;
  /** Where traffic policies and rollouts are stored, and how often they are re-read. */
  rollouts?: string;
  /** The health port's base address, when there is one. */
  health?: string;
  /** The metrics port's base address, when there is one. */
  metrics?: string;
  /** What needs a key, and a generated UI key to print. */
  access?: string;
}

/** One banner line on keys and limits (a generated key printed in full: nobody else can tell it). */
function accessSummary(access: ServerAccess, openFeedback: boolean): string {
  const keys = access.keys;
  const parts = [
    `inference ${keys.required('inference') ? 'needs an API key' : 'is open'}`,
    `feedback reads ${keys.required('ui') ? 'need a UI key' : openFeedback ? 'are open (--open-feedback)' : 'are open on loopback'}`,
    `admin ${keys.hasKeysFor('admin') ? 'needs the admin token' : 'is off'}`,
  ];
  if (access.rateLimiter !== undefined) parts.push(`rate limit ${Number(access.rateLimiter.limit.ratePerSecond.toFixed(3))}/s per key or address (burst ${access.rateLimiter.limit.burst})`);
  return `Access: ${parts.join('; ')}${access.generatedUiKey === undefined || cluster.isWorker ? '' : `\n${generatedKeyNotice(access.generatedUiKey).trimEnd()}`}`;
}

/** The log says a key was made up and how to choose one; the key itself goes to the banner only. */
function warnGeneratedKey(logger: ReturnType<typeof createLogger>): void {
  logger.warn(
    { event: 'ui_key_generated' },
    'feedback reads need a key when listening beyond loopback and none was given: a generated UI key is printed in the banner; choose one with --ui-key (SLIPWAY_UI_KEYS) or serve them openly with --open-feedback',
  );
}

function generatedKeyNotice(key: string): string {
  return `Generated UI key (feedback reads need one beyond loopback): ${key}\n  sign in on the UI with it, or choose your own with --ui-key / SLIPWAY_UI_KEYS (or --open-feedback to serve them without one)\n`;
}

/**
 * What a person reads when the server is up: one line per model (version, state, signature), where
 * each protocol listens, and last the address to open. Printed once every model and handler has
 * finished loading, so what it says is what is served.
 */
export function banner(slipway: Slipway, places: BannerPlaces): string {
  const { base } = places;
  const rows = slipway.index();
  const ready = rows.filter((r) => r.state === 'READY').length;
  const seconds = places.readyMs < 10_000 ? (places.readyMs / 1000).toFixed(1) : String(Math.round(places.readyMs / 1000));
  const lines = [`Slipway ${SLIPWAY_VERSION}: ${ready}/${rows.length} model versions ready in ${seconds} s, on ${base}`, ''];
  const table = rows.map((row) => {
    const model = slipway.repository.get(row.name);
    const config = model?.versions.get(Number(row.version))?.config;
    const handler = model?.handler;
    // A tensor handler is called over OIP like the graphs it stands beside: its signature says how.
    const app = handler?.state === 'READY' && handler.pool?.description.mode !== 'tensor' ? `app: POST /api/models/${row.name}/predict` : undefined;
    const uses = handler !== undefined && handler.config.uses.length > 0 ? `uses ${handler.config.uses.join(', ')}` : undefined;
    const signature =
      config === undefined
        ? row.state === 'READY'
          ? undefined
          : row.reason
        : `${config.platform === 'onnxruntime_onnx' ? '' : `${config.platform}: `}${config.inputs.map((t) => `${t.name} ${t.datatype}[${fullShape(config, t).join(',')}]`).join(', ')} -> ${config.outputs
            .map((t) => `${t.name} ${t.datatype}[${fullShape(config, t).join(',')}]`)
            .join(', ')}`;
    // A handler with no graph has no version of its own: say what it is instead of a bare "-".
    const version = row.version === undefined ? (handler !== undefined ? 'pipeline' : '-') : `v${row.version}`;
    return [row.name, version, row.state, [signature, app, uses].filter((part) => part !== undefined).join('; ')];
  });
  const widths = [0, 1, 2].map((column) => Math.max(...table.map((cells) => cells[column]!.length)));
  for (const cells of table) lines.push(`  ${cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  ')}`.trimEnd());
  lines.push('', `REST and OpenAPI docs on ${base}/docs`);
  if (places.grpc !== undefined) lines.push(`gRPC (inference.GRPCInferenceService, grpc.health.v1.Health) on ${places.grpc}`);
  if (places.rollouts !== undefined) lines.push(`Traffic and rollouts: ${places.rollouts}`);
  if (places.metrics !== undefined) lines.push(`Prometheus metrics on ${places.metrics}/metrics`);
  if (places.health !== undefined) lines.push(`Health probes (a thread of their own) on ${places.health}/v2/health/live and /v2/health/ready`);
  if (places.access !== undefined) lines.push(places.access);
  if (places.feedback !== undefined) {
    lines.push(`UI on ${base}/ (feedback: ${places.feedback}); browser bundles on ${base}/edge/{model}/`, '', `Open ${base}/ in a browser to try the models.`);
  } else {
    const example = rows.find((r) => r.state === 'READY' && r.version !== undefined)?.name;
    if (example !== undefined) lines.push('', `Try: curl ${base}/v2/models/${example}`);
  }
  return `${lines.join('\n')}\n`;
}
