import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { DIGIT_SAMPLES } from '../helpers/batch-data.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';
import { REDIS_URL, deleteRedisKeys, hasCommand, requireRedis, requirement } from '../helpers/requirements.js';
import { startPrivateRedis } from '../helpers/redis-server.js';
import { tempRepository } from '../helpers/temp-repository.js';

// Two `slipway serve` processes (as two replicas would be) with the digits model opted into the cache.
const CONFIG = 'response_cache:\n  enable: true\n';
const request = (sampleIndex: number) =>
  JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: DIGIT_SAMPLES[sampleIndex % DIGIT_SAMPLES.length]!.image.flat(2) }] });

async function infer(url: string, body: string): Promise<{ status: number; timing: string; label: number }> {
  const reply = await fetch(`${url}/v2/models/digits/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const json = (await reply.json()) as { outputs: Array<{ data: number[] }> };
  const p = json.outputs[0]!.data;
  return { status: reply.status, timing: reply.headers.get('server-timing') ?? '', label: p.indexOf(Math.max(...p)) };
}

describe('a response cache in Redis, shared by two server processes', await requireRedis(), () => {
  const prefix = `slipway-test:${randomUUID()}:`;
  let repo: { dir: string; remove: () => Promise<void> };
  let a: CliServer;
  let b: CliServer;

  before(async () => {
    repo = await tempRepository({ digits: { config: CONFIG } });
    const cache = `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}&ttl=120`;
    [a, b] = await Promise.all([
      startCliServer([repo.dir, '--no-ui', '--no-grpc', '--response-cache', cache]),
      startCliServer([repo.dir, '--no-ui', '--no-grpc', '--response-cache', cache]),
    ]);
  });
  after(async () => {
    a?.child.kill('SIGKILL');
    b?.child.kill('SIGKILL');
    await deleteRedisKeys(prefix);
    await repo?.remove();
  });

  test('a miss in one process is a hit in the other, with the same answer', async () => {
    const body = request(4);
    const first = await infer(a.url, body);
    assert.equal(first.status, 200);
    assert.doesNotMatch(first.timing, /cache;desc=hit/);
    let second = await infer(b.url, body);
    // A's write to Redis is not awaited by its answer: give it a moment, bounded.
    for (let i = 0; i < 50 && !/cache;desc=hit/.test(second.timing); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      second = await infer(b.url, request(4));
    }
    assert.match(second.timing, /cache;desc=hit/, 'the other process answered from Redis');
    assert.equal(second.label, first.label);
    assert.equal(second.label, DIGIT_SAMPLES[4]!.label);
    const stats = (await (await fetch(`${b.url}/v2/models/digits/stats`)).json()) as { model_stats: Array<{ inference_stats: { cache_hit: { count: number } } }> };
    assert.ok(stats.model_stats[0]!.inference_stats.cache_hit.count >= 1);
  });
});

describe('Redis stopped mid-load', requirement(hasCommand('redis-server'), "the 'redis-server' command"), () => {
  test('every request succeeds while Redis is down; the outage is counted, logged once, and the cache comes back by itself', async () => {
    const redis = await startPrivateRedis();
    const repo = await tempRepository({ digits: { config: CONFIG } });
    const server = await startCliServer([repo.dir, '--no-ui', '--no-grpc', '--response-cache', `${redis.url}?timeout_ms=250`]);
    const pool = new Pool(server.url, { connections: 8 });
    const counts = new Map<string, number>();
    let sent = 0;
    try {
      const load = async (until: () => boolean): Promise<void> => {
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (!until()) {
            const n = sent++;
            let outcome: string;
            try {
              const reply = await pool.request({ method: 'POST', path: '/v2/models/digits/infer', body: request(n % 20), headers: { 'content-type': 'application/json' } });
              await reply.body.arrayBuffer();
              outcome = String(reply.statusCode);
            } catch (error) {
              outcome = (error as Error).message;
            }
            counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
          }
        }));
      };
      await load(() => sent >= 500);
      await redis.stop();
      const stoppedAt = sent;
      await load(() => sent >= stoppedAt + 1500);
      const down = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
      assert.equal(sample(down, 'slipway_response_cache_up'), 0);
      // A slow spell on this shared machine may count as an outage of its own; the stop is one at least.
      const outages = sample(down, 'slipway_response_cache_outages_total');
      assert.ok(outages >= 1);
      await redis.start();
      // The server reconnects on its own (its backoff is at most 2 s), under load, without a restart.
      const up = async (): Promise<number> => sample(parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text()), 'slipway_response_cache_up');
      for (let round = 0; round < 100 && (await up()) !== 1; round++) {
        const mark = sent;
        await load(() => sent >= mark + 100);
      }
      assert.equal(await up(), 1, 'the cache is back');
      assert.deepEqual(Object.fromEntries(counts), { '200': sent }, `all ${sent} requests answered 200`);
      assert.equal(server.output().match(/"event":"response_cache_down"/g)?.length, outages, 'each outage is logged once');
    } finally {
      await pool.close();
      server.child.kill('SIGKILL');
      await redis.stop();
      await repo.remove();
    }
  });
});
