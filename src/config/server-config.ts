import { z } from 'zod';
import { ServingError } from '../errors/serving-error.js';
import { formatIssues } from './format-issues.js';
import { durationMsSchema } from './traffic-config.js';
import { parseResponseCacheSetting } from './response-cache-url.js';
import { defaultInflightBytes, defaultMaxConnections } from './process-limits.js';
import { parseRate } from './parse-rate.js';
import { parseDuration } from './duration.js';
import { DEFAULT_MAX_QUEUE_WAIT } from './model-config.js';

const port = z.coerce.number().int().min(0).max(65535);
/** API keys: a list, or comma-separated text (environment). At least 8 characters each. */
const keyList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
  z.array(z.string().min(8, 'use keys of at least 8 characters').regex(/^[\x21-\x7e]+$/, 'expected printable characters without spaces or commas').refine((k) => !k.includes(','), 'expected no commas in a key')).min(1),
);
/**
 * `auto`, `0` (no bound) or a duration (`20ms`, `0.5ms`, `1s`; a bare number is milliseconds), as
 * microseconds: the scheduler's unit.
 */
const queueWait = z.union([z.number(), z.string()]).transform((value, ctx): number | 'auto' => {
  if (value === 'auto') return 'auto';
  const ms = typeof value === 'number' ? value : /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({ code: 'custom', message: `expected auto, 0 (no bound) or a duration such as 20ms or 0.5ms (a bare number is milliseconds), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Math.round(ms * 1000);
});
const boolFlag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);

/** Server settings: one schema for validation and defaults. Merge order: defaults < slipway.yaml < environment < flags. */
export const serverConfigSchema = z.strictObject({
  models: z.array(z.string().min(1)).min(1, 'give at least one model repository, model folder or .onnx file'),
  http_port: port.default(8000),
  host: z.string().min(1).default('127.0.0.1'),
  body_limit_bytes: z.coerce.number().int().positive().default(128 * 1024 * 1024),
  /** Largest JSON header of a binary-tensor request (it is parsed on the main thread); 413 beyond. */
  max_inference_header_bytes: z.coerce.number().int().positive().default(1024 * 1024),
  /** Request log lines per second and protocol at info; the rest are counted in slipway_log_lines_suppressed_total. */
  request_log_per_second: z.coerce.number().int().min(0).default(100),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  default_max_batch_size: z.coerce.number().int().min(0).default(64),
  strict_readiness: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')])
    .default(false),
  response_cache_bytes: z.coerce.number().int().min(0).default(64 * 1024 * 1024),
  /** `memory` (an LRU of response_cache_bytes in each process) or `redis://…` (shared by processes and replicas). */
  response_cache: z
    .string()
    .default('memory')
    .superRefine((value, ctx) => {
      try {
        parseResponseCacheSetting(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^response_cache: /, '') });
      }
    }),
  metrics: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')])
    .default(true),
  /** Serve /metrics on this port only (like Triton's 8002) instead of on the HTTP port. */
  metrics_port: port.optional(),
  /**
   * With tls_cert/tls_key, the metrics port serves https too (a Prometheus job with `scheme: https`),
   * as the HTTP port does; `off` keeps it plain http (a scraper on a trusted network, or in the pod).
   */
  metrics_tls: z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'on', 'off']).transform((v) => v === 'true' || v === '1' || v === 'on')]).default(true),
  /** Prediction log store: sqlite:PATH, postgres://… or jsonl:PATH; off when absent. */
  prediction_log: z.string().min(1).optional(),
  prediction_log_sample_rate: z.coerce.number().min(0).max(1).default(0.1),
  prediction_log_max_rows: z.coerce.number().int().positive().default(100_000),
  /** Batch database (sqlite:PATH or postgres://…) behind GET /v2/batch/status and /v1/batch/{table}/{key}; off when absent. */
  batch_db: z.string().min(1).optional(),
  /** Serving processes sharing the ports (node:cluster), each planning its instances for cores / processes. */
  processes: z.coerce.number().int().min(1).max(256).default(1),
  /** Serve the one model found under this name (KServe's ServingRuntime passes the InferenceService name). */
  model_name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "expected letters, digits, '_', '-' and '.'").optional(),
  /** Cores to plan instance layouts for; in a container, set it to the CPU limit (default: the machine's). */
  cores: z.coerce.number().int().positive().optional(),
  /** OIP gRPC port (inference.GRPCInferenceService and grpc.health.v1.Health); 0 picks a free one. */
  grpc_port: port.default(8001),
  grpc: boolFlag.default(true),
  /** Enables repository load/unload for callers presenting it as a bearer token; off when absent. */
  admin_token: z.string().min(8, 'use at least 8 characters').optional(),
  /** The model that dialect routes naming none (Vertex, SageMaker, Azure) go to when several are served. */
  default_model: z.string().min(1).optional(),
  /** SageMaker mode: port 8080 (or SAGEMAKER_BIND_TO_PORT), all interfaces, models from /opt/ml/model. */
  sagemaker: boolFlag.default(false),
  /** Vertex AI's custom-container routes (AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE). */
  vertex_predict_route: z.string().startsWith('/').optional(),
  vertex_health_route: z.string().startsWith('/').optional(),
  /** The prototype web UI at `/` (model pages, flags) and its feedback API. */
  ui: boolFlag.default(true),
  /**
   * Origins (`https://app.example.com`) whose pages may call the API from the browser (CORS): a
   * browser bundle hosted elsewhere falling back to this server. `*` allows any. Off when absent.
   */
  cors_origins: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
      z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'expected an origin such as https://app.example.com (scheme and host, no path), or *')).min(1),
    )
    .optional(),
  /** Keys that open the inference routes (and make them need one): `Authorization: Bearer <key>` or `x-api-key`. Comma-separated in the environment. */
  api_keys: keyList.optional(),
  /** Keys that open the UI's feedback reads (flags, exports, uploaded files) and inference. */
  ui_keys: keyList.optional(),
  /** A file of `<group> <key>` lines (group inference, ui or admin): a mounted Kubernetes Secret, say. */
  keys_file: z.string().min(1).optional(),
  /** Serve feedback reads without a key even beyond loopback (they need one there by default). */
  open_feedback: boolFlag.default(false),
  /** Host names the UI and feedback API answer to besides IP literals and localhost (DNS rebinding protection); `*` for any. */
  allowed_hosts: z
    .preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v), z.array(z.string().regex(/^(\*|[A-Za-z0-9.-]+)$/, 'expected a host name such as models.example.com (no scheme, no port), or *')).min(1))
    .optional(),
  /** PEM certificate (chain) and private key files: HTTP becomes https and gRPC uses TLS. Give both or neither. */
  tls_cert: z.string().min(1).optional(),
  tls_key: z.string().min(1).optional(),
  /** Requests per key (per client address without a key), e.g. `100/s` or `6000/min`; off when absent. Probes are never limited. */
  rate_limit: z
    .string()
    .transform((text, ctx) => {
      try {
        return parseRate(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  /** Requests a client may make at once before the rate applies (default: one second's worth, at least 1). */
  rate_limit_burst: z.coerce.number().int().positive().optional(),
  /** Feedback store: sqlite:PATH or postgres://…[?schema=name]; default sqlite:feedback.db beside the first served path. */
  feedback_db: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/i, 'expected sqlite:PATH or postgres://…').optional(),
  /** Traffic policies and rollouts: sqlite:PATH or postgres://…[?schema=name]; default sqlite:rollouts.db beside the first served path. */
  rollout_db: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/i, 'expected sqlite:PATH or postgres://…').optional(),
  /** How often the rollout store is re-read: replicas sharing it agree within this (and take over a dead one's rollout within about 5 s). */
  rollout_sync: durationMsSchema.default(1000),
  /** Triton's POLL mode: scan the model paths this often, loading, reloading and unloading what changed. Off when absent. */
  poll: durationMsSchema.optional(),
  /**
   * Memory the HTTP requests in flight may hold at their peak, estimated from their bodies before
   * they are read (12× a JSON body, 4× a binary one); beyond it new requests get 429 with
   * Retry-After. Shared out among `processes`. 0 = no budget. Default: a quarter of the container's
   * memory limit (cgroup memory.max), at most 1 GiB.
   */
  max_inflight_bytes: z.coerce.number().int().min(0).default(() => defaultInflightBytes()),
  /**
   * Admission by expected queue wait, for models whose config does not set
   * `dynamic_batching.max_queue_wait_microseconds`: a request that would wait longer than this in a
   * model's queue is refused with 429 + Retry-After. `auto` (default): one full batch's measured run
   * time on an instance (at least 10 ms); 0: no bound (only max_queue_size).
   */
  max_queue_wait: queueWait.default(DEFAULT_MAX_QUEUE_WAIT),
  /** Open HTTP connections at most; beyond it new ones are closed at accept. Default: the fd limit less 256. */
  max_connections: z.coerce.number().int().positive().default(() => defaultMaxConnections()),
  /**
   * Open connections one client address may hold, HTTP and gRPC each (and each serving process);
   * beyond it new ones are closed at accept. By the socket's address: behind a proxy every client
   * shares the proxy's. Loopback is counted like any other address. Off when absent.
   */
  max_connections_per_ip: z.coerce.number().int().positive().optional(),
  /** The whole request (headers and body) must arrive within this, or the connection is cut with 408 (nginx cuts at 60 s too). */
  request_timeout: durationMsSchema.default(60_000),
  /** The request headers must arrive within this. */
  headers_timeout: durationMsSchema.default(30_000),
  /** An idle keep-alive connection is closed after this; above the 60 s idle timeout of common load balancers. */
  keep_alive_timeout: durationMsSchema.default(72_000),
  /** gRPC: a connection with no call for this long is closed (GOAWAY). */
  grpc_max_connection_idle: durationMsSchema.default(300_000),
  /** gRPC: a connection is closed (GOAWAY, running calls may finish within a grace as long) after this long. */
  grpc_max_connection_age: durationMsSchema.optional(),
  /**
   * `/v2/health/live` and `/v2/health/ready` on this port too, answered on a thread of their own so
   * that probes stay fast when the serving port is overloaded. Off when absent.
   */
  health_port: port.optional(),
  /**
   * Seconds between SIGTERM and closing the listener: readiness reports not-ready at once while the
   * server keeps answering, so load balancers stop sending first (Kubernetes' endpoint removal).
   */
  drain_delay: z.coerce.number().min(0).max(3600).default(0),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** Environment variables that set server options (the flag names, upper-cased, prefixed SLIPWAY_). */
const ENVIRONMENT: Record<string, keyof ServerConfig> = {
  SLIPWAY_HTTP_PORT: 'http_port',
  SLIPWAY_HOST: 'host',
  SLIPWAY_BODY_LIMIT_BYTES: 'body_limit_bytes',
  SLIPWAY_MAX_INFERENCE_HEADER_BYTES: 'max_inference_header_bytes',
  SLIPWAY_REQUEST_LOG_PER_SECOND: 'request_log_per_second',
  SLIPWAY_LOG_LEVEL: 'log_level',
  SLIPWAY_DEFAULT_MAX_BATCH_SIZE: 'default_max_batch_size',
  SLIPWAY_STRICT_READINESS: 'strict_readiness',
  SLIPWAY_RESPONSE_CACHE_BYTES: 'response_cache_bytes',
  SLIPWAY_RESPONSE_CACHE: 'response_cache',
  SLIPWAY_METRICS: 'metrics',
  SLIPWAY_METRICS_PORT: 'metrics_port',
  SLIPWAY_METRICS_TLS: 'metrics_tls',
  SLIPWAY_PREDICTION_LOG: 'prediction_log',
  SLIPWAY_PREDICTION_LOG_SAMPLE_RATE: 'prediction_log_sample_rate',
  SLIPWAY_PREDICTION_LOG_MAX_ROWS: 'prediction_log_max_rows',
  SLIPWAY_BATCH_DB: 'batch_db',
  SLIPWAY_CORES: 'cores',
  SLIPWAY_PROCESSES: 'processes',
  SLIPWAY_MODEL_NAME: 'model_name',
  // SageMaker tells a container that accepts bind-to-port (an image label) which port to use; it
  // comes after SLIPWAY_HTTP_PORT so it wins over it (the image itself sets SLIPWAY_HTTP_PORT).
  SAGEMAKER_BIND_TO_PORT: 'http_port',
  SLIPWAY_GRPC_PORT: 'grpc_port',
  SLIPWAY_GRPC: 'grpc',
  SLIPWAY_ADMIN_TOKEN: 'admin_token',
  SLIPWAY_DEFAULT_MODEL: 'default_model',
  SLIPWAY_SAGEMAKER: 'sagemaker',
  // Vertex AI's custom-container contract: the platform's port wins over the image's own setting.
  AIP_HTTP_PORT: 'http_port',
  AIP_PREDICT_ROUTE: 'vertex_predict_route',
  AIP_HEALTH_ROUTE: 'vertex_health_route',
  SLIPWAY_UI: 'ui',
  SLIPWAY_FEEDBACK_DB: 'feedback_db',
  SLIPWAY_ROLLOUT_DB: 'rollout_db',
  SLIPWAY_ROLLOUT_SYNC: 'rollout_sync',
  SLIPWAY_POLL: 'poll',
  SLIPWAY_CORS_ORIGINS: 'cors_origins',
  SLIPWAY_MAX_INFLIGHT_BYTES: 'max_inflight_bytes',
  SLIPWAY_MAX_CONNECTIONS: 'max_connections',
  SLIPWAY_MAX_CONNECTIONS_PER_IP: 'max_connections_per_ip',
  SLIPWAY_MAX_QUEUE_WAIT: 'max_queue_wait',
  SLIPWAY_REQUEST_TIMEOUT: 'request_timeout',
  SLIPWAY_HEADERS_TIMEOUT: 'headers_timeout',
  SLIPWAY_KEEP_ALIVE_TIMEOUT: 'keep_alive_timeout',
  SLIPWAY_GRPC_MAX_CONNECTION_IDLE: 'grpc_max_connection_idle',
  SLIPWAY_GRPC_MAX_CONNECTION_AGE: 'grpc_max_connection_age',
  SLIPWAY_HEALTH_PORT: 'health_port',
  SLIPWAY_DRAIN_DELAY_SECONDS: 'drain_delay',
  SLIPWAY_API_KEYS: 'api_keys',
  SLIPWAY_UI_KEYS: 'ui_keys',
  SLIPWAY_KEYS_FILE: 'keys_file',
  SLIPWAY_OPEN_FEEDBACK: 'open_feedback',
  SLIPWAY_ALLOWED_HOSTS: 'allowed_hosts',
  SLIPWAY_TLS_CERT: 'tls_cert',
  SLIPWAY_TLS_KEY: 'tls_key',
  SLIPWAY_RATE_LIMIT: 'rate_limit',
  SLIPWAY_RATE_LIMIT_BURST: 'rate_limit_burst',
};

const isTrue = (value: string | undefined): boolean => value === 'true' || value === '1';

/**
 * Merges defaults, environment and flags, validates once and freezes. Every problem is reported at
 * once with the option it concerns (`http_port: Too big: expected number to be <=65535`).
 */
export function resolveServerConfig(
  flags: Partial<Record<keyof ServerConfig, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
  file: Partial<Record<keyof ServerConfig, unknown>> = {},
): Readonly<ServerConfig> {
  const merged: Record<string, unknown> = { ...file };
  for (const [variable, key] of Object.entries(ENVIRONMENT)) {
    if (env[variable] !== undefined && env[variable] !== '') merged[key] = env[variable];
  }
  // Knative and Cloud Run tell a container its port in PORT. Only the image listens to it (it sets
  // SLIPWAY_HONOUR_PORT): a PORT left in a developer's shell for another program must not move the server.
  if (isTrue(env.SLIPWAY_HONOUR_PORT) && env.PORT !== undefined && env.PORT !== '' && env.SAGEMAKER_BIND_TO_PORT === undefined && env.AIP_HTTP_PORT === undefined) {
    merged.http_port = env.PORT;
  }
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) merged[key] = value;
  // Cloud platforms reach the container from outside: listen on every interface, at their port.
  if (merged.sagemaker === true || merged.sagemaker === 'true' || merged.sagemaker === '1') {
    merged.http_port ??= 8080;
    merged.host ??= '0.0.0.0';
    merged.models ??= ['/opt/ml/model'];
  }
  if (env.AIP_HTTP_PORT !== undefined && env.AIP_HTTP_PORT !== '') merged.host ??= '0.0.0.0';
  const result = serverConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new ServingError('CONFIG_INVALID', `invalid server options:\n  ${formatIssues(result.error).join('\n  ')}`);
  }
  const problems = crossFieldProblems(result.data);
  if (problems.length > 0) throw new ServingError('CONFIG_INVALID', `invalid server options:\n  ${problems.join('\n  ')}`);
  if ((result.data.tls_cert === undefined) !== (result.data.tls_key === undefined)) {
    const missing = result.data.tls_cert === undefined ? 'tls_cert' : 'tls_key';
    throw new ServingError('CONFIG_INVALID', `invalid server options:\n  ${missing}: give the certificate (--tls-cert) and the private key (--tls-key) together`);
  }
  Object.freeze(result.data.models);
  return Object.freeze(result.data);
}

/** Options that are each valid but not together. */
function crossFieldProblems(config: ServerConfig): string[] {
  const problems: string[] = [];
  if (config.headers_timeout > config.request_timeout) {
    problems.push(`headers_timeout: ${config.headers_timeout} ms is above request_timeout (${config.request_timeout} ms), which covers the headers too`);
  }
  if (config.health_port !== undefined && config.health_port !== 0 && config.health_port === config.http_port) {
    problems.push(`health_port: ${config.health_port} is the HTTP port; give the probes a port of their own`);
  }
  return problems;
}
