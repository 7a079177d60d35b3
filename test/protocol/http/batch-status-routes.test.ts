import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DIGITS_MODEL, DIGIT_SAMPLES, digitsCsv, runCli, tempDir, writeText } from '../../helpers/batch-data.js';
import { startCliServer, type CliServer } from '../../helpers/cli-server.js';
import { get } from '../../helpers/test-server.js';

// `slipway serve --batch-db`: a real server process, read by a real HTTP client, over the database a
// real `slipway batch run` wrote.

describe('GET /v2/batch/status and /v1/batch/{table}/{key}', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let db: string;
  let server: CliServer;

  before(async () => {
    ({ dir, remove: cleanup } = await tempDir());
    db = join(dir, 'served.db');
    // The server starts before any job has created the database.
    server = await startCliServer([DIGITS_MODEL, '--batch-db', `sqlite:${db}`]);
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    await cleanup();
  });

  test('before the first job: 503 with the reason, and the server keeps serving', async () => {
    const scrape = await fetch(`${server.url}/metrics`);
    assert.equal(scrape.status, 200, 'metrics still scrape without the batch database');
    assert.doesNotMatch(await scrape.text(), /^slipway_batch_last_success_timestamp_seconds\{/m);
    const reply = await get(`${server.url}/v2/batch/status`);
    assert.equal(reply.status, 503);
    assert.equal(reply.body.code, 'DATABASE_UNAVAILABLE');
    assert.match(reply.body.error, /the batch database is not available yet/);
    assert.equal((await get(`${server.url}/v2/health/live`)).status, 200);
  });

  test('after a job: the age of the newest successful run per table, and stored predictions by key', async () => {
    const csv = await writeText(join(dir, 'in.csv'), digitsCsv(30));
    const run = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--output-column', 'digit=argmax(probabilities)', '--output-column', 'probs=json(probabilities)', '--progress', 'none']);
    assert.equal(run.code, 0, run.stderr);

    const status = await get(`${server.url}/v2/batch/status`);
    assert.equal(status.status, 200);
    assert.equal(status.body.tables.length, 1);
    const table = status.body.tables[0];
    assert.equal(table.table, 'digits_predictions');
    assert.equal(table.state, 'ok');
    assert.ok(table.age_seconds >= 0 && table.age_seconds < 120);
    assert.equal(table.last_success.rows_predicted, 30);
    assert.equal(table.last_run.status, 'succeeded');

    // The same age, for Prometheus' staleness alert (deploy/monitoring/alert-rules.yml).
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const stamp = /^slipway_batch_last_success_timestamp_seconds\{table="digits_predictions"\} (\S+)$/m.exec(metrics);
    assert.ok(stamp, 'the table is exported');
    assert.ok(Math.abs(Number(stamp[1]) - Date.now() / 1000) < 120);

    const fresh = await get(`${server.url}/v2/batch/status?max_age=1h`);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.healthy, true);

    const prediction = await get(`${server.url}/v1/batch/digits_predictions/k7`);
    assert.equal(prediction.status, 200);
    assert.equal(prediction.body.key, 'k7');
    assert.equal(prediction.body.prediction.digit, DIGIT_SAMPLES[7]!.label);
    assert.equal(prediction.body.prediction.probs.length, 10, 'JSON columns come back as JSON');
    assert.equal(prediction.body.model_version, '1');
    assert.equal(prediction.body.run_status, 'succeeded');
    assert.ok(prediction.body.age_seconds >= 0);

    const missing = await get(`${server.url}/v1/batch/digits_predictions/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'PREDICTION_NOT_FOUND');
    const unknown = await get(`${server.url}/v1/batch/users/1`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'TABLE_NOT_FOUND');
    assert.match(unknown.body.error, /no batch job has written a table named 'users'/);
    const badAge = await get(`${server.url}/v2/batch/status?max_age=soon`);
    assert.equal(badAge.status, 400);
    assert.match(badAge.body.error, /max_age 'soon'/);
  });

  test('stale or failed tables turn the probe (max_age) into a 503 that says why', async () => {
    const writer = new Database(db);
    const old = new Date(Date.now() - 5 * 3600_000).toISOString();
    writer.prepare('UPDATE slipway_runs SET started_at = ?, finished_at = ?').run(old, old);
    writer.close();
    const stale = await get(`${server.url}/v2/batch/status?max_age=2h`);
    assert.equal(stale.status, 503);
    assert.equal(stale.body.healthy, false);
    assert.equal(stale.body.tables[0].state, 'stale');
    assert.ok(stale.body.tables[0].age_seconds >= 5 * 3600 - 5);
    assert.equal((await get(`${server.url}/v2/batch/status`)).status, 200, 'without max_age it only reports');
    const table = await get(`${server.url}/v2/batch/status?table=nope`);
    assert.equal(table.status, 404);
  });
});
