import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lookupBody, lookupModel, lookupRepository, ONE_INSTANCE, type LookupRepository } from '../../helpers/rollout-models.js';
import { startProtocolServer, type ProtocolServer } from '../../helpers/protocol-server.js';
import { RawAnswerCache, rawRequestKey } from '../../../src/scheduler/raw-answer-cache.js';

const TOKEN = 'raw-cache-admin';
const CACHED = 'response_cache: { enable: true }\n';

interface Answer {
  status: number;
  bytes: Buffer;
  timing: string;
  headers: Headers;
}

async function send(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: r.status, bytes: Buffer.from(await r.arrayBuffer()), timing: r.headers.get('server-timing') ?? '', headers: r.headers };
}

/** The version an answer names and the value it carries (lookup: index / 2 + the version's offset). */
function read(answer: Answer): { version: string; value: number } {
  const json = JSON.parse(answer.bytes.toString()) as { model_version: string; outputs: Array<{ data: number[] }> };
  return { version: json.model_version, value: json.outputs[0]!.data[0]! };
}

const isRawHit = (a: Answer) => /cache;desc=hit-bytes/.test(a.timing);
const isTensorHit = (a: Answer) => /cache;desc=hit(,|$)/.test(a.timing);

async function setTraffic(url: string, weights: Record<number, number>): Promise<void> {
  const r = await fetch(`${url}/v2/models/lookup/traffic`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ weights }),
  });
  assert.equal(r.status, 200, await r.text());
}

