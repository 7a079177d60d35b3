import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { ModelConfig } from '../../src/config/model-config.js';
import { Metrics } from '../../src/observability/metrics.js';
import { compareOutputs } from '../../src/router/compare-outputs.js';
import { ShadowMirror, type ShadowTarget } from '../../src/router/shadow.js';
import type { ModelScheduler } from '../../src/scheduler/model-scheduler.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { toHalfBits } from '../../src/tensor/fp16.js';
import { ROOT } from '../helpers/paths.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';
import { lookupBody, lookupRepository, type LookupRepository } from '../helpers/rollout-models.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fp32 = (name: string, shape: number[], values: number[]): Tensor => ({ name, datatype: 'FP32', shape, data: Float32Array.from(values) });

describe('comparing a shadow answer with the primary one', () => {
  test('classifier scores ([rows, classes]) agree when every row has the same top-1, whatever the scores', () => {
    const primary = [fp32('probabilities', [2, 3], [0.1, 0.7, 0.2, 0.5, 0.3, 0.2])];
    assert.deepEqual(compareOutputs(primary, [fp32('probabilities', [2, 3], [0.2, 0.5, 0.3, 0.6, 0.2, 0.2])], 'auto', 1e-4).agree, true);
    const flipped = compareOutputs(primary, [fp32('probabilities', [2, 3], [0.2, 0.5, 0.3, 0.2, 0.6, 0.2])], 'auto', 1e-4);
    assert.equal(flipped.agree, false);
    assert.equal(flipped.detail, "output 'probabilities' row 1: top-1 0 in the primary, 1 in the shadow");
    assert.ok(Math.abs(flipped.maxAbsDiff! - 0.3) < 1e-6);
  });

  test('other tensors agree within the tolerance (max absolute difference); top1 can be asked for any shape', () => {
    const primary = [fp32('y', [3], [1, 2, 3])];
    assert.equal(compareOutputs(primary, [fp32('y', [3], [1, 2, 3.00005])], 'auto', 1e-4).agree, true);
    const off = compareOutputs(primary, [fp32('y', [3], [1, 2.5, 3])], 'auto', 1e-4);
    assert.equal(off.agree, false);
    assert.equal(off.maxAbsDiff, 0.5);
    assert.match(off.detail!, /differs by up to 0\.500 \(tolerance 0\.0001\)/);
    assert.equal(compareOutputs(primary, [fp32('y', [3], [0, 1, 9])], 'top1', 1e-4).agree, true, 'the arg-max of one row is the same');
    assert.equal(compareOutputs(primary, [fp32('y', [3], [9, 1, 2])], 'max_abs_diff', 10).agree, true);
  });

  test('FP16 is compared by value, strings exactly; a missing output or another shape disagrees', () => {
    const half = (values: number[]): Tensor => ({ name: 'h', datatype: 'FP16', shape: [values.length], data: Uint16Array.from(values.map(toHalfBits)) });
    assert.equal(compareOutputs([half([1, 2])], [half([1, 2.001])], 'max_abs_diff', 0.01).agree, true);
    const text = (values: string[]): Tensor => ({ name: 's', datatype: 'BYTES', shape: [values.length], data: values });
    assert.equal(compareOutputs([text(['a', 'b'])], [text(['a', 'b'])], 'auto', 0).agree, true);
    assert.match(compareOutputs([text(['a', 'b'])], [text(['a', 'c'])], 'auto', 0).detail!, /output 's' differs at element 1/);
    assert.match(compareOutputs([fp32('y', [1], [1])], [fp32('z', [1], [1])], 'auto', 0).detail!, /the shadow has no output 'y'/);
    assert.match(compareOutputs([fp32('y', [1, 2], [1, 2])], [fp32('y', [2, 1], [1, 2])], 'auto', 0).detail!, /FP32\[2,1\] in the shadow, FP32\[1,2\] in the primary/);
  });

  test('a copy is shed, not queued, while the primary or the shadow has requests waiting or enough copies run', () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const outcomes: string[] = [];
    const mirror = new ShadowMirror({ metrics, onOutcome: (_m, _v, o) => outcomes.push(o), random: () => 0 });
    const target = (version: number, queueDepth: number): ShadowTarget => ({ version, config: {} as ModelConfig, scheduler: { queueDepth } as ModelScheduler });
    const policy = { version: 2, percent: 50, compare: 'auto' as const, tolerance: 1e-4 };
    const request = { inputs: [fp32('x', [1], [1])], outputNames: ['y'] };
    assert.equal(mirror.select('m', target(1, 3), policy, target(2, 0), request), undefined);
    assert.equal(mirror.select('m', target(1, 0), policy, target(2, 1), request), undefined);
    assert.deepEqual(outcomes, ['shed', 'shed']);
    const copy = mirror.select('m', target(1, 0), policy, target(2, 0), request)!;
    assert.notEqual(copy.inputs[0]!.data, request.inputs[0]!.data, 'the inputs are copied: the primary may move its own to a worker');
    assert.equal(mirror.select('m', target(2, 0), policy, target(2, 0), request), undefined, 'a version is not its own shadow');
    assert.equal(new ShadowMirror({ random: () => 0.6 }).select('m', target(1, 0), policy, target(2, 0), request), undefined, '60 ≥ 50%: not copied');
  });
});

