import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { oip, send, startDialectServer } from './dialect-server.js';

let server: Awaited<ReturnType<typeof startDialectServer>>;
before(async () => {
  server = await startDialectServer();
});
after(async () => {
  await server.close();
  await server.removeRepository();
});

const MODEL = { 'x-slipway-model': 'linear10' };
// Azure's scoring examples send a batch of 10-feature rows as {"data": [...]}.
const DATA = { data: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]] };

async function assertStillServes(): Promise<void> {
  assert.deepEqual((await send(`${server.url}/score`, JSON.stringify(DATA), MODEL)).json, [[48.625], [28]]);
}

describe('Azure ML scoring', () => {
  test('GET / is the inference server liveness probe', async () => {
    const reply = await send(`${server.url}/`, '', {}, 'GET');
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'Healthy');
  });

  test('{"data": rows} → one prediction per row, the same numbers as OIP', async () => {
    const reply = await send(`${server.url}/score`, JSON.stringify(DATA), MODEL);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, [[48.625], [28]]);
    const viaOip = await oip(server.url, 'linear10', [{ name: 'x', datatype: 'FP32', shape: [2, 10], data: DATA.data }]);
    assert.deepEqual(reply.json.flat(), viaOip.y);
  });

  test('{"input_data": rows} and ?model= pick the same', async () => {
    const reply = await send(`${server.url}/score?model=linear10`, JSON.stringify({ input_data: DATA.data }));
    assert.deepEqual(reply.json, [[48.625], [28]]);
  });

  test('{"input_data": pandas split} with one column per input (MLflow tabular)', async () => {
    const body = { input_data: { columns: ['age', 'income'], index: [0, 1], data: [[30, 1.5], [40, 2.5]] } };
    const reply = await send(`${server.url}/score`, JSON.stringify(body), { 'x-slipway-model': 'two_columns' });
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, [[31.5], [42.5]]);
  });

  test('{"input_data": pandas split} whose rows feed the one input', async () => {
    const body = { input_data: { columns: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], index: [0, 1], data: DATA.data } };
    assert.deepEqual((await send(`${server.url}/score`, JSON.stringify(body), MODEL)).json, [[48.625], [28]]);
  });

  test('{"input_data": {input: tensor}} is columnar: the tensor back', async () => {
    const reply = await send(`${server.url}/score`, JSON.stringify({ input_data: { x: DATA.data } }), MODEL);
    assert.deepEqual(reply.json, [[48.625], [28]]);
    const two = await send(`${server.url}/score`, JSON.stringify({ data: { age: [[1]], income: [[2]] } }), { 'x-slipway-model': 'two_columns' });
    assert.deepEqual(two.json, [[3]]);
  });

  describe('bad input: a clear 400, and the server still answers', () => {
    const cases: Array<[string, object | string, Record<string, string>, RegExp]> = [
      ['ragged rows', { data: [[1, 2, 3], [1, 2]] }, MODEL, /ragged/],
      ['neither data nor input_data', { rows: [] }, MODEL, /neither "data" nor "input_data"/],
      ['both data and input_data', { data: [], input_data: [] }, MODEL, /not both/],
      ['a split row of the wrong length', { input_data: { columns: ['age', 'income'], index: [0], data: [[1, 2, 3]] } }, { 'x-slipway-model': 'two_columns' }, /input_data.data\[0\] has 3 values for 2 columns/],
      ['several models and none named', DATA, {}, /serves 5 models .* name one with the x-slipway-model header or \?model=/],
      ['a number where rows belong', { data: 5 }, MODEL, /must be a list of rows/],
    ];
    for (const [name, body, headers, error] of cases) {
      test(name, async () => {
        const reply = await send(`${server.url}/score`, typeof body === 'string' ? body : JSON.stringify(body), headers);
        assert.equal(reply.status, 400, reply.text);
        assert.match(reply.json.error, error);
        await assertStillServes();
      });
    }
  });
});
