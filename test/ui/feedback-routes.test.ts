import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../src/server/http-server.js';
import { Slipway } from '../../src/slipway.js';
import { SqliteFeedbackStore } from '../../src/ui/feedback/sqlite-feedback-store.js';
import { INLINE_DOCUMENT_BYTES, sha256Hex } from '../../src/ui/feedback/flag-document.js';
import { EXAMPLES, TEST_MODELS } from '../helpers/paths.js';

// The feedback API over real HTTP: an in-process server with the UI on, a SQLite store the test
// can look into, and fetch/FormData as the client (what the browser UI sends).

const DIGIT = await readFile(join(EXAMPLES, 'digits/examples/3.png'));
const MAX_FILE_BYTES = 256 * 1024;

let slipway: Slipway;
let app: FastifyInstance;
let store: SqliteFeedbackStore;
let url: string;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-feedback-routes-'));
  store = SqliteFeedbackStore.open(join(dir, 'feedback.db'));
  slipway = await Slipway.open({ models: [join(EXAMPLES, 'digits'), join(TEST_MODELS, 'simple')], cores: 1 });
  app = createHttpServer(slipway, { ui: { feedback: store, maxFeedbackFileBytes: MAX_FILE_BYTES } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
after(async () => {
  await app.close();
  await slipway.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read the JSON field by field
  body: any;
}

async function send(path: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, body };
}

const flag = (overrides: Record<string, unknown> = {}) => ({
  model: 'digits',
  api: 'predict',
  label: 'wrong',
  expected: '8',
  comment: 'the loop is closed',
  latency_ms: 14.5,
  input: { image: { $file: 'image' } },
  output: { label: 3, confidence: 0.9, probabilities: [0, 0, 0, 0.9, 0, 0, 0, 0, 0.1, 0] },
  ...overrides,
});

function multipart(body: unknown, files: Record<string, { data: Uint8Array; type: string; name: string }> = {}, asFile = true): FormData {
  const form = new FormData();
  const json = typeof body === 'string' ? body : JSON.stringify(body);
  if (asFile) form.append('flag', new Blob([json], { type: 'application/json' }), 'flag.json');
  else form.append('flag', json);
  for (const [part, file] of Object.entries(files)) form.append(part, new Blob([file.data], { type: file.type }), file.name);
  return form;
}

const postFlag = (form: FormData | string) =>
  send('/api/feedback', typeof form === 'string' ? { method: 'POST', body: form, headers: { 'content-type': 'application/json' } } : { method: 'POST', body: form });

const image = { data: DIGIT, type: 'image/png', name: '3.png' };

describe('POST /api/feedback', () => {
  test('stores the flag with its image as a blob reference, the model version and the time', async () => {
    const before = Date.now();
    const reply = await postFlag(multipart(flag(), { image }));
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    const stored = reply.body;
    assert.equal(stored.model, 'digits');
    assert.equal(stored.model_version, '1', 'the newest READY version when the client names none');
    assert.equal(stored.label, 'wrong');
    assert.equal(stored.expected, '8');
    assert.equal(stored.latency_ms, 14.5);
    assert.ok(Date.parse(stored.created_at) >= before - 1000 && Date.parse(stored.created_at) <= Date.now() + 1000);
    assert.deepEqual(stored.input, { image: { $blob: sha256Hex(DIGIT), media_type: 'image/png', bytes: DIGIT.byteLength, filename: '3.png' } });
    assert.deepEqual(stored.output, flag().output);
    const blob = await fetch(`${url}/api/feedback/blobs/${sha256Hex(DIGIT)}`);
    assert.equal(blob.status, 200);
    assert.equal(blob.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), DIGIT);
    const one = await send(`/api/feedback/${stored.id}`);
    assert.deepEqual(one.body, stored);
  });

  test('the same picture flagged again is not stored again', async () => {
    const existed = (await store.getBlob(sha256Hex(DIGIT))) !== undefined;
    const { blobs: before } = await store.counts();
    const first = await postFlag(multipart(flag({ label: 'right', expected: null }), { image }));
    const second = await postFlag(multipart(flag({ label: 'other', comment: 'again' }), { image: { ...image, name: 'renamed.png', type: 'application/octet-stream' } }));
    assert.deepEqual([first.status, second.status], [201, 201]);
    assert.equal(second.body.input.image.$blob, first.body.input.image.$blob);
    // Its bytes say PNG, whatever the client declared.
    assert.equal(second.body.input.image.media_type, 'image/png');
    assert.equal((await store.counts()).blobs, before + (existed ? 0 : 1));
  });

  test('a large input document (a raw tensor) is stored once by its hash and read back through the blob route', async () => {
    const data = Array.from({ length: 20_000 }, (_, i) => (i % 17) / 16);
    const input = { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 20000], data }] };
    const body = flag({ api: 'infer', model_version: '1', input, output: { outputs: [] } });
    const { blobs: before } = await store.counts();
    const first = await postFlag(multipart(body));
    const second = await postFlag(JSON.stringify(body));
    assert.deepEqual([first.status, second.status], [201, 201], JSON.stringify(second.body));
    const ref = first.body.input;
    assert.equal(ref.media_type, 'application/json');
    assert.ok(ref.bytes > INLINE_DOCUMENT_BYTES);
    assert.deepEqual(second.body.input, ref);
    assert.equal((await store.counts()).blobs, before + 1);
    const stored = await send(`/api/feedback/blobs/${ref.$blob}`);
    assert.equal(stored.headers.get('content-type'), 'application/json');
    assert.deepEqual(stored.body, input);
  });

  test('a flag without files can be plain JSON; the text part may be a field too', async () => {
    const json = await postFlag(JSON.stringify(flag({ model: 'simple', api: 'infer', model_version: '1', input: { inputs: [] }, output: { outputs: [] } })));
    assert.equal(json.status, 201, JSON.stringify(json.body));
    assert.equal(json.body.model_version, '1');
    const field = await postFlag(multipart(flag({ input: { text: 'hi' } }), {}, false));
    assert.equal(field.status, 201, JSON.stringify(field.body));
  });

  const refused: Array<[string, () => FormData | string, number, RegExp]> = [
    ['no label', () => multipart(flag({ label: undefined })), 400, /invalid flag: label: /],
    ['an unknown label', () => multipart(flag({ label: 'meh' }), { image }), 400, /label: Invalid option: expected one of "right"\|"wrong"\|"other"/],
    ['an unknown field', () => multipart(flag({ rating: 5 }), { image }), 400, /Unrecognized key: "rating"/],
    ['no input', () => JSON.stringify({ ...flag(), input: undefined }), 400, /input: the input that was flagged is required/],
    ['a NUL in the comment', () => multipart(flag({ comment: 'a\u0000b' }), { image }), 400, /comment: must not contain NUL characters/],
    ['a negative latency', () => multipart(flag({ latency_ms: -1 }), { image }), 400, /latency_ms: /],
    ['a file placeholder with no such part', () => multipart(flag()), 400, /input\.image refers to file part 'image', which the request does not have \(it has: no file parts\)/],
    ['a file part nothing refers to', () => multipart(flag(), { image, extra: image }), 400, /file part 'extra' not referred to by input or output/],
    ['a \$blob sent by the client', () => multipart(flag({ input: { image: { $blob: 'ab' } } })), 400, /input\.image: "\$blob" is reserved/],
    ['no flag part', () => {
      const form = new FormData();
      form.append('image', new Blob([DIGIT]), 'x.png');
      return form;
    }, 400, /no 'flag' part/],
    ['a flag part that is not JSON', () => multipart('{"model": '), 400, /the 'flag' part is not valid JSON/],
    ['an unknown model', () => multipart(flag({ model: 'nope' }), { image }), 404, /model: unknown model 'nope'; serving: digits, simple/],
    ['a file over the limit', () => multipart(flag(), { image: { ...image, data: new Uint8Array(MAX_FILE_BYTES + 1) } }), 413, /file part 'image' is larger than 262144 bytes/],
    ['files that together pass the limit', () => multipart(flag({ input: { a: { $file: 'a' }, b: { $file: 'b' } } }), { a: { ...image, data: new Uint8Array(MAX_FILE_BYTES - 10) }, b: { ...image, data: new Uint8Array(100) } }), 413, /the flag's parts come to more than 262144 bytes/],
  ];
  for (const [what, body, status, message] of refused) {
    test(`refuses ${what} with ${status} and says what is wrong, storing nothing`, async () => {
      const { flags } = await store.counts();
      const reply = await postFlag(body());
      assert.equal(reply.status, status, JSON.stringify(reply.body));
      assert.match(reply.body.error, message);
      assert.equal(typeof reply.body.code, 'string');
      assert.equal((await store.counts()).flags, flags);
    });
  }
});

