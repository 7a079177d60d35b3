import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { SlipwayClientError, SlipwayGrpcClient, SlipwayHttpClient } from '../../src/client/index.js';
import { DATATYPES, type Datatype, type TensorData } from '../../src/tensor/datatypes.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { EXAMPLES, TEST_MODELS } from '../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../helpers/protocol-server.js';
import { SAMPLES } from '../helpers/samples.js';

const TOKEN = 'client-test-token';
const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Array<{ label: number; image: number[][][] }>;

let server: ProtocolServer;
before(async () => {
  server = await startProtocolServer({ models: [EXAMPLES, TEST_MODELS], adminToken: TOKEN });
});
after(async () => {
  await server.close();
});

/** JSON numbers are finite doubles: 64-bit samples past 2^53, and infinities, only travel in binary/raw form. */
function jsonSafe(datatype: Datatype): TensorData {
  if (datatype === 'FP16') return Uint16Array.from([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x3555]);
  if (datatype === 'INT64') return BigInt64Array.from([-5n, -1n, 0n, 1n, 2n ** 53n - 1n, 7n]);
  if (datatype === 'UINT64') return BigUint64Array.from([0n, 1n, 2n, 3n, 2n ** 53n - 1n, 9n]);
  return SAMPLES[datatype];
}

const asArray = (data: TensorData): unknown[] => Array.from(data as ArrayLike<unknown>);

const modes = [
  { name: 'HTTP binary', exact: true, make: () => new SlipwayHttpClient(server.url) },
  { name: 'HTTP JSON', exact: false, make: () => new SlipwayHttpClient(server.url, { binary: false }) },
  { name: 'gRPC raw', exact: true, make: () => new SlipwayGrpcClient(server.grpcAddress) },
  { name: 'gRPC typed', exact: true, make: () => new SlipwayGrpcClient(server.grpcAddress, { raw: false }) },
] as const;

for (const mode of modes) {
  describe(`client: ${mode.name}`, () => {
    let client: SlipwayHttpClient | SlipwayGrpcClient;
    before(() => {
      client = mode.make();
    });
    after(() => {
      if (client instanceof SlipwayGrpcClient) client.close();
    });

    test('health, server and model metadata', async () => {
      assert.equal(await client.live(), true);
      assert.equal(await client.ready(), true);
      assert.equal(await client.modelReady('digits'), true);
      const server = await client.serverMetadata();
      assert.equal(server.name, 'slipway');
      assert.ok(server.extensions.includes('binary_tensor_data'));
      const meta = await client.modelMetadata('digits');
      assert.deepEqual(meta.inputs, [{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }]);
      assert.ok((await client.repositoryIndex({ ready: true })).some((m) => m.name === 'digits' && m.state === 'READY'));
    });

    for (const datatype of DATATYPES) {
      if (datatype === 'FP16' && mode.name === 'gRPC typed') continue; // FP16 always travels raw; covered by gRPC raw
      test(`${datatype} in and out as typed data`, async () => {
        const data = mode.exact ? SAMPLES[datatype] : jsonSafe(datatype);
        const input: Tensor = { name: 'INPUT0', datatype, shape: [2, 3], data };
        const result = await client.infer(`identity_${datatype.toLowerCase()}`, [input], { id: `${datatype}-1` });
        assert.equal(result.id, `${datatype}-1`);
        const out = result.output('OUTPUT0');
        assert.deepEqual([out.datatype, out.shape], [datatype, [2, 3]]);
        assert.equal(Array.isArray(out.data), datatype === 'BYTES');
        assert.deepEqual(asArray(out.data), asArray(data));
      });
    }

    test('digits: the predicted class of every sample, and the chosen output only', async () => {
      for (const sample of samples.slice(0, 5)) {
        const result = await client.infer('digits', [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Float32Array.from(sample.image.flat(2)) }], {
          outputs: ['probabilities'],
        });
        const p = result.output('probabilities').data as Float32Array;
        assert.ok(p instanceof Float32Array);
        assert.equal(p.indexOf(Math.max(...p)), sample.label);
      }
    });

    test('a bad request is a SlipwayClientError with the server code and message', async () => {
      const error = await client.infer('digits', [{ name: 'image', datatype: 'FP32', shape: [1, 64], data: new Float32Array(64) }]).catch((e: unknown) => e);
      assert.ok(error instanceof SlipwayClientError);
      assert.equal(error.code, 'INVALID_INPUT');
      assert.match(error.message, /input 'image': shape \[1,64\] does not match the model's \[-1,1,8,8\]/);
      const unknown = await client.modelMetadata('nope').catch((e: unknown) => e);
      assert.equal((unknown as SlipwayClientError).code, 'MODEL_NOT_FOUND');
    });
  });
}

