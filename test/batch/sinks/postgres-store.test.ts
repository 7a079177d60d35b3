import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { DIGITS_MODEL, DIGIT_SAMPLES, digitsCsv, digitsJsonl, runCli, tempDir, writeText } from '../../helpers/batch-data.js';
import { POSTGRES_URL, requirePostgres } from '../../helpers/requirements.js';

// The same jobs as test/cli/batch.test.ts, written to a real PostgreSQL. Each test gets its own
// schema (`?schema=` on the URL puts slipway_runs and the tables there), dropped afterwards.

describe('batch jobs on PostgreSQL', await requirePostgres(), () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  const schemas: string[] = [];

  const newSchema = (): { schema: string; url: string } => {
    const schema = `slipway_batch_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('schema', schema);
    return { schema, url: url.toString() };
  };

  before(async () => {
    ({ dir, remove: cleanup } = await tempDir());
    await client.connect();
  });
  after(async () => {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    await cleanup();
  });

  const count = async (sql: string): Promise<number> => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);

  test('CSV in, table out, with rejects; the runs row and the predictions agree', async () => {
    const { schema, url } = newSchema();
    const bad = new Map([[2, 'k2,x'], [9, 'k0,' + Array(64).fill('1').join(',')]]);
    const csv = await writeText(join(dir, 'pg.csv'), digitsCsv(300, { bad }));
    const result = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', url, '--key', 'id', '--progress', 'none']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /300 rows read, 298 predicted, 2 rejected/);
    assert.doesNotMatch(result.stdout, /password/);
    const rows = (await client.query<{ id: string; label: string; score: number }>(`SELECT id, label, score FROM "${schema}".digits_predictions`)).rows;
    assert.equal(rows.length, 298);
    assert.ok(rows.filter((r) => Number(r.label) === DIGIT_SAMPLES[Number(r.id.slice(1)) % 10]!.label).length >= 290);
    const rejects = (await client.query<{ position: string; reason: string }>(`SELECT position, reason FROM "${schema}".digits_predictions_rejects ORDER BY position`)).rows;
    assert.deepEqual(rejects.map((r) => Number(r.position)), [2, 9]);
    assert.match(rejects[0]!.reason, /the row has 2 fields but the header has 65/);
    assert.match(rejects[1]!.reason, /key 'k0' appears more than once/);
    const run = (await client.query(`SELECT status, rows_read, rows_predicted, rows_rejected FROM "${schema}".slipway_runs`)).rows[0];
    assert.deepEqual({ ...run, rows_read: Number(run.rows_read), rows_predicted: Number(run.rows_predicted), rows_rejected: Number(run.rows_rejected) }, {
      status: 'succeeded',
      rows_read: 300,
      rows_predicted: 298,
      rows_rejected: 2,
    });
  });

  test('JSONL into a JSONB column, and a SQL query input read back from PostgreSQL', async () => {
    const { schema, url } = newSchema();
    const jsonl = await writeText(join(dir, 'pg.jsonl'), digitsJsonl(80));
    const first = await runCli([
      'batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', jsonl, '--output', url, '--key', 'id', '--table', 'scored',
      '--output-column', 'digit=argmax(probabilities)', '--output-column', 'probs=json(probabilities)', '--progress', 'none',
    ]);
    assert.equal(first.code, 0, first.stderr);
    const types = (await client.query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'scored'`, [schema])).rows;
    assert.equal(types.find((t) => t.column_name === 'probs')?.data_type, 'jsonb');
    assert.equal(types.find((t) => t.column_name === 'digit')?.data_type, 'bigint');
    const probs = (await client.query<{ probs: number[] }>(`SELECT probs FROM "${schema}".scored LIMIT 1`)).rows[0]!.probs;
    assert.equal(probs.length, 10);

    await client.query(`CREATE TABLE "${schema}".inbox (ticket bigint PRIMARY KEY, pixels jsonb NOT NULL)`);
    for (let i = 0; i < 2500; i++) await client.query(`INSERT INTO "${schema}".inbox VALUES ($1, $2)`, [5000 + i, JSON.stringify(DIGIT_SAMPLES[i % 10]!.image)]);
    const query = await runCli([
      'batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--query', 'SELECT ticket, pixels FROM inbox WHERE ticket % 2 = 0',
      '--output', url, '--key', 'ticket', '--map', 'image=pixels', '--table', 'inbox_scores', '--progress', 'none',
    ]);
    assert.equal(query.code, 0, query.stderr);
    const scored = (await client.query<{ ticket: string; label: string }>(`SELECT ticket, label FROM "${schema}".inbox_scores`)).rows;
    assert.equal(scored.length, 1250);
    for (const row of scored) assert.equal(Number(row.label), DIGIT_SAMPLES[(Number(row.ticket) - 5000) % 10]!.label);
  });

  for (const point of ['after-start', 'mid-batch:2', 'mid-commit:2']) {
    test(`killed at ${point} and run again: exact counts, no duplicate keys`, async () => {
      const { schema, url } = newSchema();
      const rows = 900;
      const csv = await writeText(join(dir, `pg-kill-${point.replace(':', '-')}.csv`), digitsCsv(rows, { bad: new Map([[400, 'k400,?']]), seed: 3 }));
      const args = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', url, '--key', 'id', '--batch-size', '16', '--commit-rows', '150', '--progress', 'none'];
      const killed = await runCli(args, { env: { SLIPWAY_BATCH_FAILPOINT: point } });
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      const state = (await client.query(`SELECT status, rows_read, rows_predicted FROM "${schema}".slipway_runs`)).rows[0];
      assert.equal(state.status, 'running');
      assert.equal(await count(`SELECT count(*) AS n FROM "${schema}".digits_predictions`), Number(state.rows_predicted));
      if (point !== 'after-start') assert.ok(Number(state.rows_read) > 0 && Number(state.rows_read) < rows, `killed at row ${state.rows_read}`);

      const resumed = await runCli(args);
      assert.equal(resumed.code, 0, resumed.stderr);
      if (Number(state.rows_read) > 0) assert.match(resumed.stdout, /resumed at row/);
      const runs = (await client.query(`SELECT status, rows_read, rows_predicted, rows_rejected FROM "${schema}".slipway_runs`)).rows;
      assert.equal(runs.length, 1);
      assert.equal(runs[0].status, 'succeeded');
      assert.equal(Number(runs[0].rows_read), rows);
      assert.equal(Number(runs[0].rows_predicted), rows - 1);
      assert.equal(Number(runs[0].rows_rejected), 1);
      assert.equal(await count(`SELECT count(*) AS n FROM "${schema}".digits_predictions`), rows - 1);
      assert.equal(await count(`SELECT count(DISTINCT id) AS n FROM "${schema}".digits_predictions`), rows - 1);
      assert.equal(await count(`SELECT count(*) AS n FROM "${schema}".digits_predictions_rejects`), 1);
    });
  }

  test('--keep-runs 1 keeps only the newest prediction of each key', async () => {
    const { schema, url } = newSchema();
    const csv = await writeText(join(dir, 'pg-keep.csv'), digitsCsv(40));
    const args = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', url, '--key', 'id', '--keep-runs', '1', '--progress', 'none'];
    assert.equal((await runCli(args)).code, 0);
    assert.equal((await runCli(args)).code, 0);
    assert.equal(await count(`SELECT count(*) AS n FROM "${schema}".slipway_runs`), 2);
    assert.equal(await count(`SELECT count(*) AS n FROM "${schema}".digits_predictions`), 40);
    assert.equal(await count(`SELECT count(DISTINCT run_id) AS n FROM "${schema}".digits_predictions`), 1);
  });

  test('status reads PostgreSQL: fresh, then failed', async () => {
    const { url } = newSchema();
    const csv = await writeText(join(dir, 'pg-status.csv'), digitsCsv(10));
    assert.equal((await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', url, '--key', 'id', '--progress', 'none'])).code, 0);
    assert.equal((await runCli(['batch', 'status', '--output', url, '--max-age', '1h'])).code, 0);
    const bad = await writeText(join(dir, 'pg-status-bad.csv'), digitsCsv(10, { bad: new Map([[1, 'k1,x']]) }));
    await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', bad, '--output', url, '--key', 'id', '--max-rejects', '0', '--progress', 'none']);
    const failed = await runCli(['batch', 'status', '--output', url, '--max-age', '1h', '--json']);
    assert.equal(failed.code, 3);
    assert.equal((JSON.parse(failed.stdout) as { tables: Array<{ state: string }> }).tables[0]!.state, 'failed');
  });
});
