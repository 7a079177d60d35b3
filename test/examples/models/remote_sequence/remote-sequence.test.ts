import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SlipwayClientError, SlipwayHttpClient } from '../../../../src/client/index.js';
import type { Tensor } from '../../../../src/tensor/tensor.js';
import { exampleRepository } from '../../../helpers/example-repository.js';
import { EXAMPLES } from '../../../helpers/paths.js';
import { startTestServer, type TestServer } from '../../../helpers/test-server.js';

// Two real servers on ephemeral ports: B serves digits_average; A serves the classifiers and the
// digits_remote graph, whose second step calls B (the example's URL, pointed at B's port).
let b: TestServer;
let a: TestServer;
let repoA: { dir: string; remove: () => Promise<void> };
let repoB: { dir: string; remove: () => Promise<void> };
let image: Tensor;

async function pointAt(url: string): Promise<void> {
  const file = join(repoA.dir, 'digits_remote', 'inference-graph.yaml');
  const yaml = await readFile(join(EXAMPLES, 'remote_sequence', 'digits_remote', 'inference-graph.yaml'), 'utf8');
  await writeFile(file, yaml.replace('http://127.0.0.1:8100', url));
}

before(async () => {
  repoB = await exampleRepository(['digits_average']);
  b = await startTestServer({ models: repoB.dir });
  repoA = await exampleRepository(['digits', 'digits_linear', 'digits_average', 'digits_ensemble', 'remote_sequence/digits_remote']);
  await pointAt(b.url);
  a = await startTestServer({ models: repoA.dir });
  const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits', 'samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
  image = { name: 'image', datatype: 'FP32', shape: [3, 1, 8, 8], data: Float32Array.from(samples.slice(0, 3).flatMap((s) => s.image.flat(2))) };
});

after(async () => {
  await a?.close();
  await b?.close();
  await repoA?.remove();
  await repoB?.remove();
});

test('the graph answers what the local ensemble answers, with its second step on the other server', async () => {
  const client = new SlipwayHttpClient(a.url);
  const remote = await client.infer('digits_remote', [image]);
  const local = await client.infer('digits_ensemble', [image]);
  assert.deepEqual(Array.from(remote.output('probabilities').data as Float32Array), Array.from(local.output('probabilities').data as Float32Array));
  // B really ran it: its statistics count the three rows.
  const stats = (await (await fetch(`${b.url}/v2/models/digits_average/stats`)).json()) as { model_stats: Array<{ inference_count: number }> };
  assert.equal(stats.model_stats[0]!.inference_count, 3);
  assert.deepEqual(await client.modelMetadata('digits_remote'), {
    name: 'digits_remote',
    versions: ['1'],
    platform: 'inference_graph',
    inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
  });
});

test('a remote server that cannot be reached fails the request with the step and server named (503), and its graph loads once it is back', async () => {
  const down = await exampleRepository(['digits_average']);
  const spare = await startTestServer({ models: down.dir });
  const url = spare.url;
  await pointAt(url);
  await a.slipway.loadModel('digits_remote');
  await spare.close();
  await down.remove();
  const client = new SlipwayHttpClient(a.url, { retries: 0 });
  await assert.rejects(client.infer('digits_remote', [image]), (error: SlipwayClientError) => {
    assert.equal(error.status, 503);
    assert.equal(error.code, 'REMOTE_STEP_FAILED');
    assert.match(error.message, new RegExp(`spec\\.nodes\\.root\\.steps\\[1\\] \\(average\\) → digits_average: ${url.replace(/\./g, '\\.')} \\(model 'digits_average'\\)`));
    return true;
  });
  // Loading the graph while the server is down: UNAVAILABLE with the reason, retried until it answers.
  await pointAt(b.url.replace(/:\d+$/, ':1'));
  await assert.rejects(a.slipway.loadModel('digits_remote'), /cannot read the metadata of remote model 'digits_average' at http:\/\/127\.0\.0\.1:1/);
  await pointAt(b.url);
  await a.slipway.loadModel('digits_remote');
  assert.equal(a.slipway.index().find((r) => r.name === 'digits_remote')!.state, 'READY');
});