describe('raw-bytes answer cache', () => {
  let repo: LookupRepository;
  let server: ProtocolServer;
  // Version 1 answers index / 2, version 2 answers index / 2 + 1000: an answer from the wrong version shows.
  const valueOf = (version: string, index: number) => index / 2 + (version === '2' ? 1000 : 0);
  before(async () => {
    repo = await lookupRepository({ 1: [100, 0], 2: [100, 1000] }, CACHED);
    // A second model with the same input and other weights (index / 2 + 2000): same bytes, another answer.
    await repo.addVersion(1, 100, 2000, 'lookup_b');
    await writeFile(join(repo.dir, 'lookup_b', 'config.yaml'), `${ONE_INSTANCE}${CACHED}`);
    server = await startProtocolServer({ models: repo.dir, adminToken: TOKEN });
  });
  after(async () => {
    await server.close();
    await repo.remove();
  });

  test('a byte-identical repeat gets the identical bytes before decoding; a reformatted one hits the tensor-level cache', async () => {
    const url = `${server.url}/v2/models/lookup/versions/1/infer`;
    const first = await send(url, lookupBody(10));
    const second = await send(url, lookupBody(10));
    assert.equal(first.status, 200);
    assert.ok(!isRawHit(first) && !isTensorHit(first), first.timing);
    assert.ok(isRawHit(second), second.timing);
    assert.deepEqual(second.bytes, first.bytes);
    assert.equal(second.headers.get('content-type'), first.headers.get('content-type'));
    const spaced = await send(url, lookupBody(10).replace(/,/g, ', '));
    assert.ok(isTensorHit(spaced) && !isRawHit(spaced), spaced.timing);
    assert.deepEqual(spaced.bytes, first.bytes);
    const stats = (await (await fetch(`${server.url}/v2/models/lookup/versions/1/stats`)).json()) as {
      model_stats: Array<{ execution_count: number; inference_count: number; inference_stats: { cache_hit: { count: number } } }>;
    };
    assert.equal(stats.model_stats[0]!.execution_count, 1);
    assert.equal(stats.model_stats[0]!.inference_stats.cache_hit.count, 2, 'both kinds of hit are counted');
    assert.equal(stats.model_stats[0]!.inference_count, 3);
  });

  test('never crosses versions: the path, a traffic change, a reload', async () => {
    const body = lookupBody(20);
    const one = await send(`${server.url}/v2/models/lookup/versions/1/infer`, body);
    const two = await send(`${server.url}/v2/models/lookup/versions/2/infer`, body);
    assert.deepEqual(read(one), { version: '1', value: valueOf('1', 20) });
    assert.deepEqual(read(two), { version: '2', value: valueOf('2', 20) });
    assert.ok(!isRawHit(two));

    // No version named: the newest (2) serves, then a policy sending everything to 1.
    const infer = `${server.url}/v2/models/lookup/infer`;
    const byPolicy = [await send(infer, body), await send(infer, body)];
    assert.ok(isRawHit(byPolicy[1]!));
    for (const a of byPolicy) assert.deepEqual(read(a), { version: '2', value: valueOf('2', 20) });
    await setTraffic(server.url, { 1: 100 });
    const moved = [await send(infer, body), await send(infer, body)];
    for (const a of moved) assert.deepEqual(read(a), { version: '1', value: valueOf('1', 20) });
    assert.ok(isRawHit(moved[1]!));

    // A split without a key is chosen per request: every answer must match the version it names.
    await setTraffic(server.url, { 1: 50, 2: 50 });
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const a = await send(infer, body);
      const { version, value } = read(a);
      seen.add(version);
      assert.equal(value, valueOf(version, 20), `request ${i} answered by version ${version}`);
      assert.ok(!isRawHit(a), 'a random split is never looked up before decoding');
    }
    assert.equal(seen.size, 2);
    // A sticky key in a header picks the version before decoding; one in the body (routing_key) does not.
    const keyed = [await send(infer, body, { 'x-slipway-key': 'user-7' }), await send(infer, body, { 'x-slipway-key': 'user-7' })];
    assert.ok(isRawHit(keyed[1]!));
    assert.deepEqual(read(keyed[1]!), read(keyed[0]!));
    assert.equal(read(keyed[0]!).value, valueOf(read(keyed[0]!).version, 20));
    const bodyKey = `{"inputs":[{"name":"idx","datatype":"INT64","shape":[1],"data":[20]}],"parameters":{"routing_key":"user-9"}}`;
    const byBodyKey = [await send(infer, bodyKey), await send(infer, bodyKey)];
    assert.ok(!isRawHit(byBodyKey[1]!));
    assert.deepEqual(read(byBodyKey[1]!), read(byBodyKey[0]!));
    await fetch(`${server.url}/v2/models/lookup/traffic`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });

    // Version 1 rebuilt with other weights and reloaded: its old bytes must not answer.
    const v1 = `${server.url}/v2/models/lookup/versions/1/infer`;
    assert.ok(isRawHit(await send(v1, body)));
    await writeFile(join(repo.dir, 'lookup', '1', 'model.onnx'), lookupModel(100, 500));
    await server.slipway.loadModel('lookup');
    const reloaded = await send(v1, body);
    assert.ok(!isRawHit(reloaded));
    assert.deepEqual(read(reloaded), { version: '1', value: 20 / 2 + 500 });
    await writeFile(join(repo.dir, 'lookup', '1', 'model.onnx'), lookupModel(100, 0));
    await server.slipway.loadModel('lookup');
  });

  test('never crosses models or routes: the same bytes to another model, a pinned version and the policy route', async () => {
    const body = lookupBody(40);
    const routes: Array<[string, string, number]> = [
      [`${server.url}/v2/models/lookup/versions/1/infer`, '1', valueOf('1', 40)],
      [`${server.url}/v2/models/lookup_b/infer`, '1', 40 / 2 + 2000],
      [`${server.url}/v2/models/lookup/infer`, '2', valueOf('2', 40)],
      [`${server.url}/v2/models/lookup/versions/2/infer`, '2', valueOf('2', 40)],
    ];
    for (let pass = 0; pass < 2; pass++) {
      for (const [url, version, value] of routes) {
        const a = await send(url, body);
        assert.equal(a.status, 200, url);
        assert.deepEqual(read(a), { version, value }, `${url}, pass ${pass}`);
        assert.equal(isRawHit(a), pass === 1, `${url}: pass ${pass} ${pass === 1 ? 'hits' : 'misses'} (${a.timing})`);
        assert.equal(JSON.parse(a.bytes.toString()).model_name, url.includes('lookup_b') ? 'lookup_b' : 'lookup');
      }
    }
    // An empty inference-header-content-length makes the same bytes a (bad) binary request: never the JSON answer.
    const emptyHeader = await send(routes[0]![0], body, { 'inference-header-content-length': '' });
    assert.ok(!isRawHit(emptyHeader), emptyHeader.timing);
    assert.equal(emptyHeader.status, 400, emptyHeader.bytes.toString());
    // One byte more or less is another request, never the stored answer.
    const near = await send(routes[0]![0], lookupBody(41));
    assert.ok(!isRawHit(near));
    assert.deepEqual(read(near), { version: '1', value: valueOf('1', 41) });
  });

  test('binary requests and answers: the header length is part of the key, the answer keeps its headers', async () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'idx', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } }], parameters: { binary_data_output: true } }));
    const raw = Buffer.alloc(8);
    raw.writeBigInt64LE(30n);
    const body = Buffer.concat([header, raw]);
    const binary = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) };
    const url = `${server.url}/v2/models/lookup/versions/1/infer`;
    const first = await send(url, body, binary);
    const second = await send(url, body, binary);
    assert.equal(first.status, 200);
    assert.ok(isRawHit(second));
    assert.deepEqual(second.bytes, first.bytes);
    assert.equal(second.headers.get('content-type'), 'application/octet-stream');
    assert.equal(second.headers.get('inference-header-content-length'), first.headers.get('inference-header-content-length'));
    const length = Number(first.headers.get('inference-header-content-length'));
    assert.equal(first.bytes.subarray(length).readFloatLE(0), 15);
    // The same bytes without the header are a (bad) JSON request, never the stored binary answer.
    const asJson = await send(url, body);
    assert.equal(asJson.status, 400);
    // The same input asking for JSON output is another answer.
    const jsonOut = await send(url, `{"inputs":[{"name":"idx","datatype":"INT64","shape":[1],"data":[30]}],"parameters":{"binary_data_output":false}}`);
    assert.equal(jsonOut.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(read(jsonOut).value, 15);
  });

  test('raw_body: false keeps only the tensor-level cache', async () => {
    const other = await lookupRepository({ 1: 100 }, 'response_cache: { enable: true, raw_body: false }\n');
    const s = await startProtocolServer({ models: other.dir });
    try {
      const url = `${s.url}/v2/models/lookup/infer`;
      await send(url, lookupBody(3));
      const again = await send(url, lookupBody(3));
      assert.ok(isTensorHit(again) && !isRawHit(again), again.timing);
      assert.equal(s.slipway.rawAnswers.size, 0);
    } finally {
      await s.close();
      await other.remove();
    }
  });
});

