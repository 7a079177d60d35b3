import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Metadata, credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadServices } from '../../src/protocol/grpc/proto.js';
import { ROOT } from '../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../helpers/protocol-server.js';
import { lookupBody, lookupRepository, type LookupRepository } from '../helpers/rollout-models.js';

// Version 1 answers index/2, version 2 answers index/2 + 1000: every answer says which version gave it.
const HANDLER = `import { defineHandler, z } from 'slipway';
export default defineHandler({
  input: z.object({ index: z.number().int().min(0) }),
  output: z.object({ value: z.number() }),
  preprocess: ({ index }) => ({ idx: { datatype: 'INT64', shape: [1], data: BigInt64Array.of(BigInt(index)) } }),
  postprocess: ({ value }) => ({ value: (value!.data as Float32Array)[0]! }),
});
`;
const versionOf = (value: number): number => (value >= 1000 ? 2 : 1);

async function infer(url: string, headers: Record<string, string> = {}, body = lookupBody(4), path = '/v2/models/lookup/infer'): Promise<{ status: number; version: number }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const json = (await response.json()) as { model_version?: string; error?: string };
  return { status: response.status, version: Number(json.model_version) };
}

function grpcInfer(client: Client, metadata: Record<string, string>, version = ''): Promise<{ model_version: string }> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  const request = { model_name: 'lookup', model_version: version, inputs: [{ name: 'idx', datatype: 'INT64', shape: [1], contents: { int64_contents: [4] } }] };
  return new Promise((resolve, reject) => {
    (client as unknown as { ModelInfer: (r: object, m: Metadata, cb: (e: ServiceError | null, v: { model_version: string }) => void) => void }).ModelInfer(request, md, (error, value) =>
      error ? reject(error) : resolve(value),
    );
  });
}