// judged: a handler whose compare() calls answers within 0.5 of each other the same; its version 2 is 0.25 off.
const JUDGED_HANDLER = `import { defineHandler, z } from 'slipway';
export default defineHandler({
  input: z.object({ index: z.number().int() }),
  output: z.object({ value: z.number() }),
  preprocess: ({ index }) => ({ idx: { datatype: 'INT64', shape: [1], data: BigInt64Array.of(BigInt(index)) } }),
  postprocess: ({ value }) => ({ value: (value!.data as Float32Array)[0]! }),
  compare: (primary, shadow) => {
    const difference = Math.abs((primary.value!.data as Float32Array)[0]! - (shadow.value!.data as Float32Array)[0]!);
    return { agree: difference < 0.5, difference };
  },
});
`;

describe('shadow traffic on a running server', () => {
  let repo: LookupRepository;
  let server: TestServer;
  const metrics = new Metrics({ defaultMetrics: false });
  const N = 200;

  before(async () => {
    // lookup version 2 fails the indices 90..99 (10%): a failing shadow. judged version 2 answers 0.25 off.
    repo = await lookupRepository({ 1: 100, 2: 90 }, 'traffic:\n  weights: { 1: 100 }\n  shadow: { version: 2, percent: 100 }\n', join(ROOT, '.tmp'));
    await repo.addVersion(1, 100, 0, 'judged');
    await repo.addVersion(2, 100, 0.25, 'judged');
    await writeFile(join(repo.dir, 'judged', 'config.yaml'), 'instance_group: { count: 1, intra_op_threads: 1 }\nversion_policy: { all: {} }\ntraffic:\n  weights: { 1: 100 }\n  shadow: { version: 2, percent: 100 }\n');
    await writeFile(join(repo.dir, 'judged', 'handler.ts'), JUDGED_HANDLER);
    server = await startTestServer({ models: repo.dir, metrics, predictionLog: { store: `sqlite:${join(repo.dir, 'log.db')}`, sampleRate: 0.01 } });
  });
  after(async () => {
    await server.close();
    await repo.remove();
  });

  test('clients get only the primary’s answers, and a failing shadow changes nothing for them', async () => {
    for (let i = 0; i < N; i++) {
      const index = i % 100;
      const response = await fetch(`${server.url}/v2/models/lookup/infer`, { method: 'POST', body: lookupBody(index) });
      assert.equal(response.status, 200, `index ${index}`);
      const body = (await response.json()) as { model_version: string; outputs: Array<{ data: number[] }> };
      assert.equal(body.model_version, '1');
      assert.equal(body.outputs[0]!.data[0], index / 2);
    }
    // Copies run after the answers: wait for the last ones.
    const compared = () => ['agree', 'disagree', 'error', 'shed'].reduce((sum, outcome) => sum + sample(parsePrometheusText(metricsText), 'slipway_shadow_requests_total', { model: 'lookup', outcome }), 0);
    let metricsText = '';
    for (let i = 0; i < 200; i++) {
      metricsText = await metrics.registry.metrics();
      if (compared() === N) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const samples = parsePrometheusText(metricsText);
    const count = (outcome: string) => sample(samples, 'slipway_shadow_requests_total', { model: 'lookup', version: '2', outcome });
    assert.equal(count('agree') + count('error') + count('shed'), N);
    assert.equal(count('disagree'), 0, 'where the shadow answers, it answers the same');
    assert.ok(count('error') >= 10 && count('error') <= 20 + count('shed'), `${count('error')} copies failed (indices 90-99), ${count('shed')} shed`);
    assert.ok(count('agree') >= 150, `${count('agree')} agreed`);
    assert.ok(sample(samples, 'slipway_shadow_max_abs_difference_count', { model: 'lookup', version: '2' }) >= 150);
  });

  test('a handler’s compare() judges its model’s shadow answers, and its difference is exported', async () => {
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${server.url}/api/models/judged/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"index":${i}}` });
      assert.deepEqual(await response.json(), { value: i / 2 });
    }
    let samples = parsePrometheusText(await metrics.registry.metrics());
    for (let i = 0; i < 200 && sample(samples, 'slipway_shadow_requests_total', { model: 'judged', outcome: 'agree' }) + sample(samples, 'slipway_shadow_requests_total', { model: 'judged', outcome: 'shed' }) < 20; i++) {
      await new Promise((r) => setTimeout(r, 25));
      samples = parsePrometheusText(await metrics.registry.metrics());
    }
    assert.equal(sample(samples, 'slipway_shadow_requests_total', { model: 'judged', outcome: 'disagree' }), 0, 'max_abs_diff would disagree (0.25 > 1e-4); the handler says they agree');
    assert.ok(sample(samples, 'slipway_shadow_requests_total', { model: 'judged', outcome: 'agree' }) > 0);
    assert.ok(sample(samples, 'slipway_shadow_max_abs_difference_sum', { model: 'judged', version: '2' }) > 0);
  });

  test('every comparison is written to the prediction log with both answers', async () => {
    await server.close();
    const db = new Database(join(repo.dir, 'log.db'), { readonly: true });
    try {
      const rows = db.prepare("SELECT version, inputs, outputs, shadow FROM slipway_predictions WHERE model = 'lookup' AND shadow IS NOT NULL").all() as Array<{ version: string; inputs: string; outputs: string; shadow: string }>;
      assert.ok(rows.length >= 150, `${rows.length} shadow rows`);
      const failed = rows.map((r) => ({ ...r, shadow: JSON.parse(r.shadow) as { version: string; outcome: string; detail?: string; outputs?: unknown; max_abs_diff: number | null } })).find((r) => r.shadow.outcome === 'error')!;
      assert.equal(failed.version, '1');
      assert.equal(failed.shadow.version, '2');
      assert.match(failed.shadow.detail!, /^INFERENCE_FAILED: .*indices element out of data bounds/);
      const agreed = rows.map((r) => JSON.parse(r.shadow) as { outcome: string; outputs: Array<{ data: number[] }>; max_abs_diff: number }).find((s) => s.outcome === 'agree')!;
      assert.equal(agreed.max_abs_diff, 0);
      assert.equal(agreed.outputs[0]!.data.length, 1);
      // The handler's compare() saw copies: both answers are still whole for the log.
      const judged = db.prepare("SELECT outputs, shadow FROM slipway_predictions WHERE model = 'judged' AND shadow IS NOT NULL").all() as Array<{ outputs: string; shadow: string }>;
      assert.ok(judged.length > 0);
      for (const row of judged) {
        const shadow = JSON.parse(row.shadow) as { outcome: string; max_abs_diff: number; outputs: Array<{ data: number[] }> };
        assert.equal(shadow.outcome, 'agree');
        assert.equal(shadow.max_abs_diff, 0.25);
        assert.equal(shadow.outputs[0]!.data[0]! - (JSON.parse(row.outputs) as Array<{ data: number[] }>)[0]!.data[0]!, 0.25);
      }
    } finally {
      db.close();
    }
  });
});
