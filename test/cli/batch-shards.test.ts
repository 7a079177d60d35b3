import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { keyHash, parseShard } from '../../src/batch/shard.js';
import { cronJobYaml } from '../../src/batch/kubernetes-cronjob.js';
import { DIGITS_MODEL, DIGIT_SAMPLES, digitsCsv, runCli, tempDir, writeText } from '../helpers/batch-data.js';
import { parseObjects, validateKubernetesObject } from '../helpers/kubernetes-schemas.js';
import { POSTGRES_URL, requirePostgres } from '../helpers/requirements.js';

test('--shard i/N: the parts are disjoint, cover every key, and are about even', () => {
  const shards = [0, 1, 2, 3].map((i) => parseShard(`${i}/4`));
  const sizes = [0, 0, 0, 0];
  for (let k = 0; k < 20_000; k++) {
    const owners = shards.filter((s) => s.owns(`k${k}`));
    assert.equal(owners.length, 1, `key k${k} belongs to ${owners.length} shards`);
    sizes[owners[0]!.index]!++;
  }
  for (const size of sizes) assert.ok(size > 4500 && size < 5500, `shard sizes ${sizes.join(', ')}`);
  assert.equal(keyHash('k1'), keyHash('k1'));
  assert.ok(parseShard('0/1').owns('anything'));
  for (const bad of ['4/4', '-1/4', '1/0', 'a/b', '1']) assert.throws(() => parseShard(bad), /--shard '.*': expected i\/N with 0 <= i < N/);
});

test('--emit kubernetes --shards 4: a valid Indexed Job, pod i running --shard i/4, the URL from a Secret', async () => {
  const result = await runCli([
    'batch', 'run', '--emit', 'kubernetes', '--shards', '4', '--image', 'registry.example/slipway:1.0', '--models', '/models', '--model', 'digits',
    '--input', '/data/in/*.csv', '--key', 'id', '--output', 'postgres://ml:secret@db:5432/ml',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stdout, /secret@/, 'the password stays out of the manifest');
  const [job] = parseObjects(result.stdout);
  validateKubernetesObject(job!);
  assert.equal(job!.kind, 'Job');
  assert.deepEqual([job!.spec.completionMode, job!.spec.completions, job!.spec.parallelism], ['Indexed', 4, 4]);
  const container = job!.spec.template.spec.containers[0];
  assert.deepEqual(container.args.slice(-2), ['--shard', '$(JOB_COMPLETION_INDEX)/4']);
  assert.ok(container.args.includes('$(SLIPWAY_BATCH_OUTPUT)'));
  assert.equal(job!.spec.template.spec.restartPolicy, 'OnFailure', 'a dead pod restarts and resumes its shard');
  // The CronJob shares the container; it validates against the same schemas.
  const [cron] = parseObjects(cronJobYaml({ name: job!.metadata.name, schedule: '0 * * * *', image: 'slipway:1.0', runArgs: ['--model', 'digits', '--shard', '1/2'], output: 'postgres://db/ml' }));
  validateKubernetesObject(cron!);
  assert.deepEqual(cron!.spec.jobTemplate.spec.template.spec.containers[0].env, job!.spec.template.spec.containers[0].env);
});

describe('four batch shards into one PostgreSQL table, one of them killed with kill -9 and resumed', await requirePostgres(), () => {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  const schema = `slipway_shards_${randomBytes(5).toString('hex')}`;
  let dir: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ dir, remove: cleanup } = await tempDir());
    await client.connect();
  });
  after(async () => {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
    await cleanup();
  });

  test('every key exactly once, each in its own shard, every run succeeded', async () => {
    const rows = 6000;
    const csv = await writeText(join(dir, 'digits.csv'), digitsCsv(rows));
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('schema', schema);
    const run = (shard: number, env: Record<string, string> = {}) =>
      runCli(
        ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--key', 'id', '--output', url.toString(),
          '--table', 'digit_shards', '--shard', `${shard}/4`, '--commit-rows', '200', '--batch-size', '32', '--progress', 'none', '--json'],
        { env, timeoutMs: 180_000 },
      );
    // Shard 2 kills itself (SIGKILL, no cleanup) right after its third commit, with chunks in flight.
    const results = await Promise.all([run(0), run(1), run(2, { SLIPWAY_BATCH_FAILPOINT: 'mid-batch:3' }), run(3)]);
    assert.equal(results[2]!.signal, 'SIGKILL');
    for (const i of [0, 1, 3]) assert.equal(results[i]!.code, 0, results[i]!.stderr);
    const committed = Number((await client.query(`SELECT count(*) AS n FROM "${schema}".digit_shards`)).rows[0].n);
    assert.ok(committed < rows, 'the killed shard left part of its rows to do');

    const resumed = await run(2);
    assert.equal(resumed.code, 0, resumed.stderr);
    const summary = JSON.parse(resumed.stdout) as { status: string; resumedFrom: number; rowsRead: number };
    assert.equal(summary.status, 'succeeded');
    assert.ok(summary.resumedFrom > 0, 'it resumed from its checkpoint, not from the start');

    const keys = (await client.query<{ id: string; n: string; label: string }>(`SELECT id, count(*) AS n, min(label) AS label FROM "${schema}".digit_shards GROUP BY id`)).rows;
    assert.equal(keys.length, rows, 'every key is in the table');
    assert.deepEqual(keys.filter((k) => Number(k.n) !== 1), [], 'no key twice');
    const correct = keys.filter((k) => Number(k.label) === DIGIT_SAMPLES[Number(k.id.slice(1)) % DIGIT_SAMPLES.length]!.label).length;
    assert.ok(correct >= rows * 0.98, `${correct} of ${rows} labelled like their sample`);
    // Each key was written by the run of the shard it hashes to.
    const runs = (await client.query<{ id: string; job: string; status: string; rows_read: string }>(`SELECT id, job, status, rows_read FROM "${schema}".slipway_runs ORDER BY job`)).rows;
    assert.deepEqual(runs.map((r) => [r.job, r.status]), [0, 1, 2, 3].map((i) => [`digit_shards#${i}/4`, 'succeeded']));
    assert.equal(runs.reduce((sum, r) => sum + Number(r.rows_read), 0), rows, 'the shards read the input once between them');
    const owners = (await client.query<{ id: string; job: string }>(`SELECT p.id, r.job FROM "${schema}".digit_shards p JOIN "${schema}".slipway_runs r ON r.id = p.run_id`)).rows;
    for (const { id, job } of owners) assert.equal(job, `digit_shards#${keyHash(id) % 4}/4`, id);
  });
});
