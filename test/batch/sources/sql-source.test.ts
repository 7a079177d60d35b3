import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/batch/sinks/sqlite-store.js';
import { SqlSource } from '../../../src/batch/sources/sql-source.js';
import type { Checkpoint } from '../../../src/batch/sources/row-source.js';
import { lineProgress } from '../../../src/batch/progress-reporter.js';
import { tempDir } from '../../helpers/batch-data.js';

/** Every (key, value) the source yields from `from`, with the checkpoint after each row (as the job computes it). */
async function drain(source: SqlSource, from: Checkpoint): Promise<Array<{ key: unknown; v: unknown; checkpoint: Checkpoint }>> {
  const rows: Array<{ key: unknown; v: unknown; checkpoint: Checkpoint }> = [];
  let lastKey = from.lastKey;
  let run = from.rowsAtLastKey ?? 0;
  for await (const block of source.blocks(from)) {
    for (let i = 0; i < block.size; i++) {
      const row = block.row(i);
      const key = row.get(0) as number;
      if (lastKey !== undefined && String(key) === String(lastKey)) run++;
      else {
        lastKey = key;
        run = 1;
      }
      rows.push({ key, v: row.get(1), checkpoint: { position: row.position + 1, lastKey: key, rowsAtLastKey: run } });
    }
  }
  return rows;
}

describe('SqlSource: keyset pages over a query', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let store: SqliteStore;

  before(async () => {
    ({ dir, remove: cleanup } = await tempDir());
    const path = join(dir, 'q.db');
    const db = new Database(path);
    db.exec('CREATE TABLE t (k INTEGER, v TEXT)');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
    // 5000 rows; key 1000 repeats 2500 times, across the 2000-row page boundary and beyond a whole page.
    let n = 0;
    for (let k = 0; k < 1000; k++) insert.run(k, `v${n++}`);
    for (let i = 0; i < 2500; i++) insert.run(1000, `v${n++}`);
    for (let k = 1001; k < 2501; k++) insert.run(k, `v${n++}`);
    db.close();
    store = SqliteStore.open(path);
  });
  after(async () => {
    await store.close();
    await cleanup();
  });

  test('every row once, in key order, even when a key repeats across pages', async () => {
    const source = await SqlSource.open(store, 'SELECT k, v FROM t', 'k');
    source.bind(['k', 'v']);
    assert.deepEqual(source.progressTotal(), { unit: 'rows', total: 5000 });
    const rows = await drain(source, { position: 0 });
    assert.equal(rows.length, 5000);
    assert.equal(new Set(rows.map((r) => r.v)).size, 5000, 'no row twice');
    for (let i = 1; i < rows.length; i++) assert.ok((rows[i]!.key as number) >= (rows[i - 1]!.key as number));
  });

  test('resuming from any checkpoint yields exactly the rows after it', async () => {
    const source = await SqlSource.open(store, 'SELECT k, v FROM t', 'k');
    source.bind(['k', 'v']);
    const all = await drain(source, { position: 0 });
    for (const at of [1, 999, 1000, 1001, 2999, 3000, 3499, 3500, 4999]) {
      const rest = await drain(source, all[at - 1]!.checkpoint);
      assert.equal(rest.length, 5000 - at, `resumed after row ${at}`);
      const seen = new Set(all.slice(0, at).map((r) => r.v));
      assert.ok(rest.every((r) => !seen.has(r.v)), `no row before ${at} comes again`);
      assert.equal(new Set([...seen, ...rest.map((r) => r.v)]).size, 5000, `none lost resuming after ${at}`);
    }
  });

  test('a key that is not a column, and a query that does not parse, are named', async () => {
    await assert.rejects(SqlSource.open(store, 'SELECT v FROM t', 'k'), /--key 'k' is not a column of the query; it returns 'v'/);
    await assert.rejects(SqlSource.open(store, 'SELEC k FROM t', 'k'), /--query failed: /);
  });
});

describe('progress lines', () => {
  test('one plain line per interval, with rate, percentage, rejects and ETA', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = lineProgress((l) => lines.push(l), 10_000, () => now);
    progress.start('scores');
    now = 5_000;
    progress.update({ rows: 100, rejected: 0, done: 10, total: 100, unit: 'bytes', elapsedMs: 5_000 });
    assert.equal(lines.length, 0);
    now = 10_000;
    progress.update({ rows: 50_000, rejected: 3, done: 25, total: 100, unit: 'bytes', elapsedMs: 10_000 });
    assert.deepEqual(lines, ['scores: 50,000 rows (25%), 5,000 rows/s, 3 rejected, ETA 30s\n']);
  });
});
