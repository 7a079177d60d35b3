import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { exportFlags, flagRecord } from '../../../src/ui/feedback/feedback-export.js';
import type { FeedbackBlob, FeedbackStore, NewFlag } from '../../../src/ui/feedback/feedback-store.js';
import { sha256Hex } from '../../../src/ui/feedback/flag-document.js';

/** A fresh, empty store, and a way to open it again (another connection / file handle) after it was closed. */
export interface StoreFixture {
  store: FeedbackStore;
  reopen: () => Promise<FeedbackStore>;
}

let clock = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

export function newFlag(overrides: Partial<NewFlag> = {}): NewFlag {
  clock += 1000;
  return {
    createdAt: new Date(clock).toISOString(),
    model: 'digits',
    modelVersion: '1',
    api: 'predict',
    label: 'wrong',
    expected: '7',
    comment: 'looks like a 7 to me',
    latencyMs: 12.345,
    input: { image: { note: 'no file' } },
    output: { label: 1, confidence: 0.61, probabilities: [0.01, 0.61, 0.38] },
    ...overrides,
  };
}

export function blobOf(data: Uint8Array, mediaType = 'image/png'): FeedbackBlob {
  return { sha256: sha256Hex(data), mediaType, data };
}

export function refTo(blob: FeedbackBlob): Record<string, unknown> {
  return { $blob: blob.sha256, media_type: blob.mediaType, bytes: blob.data.byteLength };
}

const ALL_BYTES = Uint8Array.from({ length: 512 }, (_, i) => i % 256);

/**
 * The contract every FeedbackStore passes (SQLite and PostgreSQL run the same tests). `open` gives
 * each test an empty store of its own.
 */
