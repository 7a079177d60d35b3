import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { resolveServerConfig } from '../../../../src/config/server-config.js';
import { EXAMPLES } from '../../../helpers/paths.js';
import { startCliServer } from '../../../helpers/cli-server.js';
import { oip, send, startDialectServer } from './dialect-server.js';

const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Array<{ label: number; image: number[][][] }>;

let server: Awaited<ReturnType<typeof startDialectServer>>;
before(async () => {
  server = await startDialectServer();
});
after(async () => {
  await server.close();
  await server.removeRepository();
});

const TARGET = 'x-amzn-sagemaker-target-model';
const ROWS = [
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
];
const CSV = `${ROWS.map((r) => r.join(',')).join('\n')}\n`;

async function assertStillServes(): Promise<void> {
  const reply = await send(`${server.url}/invocations`, CSV, { 'content-type': 'text/csv', [TARGET]: 'linear10.tar.gz' });
  assert.equal(reply.text, '48.625\n28\n');
}

describe('SageMaker container contract', () => {
  test('GET /ping answers 200 with an empty body once ready', async () => {
    const reply = await send(`${server.url}/ping`, '', {}, 'GET');
    assert.equal(reply.status, 200);
    assert.equal(reply.text, '');
  });

  test('text/csv: one row per line, CSV back; the same numbers as OIP', async () => {
    const reply = await send(`${server.url}/invocations`, CSV, { 'content-type': 'text/csv', accept: 'text/csv', [TARGET]: 'linear10.tar.gz' });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers.get('content-type'), 'text/csv');
    assert.equal(reply.text, '48.625\n28\n');
    const viaOip = await oip(server.url, 'linear10', [{ name: 'x', datatype: 'FP32', shape: [2, 10], data: ROWS }]);
    assert.deepEqual(reply.text.trim().split('\n').map(Number), viaOip.y);
  });

  test('text/csv into digits (64 columns per row) gives the OIP probabilities', async () => {
    const csv = samples.slice(0, 2).map((s) => s.image.flat(2).join(',')).join('\n');
    const reply = await send(`${server.url}/invocations`, csv, { 'content-type': 'text/csv', accept: 'application/json', 'x-slipway-model': 'digits' });
    assert.equal(reply.status, 200, reply.text);
    const viaOip = await oip(server.url, 'digits', [{ name: 'image', datatype: 'FP32', shape: [2, 1, 8, 8], data: samples.slice(0, 2).map((s) => s.image) }]);
    assert.deepEqual(reply.json.predictions.flat(), viaOip.probabilities);
  });

  test('application/json: TF-style instances, a bare list, and an OIP request', async () => {
    const headers = { [TARGET]: 'linear10' };
    assert.deepEqual((await send(`${server.url}/invocations`, JSON.stringify({ instances: ROWS }), headers)).json, { predictions: [[48.625], [28]] });
    assert.deepEqual((await send(`${server.url}/invocations`, JSON.stringify(ROWS), headers)).json, { predictions: [[48.625], [28]] });
    const viaOip = await send(`${server.url}/invocations`, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 10], data: ROWS }] }), headers);
    assert.equal(viaOip.json.model_name, 'linear10');
    assert.deepEqual(viaOip.json.outputs[0].data, [48.625, 28]);
  });

  test('application/octet-stream: raw little-endian rows in, JSON or raw bytes out', async () => {
    const raw = Buffer.from(Float32Array.from(ROWS.flat()).buffer);
    const json = await send(`${server.url}/invocations`, raw, { 'content-type': 'application/octet-stream', [TARGET]: 'linear10' });
    assert.deepEqual(json.json, { predictions: [[48.625], [28]] });
    const response = await fetch(`${server.url}/invocations`, { method: 'POST', body: raw, headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream', [TARGET]: 'linear10' } });
    assert.equal(response.headers.get('x-slipway-shape'), '2,1');
    assert.equal(response.headers.get('x-slipway-datatype'), 'FP32');
    assert.deepEqual([...new Float32Array(await response.arrayBuffer())], [48.625, 28]);
  });

  test("SageMaker's Triton binary+json content type", async () => {
    const raw = Buffer.from(Float32Array.from(ROWS.flat()).buffer);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 10], parameters: { binary_data_size: raw.byteLength } }], parameters: { binary_data_output: true } }));
    const response = await fetch(`${server.url}/invocations`, {
      method: 'POST',
      body: Buffer.concat([header, raw]),
      headers: { 'content-type': `application/vnd.sagemaker-triton.binary+json;json-header-size=${header.byteLength}`, [TARGET]: 'linear10' },
    });
    assert.equal(response.status, 200);
    const size = Number(/json-header-size=(\d+)/.exec(response.headers.get('content-type') ?? '')?.[1]);
    const body = new Uint8Array(await response.arrayBuffer());
    assert.deepEqual([...new Float32Array(body.slice(size).buffer)], [48.625, 28]);
  });

  test('GET /execution-parameters describes batch transform', async () => {
    const reply = await send(`${server.url}/execution-parameters`, '', {}, 'GET');
    assert.equal(reply.json.BatchStrategy, 'MULTI_RECORD');
  });

  describe('bad input: a clear 400, and the server still answers', () => {
    const cases: Array<[string, string | Uint8Array, Record<string, string>, RegExp]> = [
      ['CSV with a wrong column count', '1,2,3,4,5,6,7,8,9,10\n1,2,3,4,5,6,7,8,9\n', { 'content-type': 'text/csv', [TARGET]: 'linear10' }, /CSV row 2 has 9 columns, but input 'x' of model 'linear10' takes 10 values per row \(shape \[10\]\)/],
      ['CSV with a word for a number', '1,2,abc,4,5,6,7,8,9,10\n', { 'content-type': 'text/csv', [TARGET]: 'linear10' }, /CSV row 1, column 3: "abc" is not a number \(input 'x' is FP32\)/],
      ['CSV for a several-input model', '1,2\n', { 'content-type': 'text/csv', [TARGET]: 'two_columns' }, /CSV can feed only a model with one input/],
      ['an empty CSV', '\n', { 'content-type': 'text/csv', [TARGET]: 'linear10' }, /no rows/],
      ['raw bytes that are not whole rows', new Uint8Array(81), { 'content-type': 'application/octet-stream', [TARGET]: 'linear10' }, /81 bytes, not a whole number of FP32 rows of shape \[10\] \(40 bytes each\)/],
      ['an unsupported content type', 'x', { 'content-type': 'application/xml', [TARGET]: 'linear10' }, /Content-Type application\/xml is not supported/],
      ['no model named with several served', CSV, { 'content-type': 'text/csv' }, /serves 5 models \(.*\); name one with the x-amzn-sagemaker-target-model \(or x-slipway-model\) header, or start the server with --default-model/],
    ];
    for (const [name, body, headers, error] of cases) {
      test(name, async () => {
        const reply = await send(`${server.url}/invocations`, body, headers);
        assert.equal(reply.status, 400, reply.text);
        assert.match(reply.json.error, error);
        await assertStillServes();
      });
    }
  });
});

