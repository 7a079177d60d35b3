import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EXAMPLES } from '../helpers/paths.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';
import { tempRepository } from '../helpers/temp-repository.js';
import { post, startTestServer } from '../helpers/test-server.js';

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

    // success (and a burst that batches), 4xx, 5xx, a cache hit
    // Twelve different inputs: with only ten samples, a repeated one could hit the cache if its twin
    // finished first (a busy machine spreads the burst out).
    const distinct = (i: number) => {
      const request = digits(i % 10);
      return { inputs: [{ ...request.inputs[0]!, data: (request.inputs[0]!.data as number[][][]).map((plane, p) => (p === 0 && i >= 10 ? plane.map((row, r) => (r === 0 ? [row[0]! + i, ...row.slice(1)] : row)) : plane)) }] };
    };
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => post(`${server.url}/v2/models/digits/infer`, distinct(i))));
    assert.ok(burst.every((r) => r.status === 200));
    assert.equal((await post(`${server.url}/v2/models/digits/infer`, digits(0))).status, 200); // a hit: sample 0 was in the burst
    assert.equal((await post(`${server.url}/v2/models/digits/infer`, '{')).status, 400);
    assert.equal((await post(`${server.url}/v2/models/nope-${Date.now()}/infer`, {})).status, 404);
    assert.equal((await post(`${server.url}/v2/models/broken/infer`, digits(0))).status, 503);

    const after = await scrape();
    const success = { ...d, protocol: 'http', outcome: 'success' };
    assert.equal(sample(after, 'slipway_requests_total', success) - sample(before, 'slipway_requests_total', success), 13);
    assert.equal(sample(after, 'slipway_requests_total', { ...d, protocol: 'http', outcome: 'MALFORMED_REQUEST' }), 1);
    assert.equal(sample(after, 'slipway_requests_total', { model: 'unknown', version: 'unknown', outcome: 'MODEL_NOT_FOUND' }), 1, 'unknown names never become label values');
    assert.equal(sample(after, 'slipway_requests_total', { model: 'broken', outcome: 'MODEL_NOT_READY' }), 1);
    assert.equal(sample(after, 'slipway_request_duration_seconds_count', { ...d, protocol: 'http' }), 14);
    assert.equal(sample(after, 'slipway_cache_hits_total', d), 1);
    assert.equal(sample(after, 'slipway_cache_misses_total', d), 12);
    assert.ok(sample(after, 'slipway_cache_bytes') > 0);
    const executions = sample(after, 'slipway_batch_size_count', d);
    assert.ok(executions >= 1 && executions < 12, `12 concurrent requests ran in ${executions} executions`);
    assert.equal(sample(after, 'slipway_batch_size_sum', d), 12, 'rows executed');
    assert.equal(sample(after, 'slipway_queue_duration_seconds_count', d), 12);
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
