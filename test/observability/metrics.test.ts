import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EXAMPLES } from '../helpers/paths.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';
import { tempRepository } from '../helpers/temp-repository.js';
import { post, startTestServer } from '../helpers/test-server.js';
import { Metrics } from '../../src/observability/metrics.js';

const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Array<{ label: number; image: number[][][] }>;
const digits = (i: number) => ({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: samples[i]!.image }] });

test('each metric moves as it should after real requests', async () => {
  const repo = await tempRepository({
    digits: { config: 'instance_group: { count: 1 }\ndynamic_batching: { max_queue_delay_microseconds: 20000 }\nresponse_cache: { enable: true }\n' },
    broken: { bytes: 'not a model' },
  });
  const server = await startTestServer({ models: repo.dir });
  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    return parsePrometheusText(await response.text());
  };
  try {
    const before = await scrape();
    const d = { model: 'digits', version: '1' };
    assert.equal(sample(before, 'slipway_model_state', { ...d, state: 'READY' }), 1);
    assert.equal(sample(before, 'slipway_model_state', { model: 'broken', version: '1', state: 'UNAVAILABLE' }), 1);
    assert.ok(sample(before, 'slipway_model_load_duration_seconds', d) > 0);
    assert.equal(sample(before, 'slipway_instances', d), 1);
    assert.ok(before.has('nodejs_eventloop_lag_seconds'), 'event-loop lag is exported');
    assert.ok(before.has('process_cpu_seconds_total'));

    // success (and a burst of distinct inputs that batches: all misses however they arrive), 4xx, 5xx, a cache hit
    const burstSize = samples.length;
    const burst = await Promise.all(Array.from({ length: burstSize }, (_, i) => post(`${server.url}/v2/models/digits/infer`, digits(i))));
    assert.ok(burst.every((r) => r.status === 200));
    assert.equal((await post(`${server.url}/v2/models/digits/infer`, digits(0))).status, 200); // a hit: sample 0 was in the burst
    assert.equal((await post(`${server.url}/v2/models/digits/infer`, '{')).status, 400);
    assert.equal((await post(`${server.url}/v2/models/nope-${Date.now()}/infer`, {})).status, 404);
    assert.equal((await post(`${server.url}/v2/models/broken/infer`, digits(0))).status, 503);

    const after = await scrape();
    const success = { ...d, protocol: 'http', outcome: 'success' };
    assert.equal(sample(after, 'slipway_requests_total', success) - sample(before, 'slipway_requests_total', success), burstSize + 1);
    assert.equal(sample(after, 'slipway_requests_total', { ...d, protocol: 'http', outcome: 'MALFORMED_REQUEST' }), 1);
    assert.equal(sample(after, 'slipway_requests_total', { model: 'unknown', version: 'unknown', outcome: 'MODEL_NOT_FOUND' }), 1, 'unknown names never become label values');
    assert.equal(sample(after, 'slipway_requests_total', { model: 'broken', outcome: 'MODEL_NOT_READY' }), 1);
    assert.equal(sample(after, 'slipway_request_duration_seconds_count', { ...d, protocol: 'http' }), burstSize + 2);
    assert.equal(sample(after, 'slipway_cache_hits_total', d), 1);
    assert.equal(sample(after, 'slipway_cache_misses_total', d), burstSize);
    assert.ok(sample(after, 'slipway_cache_bytes') > 0);
    const executions = sample(after, 'slipway_batch_size_count', d);
    assert.ok(executions >= 1 && executions < burstSize, `${burstSize} concurrent requests ran in ${executions} executions`);
    assert.equal(sample(after, 'slipway_batch_size_sum', d), burstSize, 'rows executed');
    assert.equal(sample(after, 'slipway_queue_duration_seconds_count', d), burstSize);
    assert.equal(sample(after, 'slipway_compute_duration_seconds_count', d), executions);
    assert.ok(sample(after, 'slipway_instance_busy_seconds_total', d) > 0);
    assert.equal(sample(after, 'slipway_queue_depth', d), 0);
    assert.equal(sample(after, 'slipway_inflight_requests', d), 0);
    for (const key of after.keys()) assert.doesNotMatch(key, /nope-/, 'no raw names as label values');
  } finally {
    await server.close();
    await repo.remove();
  }
});

test('suppressed log lines are counted between scrapes and added up at each one', async () => {
  const metrics = new Metrics();
  const count = async () => Number(/slipway_log_lines_suppressed_total\{kind="request"\} (\d+)/.exec(await metrics.registry.metrics())?.[1] ?? 'NaN');
  for (let i = 0; i < 3; i++) metrics.logLineSuppressed('request');
  metrics.logLineSuppressed('DEADLINE_EXCEEDED');
  assert.equal(await count(), 3);
  assert.equal(await count(), 3, 'a second scrape adds nothing new');
  metrics.logLineSuppressed('request');
  metrics.logLineSuppressed('request');
  assert.equal(await count(), 5);
  assert.match(await metrics.registry.metrics(), /slipway_log_lines_suppressed_total\{kind="DEADLINE_EXCEEDED"\} 1/);
});
