import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import Fastify from 'fastify';
import { Slipway, oipRoutes, ServingError } from '../src/index.js';
import { EXAMPLES, TEST_MODELS } from './helpers/paths.js';

test('library: load a repository in-process and infer with typed arrays', async () => {
  const slipway = await Slipway.open({ models: [`${EXAMPLES}/digits`, `${TEST_MODELS}/simple`], cores: 2 });
  try {
    const input0 = Int32Array.from({ length: 16 }, (_, i) => i);
    const input1 = new Int32Array(16).fill(2);
    const reply = await slipway.infer({
      model: 'simple',
      id: 'lib-1',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: input0 },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: input1 },
      ],
    });
    assert.equal(reply.id, 'lib-1');
    assert.deepEqual(reply.outputs.map((o) => o.name), ['OUTPUT0', 'OUTPUT1']);
    assert.ok(reply.outputs[0]!.data instanceof Int32Array);
    assert.deepEqual(Array.from(reply.outputs[0]!.data as Int32Array), Array.from(input0, (x) => x + 2));
    assert.equal(input0.length, 16, 'inputs are copied by default, so the caller keeps them');

    await assert.rejects(
      slipway.infer({ model: 'simple', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: new Float32Array(16) }] }),
      (error: unknown) => error instanceof ServingError && error.code === 'INVALID_INPUT' && /expected datatype INT32/.test(error.message),
    );
    await assert.rejects(slipway.infer({ model: 'missing', inputs: [] }), /unknown model 'missing'/);
  } finally {
    await slipway.close();
  }
});

test('library: mount the OIP routes on an existing Fastify app under a prefix', async () => {
  const slipway = await Slipway.open({ models: `${EXAMPLES}/digits`, cores: 2 });
  const app = Fastify();
  app.get('/hello', async () => ({ hello: 'world' }));
  app.post('/echo', async (request) => request.body);
  await app.register(oipRoutes, { slipway, prefix: '/ml' });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  try {
    assert.deepEqual(await (await fetch(`${base}/hello`)).json(), { hello: 'world' });
    const echo = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.deepEqual(await echo.json(), { a: 1 }, "the host app's own JSON parsing is untouched");
    assert.deepEqual(await (await fetch(`${base}/ml/v2/health/live`)).json(), { live: true });
    const infer = await fetch(`${base}/ml/v2/models/digits/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Array(64).fill(0) }] }),
    });
    assert.equal(infer.status, 200);
    const bad = await fetch(`${base}/ml/v2/models/digits/infer`, { method: 'POST', body: '{' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /not valid JSON/);
  } finally {
    await app.close();
    await slipway.close();
  }
});
