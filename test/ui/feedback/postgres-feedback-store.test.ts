import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openFeedbackStore } from '../../../src/ui/feedback/open-feedback-store.js';
import { PostgresFeedbackStore } from '../../../src/ui/feedback/postgres-feedback-store.js';
import { requirePostgres, testSchemas } from '../../helpers/requirements.js';
import { feedbackStoreContract, newFlag } from './feedback-store-contract.js';

// Every test gets a schema of its own (`?schema=` on the URL), dropped when the file is done.
describe('PostgreSQL feedback store', await requirePostgres(), () => {
  const { client, newUrl, drop } = testSchemas('slipway_feedback');
  before(() => client.connect());
  after(drop);

  describe('the contract', () => {
    feedbackStoreContract(async () => {
      const { url } = newUrl();
      return { store: await PostgresFeedbackStore.open(url), reopen: () => PostgresFeedbackStore.open(url) };
    });
  });

  test('tables land in the schema named on the URL, and documents are queryable JSON', async () => {
    const { schema, url } = newUrl();
    const store = await openFeedbackStore(url);
    const flag = await store.addFlag(newFlag({ output: { label: 3 } }), []);
    await store.close();
    const tables = await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['feedback_blobs', 'feedback_flag_blobs', 'feedback_flags', 'feedback_schema']);
    const row = await client.query(`SELECT output->>'label' AS label FROM "${schema}".feedback_flags WHERE id = $1`, [flag.id]);
    assert.equal(row.rows[0].label, '3');
  });

  test('two servers opening one new database at once both succeed', async () => {
    const { url } = newUrl();
    const stores = await Promise.all([PostgresFeedbackStore.open(url), PostgresFeedbackStore.open(url), PostgresFeedbackStore.open(url)]);
    await Promise.all(stores.map((s) => s.close()));
  });

  test('a database written by a newer schema is refused, not misread', async () => {
    const { schema, url } = newUrl();
    await (await openFeedbackStore(url)).close();
    await client.query(`UPDATE "${schema}".feedback_schema SET version = 99`);
    await assert.rejects(openFeedbackStore(url), /written by a newer Slipway \(feedback schema 99; this one reads 1\)/);
  });

  test('an unreachable server is DATABASE_UNAVAILABLE, its password not in the message', async () => {
    await assert.rejects(openFeedbackStore('postgres://app:s3cret@127.0.0.1:1/nowhere'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DATABASE_UNAVAILABLE');
      assert.match(error.message, /cannot open the feedback database postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/nowhere/);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  });
});
