import assert from 'node:assert/strict';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Metadata, credentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadServices } from '../../../src/protocol/grpc/proto.js';
import { EXAMPLES, TEST_MODELS } from '../../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../../helpers/protocol-server.js';
import { tempRepository } from '../../helpers/temp-repository.js';

const TOKEN = 'test-admin-token-123';
const ONE_INSTANCE = 'instance_group:\n  count: 1\n  intra_op_threads: 1\n';

function grpcCall(client: Client, method: string, request: object, token?: string): Promise<unknown> {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: object, m: Metadata, cb: (e: ServiceError | null, v: unknown) => void) => void>)[method]!(request, metadata, (error, value) =>
      error ? reject(error) : resolve(value),
    );
  });
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: string; code?: string } & Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { error?: string; code?: string } };
}

const digitsInput = { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Array(64).fill(0) }] };

describe('repository load/unload without an admin token configured', () => {
  let server: ProtocolServer;
  let client: Client;
  before(async () => {
    server = await startProtocolServer({ models: `${EXAMPLES}/digits` });
    client = new (loadServices().inference)(server.grpcAddress, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close();
  });

  test('HTTP: 403 PERMISSION_DENIED saying how to enable it, and nothing changes', async () => {
    for (const action of ['load', 'unload']) {
      const reply = await postJson(`${server.url}/v2/repository/models/digits/${action}`, {}, { authorization: 'Bearer anything' });
      assert.equal(reply.status, 403);
      assert.equal(reply.body.code, 'PERMISSION_DENIED');
      assert.match(reply.body.error!, /start the server with --admin-token/);
    }
    assert.equal((await postJson(`${server.url}/v2/models/digits/infer`, digitsInput)).status, 200);
  });

  test('gRPC: PERMISSION_DENIED', async () => {
    const error = (await grpcCall(client, 'RepositoryModelUnload', { model_name: 'digits' }, 'x').catch((e: unknown) => e)) as ServiceError;
    assert.equal(error.code, status.PERMISSION_DENIED);
  });
});

describe('repository load/unload with an admin token', () => {
  let server: ProtocolServer;
  let client: Client;
  let repo: Awaited<ReturnType<typeof tempRepository>>;
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    repo = await tempRepository({ digits: { config: ONE_INSTANCE }, // Unbatched, so the scheduler counts each queued request on its own.
      slow: { from: 'ocr_rec', config: `${ONE_INSTANCE}dynamic_batching:\n  enable: false\n` } });
    server = await startProtocolServer({ models: repo.dir, adminToken: TOKEN });
    client = new (loadServices().inference)(server.grpcAddress, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close();
    await repo.remove();
  });

  test('HTTP: no token and a wrong token are 401 UNAUTHENTICATED', async () => {
    const none = await postJson(`${server.url}/v2/repository/models/digits/unload`, {});
    assert.equal(none.status, 401);
    assert.match(none.body.error!, /Authorization: Bearer <token>/);
    const wrong = await postJson(`${server.url}/v2/repository/models/digits/unload`, {}, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error!, /the admin token is wrong/);
    assert.equal((await postJson(`${server.url}/v2/models/digits/infer`, digitsInput)).status, 200);
  });

  test('gRPC: no token and a wrong token are UNAUTHENTICATED', async () => {
    for (const token of [undefined, 'nope']) {
      const error = (await grpcCall(client, 'RepositoryModelLoad', { model_name: 'digits' }, token).catch((e: unknown) => e)) as ServiceError;
      assert.equal(error.code, status.UNAUTHENTICATED);
    }
  });

  test('a model dropped into the repository folder loads (HTTP), serves, and shows in the index', async () => {
    await mkdir(join(repo.dir, 'added', '1'), { recursive: true });
    await cp(join(TEST_MODELS, 'simple', '1', 'model.onnx'), join(repo.dir, 'added', '1', 'model.onnx'));
    await writeFile(join(repo.dir, 'added', 'config.yaml'), ONE_INSTANCE);
    const before = await postJson(`${server.url}/v2/models/added/infer`, {});
    assert.equal(before.status, 404);
    const loaded = await postJson(`${server.url}/v2/repository/models/added/load`, {}, auth);
    assert.equal(loaded.status, 200, loaded.body.error);
    const reply = await postJson(`${server.url}/v2/models/added/infer`, {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(3) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) },
      ],
    });
    assert.equal(reply.status, 200);
    const index = (await postJson(`${server.url}/v2/repository/index`, {})).body as unknown as Array<{ name: string; state: string }>;
    assert.deepEqual(index.find((r) => r.name === 'added'), { name: 'added', version: '1', state: 'READY', reason: '' });
  });

  test('loading a model that is in no repository folder is 404 naming where it was looked for', async () => {
    const reply = await postJson(`${server.url}/v2/repository/models/ghost/load`, {}, auth);
    assert.equal(reply.status, 404);
    assert.match(reply.body.error!, /no model 'ghost' in the model repository/);
  });

  test('a broken model fails to load with its reason; a broken reload keeps the old version serving', async () => {
    await mkdir(join(repo.dir, 'broken', '1'), { recursive: true });
    await writeFile(join(repo.dir, 'broken', '1', 'model.onnx'), 'not an onnx file');
    const reply = await postJson(`${server.url}/v2/repository/models/broken/load`, {}, auth);
    assert.equal(reply.status, 400);
    assert.equal(reply.body.code, 'MODEL_LOAD_FAILED');
    assert.match(reply.body.error!, /failed to load model 'broken': version 1: /);
    const index = (await postJson(`${server.url}/v2/repository/index`, {})).body as unknown as Array<{ name: string; state: string }>;
    assert.equal(index.find((r) => r.name === 'broken')?.state, 'UNAVAILABLE');

    // digits gets a broken version 2: the policy (latest 1) picks it, it fails, version 1 stays.
    await mkdir(join(repo.dir, 'digits', '2'), { recursive: true });
    await writeFile(join(repo.dir, 'digits', '2', 'model.onnx'), 'broken too');
    const reload = await postJson(`${server.url}/v2/repository/models/digits/load`, {}, auth);
    assert.equal(reload.status, 400);
    assert.match(reload.body.error!, /the versions loaded before keep serving/);
    const still = await postJson(`${server.url}/v2/models/digits/infer`, digitsInput);
    assert.equal(still.status, 200);
    assert.equal(still.body.model_version, '1');
  });

  test('load parameters (config/file overrides) are refused as not implemented', async () => {
    const reply = await postJson(`${server.url}/v2/repository/models/digits/load`, { parameters: { config: '{}' } }, auth);
    assert.equal(reply.status, 501);
    assert.match(reply.body.error!, /load parameters \(config\) are not supported/);
  });

  test('unload lets queued and running requests finish, then refuses new ones with 503; load brings it back (gRPC)', async () => {
    const image = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 640], data: Array(3 * 48 * 640).fill(0.5) }] };
    const inflight = Array.from({ length: 6 }, () => postJson(`${server.url}/v2/models/slow/infer`, image));
    // Unload only once the server holds some of them (queued or running).
    const scheduler = () => server.slipway.repository.get('slow')!.versions.get(1)!.scheduler;
    for (let i = 0; i < 2000 && (scheduler()?.inflight ?? 0) + (scheduler()?.queueDepth ?? 0) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok((scheduler()?.inflight ?? 0) + (scheduler()?.queueDepth ?? 0) > 0, 'no request reached the model');
    const unloaded = postJson(`${server.url}/v2/repository/models/slow/unload`, {}, auth);
    const replies = await Promise.all(inflight);
    for (const reply of replies) {
      // Requests that reached the server before the unload finish; any that arrived after it began get 503.
      assert.ok(reply.status === 200 || (reply.status === 503 && reply.body.code === 'MODEL_NOT_READY'), JSON.stringify(reply.body).slice(0, 200));
    }
    assert.ok(replies.filter((r) => r.status === 200).length >= 1);
    assert.equal((await unloaded).status, 200);
    const after = await postJson(`${server.url}/v2/models/slow/infer`, image);
    assert.equal(after.status, 503);
    assert.equal(after.body.code, 'MODEL_NOT_READY');
    assert.match(after.body.error!, /UNAVAILABLE: unloaded/);

    await grpcCall(client, 'RepositoryModelLoad', { model_name: 'slow' }, TOKEN);
    assert.equal((await postJson(`${server.url}/v2/models/slow/infer`, image)).status, 200);
  });

  test('every request accepted before an unload is answered 200 (none dropped)', async () => {
    const image = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 640], data: Array(3 * 48 * 640).fill(0.25) }] };
    const accepted: Array<Promise<{ status: number }>> = [];
    for (let i = 0; i < 4; i++) accepted.push(postJson(`${server.url}/v2/models/slow/infer`, image));
    const scheduler = () => server.slipway.repository.get('slow')!.versions.get(1)!.scheduler;
    const held = () => (scheduler()?.inflight ?? 0) + (scheduler()?.queueDepth ?? 0);
    for (let i = 0; i < 2000 && held() < 4; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(held(), 4, 'all four are queued or running');
    await grpcCall(client, 'RepositoryModelUnload', { model_name: 'slow' }, TOKEN);
    assert.deepEqual((await Promise.all(accepted)).map((r) => r.status), [200, 200, 200, 200]);
  });
});