export function feedbackStoreContract(open: () => Promise<StoreFixture>): void {
  const withStore = (name: string, body: (fixture: StoreFixture) => Promise<void>) =>
    test(name, async () => {
      const fixture = await open();
      try {
        await body(fixture);
      } finally {
        await fixture.store.close();
      }
    });

  withStore('a flag reads back exactly as it was stored: text, nulls, numbers, nested documents', async ({ store }) => {
    const flag = newFlag({
      comment: 'naïve ✓ 🚀 "quoted", with commas,\nand a new line',
      expected: null,
      modelVersion: null,
      latencyMs: null,
      api: 'infer',
      label: 'other',
      input: { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1.5e-45, -2.5, 3.4028234663852886e38] }], parameters: { s: 'a\u0000b' } },
      output: [null, true, 'ü', { deep: [[1, 2], [3]] }],
    });
    const stored = await store.addFlag(flag, []);
    assert.ok(Number.isSafeInteger(stored.id) && stored.id > 0);
    assert.deepEqual(stored, { ...flag, id: stored.id });
    assert.deepEqual(await store.getFlag(stored.id), { ...flag, id: stored.id });
  });

  withStore('unknown ids and hashes are undefined, not errors', async ({ store }) => {
    assert.equal(await store.getFlag(987654), undefined);
    assert.equal(await store.getBlob('0'.repeat(64)), undefined);
  });

  withStore('a blob flagged many times is stored once, its bytes intact', async ({ store }) => {
    const image = blobOf(ALL_BYTES);
    const other = blobOf(new Uint8Array([1, 2, 3]), 'application/json');
    const first = await store.addFlag(newFlag({ input: { image: refTo(image) } }), [image]);
    const second = await store.addFlag(newFlag({ input: { image: refTo(image) }, output: refTo(other) }), [image, other]);
    const third = await store.addFlag(newFlag({ input: { image: refTo(image) } }), [image]);
    assert.deepEqual([first.id < second.id, second.id < third.id], [true, true]);
    assert.deepEqual(await store.counts(), { flags: 3, blobs: 2, blobBytes: ALL_BYTES.byteLength + 3 });
    const read = await store.getBlob(image.sha256);
    assert.ok(read !== undefined);
    assert.equal(read.mediaType, 'image/png');
    assert.deepEqual(Buffer.from(read.data), Buffer.from(ALL_BYTES));
    assert.deepEqual((await store.getFlag(second.id))!.output, refTo(other));
  });

  withStore('a flag that refers to a blob it does not bring (and that is not stored) is refused, and nothing is half-stored', async ({ store }) => {
    const missing = blobOf(new Uint8Array([9, 9, 9]));
    const brought = blobOf(new Uint8Array([4, 5, 6]));
    await assert.rejects(store.addFlag(newFlag({ input: { a: refTo(brought), b: refTo(missing) } }), [brought]));
    assert.deepEqual(await store.counts(), { flags: 0, blobs: 0, blobBytes: 0 });
    // A blob stored earlier may be referred to without being sent again.
    await store.addFlag(newFlag({ input: refTo(brought) }), [brought]);
    await store.addFlag(newFlag({ input: refTo(brought) }), []);
    assert.equal((await store.counts()).blobs, 1);
  });

  withStore('concurrent flags on one new blob all succeed and share it', async ({ store }) => {
    const image = blobOf(new Uint8Array(200_000).fill(7));
    const stored = await Promise.all(Array.from({ length: 12 }, () => store.addFlag(newFlag({ input: { image: refTo(image) } }), [image])));
    assert.equal(new Set(stored.map((f) => f.id)).size, 12);
    assert.deepEqual(await store.counts(), { flags: 12, blobs: 1, blobBytes: 200_000 });
  });

  withStore('listing: newest first with a cursor, oldest first after an id, filters, counts', async ({ store }) => {
    const added = [];
    for (let i = 0; i < 7; i++) {
      added.push(await store.addFlag(newFlag({ model: i % 2 === 0 ? 'digits' : 'ocr', label: i % 3 === 0 ? 'right' : 'wrong' }), []));
    }
    const ids = added.map((f) => f.id);
    const firstPage = await store.listFlags({ limit: 3 });
    assert.deepEqual(firstPage.map((f) => f.id), ids.slice(-3).reverse());
    const secondPage = await store.listFlags({ limit: 3, beforeId: firstPage.at(-1)!.id });
    assert.deepEqual(secondPage.map((f) => f.id), ids.slice(1, 4).reverse());
    const lastPage = await store.listFlags({ limit: 3, beforeId: secondPage.at(-1)!.id });
    assert.deepEqual(lastPage.map((f) => f.id), [ids[0]]);
    assert.deepEqual((await store.listFlags({ limit: 10, afterId: ids[4]! })).map((f) => f.id), ids.slice(5));
    const ocr = await store.listFlags({ limit: 10, model: 'ocr' });
    assert.deepEqual(ocr.map((f) => f.id), [ids[5], ids[3], ids[1]]);
    const digitsRight = await store.listFlags({ limit: 10, model: 'digits', label: 'right' });
    assert.deepEqual(digitsRight.map((f) => f.id), [ids[6], ids[0]]);
    assert.equal(await store.countFlags({}), 7);
    assert.equal(await store.countFlags({ model: 'ocr' }), 3);
    assert.equal(await store.countFlags({ label: 'wrong' }), 4);
    assert.equal(await store.countFlags({ model: 'nope' }), 0);
    assert.deepEqual(await store.listFlags({ limit: 5, model: "x' OR '1'='1" }), []);
  });

  withStore('what was stored is there after the store is closed and opened again', async ({ store, reopen }) => {
    const image = blobOf(ALL_BYTES);
    const flag = await store.addFlag(newFlag({ input: { image: refTo(image) } }), [image]);
    await store.close();
    const again = await reopen();
    try {
      assert.deepEqual(await again.getFlag(flag.id), flag);
      assert.deepEqual(Buffer.from((await again.getBlob(image.sha256))!.data), Buffer.from(ALL_BYTES));
      const next = await again.addFlag(newFlag(), []);
      assert.ok(next.id > flag.id);
    } finally {
      await again.close();
    }
  });

  withStore('CSV and JSONL exports hold every flag, oldest first, across pages, text intact', async ({ store }) => {
    const tricky = 'a "quote", a comma,\r\nand lines';
    const flags = [];
    const formula = (i: number): Partial<NewFlag> =>
      i === 4 ? { model: '+digits', modelVersion: '=1+cmd|" /C calc"!A0' } : {};
    for (let i = 0; i < 5; i++) flags.push(await store.addFlag(newFlag({ comment: i === 2 ? tricky : `c${i}`, expected: i === 3 ? '=HYPERLINK("x")' : null, ...formula(i) }), []));
    let csv = '';
    for await (const chunk of exportFlags(store, 'csv', {}, 2)) csv += chunk;
    const rows = parse(csv, { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(rows.map((r) => Number(r.id)), flags.map((f) => f.id));
    assert.equal(rows[2]!.comment, tricky);
    // A spreadsheet would run this as a formula; the export defuses it.
    assert.equal(rows[3]!.expected, '\'=HYPERLINK("x")');
    // …and so it does in every text column a client can fill, not only the free-text ones.
    assert.deepEqual([rows[4]!.model, rows[4]!.model_version], ["'+digits", '\'=1+cmd|" /C calc"!A0']);
    assert.deepEqual(JSON.parse(rows[0]!.output!), flags[0]!.output);
    assert.equal(rows[0]!.latency_ms, '12.345');
    let jsonl = '';
    for await (const chunk of exportFlags(store, 'jsonl', { label: 'wrong' }, 2)) jsonl += chunk;
    const records = jsonl.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(records, flags.map(flagRecord).map((r) => JSON.parse(JSON.stringify(r))));
    assert.equal(records[3].expected, '=HYPERLINK("x")');
    assert.equal(records[4].model_version, '=1+cmd|" /C calc"!A0');
  });
}
