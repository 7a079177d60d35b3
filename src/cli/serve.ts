import type { Command } from 'commander';
import { resolveServerConfig, type ServerConfig } from '../config/server-config.js';
import { findProjectConfig, projectServerLayer } from '../config/project-config.js';
import { fullShape } from '../config/model-config.js';
import { createLogger } from '../observability/logger.js';
import { createHttpServer } from '../protocol/http/http-server.js';
import { Slipway } from '../slipway.js';
import { SLIPWAY_VERSION } from '../version.js';

interface ServeFlags {
  httpPort?: string;
  host?: string;
  bodyLimitBytes?: string;
  logLevel?: string;
  defaultMaxBatchSize?: string;
  strictReadiness?: boolean;
  responseCacheBytes?: string;
  config?: string;
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
    .action(async (paths: string[], flags: ServeFlags) => {
      const project = await findProjectConfig(flags.config);
      const config = resolveServerConfig({
        models: paths.length > 0 ? paths : undefined,
        http_port: flags.httpPort,
        host: flags.host,
        body_limit_bytes: flags.bodyLimitBytes,
        log_level: flags.logLevel,
        default_max_batch_size: flags.defaultMaxBatchSize,
        strict_readiness: flags.strictReadiness,
        response_cache_bytes: flags.responseCacheBytes,
      }, process.env, project === undefined ? {} : projectServerLayer(project));
      await serve(config);
    });
}

/** Loads the models, listens, prints what is served where, and shuts down gracefully on SIGTERM/SIGINT. */
export async function serve(config: Readonly<ServerConfig>): Promise<void> {
  const logger = createLogger({ level: config.log_level });
  const started = performance.now();
  const slipway = await Slipway.open({
    models: config.models,
    logger,
    defaultMaxBatchSize: config.default_max_batch_size,
    strictReadiness: config.strict_readiness,
    responseCacheBytes: config.response_cache_bytes,
    ...(config.cores !== undefined && { cores: config.cores }),
  });
  const app = createHttpServer(slipway, { bodyLimitBytes: config.body_limit_bytes });
  await app.listen({ port: config.http_port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.http_port;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  process.stdout.write(banner(slipway, base, Math.round(performance.now() - started)));

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ event: 'shutdown', signal }, 'shutting down: finishing in-flight requests');
    slipway.beginShutdown();
    await app.close();
    await slipway.close();
    logger.info({ event: 'shutdown_complete' }, 'stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

function banner(slipway: Slipway, base: string, readyMs: number): string {
  const rows = slipway.index();
  const ready = rows.filter((r) => r.state === 'READY').length;
  const lines = [`Slipway ${SLIPWAY_VERSION}: ${ready}/${rows.length} model versions ready in ${readyMs} ms, on ${base}`];
  const width = Math.max(...rows.map((r) => r.name.length), 5);
  for (const row of rows) {
    const version = slipway.repository.get(row.name)?.versions.get(Number(row.version));
    const config = version?.config;
    const signature =
      config === undefined
        ? row.reason
        : `${config.inputs.map((t) => `${t.name} ${t.datatype}[${fullShape(config, t).join(',')}]`).join(', ')} -> ${config.outputs
            .map((t) => `${t.name} ${t.datatype}[${fullShape(config, t).join(',')}]`)
            .join(', ')}`;
    lines.push(`  ${row.name.padEnd(width)}  v${(row.version ?? '-').padEnd(3)} ${row.state.padEnd(11)} ${signature}`);
  }
  const example = rows.find((r) => r.state === 'READY')?.name;
  if (example !== undefined) {
    lines.push(`Try:  curl ${base}/v2/models/${example}`);
    lines.push(`      curl -X POST ${base}/v2/repository/index`);
  }
  return `${lines.join('\n')}\n`;
}