describe('GET /api/feedback and export', () => {
  test('lists newest first with a cursor and a total, filtered by model and label', async () => {
    for (const label of ['right', 'wrong', 'wrong']) assert.equal((await postFlag(JSON.stringify(flag({ model: 'simple', api: 'infer', label, input: {}, output: {} })))).status, 201);
    const all = await send('/api/feedback?model=simple&limit=2');
    assert.equal(all.status, 200);
    assert.ok(all.body.total >= 3);
    assert.equal(all.body.flags.length, 2);
    assert.ok(all.body.flags[0].id > all.body.flags[1].id);
    assert.equal(all.body.next_before, all.body.flags[1].id);
    const next = await send(`/api/feedback?model=simple&limit=2&before=${all.body.next_before}`);
    assert.ok(next.body.flags.every((f: { id: number }) => f.id < all.body.next_before));
    const wrong = await send('/api/feedback?model=simple&label=wrong');
    assert.ok(wrong.body.flags.length >= 2 && wrong.body.flags.every((f: { label: string; model: string }) => f.label === 'wrong' && f.model === 'simple'));
    assert.equal(wrong.body.store, 'sqlite');
  });

  test('bad queries are refused naming the parameter', async () => {
    for (const [query, message] of [
      ['limit=0', /limit: Too small/],
      ['limit=501', /limit: Too big/],
      ['before=abc', /before: /],
      ['label=meh', /label: Invalid option/],
      ['colour=red', /Unrecognized key: "colour"/],
    ] as const) {
      const reply = await send(`/api/feedback?${query}`);
      assert.equal(reply.status, 400, query);
      assert.match(reply.body.error, message);
    }
  });

  test('exports CSV and JSONL as downloads holding what the list holds', async () => {
    const listed = (await send('/api/feedback?model=digits&limit=500')).body.flags.reverse();
    const csv = await fetch(`${url}/api/feedback/export?format=csv&model=digits`);
    assert.equal(csv.status, 200);
    assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(csv.headers.get('content-disposition')!, /^attachment; filename="feedback-[\d-]+\.csv"$/);
    const rows = parse(await csv.text(), { columns: true }) as Array<Record<string, string>>;
    assert.deepEqual(rows.map((r) => Number(r.id)), listed.map((f: { id: number }) => f.id));
    assert.deepEqual(JSON.parse(rows[0]!.input!), listed[0].input);
    const jsonl = await fetch(`${url}/api/feedback/export?format=jsonl&model=digits`);
    assert.equal(jsonl.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    const records = (await jsonl.text()).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(records, listed);
    const bad = await send('/api/feedback/export?format=xlsx');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /format: Invalid option: expected one of "csv"\|"jsonl"/);
  });

  test('unknown ids and hashes are 404, malformed ones 400', async () => {
    assert.deepEqual([(await send('/api/feedback/999999')).status, (await send('/api/feedback/999999')).body.code], [404, 'FEEDBACK_NOT_FOUND']);
    assert.equal((await send('/api/feedback/abc')).status, 400);
    assert.equal((await send(`/api/feedback/blobs/${'0'.repeat(64)}`)).status, 404);
    const bad = await send('/api/feedback/blobs/..%2F..%2Fetc%2Fpasswd');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /sha256: expected 64 lower-case hex digits/);
  });

  test('a stored file that a browser could run as a page is served as a sandboxed download', async () => {
    const html = new TextEncoder().encode('<script>alert(1)</script>');
    const reply = await postFlag(multipart(flag({ input: { doc: { $file: 'doc' } } }), { doc: { data: html, type: 'text/html', name: 'x.html' } }));
    assert.equal(reply.status, 201);
    assert.equal(reply.body.input.doc.media_type, 'text/html');
    const blob = await fetch(`${url}/api/feedback/blobs/${reply.body.input.doc.$blob}`);
    assert.equal(blob.headers.get('content-type'), 'application/octet-stream');
    assert.match(blob.headers.get('content-disposition')!, /^attachment/);
    assert.equal(blob.headers.get('x-content-type-options'), 'nosniff');
    assert.match(blob.headers.get('content-security-policy')!, /sandbox/);
  });
});

describe('feedback store that cannot be opened', () => {
  test('opened on first use, a store that cannot be opened answers 503 with the reason; the UI still serves', async () => {
    const server = createHttpServer(slipway, { ui: { feedback: `sqlite:${dir}`, openFeedback: 'on-first-use' } });
    try {
      await server.ready();
      const page = await server.inject({ method: 'GET', url: '/flags' });
      assert.equal(page.statusCode, 200);
      const reply = await server.inject({ method: 'POST', url: '/api/feedback', payload: flag({ input: {} }) });
      assert.equal(reply.statusCode, 503);
      assert.equal(reply.json().code, 'DATABASE_UNAVAILABLE');
      assert.match(reply.json().error, new RegExp(`feedback is off: cannot open the feedback database sqlite:${dir}.*--feedback-db`));
      assert.equal((await server.inject({ method: 'GET', url: '/api/feedback' })).statusCode, 503);
    } finally {
      await server.close();
    }
  });

  test('a store that was asked for and cannot be opened stops the server from starting', async () => {
    const server = createHttpServer(slipway, { ui: { feedback: `sqlite:${dir}` } });
    await assert.rejects(async () => server.ready(), /cannot open the feedback database/);
    await server.close().catch(() => undefined);
  });
});
