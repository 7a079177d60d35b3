import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Redis } from 'ioredis';
import { redactUrl } from '../config/database-url.js';
import { parseResponseCacheSetting, type ResponseCacheSetting } from '../config/response-cache-url.js';
import { ServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics, ResponseCacheFailure } from '../observability/metrics.js';
import { decodeTensorFrame, encodeTensorFrame } from '../tensor/binary.js';
import type { Tensor } from '../tensor/tensor.js';
import { responseCacheKey, type CacheTarget, type ResponseCache } from './response-cache.js';

export type RedisCacheSetting = Extract<ResponseCacheSetting, { kind: 'redis' }>;

/** After this many failures in a row, Redis is left alone for CIRCUIT_OPEN_MS before the next try. */
const FAILURES_TO_OPEN = 3;
const CIRCUIT_OPEN_MS = 1000;

/**
 * The response cache in Redis, shared by every process and replica that points at it. Values are
 * the answer's tensors in the binary tensor layout (`encodeTensorFrame`), written with a TTL. Keys
 * are the same content hash as the in-process cache, with the model file's SHA-256 in place of the
 * bare version number, so two builds of "version 1" never answer for each other.
 *
 * Redis never fails or stalls a request: each call waits at most `timeout_ms`, commands are not
 * queued while disconnected, and after three failures in a row the cache is skipped for a second.
 * Skipped and failed calls are counted (`slipway_response_cache_errors_total`), an outage is logged
 * once when it starts and once when it ends, and the client reconnects on its own.
 *
 * @example
 * const cache = await RedisResponseCache.open('redis://127.0.0.1:6379?ttl=600', { logger });
 * const key = await cache.key({ model: 'digits', version: 1, modelPath }, inputs, ['probabilities']);
 * const hit = await cache.get(key);
 */
export class RedisResponseCache implements ResponseCache {
  readonly kind = 'redis';
  readonly enabled = true;
  readonly bytes = 0;
  private readonly digests = new WeakMap<CacheTarget, string>();
  private readonly pendingDigests = new WeakMap<CacheTarget, Promise<string>>();
  private up = true;
  private downSince = 0;
  private failures = 0;
  private skipUntil = 0;
  private closed = false;

  private constructor(
    private readonly client: Redis,
    private readonly setting: RedisCacheSetting,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
  ) {
    // Without an 'error' listener a connection error would be an uncaught exception.
    client.on('error', (error: Error) => this.markDown(error));
    client.on('ready', () => this.markUp());
    client.on('close', () => this.markDown(new Error('the connection closed')));
    metrics?.setResponseCacheUpSource(() => (this.up ? 1 : 0));
  }

  /**
   * Connects (waiting at most a second or two for Redis, so the first requests can hit) and returns
   * the cache. Redis being down at start is logged, not fatal: the server serves without it and the
   * client keeps reconnecting.
   */
  static async open(url: string | RedisCacheSetting, options: { logger: Logger; metrics?: Metrics }): Promise<RedisResponseCache> {
    const setting = typeof url === 'string' ? parseResponseCacheSetting(url) : url;
    if (setting.kind !== 'redis') throw new ServingError('CONFIG_INVALID', `response_cache: '${String(url)}' is not a Redis URL`);
    // Loaded only when asked for: a server without Redis never pays for the client at start.
    const { Redis } = await import('ioredis');
    const client = new Redis(setting.url, {
      keyPrefix: setting.prefix,
      commandTimeout: setting.timeoutMs,
      connectTimeout: Math.max(1000, setting.timeoutMs * 20),
      // Fail at once while disconnected instead of queueing requests behind a dead connection.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
      lazyConnect: true,
    });
    const cache = new RedisResponseCache(client, setting, options.logger, options.metrics);
    try {
      await client.connect();
      options.logger.info({ event: 'response_cache_connected', url: redactUrl(setting.url) }, `response cache in Redis at ${redactUrl(setting.url)}`);
    } catch {
      // markDown has logged it; the retry strategy keeps trying in the background.
    }
    return cache;
  }

