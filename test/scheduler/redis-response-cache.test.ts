import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseResponseCacheSetting } from '../../src/config/response-cache-url.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RedisResponseCache } from '../../src/scheduler/redis-response-cache.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';
import { REDIS_URL, deleteRedisKeys, requireRedis, requirement, hasCommand } from '../helpers/requirements.js';
import { startPrivateRedis } from '../helpers/redis-server.js';
import { SAMPLE_ANSWER, responseCacheContract } from './response-cache-contract.js';

// Against the shared Redis, every key under a prefix of this run's own, deleted at the end.
const prefix = `slipway-test:${randomUUID()}:`;
let dir: string;
let modelA: string;
let modelB: string;

const input: Tensor = { name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array([1, 2]) };

describe('Redis response cache', await requireRedis(), () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-redis-'));
    modelA = join(dir, 'a.onnx');
    modelB = join(dir, 'b.onnx');
    await writeFile(modelA, 'model bytes, build A');
    await writeFile(modelB, 'model bytes, build B');
  });
  after(async () => {
    await deleteRedisKeys(prefix);
    await rm(dir, { recursive: true, force: true });
  });

  const open = async () => {
    const cache = await RedisResponseCache.open(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}&ttl=60`, { logger: captureLogger().logger });
    return { cache, close: () => cache.close() };
  };
  // The model file is created in before(); the contract reads its path lazily through this getter.
  responseCacheContract('Redis', open, { model: 'm', version: 1, get modelPath() { return modelA; } });

  test('two builds of the same version number never share entries: the key carries the model file digest', async () => {
    const { cache, close } = await open();
    try {
      const a = await cache.key({ model: 'm', version: 1, modelPath: modelA }, [input], ['y']);
      const b = await cache.key({ model: 'm', version: 1, modelPath: modelB }, [input], ['y']);
      assert.notEqual(a, b);
      // The same file under another path (another replica's layout) shares.
      const copy = join(dir, 'copy.onnx');
      await writeFile(copy, 'model bytes, build A');
      assert.equal(await cache.key({ model: 'm', version: 1, modelPath: copy }, [input], ['y']), a);
    } finally {
      await close();
    }
  });

  test('entries are written under the prefix with the TTL, as a binary tensor frame', async () => {
    const { cache, close } = await open();
    const client = new Redis(REDIS_URL);
    try {
      const key = await cache.key({ model: 'm', version: 7, modelPath: modelA }, [input], ['y']);
      cache.set(key, SAMPLE_ANSWER);
      let ttl = -2;
      for (let i = 0; i < 200 && ttl < 0; i++) {
        ttl = await client.pttl(`${prefix}${key}`);
        if (ttl < 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(ttl > 0 && ttl <= 60_000, `PTTL ${ttl}`);
      const raw = await client.getBuffer(`${prefix}${key}`);
      const headerLength = raw!.readUInt32LE(0);
      const header = JSON.parse(raw!.subarray(4, 4 + headerLength).toString()) as Array<{ name: string }>;
      assert.deepEqual(header.map((h) => h.name), SAMPLE_ANSWER.map((t) => t.name));
    } finally {
      client.disconnect();
      await close();
    }
  });
});

describe('Redis response cache when Redis is down or comes back', requirement(hasCommand('redis-server'), "the 'redis-server' command"), () => {
  test('a dead Redis costs a miss, never an error; counted, logged once per outage, and the client reconnects', async () => {
    const redis = await startPrivateRedis();
    const { logger, lines } = captureLogger();
    const metrics = new Metrics({ defaultMetrics: false });
    const cache = await RedisResponseCache.open(`${redis.url}?timeout_ms=100`, { logger, metrics });
    const target = { model: 'm', version: 1, modelPath: join(tmpdir(), 'missing-model.onnx') };
    try {
      const key = await cache.key(target, [input], ['y']);
      cache.set(key, SAMPLE_ANSWER);
      for (let i = 0; i < 100 && (await cache.get(key)) === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(await cache.get(key), 'stored while Redis is up');

      await redis.stop();
      for (let i = 0; i < 50; i++) assert.equal(await cache.get(key), undefined);
      cache.set(key, SAMPLE_ANSWER);
      const down = parsePrometheusText(await metrics.registry.metrics());
      assert.equal(sample(down, 'slipway_response_cache_up'), 0);
      assert.equal(sample(down, 'slipway_response_cache_outages_total'), 1);
      const failures = (operation: string): number =>
        ['unavailable', 'timeout', 'error'].reduce((sum, reason) => sum + sample(down, 'slipway_response_cache_errors_total', { operation, reason }), 0);
      assert.ok(failures('get') >= 50, `${failures('get')} get failures counted`);
      assert.ok(failures('set') >= 1);
      assert.equal(lines.filter((l) => l.event === 'response_cache_down').length, 1, 'one warning per outage');

      await redis.start();
      // The client reconnects by itself (its backoff is at most 2 s): wait for the cache to work again.
      let back = false;
      for (let i = 0; i < 200 && !back; i++) {
        cache.set(key, SAMPLE_ANSWER);
        back = (await cache.get(key)) !== undefined;
        if (!back) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(back, 'the cache works again after Redis is back');
      assert.equal(sample(parsePrometheusText(await metrics.registry.metrics()), 'slipway_response_cache_up'), 1);
      assert.equal(lines.filter((l) => l.event === 'response_cache_up').length, 1);
    } finally {
      await cache.close();
      await redis.stop();
    }
  });
});

test('--response-cache values: memory, redis URLs with their parameters, and every mistake named', () => {
  assert.deepEqual(parseResponseCacheSetting('memory'), { kind: 'memory' });
  assert.deepEqual(parseResponseCacheSetting('redis://:secret@cache:6380/2?ttl=600&timeout_ms=20&prefix=ocr:'), {
    kind: 'redis', url: 'redis://:secret@cache:6380/2', ttlSeconds: 600, timeoutMs: 20, prefix: 'ocr:', maxEntryBytes: 8 * 1024 * 1024,
  });
  assert.throws(() => parseResponseCacheSetting('memcached://x'), /response_cache: 'memcached:' is not a cache/);
  assert.throws(() => parseResponseCacheSetting('redis://x?ttl=0'), /ttl=0: expected a whole number of seconds, at least 1/);
  assert.throws(() => parseResponseCacheSetting('redis://x?tll=5'), /unknown parameter tll; known: ttl, timeout_ms, prefix, max_entry_bytes/);
  assert.throws(() => parseResponseCacheSetting('redis://x/abc'), /database 'abc' is not a number/);
  assert.throws(() => parseResponseCacheSetting('lru'), /'lru' is neither 'memory' nor a redis:\/\/host:port URL/);
});