describe('a traffic policy applies to every way in', () => {
  let repo: LookupRepository;
  let server: ProtocolServer;
  let grpc: Client;
  const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);

  before(async () => {
    // Inside the project, so the handler can import 'slipway'.
    repo = await lookupRepository({ 1: 100, 2: [100, 1000] }, 'traffic:\n  weights: { 1: 90, 2: 10 }\n', join(ROOT, '.tmp'));
    await writeFile(join(repo.dir, 'lookup', 'handler.ts'), HANDLER);
    server = await startProtocolServer({ models: repo.dir, adminToken: 'traffic-test-token' });
    grpc = new (loadServices().inference)(server.grpcAddress, credentials.createInsecure());
  });
  after(async () => {
    grpc.close();
    await server.close();
    await repo.remove();
  });

  test('20 000 library requests at 90/10: version 2 gets 10% within ±1 point', async () => {
    const counts = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      while (next < 20_000) {
        next++;
        const response = await server.slipway.infer({ model: 'lookup', inputs: [{ name: 'idx', datatype: 'INT64', shape: [1], data: BigInt64Array.of(7n) }] });
        counts.set(response.model_version, (counts.get(response.model_version) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const share = ((counts.get('2') ?? 0) / 20_000) * 100;
    assert.equal((counts.get('1') ?? 0) + (counts.get('2') ?? 0), 20_000);
    assert.ok(Math.abs(share - 10) <= 1, `version 2 answered ${share.toFixed(2)}%`);
  });

  test('REST: x-slipway-key keeps one key on one version; the keys split about 90/10', async () => {
    const chosen = new Map<string, number>();
    for (const key of keys) {
      const first = await infer(server.url, { 'x-slipway-key': key });
      assert.equal(first.status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await infer(server.url, { 'x-slipway-key': key })).version, first.version, key);
      chosen.set(key, first.version);
    }
    assert.ok([...chosen.values()].filter((v) => v === 1).length > 25);
    // The OIP parameter routing_key is the same key.
    for (const key of keys.slice(0, 10)) {
      const body = `{"parameters":{"routing_key":"${key}"},"inputs":[{"name":"idx","datatype":"INT64","shape":[1],"data":[4]}]}`;
      assert.equal((await infer(server.url, {}, body)).version, chosen.get(key));
    }
  });

  test('a version in the URL always wins; x-slipway-version pins a tester to one', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await infer(server.url, { 'x-slipway-version': '2' })).version, 2);
    assert.equal((await infer(server.url, { 'x-slipway-version': '2' }, lookupBody(4), '/v2/models/lookup/versions/1/infer')).version, 1);
    const unknown = await fetch(`${server.url}/v2/models/lookup/infer`, { method: 'POST', headers: { 'x-slipway-version': '7' }, body: lookupBody(4) });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /model 'lookup' has no version '7'; versions: 1, 2/);
  });

  test('gRPC metadata, the TF Serving dialect and the handler route send a key where REST does', async () => {
    for (const key of keys.slice(0, 12)) {
      const rest = (await infer(server.url, { 'x-slipway-key': key })).version;
      assert.equal(Number((await grpcInfer(grpc, { 'x-slipway-key': key })).model_version), rest, `gRPC, ${key}`);
      const tf = await fetch(`${server.url}/v1/models/lookup:predict`, { method: 'POST', headers: { 'x-slipway-key': key }, body: '{"instances":[4]}' });
      assert.equal(versionOf(((await tf.json()) as { predictions: number[] }).predictions[0]!), rest, `TF Serving, ${key}`);
      const predict = await fetch(`${server.url}/api/models/lookup/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-slipway-key': key }, body: '{"index":4}' });
      assert.equal(predict.status, 200);
      assert.equal(versionOf(((await predict.json()) as { value: number }).value), rest, `handler, ${key}`);
    }
    assert.equal((await grpcInfer(grpc, { 'x-slipway-version': '2' })).model_version, '2');
    assert.equal((await grpcInfer(grpc, { 'x-slipway-version': '2' }, '1')).model_version, '1', 'model_version wins over the metadata');
    const forced = await fetch(`${server.url}/api/models/lookup/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-slipway-version': '2' }, body: '{"index":4}' });
    assert.equal(((await forced.json()) as { value: number }).value, 1002);
  });

  test('metadata describes the version taking most of the traffic; the split shows in /traffic and /metrics', async () => {
    const metadata = (await (await fetch(`${server.url}/v2/models/lookup`)).json()) as { versions: string[] };
    assert.deepEqual(metadata.versions, ['1', '2']);
    const traffic = (await (await fetch(`${server.url}/v2/models/lookup/traffic`)).json()) as { traffic: { source: string; stable: number; versions: Array<{ version: number; percent: number }> } };
    assert.equal(traffic.traffic.source, 'config');
    assert.equal(traffic.traffic.stable, 1);
    assert.deepEqual(traffic.traffic.versions.map((v) => [v.version, v.percent]), [[1, 90], [2, 10]]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /slipway_traffic_share_percent\{model="lookup",version="2"\} 10/);
  });

  test('only routed requests count in a rollout’s analysis: pinned ones (URL, x-slipway-version) do not', async () => {
    const token = { authorization: 'Bearer traffic-test-token', 'content-type': 'application/json' };
    const started = await fetch(`${server.url}/v2/models/lookup/rollout`, { method: 'POST', headers: token, body: JSON.stringify({ to: 2, interval: '10m' }) });
    assert.equal(started.status, 201);
    for (let i = 0; i < 30; i++) await infer(server.url, { 'x-slipway-version': '2' });
    for (let i = 0; i < 30; i++) await infer(server.url, {}, lookupBody(4), '/v2/models/lookup/versions/1/infer');
    for (let i = 0; i < 50; i++) await infer(server.url);
    const status = (await (await fetch(`${server.url}/v2/models/lookup/rollout`)).json()) as { live_analysis: { candidate: { requests: number }; stable: { requests: number } } };
    assert.equal(status.live_analysis.candidate.requests + status.live_analysis.stable.requests, 50);
    const rolledBack = await fetch(`${server.url}/v2/models/lookup/rollout/rollback`, { method: 'POST', headers: token });
    assert.equal(rolledBack.status, 200);
  });
});
