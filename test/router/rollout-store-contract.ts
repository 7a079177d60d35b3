import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelRolloutDocument, RolloutStore } from '../../src/router/rollout-store.js';

/** A fresh, empty store, and a second handle on the same storage (another replica). */
export interface RolloutStoreFixture {
  store: RolloutStore;
  other: () => Promise<RolloutStore>;
}

export function sampleDocument(weights: Record<string, number> = { '1': 90, '2': 10 }): ModelRolloutDocument {
  return {
    traffic: { weights, stable: 1, shadow: null, source: 'admin', updated_at: '2026-01-02T03:04:05.000Z' },
    rollout: null,
    history: [],
  };
}

/** What every RolloutStore must do (memory, SQLite, PostgreSQL). */
export function rolloutStoreContract(open: () => Promise<RolloutStoreFixture>): void {
  test('an empty store lists nothing and knows no model', async () => {
    const { store } = await open();
    try {
      assert.deepEqual(await store.list(), []);
      assert.equal(await store.get('digits'), undefined);
    } finally {
      await store.close();
    }
  });

  test('put creates at revision 1 and each write bumps the revision; documents come back as written', async () => {
    const { store } = await open();
    try {
      assert.equal(await store.put('digits', sampleDocument(), 0), 1);
      assert.deepEqual(await store.get('digits'), { model: 'digits', revision: 1, document: sampleDocument() });
      assert.equal(await store.put('digits', sampleDocument({ '1': 50, '2': 50 }), 1), 2);
      assert.equal(await store.put('ocr', sampleDocument({ '3': 100 }), 0), 1);
      const listed = await store.list();
      assert.deepEqual(listed.map((r) => [r.model, r.revision]), [['digits', 2], ['ocr', 1]]);
      assert.deepEqual(listed[0]!.document.traffic!.weights, { '1': 50, '2': 50 });
    } finally {
      await store.close();
    }
  });

  test('a write against a stale revision loses (compare-and-set), so two replicas never overwrite each other', async () => {
    const { store, other } = await open();
    const second = await other();
    try {
      assert.equal(await store.put('digits', sampleDocument(), 0), 1);
      assert.equal(await second.put('digits', sampleDocument({ '1': 10, '2': 90 }), 0), undefined, 'creating what exists loses');
      assert.equal(await second.put('digits', sampleDocument({ '1': 75, '2': 25 }), 1), 2);
      assert.equal(await store.put('digits', sampleDocument({ '1': 0, '2': 100 }), 1), undefined, 'the first replica saw revision 1: it loses');
      assert.deepEqual((await store.get('digits'))!.document.traffic!.weights, { '1': 75, '2': 25 });
    } finally {
      await second.close();
      await store.close();
    }
  });

  test('a lease is held by one owner until it expires or is released', async () => {
    const { store, other } = await open();
    const second = await other();
    try {
      assert.equal(await store.acquireLease('digits', 'a', 1000, 5000), false, 'no row, no lease');
      await store.put('digits', sampleDocument(), 0);
      assert.equal(await store.acquireLease('digits', 'a', 1000, 5000), true);
      assert.equal(await second.acquireLease('digits', 'b', 2000, 5000), false, "b cannot take a's running lease");
      assert.equal(await store.acquireLease('digits', 'a', 4000, 5000), true, 'a renews it (now until 9000)');
      assert.equal(await second.acquireLease('digits', 'b', 8999, 5000), false);
      assert.equal(await second.acquireLease('digits', 'b', 9001, 5000), true, 'an expired lease is taken over');
      await store.releaseLease('digits', 'a');
      assert.equal(await store.acquireLease('digits', 'a', 9500, 5000), false, "releasing someone else's lease does nothing");
      await second.releaseLease('digits', 'b');
      assert.equal(await store.acquireLease('digits', 'a', 9500, 5000), true, 'a released lease is free at once');
      assert.equal(await store.put('digits', sampleDocument({ '2': 100 }), 1), 2, 'leases do not change the revision');
    } finally {
      await second.close();
      await store.close();
    }
  });
}