  key(target: CacheTarget, inputs: readonly Tensor[], outputNames: readonly string[]): string | Promise<string> {
    // The inputs are hashed now: the caller may move their buffers to a worker once this returns.
    const answer = responseCacheKey(target.model, String(target.version), inputs, outputNames);
    const model = this.digests.get(target);
    if (model !== undefined) return `${model}:${answer}`;
    return (this.pendingDigests.get(target) ?? this.digestOf(target)).then((digest) => `${digest}:${answer}`);
  }

  get(key: string): Tensor[] | undefined | Promise<Tensor[] | undefined> {
    if (!this.usable('get')) return undefined;
    const issuedAt = performance.now();
    return this.client.getBuffer(key).then(
      (value) => {
        this.succeeded(issuedAt);
        if (value === null) return undefined;
        try {
          return decodeTensorFrame(value, `cached answer ${key}`);
        } catch (error) {
          // Something else wrote under our prefix: treat as a miss, it is overwritten after the inference.
          this.logger.warn({ event: 'response_cache_corrupt', key, err: error }, (error as Error).message);
          this.metrics?.responseCacheFailed('get', 'error');
          return undefined;
        }
      },
      (error: unknown) => {
        this.failed('get', error);
        return undefined;
      },
    );
  }

  set(key: string, outputs: readonly Tensor[]): void {
    const value = encodeTensorFrame(outputs);
    if (value.byteLength > this.setting.maxEntryBytes) {
      this.metrics?.responseCacheFailed('set', 'too_large');
      return;
    }
    if (!this.usable('set')) return;
    const issuedAt = performance.now();
    this.client.set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength), 'PX', this.setting.ttlSeconds * 1000).then(
      () => this.succeeded(issuedAt),
      (error: unknown) => this.failed('set', error),
    );
  }

  /** Entries of other model files have other keys and expire on their own; another replica may still use them. */
  clear(): void {}

  async close(): Promise<void> {
    this.closed = true;
    if (this.client.status === 'ready') {
      // QUIT lets Redis finish what it was sent; a Redis that stopped answering gets a second.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.client.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }

  private usable(operation: 'get' | 'set'): boolean {
    if (this.client.status === 'ready' && performance.now() >= this.skipUntil) return true;
    this.metrics?.responseCacheFailed(operation, 'unavailable');
    return false;
  }

  /** A call answered; one sent after the outage began (a probe after a slow spell) ends it. */
  private succeeded(issuedAt: number): void {
    this.failures = 0;
    if (!this.up && issuedAt > this.downSince) this.markUp();
  }

  private failed(operation: 'get' | 'set', error: unknown): void {
    const reason: ResponseCacheFailure = /timed out/i.test((error as Error).message) ? 'timeout' : 'error';
    this.metrics?.responseCacheFailed(operation, reason);
    if (++this.failures >= FAILURES_TO_OPEN) {
      this.skipUntil = performance.now() + CIRCUIT_OPEN_MS;
      this.markDown(error as Error);
    }
  }

  private markDown(error: Error): void {
    if (!this.up || this.closed) return;
    this.up = false;
    this.downSince = performance.now();
    this.metrics?.responseCacheOutage();
    this.logger.warn(
      { event: 'response_cache_down', url: redactUrl(this.setting.url), err: error },
      `response cache: Redis at ${redactUrl(this.setting.url)} is unavailable (${error.message}); answering without the cache until it is back`,
    );
  }

  private markUp(): void {
    if (this.up || this.client.status !== 'ready') return;
    this.failures = 0;
    this.skipUntil = 0;
    this.up = true;
    const downSeconds = Math.round((performance.now() - this.downSince) / 100) / 10;
    this.logger.info({ event: 'response_cache_up', downSeconds }, `response cache: Redis is back after ${downSeconds} s`);
  }

  private digestOf(target: CacheTarget): Promise<string> {
    const pending = fileSha256(target.modelPath).then(
      (sha) => sha.slice(0, 32),
      // Unreadable now (moved away): a tag no other process shares, so nothing wrong is ever shared.
      () => `unshared-${process.pid}-${Math.random()}`,
    );
    this.pendingDigests.set(target, pending);
    void pending.then((d) => this.digests.set(target, d));
    return pending;
  }
}

function fileSha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