describe('slipway serve --sagemaker', () => {
  test('defaults: port 8080 (or SAGEMAKER_BIND_TO_PORT), all interfaces, models from /opt/ml/model', () => {
    const config = resolveServerConfig({ sagemaker: true }, {});
    assert.deepEqual([config.http_port, config.host, config.models], [8080, '0.0.0.0', ['/opt/ml/model']]);
    assert.equal(resolveServerConfig({ sagemaker: true }, { SAGEMAKER_BIND_TO_PORT: '9090' }).http_port, 9090);
    assert.equal(resolveServerConfig({ models: ['m'] }, {}).http_port, 8000);
  });

  test('Vertex: AIP_HTTP_PORT, AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE are honoured', () => {
    const config = resolveServerConfig({ models: ['m'] }, { AIP_HTTP_PORT: '7080', AIP_PREDICT_ROUTE: '/predict', AIP_HEALTH_ROUTE: '/health' });
    assert.deepEqual([config.http_port, config.host, config.vertex_predict_route, config.vertex_health_route], [7080, '0.0.0.0', '/predict', '/health']);
  });

  test('a SageMaker-mode server answers /ping and /invocations', async () => {
    const cli = await startCliServer(['--sagemaker', `${EXAMPLES}/digits`, '--host', '127.0.0.1']);
    try {
      assert.equal((await fetch(`${cli.url}/ping`)).status, 200);
      const csv = samples[0]!.image.flat(2).join(',');
      const reply = await send(`${cli.url}/invocations`, csv, { 'content-type': 'text/csv', accept: 'application/json' });
      const row = reply.json.predictions[0] as number[];
      assert.equal(row.indexOf(Math.max(...row)), samples[0]!.label);
    } finally {
      cli.child.kill('SIGTERM');
    }
  });
});
