import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { defaultFeedbackDb, openFeedbackStore } from '../../../src/ui/feedback/open-feedback-store.js';
import { SqliteFeedbackStore } from '../../../src/ui/feedback/sqlite-feedback-store.js';
import { feedbackStoreContract, newFlag } from './feedback-store-contract.js';

const dir = await mkdtemp(join(tmpdir(), 'slipway-feedback-'));
after(() => rm(dir, { recursive: true, force: true }));
let files = 0;

describe('SQLite feedback store: the contract', () => {
  feedbackStoreContract(async () => {
    const path = join(dir, `contract-${files++}`, 'feedback.db');
    return { store: SqliteFeedbackStore.open(path), reopen: async () => SqliteFeedbackStore.open(path) };
  });
});

describe('SQLite feedback store', () => {
  test('opens from sqlite:PATH and sqlite://PATH, creating the folder', async () => {
    for (const url of [`sqlite:${join(dir, 'a/b/feedback.db')}`, `sqlite://${join(dir, 'c/feedback.db')}`]) {
      const store = await openFeedbackStore(url);
      assert.equal(store.location, `sqlite:${url.replace(/^sqlite:(\/\/)?/, '')}`);
      await store.close();
    }
  });

  test('a URL that is neither sqlite: nor postgres:// is refused with both forms named', async () => {
    await assert.rejects(openFeedbackStore('mysql://x/y'), /feedback database 'mysql:\/\/x\/y' is neither sqlite:PATH nor postgres:\/\/…/);
  });

  test('a path that cannot be a database says which file and why', async () => {
    await assert.rejects(openFeedbackStore(`sqlite:${dir}`), (error: Error) => {
      assert.match(error.message, new RegExp(`cannot open the feedback database sqlite:${dir}`));
      return true;
    });
  });

  test('a database written by a newer schema is refused, not misread', async () => {
    const path = join(dir, 'newer.db');
    (await openFeedbackStore(`sqlite:${path}`)).close();
    const db = new Database(path);
    db.prepare('UPDATE feedback_schema SET version = 99').run();
    db.close();
    await assert.rejects(openFeedbackStore(`sqlite:${path}`), /written by a newer Slipway \(feedback schema 99; this one reads 1\)/);
  });

  test('rows are plain SQL: documents as JSON text, one link row per blob a flag refers to', async () => {
    const path = join(dir, 'plain.db');
    const store = SqliteFeedbackStore.open(path);
    const flag = await store.addFlag(newFlag({ output: { label: 3 } }), []);
    await store.close();
    const db = new Database(path, { readonly: true });
    const row = db.prepare("SELECT json_extract(output, '$.label') AS label, model FROM feedback_flags WHERE id = ?").get(flag.id);
    db.close();
    assert.deepEqual(row, { label: 3, model: 'digits' });
  });

  test('the default store is feedback.db in the folder holding the first served path', () => {
    assert.equal(defaultFeedbackDb(['/srv/models', '/other']), 'sqlite:/srv/feedback.db');
    assert.equal(defaultFeedbackDb(['/srv/models/']), 'sqlite:/srv/feedback.db');
    assert.equal(defaultFeedbackDb(['/srv/digits.onnx']), 'sqlite:/srv/feedback.db');
  });
});
