import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { DIGITS_MODEL, DIGIT_SAMPLES, digitsCsv, digitsJsonl, runCli, tempDir, writeText } from '../helpers/batch-data.js';
import { CLI, TEST_MODELS } from '../helpers/paths.js';

// End to end through the CLI, on SQLite: the same commands a user types.

let dir: string;
let cleanup: () => Promise<void>;

before(async () => {
  ({ dir, remove: cleanup } = await tempDir());
});
after(async () => {
  await cleanup();
});

function open(db: string): Database.Database {
  return new Database(db, { readonly: true });
}

const expectedLabel = (key: string): number => DIGIT_SAMPLES[Number(key.slice(1)) % DIGIT_SAMPLES.length]!.label;

describe('slipway batch run (SQLite)', () => {
  test('CSV in, table out: every row predicted once, with label, score and a runs row', async () => {
    const csv = await writeText(join(dir, 'digits.csv'), digitsCsv(500));
    const db = join(dir, 'csv.db');
    const result = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /succeeded: 500 rows read, 500 predicted, 0 rejected/);
    const sqlite = open(db);
    const rows = sqlite.prepare('SELECT id, label, score, model_version, run_id FROM digits_predictions').all() as Array<{ id: string; label: number; score: number; model_version: string; run_id: string }>;
    assert.equal(rows.length, 500);
    const correct = rows.filter((r) => r.label === expectedLabel(r.id)).length;
    assert.ok(correct >= 490, `only ${correct} of 500 rows got their sample's label`);
    assert.ok(rows.every((r) => r.score > 0 && r.score <= 1 && r.model_version === '1'));
    const runs = sqlite.prepare('SELECT * FROM slipway_runs').all() as Array<Record<string, unknown>>;
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, 'succeeded');
    assert.equal(runs[0]!.rows_read, 500);
    assert.equal(runs[0]!.rows_predicted, 500);
    assert.equal(runs[0]!.model, 'digits');
    assert.equal(runs[0]!.id, rows[0]!.run_id);
    assert.ok(runs[0]!.finished_at !== null);
    sqlite.close();
  });

  test('JSONL with nested arrays named after the input, explicit output columns and class labels', async () => {
    const jsonl = await writeText(join(dir, 'digits.jsonl'), digitsJsonl(120, { nested: true }));
    const labels = await writeText(join(dir, 'labels.txt'), 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n');
    const db = join(dir, 'jsonl.db');
    const result = await runCli([
      'batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits:1', '--input', jsonl, '--output', `sqlite:${db}`, '--table', 'digits_named',
      '--key', 'id', '--labels', labels, '--output-column', 'digit=label(probabilities)', '--output-column', 'confidence=max(probabilities)',
      '--output-column', 'probs=json(probabilities)', '--output-column', 'p3=probabilities[3]', '--progress', 'none',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const sqlite = open(db);
    const rows = sqlite.prepare('SELECT id, digit, confidence, probs, p3 FROM digits_named').all() as Array<{ id: string; digit: string; confidence: number; probs: string; p3: number }>;
    assert.equal(rows.length, 120);
    const names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
    assert.ok(rows.filter((r) => r.digit === names[expectedLabel(r.id)]).length >= 115);
    for (const row of rows) {
      const probs = JSON.parse(row.probs) as number[];
      assert.equal(probs.length, 10);
      assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'softmax sums to 1');
      assert.equal(Math.fround(probs[3]!), Math.fround(row.p3));
      assert.equal(Math.fround(Math.max(...probs)), Math.fround(row.confidence));
    }
    sqlite.close();
  });

  test('globs over several files (gzipped and tab-separated too) are read in path order, each row once', async () => {
    const parts = join(dir, 'parts');
    await mkdir(parts);
    const csv = digitsCsv(90).split('\n');
    const header = csv[0]!;
    await writeFile(join(parts, 'a.csv'), [header, ...csv.slice(1, 31)].join('\n') + '\n');
    await writeFile(join(parts, 'b.csv.gz'), gzipSync([header, ...csv.slice(31, 61)].join('\n') + '\n'));
    const tsv = [header, ...csv.slice(61, 91)].map((l) => l.replaceAll(',', '\t')).join('\n');
    await writeFile(join(dir, 'c.tsv'), tsv);
    const db = join(dir, 'glob.db');
    const result = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', join(parts, '*.csv*'), '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /60 rows read, 60 predicted/);
    const mixed = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', join(dir, 'c.tsv'), '--output', `sqlite:${db}`, '--key', 'id', '--table', 'tsv', '--progress', 'none']);
    assert.equal(mixed.code, 0, mixed.stderr);
    assert.match(mixed.stdout, /30 rows read, 30 predicted/);
    const sqlite = open(db);
    const ids = (sqlite.prepare('SELECT id FROM digits_predictions').all() as Array<{ id: string }>).map((r) => r.id).sort();
    assert.deepEqual(ids, Array.from({ length: 60 }, (_, i) => `k${i}`).sort());
    sqlite.close();
    const none = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', join(parts, '*.parquet'), '--output', `sqlite:${db}`]);
    assert.match(none.stderr, /--input '.*\*\.parquet' matches no file/);
  });

  test('a model without a batch dimension gets one row per request; a 2-D output is stored as JSON', async () => {
    const csv = await writeText(join(dir, 'matmul.csv'), 'id,a,b,c,d,e,f\nr1,1,2,3,-1,0,0.5\nr2,0,0,0,0,0,0\nr3,1,0,0,0,1,0\n');
    const db = join(dir, 'matmul.db');
    const result = await runCli(['batch', 'run', '--models', join(TEST_MODELS, 'fixed_matmul'), '--model', 'fixed_matmul', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none']);
    assert.equal(result.code, 0, result.stderr);
    const sqlite = open(db);
    const rows = sqlite.prepare('SELECT id, y FROM fixed_matmul_predictions ORDER BY id').all() as Array<{ id: string; y: string }>;
    sqlite.close();
    const w = Array.from({ length: 12 }, (_, i) => i);
    const matmul = (x: number[]): number[][] => [0, 1].map((r) => [0, 1, 2, 3].map((c) => [0, 1, 2].reduce((sum, k) => sum + x[r * 3 + k]! * w[k * 4 + c]!, 0)));
    assert.deepEqual(rows.map((r) => [r.id, JSON.parse(r.y)]), [
      ['r1', matmul([1, 2, 3, -1, 0, 0.5])],
      ['r2', matmul([0, 0, 0, 0, 0, 0])],
      ['r3', matmul([1, 0, 0, 0, 1, 0])],
    ]);
  });

  test('bad rows go to the rejects table with the reason; the job goes on', async () => {
    const bad = new Map([
      [3, 'k3,' + Array(64).fill('1').join(',').replace(/^1/, 'x')],
      [10, 'k10,1,2,3'],
      [11, ',' + Array(64).fill('0').join(',')],
      [20, 'k0,' + Array(64).fill('0').join(',')],
    ]);
    const csv = await writeText(join(dir, 'bad.csv'), digitsCsv(100, { bad }));
    const db = join(dir, 'bad.db');
    const result = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /100 rows read, 96 predicted, 4 rejected \(reasons in digits_predictions_rejects\)/);
    const sqlite = open(db);
    const rejects = sqlite.prepare('SELECT position, location, "key", reason, raw FROM digits_predictions_rejects ORDER BY position').all() as Array<{ position: number; location: string; key: string | null; reason: string; raw: string }>;
    assert.deepEqual(rejects.map((r) => r.position), [3, 10, 11, 20]);
    assert.match(rejects[0]!.reason, /column 'p0': 'x' is not a number \(FP32\)/);
    assert.match(rejects[0]!.location, /bad\.csv:5$/);
    assert.match(rejects[0]!.raw, /^k3,x,1,1/);
    assert.match(rejects[1]!.reason, /the row has 4 fields but the header has 65/);
    assert.match(rejects[2]!.reason, /key column 'id' is missing or empty/);
    assert.equal(rejects[3]!.key, 'k0');
    assert.match(rejects[3]!.reason, /key 'k0' appears more than once in the input; the first row with it was kept/);
    const predicted = sqlite.prepare('SELECT count(*) AS n FROM digits_predictions').get() as { n: number };
    assert.equal(predicted.n, 96);
    sqlite.close();
  });

  test('--max-rejects stops the job and fails the run once exceeded', async () => {
    const bad = new Map(Array.from({ length: 30 }, (_, i) => [i * 3, `k${i * 3},oops`] as const));
    const csv = await writeText(join(dir, 'many-bad.csv'), digitsCsv(200, { bad }));
    const db = join(dir, 'max.db');
    const args = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none'];
    const result = await runCli([...args, '--max-rejects', '5', '--batch-size', '8']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /failed/);
    assert.match(result.stdout, /rows were rejected, more than --max-rejects 5/);
    const sqlite = open(db);
    const run = sqlite.prepare('SELECT status, error, rows_rejected FROM slipway_runs').get() as { status: string; error: string; rows_rejected: number };
    assert.equal(run.status, 'failed');
    assert.match(run.error, /more than --max-rejects 5/);
    assert.ok(run.rows_rejected > 5);
    sqlite.close();
    const percent = await runCli([...args, '--max-rejects', '10%', '--table', 'pct']);
    assert.equal(percent.code, 1);
    assert.match(percent.stdout, /30 of 200 rows were rejected \(15\.0%\), more than --max-rejects 10\.0%/);
  });

  test('mapping errors name the input, what it expects and the columns there are', async () => {
    const csv = await writeText(join(dir, 'short.csv'), `id,a,b,c\nk1,1,2,3\n`);
    const db = `sqlite:${join(dir, 'errors.db')}`;
    const base = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', db, '--progress', 'none', '--key', 'id'];
    const count = await runCli(base);
    assert.equal(count.code, 2);
    assert.match(count.stderr, /input 'image' \(FP32 \[1,8,8\] per row\) takes 64 values per row, but 3 columns map to it \('a', 'b', 'c'\)/);
    const key = await runCli([...base, '--key', 'nope']);
    assert.match(key.stderr, /--key 'nope' is not a column of the input; its columns are 'id', 'a', 'b', 'c'/);
    const map = await runCli([...base, '--map', 'pixels=a..c']);
    assert.match(map.stderr, /model 'digits' has no input 'pixels'; its inputs are 'image'/);
    const range = await runCli([...base, '--map', 'image=a..zz']);
    assert.match(range.stderr, /range 'a\.\.zz': there is no column 'zz'/);
    const noKey = await runCli(base.slice(0, -2));
    assert.match(noKey.stderr, /but 4 columns map to it \('id', 'a', 'b', 'c'\)/, 'without --key every column is data');
    const output = await runCli([...base, '--map', 'image=a', '--output-column', 'x=probabilities']);
    assert.match(output.stderr, /output 'probabilities' has 10 values per row \(\[10\]\); use argmax\(probabilities\)/);
    const unknown = await runCli([...base, '--map', 'image=a', '--output-column', 'x=argmax(logits)']);
    assert.match(unknown.stderr, /has no output 'logits'; its outputs are 'probabilities'/);
    const flags = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--max-rejects', 'lots', '--batch-size', '0']);
    assert.equal(flags.code, 2);
    assert.match(flags.stderr, /--max-rejects: expected a count \(100\) or a percentage/);
    assert.match(flags.stderr, /--batch-size: /);
    assert.match(flags.stderr, /--input or --query: give one/);
    const model = await runCli([...base, '--model', 'nosuch']);
    assert.match(model.stderr, /no model 'nosuch'/);
  });

  test('a SQL query against the output database is an input (rows in key order)', async () => {
    const db = join(dir, 'query.db');
    const writer = new Database(db);
    writer.exec(`CREATE TABLE images (customer_id INTEGER PRIMARY KEY, pixels TEXT, batch TEXT)`);
    const insert = writer.prepare('INSERT INTO images VALUES (?, ?, ?)');
    for (let i = 0; i < 50; i++) insert.run(1000 - i, JSON.stringify(DIGIT_SAMPLES[i % 10]!.image), i % 2 === 0 ? 'even' : 'odd');
    writer.close();
    const result = await runCli([
      'batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--query', "SELECT customer_id, pixels FROM images WHERE batch = 'even';",
      '--output', `sqlite:${db}`, '--key', 'customer_id', '--map', 'image=pixels', '--table', 'scores', '--progress', 'none',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const sqlite = open(db);
    const rows = sqlite.prepare('SELECT customer_id, label FROM scores ORDER BY customer_id').all() as Array<{ customer_id: string; label: number }>;
    assert.equal(rows.length, 25);
    for (const row of rows) assert.equal(row.label, DIGIT_SAMPLES[(1000 - Number(row.customer_id)) % 10]!.label);
    sqlite.close();
    const noKey = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--query', 'SELECT * FROM images', '--output', `sqlite:${db}`]);
    assert.match(noKey.stderr, /--query needs --key/);
  });

  test('an input with no rows is a successful run of zero rows (a schedule with nothing new must not fail)', async () => {
    const empty = await writeText(join(dir, 'empty.jsonl'), '\n');
    const headerOnly = await writeText(join(dir, 'header.csv'), `id,${Array.from({ length: 64 }, (_, i) => `p${i}`).join(',')}\n`);
    for (const input of [empty, headerOnly]) {
      const result = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', input, '--output', `sqlite:${join(dir, 'empty.db')}`, '--key', 'id', '--progress', 'none', '--no-resume']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /succeeded: 0 rows read, 0 predicted, 0 rejected/);
    }
  });

  test('a finished run id is not redone, and a changed input refuses to resume', async () => {
    const csv = await writeText(join(dir, 'rerun.csv'), digitsCsv(40));
    const db = join(dir, 'rerun.db');
    const args = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--run-id', 'nightly-1', '--progress', 'none'];
    assert.equal((await runCli(args)).code, 0);
    const again = await runCli(args);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /run nightly-1 already succeeded \(40 rows predicted/);
    const sqlite = open(db);
    assert.equal((sqlite.prepare('SELECT count(*) AS n FROM digits_predictions').get() as { n: number }).n, 40);
    sqlite.close();
    const other = await runCli([...args.slice(0, -2), '--output-column', 'x=argmax(probabilities)']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /run 'nightly-1' was started with other options: outputs was/);
  });
});

describe('slipway batch run --keep-runs', () => {
  test("keeps each key's newest predictions; keys a run did not see keep theirs", async () => {
    const full = await writeText(join(dir, 'keep-full.csv'), digitsCsv(30, { bad: new Map([[29, 'k29,x']]) }));
    const part = await writeText(join(dir, 'keep-part.csv'), digitsCsv(10, { seed: 99 }));
    const db = join(dir, 'keep.db');
    const run = (csv: string) =>
      runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--keep-runs', '1', '--progress', 'none']);
    assert.equal((await run(full)).code, 0);
    assert.equal((await run(full)).code, 0);
    let sqlite = open(db);
    const runs = sqlite.prepare('SELECT id FROM slipway_runs ORDER BY started_at').all() as Array<{ id: string }>;
    assert.equal(runs.length, 2);
    assert.deepEqual(sqlite.prepare('SELECT run_id, count(*) AS n FROM digits_predictions GROUP BY run_id').all(), [{ run_id: runs[1]!.id, n: 29 }]);
    assert.deepEqual(sqlite.prepare('SELECT run_id FROM digits_predictions_rejects').all(), [{ run_id: runs[1]!.id }]);
    sqlite.close();
    assert.equal((await run(part)).code, 0);
    sqlite = open(db);
    const latest = (sqlite.prepare('SELECT id FROM slipway_runs ORDER BY started_at DESC LIMIT 1').get() as { id: string }).id;
    assert.deepEqual(sqlite.prepare('SELECT run_id, count(*) AS n FROM digits_predictions GROUP BY run_id ORDER BY n').all(), [
      { run_id: latest, n: 10 },
      { run_id: runs[1]!.id, n: 19 },
    ]);
    assert.deepEqual(sqlite.prepare('SELECT count(*) AS n FROM digits_predictions_rejects').get(), { n: 0 }, 'only the newest run’s rejects are kept, and it had none');
    sqlite.close();
  });
});

describe('slipway batch run: killed with SIGKILL and run again (SQLite)', () => {
  const ROWS = 1200;
  const bad = new Map([
    [5, 'k5,not,a,row'],
    [700, 'k1,' + Array(64).fill('0').join(',')],
  ]);
  let csv: string;
  let reference: Map<string, number>;

  before(async () => {
    csv = await writeText(join(dir, 'kill.csv'), digitsCsv(ROWS, { bad, seed: 11 }));
    const db = join(dir, 'reference.db');
    const clean = await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none']);
    assert.equal(clean.code, 0, clean.stderr);
    const sqlite = open(db);
    reference = new Map((sqlite.prepare('SELECT id, label FROM digits_predictions').all() as Array<{ id: string; label: number }>).map((r) => [r.id, r.label]));
    sqlite.close();
    assert.equal(reference.size, ROWS - 2);
  });

  for (const point of ['after-start', 'mid-batch:3', 'mid-commit:3']) {
    test(`killed at ${point}: the rerun resumes and every row is predicted exactly once`, async () => {
      const db = join(dir, `kill-${point.replace(':', '-')}.db`);
      const args = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--batch-size', '16', '--commit-rows', '100', '--progress', 'none'];
      const killed = await runCli(args, { env: { SLIPWAY_BATCH_FAILPOINT: point } });
      assert.equal(killed.signal, 'SIGKILL', `expected the failpoint to kill the job:\n${killed.stdout}\n${killed.stderr}`);

      let sqlite = open(db);
      const before = sqlite.prepare('SELECT status, rows_read, rows_predicted, rows_rejected FROM slipway_runs').get() as { status: string; rows_read: number; rows_predicted: number; rows_rejected: number };
      const stored = (sqlite.prepare('SELECT count(*) AS n FROM digits_predictions').get() as { n: number }).n;
      sqlite.close();
      assert.equal(before.status, 'running');
      // What is in the table is exactly what the checkpoint says was committed.
      assert.equal(stored, before.rows_predicted);
      if (point === 'after-start') assert.equal(before.rows_read, 0);
      else assert.ok(before.rows_read > 0 && before.rows_read < ROWS, `killed at row ${before.rows_read}`);

      const resumed = await runCli(args);
      assert.equal(resumed.code, 0, resumed.stderr);
      if (before.rows_read > 0) assert.match(resumed.stdout, new RegExp(`resumed at row ${before.rows_read.toLocaleString('en-US')}`));

      sqlite = open(db);
      const runs = sqlite.prepare('SELECT id, status, rows_read, rows_predicted, rows_rejected FROM slipway_runs').all() as Array<{ id: string; status: string; rows_read: number; rows_predicted: number; rows_rejected: number }>;
      assert.equal(runs.length, 1, 'the rerun continued the same run');
      assert.deepEqual({ ...runs[0], id: undefined }, { id: undefined, status: 'succeeded', rows_read: ROWS, rows_predicted: ROWS - 2, rows_rejected: 2 });
      const rows = sqlite.prepare('SELECT id, label FROM digits_predictions').all() as Array<{ id: string; label: number }>;
      assert.equal(rows.length, ROWS - 2);
      const duplicates = sqlite.prepare('SELECT id, count(*) AS n FROM digits_predictions GROUP BY id HAVING n > 1').all();
      assert.deepEqual(duplicates, []);
      // Same predictions as the run that was never killed: no row shifted onto another's key.
      for (const row of rows) assert.equal(row.label, reference.get(row.id), `label of ${row.id}`);
      const rejects = sqlite.prepare('SELECT position FROM digits_predictions_rejects ORDER BY position').all() as Array<{ position: number }>;
      assert.deepEqual(rejects.map((r) => r.position), [5, 700]);
      sqlite.close();
    });
  }
});

describe('slipway batch status and schedule --emit', () => {
  test('status exits 0 when fresh, 1 when older than --max-age, 3 when the last run failed', async () => {
    const csv = await writeText(join(dir, 'status.csv'), digitsCsv(20));
    const db = join(dir, 'status.db');
    const empty = await runCli(['batch', 'status', '--output', `sqlite:${join(dir, 'missing.db')}`]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /cannot open sqlite:/);
    const run = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--progress', 'none'];
    assert.equal((await runCli(run)).code, 0);
    const fresh = await runCli(['batch', 'status', '--output', `sqlite:${db}`, '--max-age', '2h']);
    assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
    assert.match(fresh.stdout, /^OK {5}digits_predictions: last success \d+s ago \(20 rows, model v1\)/);
    // Age the successful run by three hours.
    const writer = new Database(db);
    const old = new Date(Date.now() - 3 * 3600_000).toISOString();
    writer.prepare('UPDATE slipway_runs SET finished_at = ?, started_at = ?').run(old, old);
    writer.close();
    const stale = await runCli(['batch', 'status', '--output', `sqlite:${db}`, '--max-age', '2h', '--json']);
    assert.equal(stale.code, 1);
    const body = JSON.parse(stale.stdout) as { tables: Array<{ table: string; state: string; age_seconds: number; problems: string[] }> };
    assert.equal(body.tables[0]!.state, 'stale');
    assert.ok(body.tables[0]!.age_seconds >= 3 * 3600 - 5);
    assert.match(body.tables[0]!.problems[0]!, /more than the allowed 7200 s/);
    assert.equal((await runCli(['batch', 'status', '--output', `sqlite:${db}`])).code, 0, 'without --max-age only failures count');
    // A failing run (more rejects than allowed) makes the table FAILED even with a fresh success before it.
    const bad = await writeText(join(dir, 'status-bad.csv'), digitsCsv(10, { bad: new Map([[0, 'k0,x']]) }));
    assert.equal((await runCli(['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', bad, '--output', `sqlite:${db}`, '--key', 'id', '--max-rejects', '0', '--progress', 'none'])).code, 1);
    const failed = await runCli(['batch', 'status', '--output', `sqlite:${db}`, '--max-age', '2h']);
    assert.equal(failed.code, 3);
    assert.match(failed.stdout, /FAILED digits_predictions: .* last run \S+ failed/);
    assert.match(failed.stdout, /the last run \(\S+\) failed: 1 rows were rejected, more than --max-rejects 0/);
    const unknown = await runCli(['batch', 'status', '--output', `sqlite:${db}`, '--table', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /no batch runs recorded for table 'nope'/);
    const badAge = await runCli(['batch', 'status', '--output', `sqlite:${db}`, '--max-age', 'soon']);
    assert.equal(badAge.code, 2);
    assert.match(badAge.stderr, /--max-age 'soon': expected a duration/);
  });

  test('schedule --emit kubernetes prints a CronJob that runs the same job and never overlaps', async () => {
    const result = await runCli([
      'batch', 'schedule', '--cron', '0 * * * *', '--timezone', 'Europe/Paris', '--emit', 'kubernetes', '--image', 'registry.example/slipway:0.1.0',
      '--models', '/models', '--model', 'digits', '--input', '/data/in/*.csv', '--output', 'postgres://ml:secret@db:5432/ml', '--key', 'id', '--table', 'Digit Scores',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /secret@/, 'the password stays out of the manifest');
    const manifest = parseYaml(result.stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(manifest.kind, 'CronJob');
    assert.equal(manifest.apiVersion, 'batch/v1');
    assert.equal(manifest.metadata.name, 'digit-scores');
    assert.equal(manifest.spec.schedule, '0 * * * *');
    assert.equal(manifest.spec.timeZone, 'Europe/Paris');
    assert.equal(manifest.spec.concurrencyPolicy, 'Forbid');
    const container = manifest.spec.jobTemplate.spec.template.spec.containers[0];
    assert.equal(container.image, 'registry.example/slipway:0.1.0');
    assert.deepEqual(container.args.slice(0, 2), ['batch', 'run']);
    assert.deepEqual(container.args.slice(container.args.indexOf('--input'), container.args.indexOf('--input') + 2), ['--input', '/data/in/*.csv']);
    assert.equal(container.args[container.args.indexOf('--output') + 1], '$(SLIPWAY_BATCH_OUTPUT)');
    assert.equal(container.env[0].valueFrom.secretKeyRef.name, 'digit-scores-database');
    const bad = await runCli(['batch', 'schedule', '--cron', '61 * * * *', '--emit', 'kubernetes', '--model', 'digits', '--input', 'x.csv']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--cron '61 \* \* \* \*'/);
  });
});

describe('slipway batch run: ownership and graceful stops', () => {
  test('a run whose owner is alive is not run twice; --takeover takes it over', async () => {
    const csv = await writeText(join(dir, 'owned.csv'), digitsCsv(30));
    const db = join(dir, 'owned.db');
    const args = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--run-id', 'owned-1', '--progress', 'none'];
    // Let a run be created and killed right away, then pretend this (live) test process owns it.
    const killed = await runCli(args, { env: { SLIPWAY_BATCH_FAILPOINT: 'after-start' } });
    assert.equal(killed.signal, 'SIGKILL');
    const writer = new Database(db);
    writer.prepare('UPDATE slipway_runs SET owner = ?, heartbeat_at = ?').run(`${hostname()}:${process.pid}:test`, new Date().toISOString());
    writer.close();
    const refused = await runCli(args);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /run 'owned-1' is being run by .*:\d+:test \(heartbeat \d+ s ago\); pass --takeover if that process is gone/);
    const auto = await runCli(args.filter((a, i) => a !== '--run-id' && args[i - 1] !== '--run-id'));
    assert.equal(auto.code, 2);
    assert.match(auto.stderr, /of job 'digits_predictions' is still running .* a job never runs twice at once/);
    const taken = await runCli([...args, '--takeover']);
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stdout, /run owned-1 succeeded: 30 rows read, 30 predicted/);
  });

  test('SIGTERM commits what is done and marks the run interrupted; the next run resumes it', async () => {
    const csv = await writeText(join(dir, 'term.csv'), digitsCsv(20_000, { seed: 5 }));
    const db = join(dir, 'term.db');
    const args = ['batch', 'run', '--models', DIGITS_MODEL, '--model', 'digits', '--input', csv, '--output', `sqlite:${db}`, '--key', 'id', '--batch-size', '2', '--inflight', '1', '--progress', 'lines', '--progress-interval', '20ms'];
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    // Stop it once it reports progress (a line per 20 ms), well before 20,000 rows in pairs are done.
    await new Promise<void>((resolve) => child.stderr.on('data', (c: Buffer) => / rows \(/.test(c.toString()) && resolve()));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 130, stdout);
    assert.match(stdout, /interrupted: [\d,]+ rows read/);
    assert.match(stdout, /run the same command again to resume/);
    let sqlite = open(db);
    const run = sqlite.prepare('SELECT status, rows_read, rows_predicted FROM slipway_runs').get() as { status: string; rows_read: number; rows_predicted: number };
    assert.equal(run.status, 'interrupted');
    assert.ok(run.rows_read > 0 && run.rows_read < 20_000);
    assert.equal((sqlite.prepare('SELECT count(*) AS n FROM digits_predictions').get() as { n: number }).n, run.rows_predicted);
    sqlite.close();
    const status = await runCli(['batch', 'status', '--output', `sqlite:${db}`]);
    assert.equal(status.code, 3, 'an interrupted run that nobody resumed is a failure to monitoring');
    const resumed = await runCli(args.slice(0, -6).concat(['--progress', 'none']));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`resumed at row ${run.rows_read.toLocaleString('en-US')}`));
    sqlite = open(db);
    assert.equal((sqlite.prepare('SELECT count(*) AS n FROM digits_predictions').get() as { n: number }).n, 20_000);
    assert.deepEqual(sqlite.prepare('SELECT count(*) AS n FROM slipway_runs').get(), { n: 1 });
    sqlite.close();
  });
});
