import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ModelInstance } from '../../src/runtime/model-instance.js';
import { Slipway } from '../../src/slipway.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MemoryRolloutStore } from '../../src/router/memory-rollout-store.js';
import { defaultRolloutDb, openRolloutStore } from '../../src/router/open-rollout-store.js';
import { SqliteRolloutStore } from '../../src/router/sqlite-rollout-store.js';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/batch-data.js';
import { requirePostgres, testSchemas } from '../helpers/requirements.js';
import { rolloutStoreContract, sampleDocument } from './rollout-store-contract.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/models', import.meta.url));

describe('memory rollout store', () => {
  rolloutStoreContract(async () => {
    const store = new MemoryRolloutStore();
    // One process's memory: the "other replica" is the same store.
    return { store, other: async () => ({ ...wrap(store), close: async () => undefined }) };
  });
});

/** The store's methods bound, so a second handle can be closed without closing the first. */
function wrap(store: MemoryRolloutStore) {
  return {
    location: store.location,
    list: () => store.list(),
    get: (m: string) => store.get(m),
    put: (m: string, d: Parameters<MemoryRolloutStore['put']>[1], r: number) => store.put(m, d, r),
    acquireLease: (m: string, o: string, n: number, t: number) => store.acquireLease(m, o, n, t),
    releaseLease: (m: string, o: string) => store.releaseLease(m, o),
  };
}

describe('SQLite rollout store', () => {
  const dirs: Array<() => Promise<void>> = [];
  after(async () => {
    for (const remove of dirs) await remove();
  });
  const newPath = async () => {
    const { dir, remove } = await tempDir('slipway-rollouts-');
    dirs.push(remove);
    return join(dir, 'rollouts.db');
  };

  describe('the contract', () => {
    rolloutStoreContract(async () => {
      const path = await newPath();
      return { store: SqliteRolloutStore.open(path), other: async () => SqliteRolloutStore.open(path) };
    });
  });

  test('on-first-write: no file until something is stored, then the file holds it', async () => {
    const path = await newPath();
    const store = await openRolloutStore(`sqlite:${path}`, { create: 'on-first-write' });
    assert.deepEqual(await store.list(), []);
    assert.equal(existsSync(path), false);
    await store.put('digits', sampleDocument(), 0);
    assert.equal(existsSync(path), true);
    await store.close();
    const reopened = await openRolloutStore(`sqlite:${path}`, { create: 'on-first-write' });
    assert.equal((await reopened.get('digits'))?.revision, 1, 'an existing file is read at open');
    await reopened.close();
  });

  test('a file that cannot be created is DATABASE_UNAVAILABLE naming it', async () => {
    // A path under a plain file cannot be a folder.
    const file = await newPath();
    await writeFile(file, 'not a folder');
    await assert.rejects(openRolloutStore(`sqlite:${file}/rollouts.db`), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATABASE_UNAVAILABLE');
      assert.ok(error.message.includes(`cannot open the rollout database sqlite:${file}/rollouts.db`), error.message);
      return true;
    });
  });

  test('Slipway.open with a store that cannot open fails with its error, and no model instance is left running', async () => {
    // The store opens while the models load: its failure must still be the error, after the models are closed.
    const file = await newPath();
    await writeFile(file, 'not a folder');
    const models = join(FIXTURES, 'identity_fp32');
    const before = ModelInstance.liveThreads;
    await assert.rejects(Slipway.open({ models, rollouts: { store: `sqlite:${file}/rollouts.db` } }), (error: Error & { code?: string }) => error.code === 'DATABASE_UNAVAILABLE');
    assert.equal(ModelInstance.liveThreads, before, 'the instances started for the models were closed');
  });

  test('URLs: sqlite:, postgres://, anything else refused; the default sits beside the first served path', async () => {
    await assert.rejects(openRolloutStore('redis://x'), /neither sqlite:PATH nor postgres:\/\//);
    assert.match(defaultRolloutDb(['/srv/models']), /^sqlite:\/srv\/rollouts\.db$/);
  });
});

describe('PostgreSQL rollout store', await requirePostgres(), () => {
  const { client, newUrl, drop } = testSchemas('slipway_rollouts');
  before(() => client.connect());
  after(drop);

  describe('the contract', () => {
    rolloutStoreContract(async () => {
      const { url } = newUrl();
      return { store: await openRolloutStore(url), other: () => openRolloutStore(url) };
    });
  });

  test('the table lands in the schema named on the URL; replicas opening it at once all succeed', async () => {
    const { schema, url } = newUrl();
    const stores = await Promise.all([openRolloutStore(url), openRolloutStore(url), openRolloutStore(url)]);
    await stores[0]!.put('digits', sampleDocument(), 0);
    await Promise.all(stores.map((s) => s.close()));
    const row = await client.query(`SELECT document->'traffic'->'weights'->>'2' AS candidate FROM "${schema}".slipway_rollouts WHERE model = 'digits'`);
    assert.equal(row.rows[0].candidate, '10');
  });

  test('an unreachable server is DATABASE_UNAVAILABLE, its password not in the message', async () => {
    await assert.rejects(openRolloutStore('postgres://app:s3cret@127.0.0.1:1/nowhere'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATABASE_UNAVAILABLE');
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  });
});