describe('client: repository load/unload with the admin token', () => {
  test('HTTP and gRPC unload and load a model; without the token it is refused', async () => {
    const http = new SlipwayHttpClient(server.url, { adminToken: TOKEN, retries: 0 });
    const grpc = new SlipwayGrpcClient(server.grpcAddress, { adminToken: TOKEN, retries: 0 });
    try {
      await http.unloadModel('fixed_matmul');
      assert.equal(await http.modelReady('fixed_matmul'), false);
      await grpc.loadModel('fixed_matmul');
      assert.equal(await grpc.modelReady('fixed_matmul'), true);
      const refused = await new SlipwayHttpClient(server.url).unloadModel('fixed_matmul').catch((e: unknown) => e);
      assert.equal((refused as SlipwayClientError).status, 401);
      const refusedGrpc = await new SlipwayGrpcClient(server.grpcAddress).unloadModel('fixed_matmul').catch((e: unknown) => e);
      assert.equal((refusedGrpc as SlipwayClientError).code, 'UNAUTHENTICATED');
    } finally {
      grpc.close();
    }
  });

  test('gRPC: infer retries UNAVAILABLE (model unloaded) until the model is back', async () => {
    const admin = new SlipwayGrpcClient(server.grpcAddress, { adminToken: TOKEN });
    const client = new SlipwayGrpcClient(server.grpcAddress, { retries: 12, backoffMs: 50 });
    try {
      await admin.unloadModel('identity_int32');
      const pending = client.infer('identity_int32', [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 2], data: Int32Array.of(4, 5) }]);
      setTimeout(() => void admin.loadModel('identity_int32'), 100);
      const result = await pending;
      assert.deepEqual([...(result.output('OUTPUT0').data as Int32Array)], [4, 5]);
    } finally {
      admin.close();
      client.close();
    }
  });
});

describe('client: retries and timeouts against a scripted server', () => {
  let stub: Server;
  let url: string;
  let answers: Array<{ status: number; body: object; headers?: Record<string, string> }> = [];
  let calls = 0;
  before(async () => {
    stub = createServer((request, response) => {
      calls++;
      if (request.url === '/hang/v2/health/live') return; // never answers
      const next = answers.shift() ?? { status: 500, body: { error: 'script ran out' } };
      response.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      response.end(JSON.stringify(next.body));
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });
  after(() => {
    stub.closeAllConnections();
    stub.close();
  });

  const ok = { status: 200, body: { model_name: 'm', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [1], data: [1.5] }] } };
  const input: Tensor = { name: 'x', datatype: 'FP32', shape: [1], data: Float32Array.of(1) };

  test('503 twice, then 200: three calls, one answer', async () => {
    calls = 0;
    answers = [{ status: 503, body: { error: 'loading', code: 'MODEL_NOT_READY' } }, { status: 503, body: { error: 'loading', code: 'MODEL_NOT_READY' } }, ok];
    const result = await new SlipwayHttpClient(url, { binary: false, backoffMs: 1 }).infer('m', [input]);
    assert.equal(calls, 3);
    assert.deepEqual([...(result.output('y').data as Float32Array)], [1.5]);
  });

  test('429 with Retry-After is retried; 400 is not; retries: 0 gives up at once', async () => {
    calls = 0;
    answers = [{ status: 429, body: { error: 'queue full', code: 'QUEUE_FULL' }, headers: { 'retry-after': '0' } }, ok];
    await new SlipwayHttpClient(url, { binary: false, backoffMs: 1 }).infer('m', [input]);
    assert.equal(calls, 2);
    calls = 0;
    answers = [{ status: 400, body: { error: "input 'x': bad", code: 'INVALID_INPUT' } }, ok];
    const bad = await new SlipwayHttpClient(url, { binary: false }).infer('m', [input]).catch((e: unknown) => e);
    assert.equal(calls, 1);
    assert.equal((bad as SlipwayClientError).code, 'INVALID_INPUT');
    calls = 0;
    answers = [{ status: 503, body: { error: 'draining', code: 'SERVER_SHUTTING_DOWN' } }, ok];
    const gaveUp = await new SlipwayHttpClient(url, { binary: false, retries: 0 }).infer('m', [input]).catch((e: unknown) => e);
    assert.equal(calls, 1);
    assert.equal((gaveUp as SlipwayClientError).code, 'SERVER_SHUTTING_DOWN');
    answers = [];
  });

  test('a server that does not answer in time is DEADLINE_EXCEEDED', async () => {
    const error = await new SlipwayHttpClient(`${url}/hang`, { timeoutMs: 100, retries: 0 }).live().catch((e: unknown) => e);
    assert.ok(error instanceof SlipwayClientError);
    assert.equal(error.code, 'DEADLINE_EXCEEDED');
  });

  test('no server at all is UNAVAILABLE after the retries', async () => {
    const error = await new SlipwayHttpClient('http://127.0.0.1:9', { retries: 2, backoffMs: 1 }).ready().catch((e: unknown) => e);
    assert.equal((error as SlipwayClientError).code, 'UNAVAILABLE');
  });
});
