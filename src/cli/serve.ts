import type { Command } from 'commander';
import { resolveServerConfig, type ServerConfig } from '../config/server-config.js';
import { findProjectConfig, projectServerLayer } from '../config/project-config.js';
import { fullShape } from '../config/model-config.js';
import { createLogger } from '../observability/logger.js';
import type { FastifyBaseLogger } from 'fastify';
import { joinCluster, runProcessCluster } from '../server/process-cluster.js';
import { stopAccepting, waitForConnections } from '../server/drain-http.js';
import cluster from 'node:cluster';
import { SLIPWAY_VERSION } from '../version.js';
import { defaultFeedbackDb } from '../ui/feedback/open-feedback-store.js';
import { redactUrl } from '../config/redact-url.js';

interface ServeFlags {
  httpPort?: string;
  host?: string;
  bodyLimitBytes?: string;
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
  predictionLog?: string;
  predictionLogSampleRate?: string;
  predictionLogMaxRows?: string;
  batchDb?: string;
  ui?: boolean;
  feedbackDb?: string;
  processes?: string;
  modelName?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve models over the Open Inference Protocol (KServe v2) REST API')
    .argument('[paths...]', 'model repository folders, model folders or .onnx files (default: the models of slipway.yaml)')
    .option('--config <file>', 'project file whose models and server settings to use (default: ./slipway.yaml if present)')
    .option('--http-port <port>', 'HTTP port (env SLIPWAY_HTTP_PORT)', undefined)
    .option('--host <host>', 'address to listen on (env SLIPWAY_HOST)', undefined)
    .option('--body-limit-bytes <n>', 'largest request body in bytes; 413 beyond (env SLIPWAY_BODY_LIMIT_BYTES)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env SLIPWAY_LOG_LEVEL)')
    .option('--default-max-batch-size <n>', 'max_batch_size for batchable graphs whose config is silent')
    .option('--strict-readiness', 'report ready only when every model is READY (Triton default)')
    .option('--response-cache-bytes <n>', 'size of the response cache models opt into; 0 = off (env SLIPWAY_RESPONSE_CACHE_BYTES)')
    .option('--response-cache <where>', 'memory (default) or redis://host:port[/db][?ttl=3600&timeout_ms=50&prefix=…]: shared by processes and replicas (env SLIPWAY_RESPONSE_CACHE)')
    .option('--grpc-port <port>', 'OIP gRPC port, default 8001 (env SLIPWAY_GRPC_PORT)')
    .option('--no-grpc', 'do not serve gRPC (env SLIPWAY_GRPC=false)')
    .option('--admin-token <token>', 'allow repository load/unload with this bearer token (env SLIPWAY_ADMIN_TOKEN)')
    .option('--default-model <name>', 'model for dialect routes that name none: Vertex, SageMaker, Azure (env SLIPWAY_DEFAULT_MODEL)')
    .option('--metrics-port <port>', 'serve /metrics on this port only (env SLIPWAY_METRICS_PORT)')
    .option('--no-metrics', 'no Prometheus metrics (env SLIPWAY_METRICS=false)')
    .option('--prediction-log <store>', 'sample predictions into sqlite:PATH, postgres://… or jsonl:PATH (env SLIPWAY_PREDICTION_LOG)')
    .option('--prediction-log-sample-rate <r>', 'fraction of requests logged, 0..1 (default 0.1)')
    .option('--prediction-log-max-rows <n>', 'rows the prediction log keeps (default 100000)')
    .option('--batch-db <url>', 'serve batch predictions and their freshness from sqlite:PATH or postgres://… (env SLIPWAY_BATCH_DB)')
    .option('--ui', 'serve the prototype web UI at / (default; env SLIPWAY_UI)')
    .option('--no-ui', 'no web UI and no feedback API (env SLIPWAY_UI=false)')
    .option('--feedback-db <url>', 'UI feedback store: sqlite:PATH or postgres://… (default sqlite:feedback.db beside the first path; env SLIPWAY_FEEDBACK_DB)')
    .option('--processes <n>', 'serving processes sharing the ports, each with its share of the cores; SIGHUP restarts them one at a time (env SLIPWAY_PROCESSES)')
    .option('--model-name <name>', 'serve the one model found under this name (KServe passes the InferenceService name; env SLIPWAY_MODEL_NAME)')
    .option('--sagemaker', 'SageMaker container: port 8080 or SAGEMAKER_BIND_TO_PORT, 0.0.0.0, models from /opt/ml/model')
    .action(async (paths: string[], flags: ServeFlags) => {
      // Paths on the command line serve just those; the project file joins in when asked for or
      // when it is what is being served, so `slipway serve x.onnx` inside a project stays quick.
      const project = flags.config !== undefined || paths.length === 0 ? await findProjectConfig(flags.config) : undefined;
      const config = resolveServerConfig({
        models: paths.length > 0 ? paths : undefined,
        http_port: flags.httpPort,
        host: flags.host,
        body_limit_bytes: flags.bodyLimitBytes,
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
        prediction_log: flags.predictionLog,
        prediction_log_sample_rate: flags.predictionLogSampleRate,
        prediction_log_max_rows: flags.predictionLogMaxRows,
        batch_db: flags.batchDb,
        ui: flags.ui,
        feedback_db: flags.feedbackDb,
        processes: flags.processes,
        model_name: flags.modelName,
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
    let code: number;
    try {
      code = await runProcessCluster({ processes: config.processes, logger, ...(config.cores !== undefined && { cores: config.cores }) });
    } catch (error) {
      // A process that could not start has said why on stderr (a bad path, a port in use): exit as it did.
      logger.error({ event: 'cluster_start_failed', err: error }, (error as Error).message);
      code = (error as { exitCode?: number | null }).exitCode ?? 1;
    }
    process.exit(code);
  }
  const started = performance.now();
  const member = await joinCluster();
  // The HTTP side (Fastify and every route) loads on this thread while the models load on theirs.
  const http = Promise.all([import('../server/http-server.js'), import('../protocol/http/observe-requests.js'), import('fastify')]);
  http.catch(() => undefined);
  const { Slipway } = await import('../slipway.js');
  const slipway = await Slipway.open({
    models: config.models,
    logger,
    defaultMaxBatchSize: config.default_max_batch_size,
    strictReadiness: config.strict_readiness,
    responseCacheBytes: config.response_cache_bytes,
    responseCache: config.response_cache,
    ...(config.model_name !== undefined && { modelName: config.model_name }),
    ...(config.cores !== undefined && { cores: config.cores }),
    ...(!config.metrics && { metrics: false as const }),
    ...(config.prediction_log !== undefined && {
      predictionLog: { store: config.prediction_log, sampleRate: config.prediction_log_sample_rate, maxRows: config.prediction_log_max_rows },
    }),
  });
  const [{ createHttpServer }, { registerMetricsRoute }, { default: Fastify }] = await http;
  const app = createHttpServer(slipway, {
    bodyLimitBytes: config.body_limit_bytes,
    exposeMetrics: config.metrics && config.metrics_port === undefined,
    ...(config.admin_token !== undefined && { adminToken: config.admin_token }),
    ...(config.default_model !== undefined && { defaultModel: config.default_model }),
    ...(config.vertex_predict_route !== undefined && { vertexPredictRoute: config.vertex_predict_route }),
    ...(config.vertex_health_route !== undefined && { vertexHealthRoute: config.vertex_health_route }),
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
  await app.listen({ port: config.http_port, host: config.host });
  const metricsApp = config.metrics && config.metrics_port !== undefined ? Fastify({ loggerInstance: logger as FastifyBaseLogger }) : undefined;
  if (metricsApp !== undefined) {
    registerMetricsRoute(metricsApp, slipway);
    await metricsApp.listen({ port: config.metrics_port!, host: config.host });
  }
  const grpc = config.grpc
    ? new (await import('../protocol/grpc/grpc-server.js')).GrpcServer(slipway, { maxMessageBytes: config.body_limit_bytes, ...(config.admin_token !== undefined && { adminToken: config.admin_token }) })
    : undefined;
  const grpcPort = grpc === undefined ? undefined : await grpc.listen(config.host, config.grpc_port);
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.http_port;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const grpcLine =
    grpcPort === undefined ? '' : `gRPC (inference.GRPCInferenceService, grpc.health.v1.Health) on ${config.host.includes(':') ? `[${config.host}]` : config.host}:${grpcPort}\n`;
  const uiLine = config.ui ? `UI on ${base}/ (feedback: ${redactUrl(config.feedback_db ?? defaultFeedbackDb(config.models))})\n` : '';
  const text = banner(slipway, base, Math.round(performance.now() - started)) + grpcLine + uiLine;
  // In a cluster, the primary prints one banner for all the processes.
  if (member !== undefined) member.ready(text);
  else process.stdout.write(text);

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ event: 'shutdown', signal }, 'shutting down: finishing in-flight requests');
    slipway.beginShutdown();
    // New connections go elsewhere (another process, another pod); the open ones finish their
    // requests, each answer closing its connection, before the idle rest are closed.
    stopAccepting(app.server);
    await waitForConnections(app.server, CONNECTION_DRAIN_MS);
    await Promise.all([app.close(), grpc?.close(), metricsApp?.close()]);
    await slipway.close();
    logger.info({ event: 'shutdown_complete' }, 'stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  member?.onDrain(() => void shutdown('drain requested by the primary'));
}

/** How long a drain waits for clients to close their connections before closing the idle rest. */
const CONNECTION_DRAIN_MS = 2000;

function banner(slipway: import('../slipway.js').Slipway, base: string, readyMs: number): string {
  const rows = slipway.index();
  const ready = rows.filter((r) => r.state === 'READY').length;
  const lines = [`Slipway ${SLIPWAY_VERSION}: ${ready}/${rows.length} model versions ready in ${readyMs} ms, on ${base}`];
  const width = Math.max(...rows.map((r) => r.name.length), 5);
  for (const row of rows) {
    const version = slipway.repository.get(row.name)?.versions.get(Number(row.version));
    const config = version?.config;
    const pipeline = row.version === undefined && row.state === 'READY' && slipway.repository.get(row.name)?.handler !== undefined;
    const signature =
      config === undefined
        ? pipeline
          ? `pipeline (a handler, no graph): POST ${base}/api/models/${row.name}/predict`
          : row.reason
        : `${config.inputs.map((t) => `${t.name} ${t.datatype}[${fullShape(config, t).join(',')}]`).join(', ')} -> ${config.outputs
            .map((t) => `${t.name} ${t.datatype}[${fullShape(config, t).join(',')}]`)
            .join(', ')}`;
    lines.push(`  ${row.name.padEnd(width)}  v${(row.version ?? '-').padEnd(3)} ${row.state.padEnd(11)} ${signature}`);
  }
  const example = rows.find((r) => r.state === 'READY' && r.version !== undefined)?.name;
  if (example !== undefined) {
    lines.push(`Try:  curl ${base}/v2/models/${example}`);
    lines.push(`      curl -X POST ${base}/v2/repository/index`);
  }
  return `${lines.join('\n')}\n`;
}
