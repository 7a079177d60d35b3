import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SlipwayHttpClient } from '../../../../src/client/index.js';
import type { Tensor } from '../../../../src/tensor/tensor.js';
import { exampleRepository } from '../../../helpers/example-repository.js';
import { EXAMPLES } from '../../../helpers/paths.js';
import { linkSlipwayPackage } from '../../../helpers/temp-repository.js';
import { get, post, startTestServer, type TestServer } from '../../../helpers/test-server.js';

// digits_top3 (a Triton ensemble) = digits (ONNX) → digits_topk (a tensor handler), on a real server.
let server: TestServer;
let repo: { dir: string; remove: () => Promise<void> };
let heldout: { labels: number[]; images: number[][] };

before(async () => {
  repo = await exampleRepository(['digits', 'digits_topk', 'digits_top3'], { keepHandlers: ['digits_topk'] });
  await linkSlipwayPackage(repo.dir);
  server = await startTestServer({ models: repo.dir });
  heldout = JSON.parse(await readFile(join(EXAMPLES, 'digits_ensemble', 'heldout.json'), 'utf8')) as typeof heldout;
});

after(async () => {
  await server?.close();
  await repo?.remove();
});

const images = (from: number, count: number): Tensor => {
  const rows = heldout.images.slice(from, from + count);
  return { name: 'image', datatype: 'FP32', shape: [rows.length, 1, 8, 8], data: Float32Array.from(rows.flat()) };
};

test('the ensemble answers what calling digits, then digits_topk, by hand answers', async () => {
  const client = new SlipwayHttpClient(server.url);
  for (let start = 0; start < heldout.labels.length; start += 64) {
    const image = images(start, 64);
    const graph = await client.infer('digits_top3', [image]);
    const probabilities = (await client.infer('digits', [image])).output('probabilities');
    const byHand = await client.infer('digits_topk', [probabilities]);
    assert.deepEqual(graph.output('classes').data, byHand.output('classes').data);
    assert.deepEqual(graph.output('scores').data, byHand.output('scores').data);
    // And what the handler answers is the top 3 of each row, worked out here.
    const p = probabilities.data as Float32Array;
    const classes = graph.output('classes').data as BigInt64Array;
    for (let r = 0; r < image.shape[0]!; r++) {
      const row = Array.from(p.subarray(r * 10, r * 10 + 10));
      const top = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3).map(([, i]) => BigInt(i));
      assert.deepEqual(Array.from(classes.subarray(r * 3, r * 3 + 3)), top, `row ${start + r}`);
    }
  }
});

test('the first class is the digit on almost every held-out image', async () => {
  const client = new SlipwayHttpClient(server.url);
  let right = 0;
  for (let start = 0; start < heldout.labels.length; start += 64) {
    const classes = (await client.infer('digits_top3', [images(start, 64)])).output('classes').data as BigInt64Array;
    for (let r = 0; r * 3 < classes.length; r++) if (Number(classes[r * 3]) === heldout.labels[start + r]) right++;
  }
  assert.ok(right / heldout.labels.length >= 0.95, `top-1 accuracy ${right / heldout.labels.length}`);
});

test('both are models: metadata from the handler’s declared signature, and Server-Timing per step', async () => {
  const topk = await get(`${server.url}/v2/models/digits_topk`);
  assert.deepEqual(topk.body, {
    name: 'digits_topk',
    versions: ['1'],
    platform: 'handler',
    inputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, -1] }],
    outputs: [
      { name: 'classes', datatype: 'INT64', shape: [-1, 3] },
      { name: 'scores', datatype: 'FP32', shape: [-1, 3] },
    ],
  });
  const top3 = await get(`${server.url}/v2/models/digits_top3`);
  assert.deepEqual(top3.body.outputs, topk.body.outputs);
  const answer = await post(`${server.url}/v2/models/digits_top3/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: heldout.images[0] }] });
  assert.equal(answer.status, 200);
  assert.match(answer.headers.get('server-timing') ?? '', /step\.digits;dur=[\d.]+, step\.digits_topk;dur=[\d.]+/);
  assert.equal(answer.body.outputs[0].data[0], heldout.labels[0]);
});

test('the tensor handler has no JSON predict route: the error says to call it over OIP', async () => {
  const reply = await post(`${server.url}/api/models/digits_topk/predict`, { probabilities: [0.1, 0.9] });
  assert.equal(reply.status, 404);
  assert.match(reply.body.error, /tensor handler \(defineTensorHandler\).*POST \/v2\/models\/digits_topk\/infer/);
});

test('a request the handler cannot answer is the client’s error only when it breaks the signature', async () => {
  const wrongType = await post(`${server.url}/v2/models/digits_topk/infer`, { inputs: [{ name: 'probabilities', datatype: 'FP64', shape: [1, 4], data: [0.1, 0.2, 0.3, 0.4] }] });
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.body.error, /probabilities/);
  // Two classes cannot give three: the handler throws, and the answer names the handler and why.
  const tooFew = await post(`${server.url}/v2/models/digits_topk/infer`, { inputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.1, 0.9] }] });
  assert.equal(tooFew.status, 500);
  assert.match(tooFew.body.error, /handler 'digits_topk' failed: input 'probabilities' has 2 classes per row, fewer than k = 3/);
});
