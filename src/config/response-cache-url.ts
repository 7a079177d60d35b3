import { ServingError } from '../errors/serving-error.js';

/** Where answers are cached: in this process, or in Redis (shared by processes and replicas). */
export type ResponseCacheSetting =
  | { kind: 'memory' }
  | {
      kind: 'redis';
      /** The connection URL without Slipway's own parameters (it may carry a user, password and database). */
      url: string;
      /** Entries expire this long after they are written. */
      ttlSeconds: number;
      /** The longest a request waits for Redis before going on without the cache. */
      timeoutMs: number;
      /** Prepended to every key, so several servers (or tests) can share one Redis. */
      prefix: string;
      /** Answers larger than this are not stored. */
      maxEntryBytes: number;
    };

const PARAMETERS = {
  ttl: { default: 3600, min: 1, what: 'seconds' },
  timeout_ms: { default: 50, min: 1, what: 'milliseconds' },
  max_entry_bytes: { default: 8 * 1024 * 1024, min: 1, what: 'bytes' },
} as const;

/**
 * Reads `--response-cache`: `memory` (the default), or `redis://[user:password@]host[:port][/db]`
 * (`rediss://` for TLS) with optional `ttl` (seconds, default 3600), `timeout_ms` (default 50),
 * `prefix` (default `slipway:cache:`) and `max_entry_bytes` (default 8 MiB) query parameters. Every
 * problem is a CONFIG_INVALID naming the parameter.
 *
 * @example
 * parseResponseCacheSetting('redis://127.0.0.1:6379/0?ttl=600&prefix=ocr:');
 * // { kind: 'redis', url: 'redis://127.0.0.1:6379/0', ttlSeconds: 600, timeoutMs: 50, prefix: 'ocr:', maxEntryBytes: 8388608 }
 */
export function parseResponseCacheSetting(value: string): ResponseCacheSetting {
  if (value === 'memory') return { kind: 'memory' };
  const invalid = (why: string): ServingError => new ServingError('CONFIG_INVALID', `response_cache: ${why}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`'${value}' is neither 'memory' nor a redis://host:port URL`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalid(`'${url.protocol}' is not a cache; expected memory, redis:// or rediss://`);
  if (url.hostname === '') throw invalid('the Redis URL names no host');
  if (!/^\/?(\d+)?$/.test(url.pathname)) throw invalid(`the database '${url.pathname.slice(1)}' is not a number`);
  const numbers: Record<string, number> = {};
  for (const [name, spec] of Object.entries(PARAMETERS)) {
    const raw = url.searchParams.get(name);
    url.searchParams.delete(name);
    const parsed = raw === null ? spec.default : Number(raw);
    if (!Number.isInteger(parsed) || parsed < spec.min) throw invalid(`${name}=${raw}: expected a whole number of ${spec.what}, at least ${spec.min}`);
    numbers[name] = parsed;
  }
  const prefix = url.searchParams.get('prefix') ?? 'slipway:cache:';
  url.searchParams.delete('prefix');
  const unknown = [...url.searchParams.keys()];
  if (unknown.length > 0) throw invalid(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ttl, timeout_ms, prefix, max_entry_bytes`);
  return { kind: 'redis', url: url.toString(), ttlSeconds: numbers.ttl!, timeoutMs: numbers.timeout_ms!, prefix, maxEntryBytes: numbers.max_entry_bytes! };
}

