import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SlipwayHttpClient } from '../../../../src/client/index.js';
import type { Tensor } from '../../../../src/tensor/tensor.js';
import { exampleRepository } from '../../../helpers/example-repository.js';
import { EXAMPLES } from '../../../helpers/paths.js';
import { startTestServer, type TestServer } from '../../../helpers/test-server.js';

let server: TestServer;
let repo: { dir: string; remove: () => Promise<void> };
let client: SlipwayHttpClient;
let image: Tensor;

before(async () => {
  repo = await exampleRepository(['digits', 'digits_linear', 'digits_average', 'digits_ensemble', 'digits_router']);
  server = await startTestServer({ models: repo.dir });
  client = new SlipwayHttpClient(server.url);
  const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits', 'samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
  image = { name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Float32Array.from(samples[5]!.image.flat(2)) };
});

after(async () => {
  await server?.close();
  await repo?.remove();
});

const probabilities = async (model: string, parameters?: Record<string, string>) =>
  Array.from((await client.infer(model, [image], parameters === undefined ? {} : { parameters })).output('probabilities').data as Float32Array);

test('parameters.classifier picks the model; any other request goes to the ensemble', async () => {
  assert.deepEqual(await probabilities('digits_router', { classifier: 'cnn' }), await probabilities('digits'));
  assert.deepEqual(await probabilities('digits_router', { classifier: 'linear' }), await probabilities('digits_linear'));
  assert.deepEqual(await probabilities('digits_router'), await probabilities('digits_ensemble'));
  assert.deepEqual(await probabilities('digits_router', { classifier: 'unknown' }), await probabilities('digits_ensemble'));
});

test('Server-Timing names the step that answered', async () => {
  const response = await fetch(`${server.url}/v2/models/digits_router/infer`, {
    method: 'POST',
    body: JSON.stringify({ parameters: { classifier: 'linear' }, inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Array.from(image.data as Float32Array) }] }),
  });
  assert.equal(response.status, 200);
  const timing = response.headers.get('server-timing')!;
  assert.match(timing, /step\.linear;dur=/);
  assert.doesNotMatch(timing, /step\.cnn|step\.both/);
});
