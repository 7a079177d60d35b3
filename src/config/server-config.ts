import { z } from 'zod';
import { ServingError } from '../errors/serving-error.js';
import { formatIssues } from './format-issues.js';

const port = z.coerce.number().int().min(0).max(65535);

/** Server settings: one schema for validation and defaults. Merge order: defaults < slipway.yaml < environment < flags. */
export const serverConfigSchema = z.strictObject({
  models: z.array(z.string().min(1)).min(1, 'give at least one model repository, model folder or .onnx file'),
  http_port: port.default(8000),
  host: z.string().min(1).default('127.0.0.1'),
  body_limit_bytes: z.coerce.number().int().positive().default(128 * 1024 * 1024),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  default_max_batch_size: z.coerce.number().int().min(0).default(64),
  strict_readiness: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1')])
    .default(false),
  response_cache_bytes: z.coerce.number().int().min(0).default(64 * 1024 * 1024),
  /** Cores to plan instance layouts for; in a container, set it to the CPU limit (default: the machine's). */
  cores: z.coerce.number().int().positive().optional(),
});

export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** Environment variables that set server options (the flag names, upper-cased, prefixed SLIPWAY_). */
const ENVIRONMENT: Record<string, keyof ServerConfig> = {
  SLIPWAY_HTTP_PORT: 'http_port',
  SLIPWAY_HOST: 'host',
  SLIPWAY_BODY_LIMIT_BYTES: 'body_limit_bytes',
  SLIPWAY_LOG_LEVEL: 'log_level',
  SLIPWAY_DEFAULT_MAX_BATCH_SIZE: 'default_max_batch_size',
  SLIPWAY_STRICT_READINESS: 'strict_readiness',
  SLIPWAY_RESPONSE_CACHE_BYTES: 'response_cache_bytes',
  SLIPWAY_CORES: 'cores',
  // SageMaker tells a container that accepts bind-to-port (an image label) which port to use; it
  // comes last so it wins over SLIPWAY_HTTP_PORT, which the image itself sets.
  SAGEMAKER_BIND_TO_PORT: 'http_port',
};

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
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) merged[key] = value;
  const result = serverConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new ServingError('CONFIG_INVALID', `invalid server options:\n  ${formatIssues(result.error).join('\n  ')}`);
  }
  Object.freeze(result.data.models);
  return Object.freeze(result.data);
}