test('RawAnswerCache: bounded in bytes (LRU), and an entry answers only the version object that stored it', () => {
  const owner = {};
  const keys = ['a', 'b', 'c', 'd'].map((k) => rawRequestKey({ model: 'm', route: '' }, Buffer.from(k)));
  const cache = new RawAnswerCache(3 * (100 + keys[0]!.length + 64));
  const answer = { body: Buffer.alloc(100), contentType: 'application/json', batchSize: 1 };
  for (const key of keys.slice(0, 3)) cache.set(key, owner, answer);
  assert.ok(cache.get(keys[0]!, owner));
  cache.set(keys[3]!, owner, answer);
  assert.equal(cache.get(keys[1]!, owner), undefined, 'b was least recently used');
  assert.ok(cache.bytes <= cache.capacityBytes);
  assert.equal(cache.get(keys[0]!, {}), undefined, 'another version object never gets it');
  assert.equal(cache.get(keys[0]!, owner), undefined, 'and the stale entry is gone');
  const pooled = Buffer.from('{"small":"answer"}');
  assert.ok(pooled.buffer.byteLength > pooled.byteLength, 'a small Buffer.from is a view of the shared pool');
  cache.set(keys[2]!, owner, { ...answer, body: pooled });
  const kept = cache.get(keys[2]!, owner)!.body;
  assert.equal(kept.buffer.byteLength, kept.byteLength, 'the entry holds its own bytes, not the pool');
  assert.deepEqual(kept, pooled);
  assert.notEqual(rawRequestKey({ model: 'm', route: '1' }, Buffer.from('a')), rawRequestKey({ model: 'm', route: '' }, Buffer.from('a')));
  assert.notEqual(rawRequestKey({ model: 'm', route: '', acceptsBinary: true }, Buffer.from('a')), keys[0]);
  assert.notEqual(rawRequestKey({ model: 'm', route: '', headerLength: '1' }, Buffer.from('a')), keys[0]);
});

test('rawRequestKey: no two requests share a key, however their fields are split (field boundaries and the body)', () => {
  // Pairs that plain concatenation would confuse: a field's end moved into the next one, an empty
  // field, a header length that reads like a route, binary or not, one body byte moved across.
  const cases: Array<[Parameters<typeof rawRequestKey>[0], string]> = [
    [{ model: 'ab', route: '' }, 'x'],
    [{ model: 'a', route: 'b' }, 'x'],
    [{ model: 'a', route: '' }, 'bx'],
    [{ model: 'a', route: '1' }, 'x'],
    [{ model: 'a1', route: '' }, 'x'],
    [{ model: 'a', route: '', headerLength: '1' }, 'x'],
    [{ model: 'a', route: '1', headerLength: '' }, 'x'],
    [{ model: 'a', route: '', headerLength: '' }, 'x'],
    [{ model: 'a', route: '', headerLength: '-' }, 'x'],
    [{ model: 'a', route: '', acceptsBinary: true }, 'x'],
    [{ model: 'a', route: '' }, 'x'],
    [{ model: '1:a', route: '' }, 'x'],
    [{ model: 'a', route: '0:' }, 'x'],
    [{ model: 'a', route: '' }, 'x '],
    [{ model: 'a', route: '' }, ''],
  ];
  const keys = cases.map(([facts, body]) => rawRequestKey(facts, Buffer.from(body)));
  assert.equal(new Set(keys).size, keys.length, keys.join('\n'));
  // The same request always gets the same key, whatever Buffer or view holds its bytes.
  const pooled = Buffer.from('{"inputs":[]}');
  const copy = new Uint8Array([...pooled]);
  assert.equal(rawRequestKey({ model: 'm', route: '2' }, pooled), rawRequestKey({ model: 'm', route: '2' }, copy));
});
