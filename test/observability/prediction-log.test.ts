import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Slipway } from '../../src/slipway.js';
import { Metrics } from '../../src/observability/metrics.js';
import { TEST_MODELS } from '../helpers/paths.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';
import { POSTGRES_URL, requirePostgres } from '../helpers/requirements.js';

const request = (i: number) => ({
  model: 'identity_fp32',
  id: `r${i}`,
  inputs: [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [1, 2], data: new Float32Array([i, i + 0.5]) }],
  transferInputs: true,
});

async function logWith(store: string, options: { sampleRate?: number; maxRows?: number; maxQueue?: number; requests?: number } = {}) {
  const metrics = new Metrics({ defaultMetrics: false });
  const slipway = await Slipway.open({
    models: `${TEST_MODELS}/identity_fp32`,
    metrics,
    predictionLog: { store, sampleRate: options.sampleRate ?? 1, ...(options.maxRows !== undefined && { maxRows: options.maxRows }), ...(options.maxQueue !== undefined && { maxQueue: options.maxQueue }) },
  });
  const replies = await Promise.all(Array.from({ length: options.requests ?? 20 }, (_, i) => slipway.infer(request(i))));
  await slipway.close();
  return { replies, metrics: parsePrometheusText(await metrics.registry.metrics()) };
}

const postgres = await requirePostgres();

describe('prediction log', () => {
  test('SQLite: every sampled request with inputs, outputs, version and latency; inputs moved to the worker were captured first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-plog-'));
    try {
      const { metrics } = await logWith(`sqlite:${join(dir, 'log.db')}`);
      const db = new Database(join(dir, 'log.db'), { readonly: true });
      const rows = db.prepare('SELECT * FROM slipway_predictions ORDER BY request_id').all() as Array<Record<string, string | number>>;
      db.close();
      assert.equal(rows.length, 20);
      const r3 = rows.find((r) => r.request_id === 'r3')!;
      assert.equal(r3.model, 'identity_fp32');
      assert.equal(r3.version, '1');
      assert.ok((r3.latency_ms as number) > 0);
      assert.deepEqual(JSON.parse(r3.inputs as string), [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [3, 3.5] }]);
      assert.deepEqual(JSON.parse(r3.outputs as string), [{ name: 'OUTPUT0', datatype: 'FP32', shape: [1, 2], data: [3, 3.5] }]);
      assert.equal(sample(metrics, 'slipway_prediction_log_written_total'), 20);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the store stays bounded (oldest rows go) and sampling takes about the configured fraction', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-plog-'));
    try {
      await logWith(`sqlite:${join(dir, 'bounded.db')}`, { maxRows: 5, requests: 30 });
      const db = new Database(join(dir, 'bounded.db'), { readonly: true });
      assert.ok((db.prepare('SELECT COUNT(*) AS n FROM slipway_predictions').get() as { n: number }).n <= 5);
      db.close();
      const none = await logWith(`sqlite:${join(dir, 'none.db')}`, { sampleRate: 0.000001, requests: 50 });
      assert.equal(sample(none.metrics, 'slipway_prediction_log_written_total'), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a full queue drops records (counted) and never fails or slows the requests', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-plog-'));
    try {
      const { replies, metrics } = await logWith(`jsonl:${join(dir, 'log.jsonl')}`, { maxQueue: 1, requests: 40 });
      assert.equal(replies.length, 40);
      const written = sample(metrics, 'slipway_prediction_log_written_total');
      const dropped = sample(metrics, 'slipway_prediction_log_dropped_total', { reason: 'queue_full' });
      assert.equal(written + dropped, 40);
      assert.ok(dropped > 0, 'with room for one record, a burst must drop some');
      const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n');
      assert.equal(lines.length, written);
      assert.equal(JSON.parse(lines[0]!).model, 'identity_fp32');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an unreachable store is refused at start with the reason', async () => {
    await assert.rejects(
      Slipway.open({ models: `${TEST_MODELS}/identity_fp32`, predictionLog: { store: 'ftp://nowhere', sampleRate: 1 } }),
      /prediction log: prediction log store 'ftp:\/\/nowhere': expected sqlite:PATH, postgres:\/\/… or jsonl:PATH/,
    );
  });

  describe('on PostgreSQL', postgres, () => {
    test('every sampled request lands in slipway_predictions', async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      const schema = `plog_${process.pid}_${Date.now()}`;
      await client.query(`CREATE SCHEMA ${schema}`);
      try {
        const url = new URL(POSTGRES_URL);
        url.searchParams.set('options', `-c search_path=${schema}`);
        await logWith(url.toString(), { requests: 12 });
        const { rows } = await client.query(`SELECT request_id, inputs FROM ${schema}.slipway_predictions ORDER BY id`);
        assert.equal(rows.length, 12);
        assert.ok(rows.every((r: { inputs: unknown[] }) => Array.isArray(r.inputs)));
      } finally {
        await client.query(`DROP SCHEMA ${schema} CASCADE`);
        await client.end();
      }
    });
  });
});
