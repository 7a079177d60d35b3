import assert from 'node:assert/strict';
import { readFile, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SlipwayGrpcClient, SlipwayHttpClient } from '../../../src/client/index.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { EXAMPLES, TEST_MODELS } from '../../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../../helpers/protocol-server.js';
import { tempRepository } from '../../helpers/temp-repository.js';

// Graphs over real models, served by a real server: every graph's answer must equal calling its
// steps by hand, through the same server.
const GRAPHS: Record<string, string> = {
  // Sequence with kserve#3051's problem solved by inputMap: (a+b, a-b) → (2a, 2b).
  chain: `apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata: { name: chain }
spec:
  nodes:
    root:
      routerType: Sequence
      steps:
      - { serviceName: simple, name: first }
      - { serviceName: simple, name: second, data: $response, inputMap: { INPUT0: OUTPUT0, INPUT1: OUTPUT1 } }
`,
  // Switch on a request parameter; anything else goes to the softmax regression.
  pick: `apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata: { name: pick }
spec:
  nodes:
    root:
      routerType: Switch
      steps:
      - { serviceName: digits, condition: '[@this].#(parameters.classifier=="cnn")' }
      - { serviceName: digits_linear, condition: '@this' }
`,
  both: `apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata: { name: both }
spec:
  nodes:
    root:
      routerType: Ensemble
      steps:
      - { serviceName: digits, name: cnn }
      - { serviceName: digits_linear, name: linear }
`,
  split: `apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata: { name: split }
spec:
  nodes:
    root:
      routerType: Splitter
      steps:
      - { serviceName: m1, weight: 25 }
      - { serviceName: m2, weight: 75 }
`,
};

const ENSEMBLE = `platform: ensemble
max_batch_size: 8
input: [{ name: image, data_type: TYPE_FP32, dims: [1, 8, 8] }]
output: [{ name: probabilities, data_type: TYPE_FP32, dims: [10] }]
ensemble_scheduling:
  step:
  - { model_name: digits, model_version: -1, input_map: { image: image }, output_map: { probabilities: p_cnn } }
  - { model_name: digits_linear, model_version: 1, input_map: { image: image }, output_map: { probabilities: p_linear } }
  - { model_name: digits_average, input_map: { a: p_cnn, b: p_linear }, output_map: { probabilities: probabilities } }
`;

let server: ProtocolServer;
let repo: { dir: string; remove: () => Promise<void> };
let http: SlipwayHttpClient;
let image: Tensor;

before(async () => {
  repo = await tempRepository({ simple: {}, m1: { from: 'identity_fp32' }, m2: { from: 'identity_fp32' }, digits: {}, digits_linear: {}, digits_average: {} });
  for (const [name, yaml] of Object.entries(GRAPHS)) {
    await mkdir(join(repo.dir, name));
    await writeFile(join(repo.dir, name, 'inference-graph.yaml'), yaml);
  }
  await mkdir(join(repo.dir, 'digits_ensemble', '1'), { recursive: true });
  await writeFile(join(repo.dir, 'digits_ensemble', 'config.yaml'), ENSEMBLE);
  server = await startProtocolServer({ models: repo.dir });
  http = new SlipwayHttpClient(server.url);
  const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits', 'samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
  image = { name: 'image', datatype: 'FP32', shape: [2, 1, 8, 8], data: Float32Array.from([...samples[3]!.image.flat(2), ...samples[7]!.image.flat(2)]) };
});

after(async () => {
  await server?.close();
  await repo?.remove();
});

const values = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number>);

test('every graph loads READY and is listed as a model', async () => {
  const index = await http.repositoryIndex();
  for (const name of ['chain', 'pick', 'both', 'split', 'digits_ensemble']) {
    assert.deepEqual(index.find((r) => r.name === name), { name, version: '1', state: 'READY', reason: '' });
  }
});

test('Sequence: the graph answers what calling simple twice by hand answers', async () => {
  const a = { name: 'INPUT0', datatype: 'INT32' as const, shape: [1, 16], data: Int32Array.from({ length: 16 }, (_, i) => i) };
  const b = { name: 'INPUT1', datatype: 'INT32' as const, shape: [1, 16], data: Int32Array.from({ length: 16 }, (_, i) => 3 - i) };
  const first = await http.infer('simple', [a, b]);
  const byHand = await http.infer('simple', [
    { ...first.output('OUTPUT0'), name: 'INPUT0' },
    { ...first.output('OUTPUT1'), name: 'INPUT1' },
  ]);
  const graph = await http.infer('chain', [a, b]);
  assert.deepEqual(values(graph.output('OUTPUT0')), values(byHand.output('OUTPUT0')));
  assert.deepEqual(values(graph.output('OUTPUT1')), values(byHand.output('OUTPUT1')));
  assert.deepEqual(values(graph.output('OUTPUT0')), Array.from(a.data, (v) => 2 * v));
});

test('Switch: a request parameter picks the step; the answer is that model’s', async () => {
  const cnn = await http.infer('digits', [image]);
  const linear = await http.infer('digits_linear', [image]);
  assert.deepEqual(values((await http.infer('pick', [image], { parameters: { classifier: 'cnn' } })).output('probabilities')), values(cnn.output('probabilities')));
  assert.deepEqual(values((await http.infer('pick', [image])).output('probabilities')), values(linear.output('probabilities')));
  assert.notDeepEqual(values(cnn.output('probabilities')), values(linear.output('probabilities')), 'the two classifiers differ, so the route shows');
});

test('Ensemble: <step>.<output> for each step, equal to each model called by hand', async () => {
  const result = await http.infer('both', [image]);
  assert.deepEqual(result.outputs.map((t) => t.name), ['cnn.probabilities', 'linear.probabilities']);
  assert.deepEqual(values(result.output('cnn.probabilities')), values((await http.infer('digits', [image])).output('probabilities')));
  assert.deepEqual(values(result.output('linear.probabilities')), values((await http.infer('digits_linear', [image])).output('probabilities')));
});

test('Triton ensemble: the average of both classifiers, equal to digits_average called on their answers', async () => {
  const cnn = (await http.infer('digits', [image])).output('probabilities');
  const linear = (await http.infer('digits_linear', [image])).output('probabilities');
  const byHand = await http.infer('digits_average', [{ ...cnn, name: 'a' }, { ...linear, name: 'b' }]);
  const graph = await http.infer('digits_ensemble', [image]);
  assert.deepEqual(values(graph.output('probabilities')), values(byHand.output('probabilities')));
  const p = values(graph.output('probabilities'));
  const argmax = (row: number) => p.slice(row * 10, row * 10 + 10).reduce((best, v, i, all) => (v > all[best]! ? i : best), 0);
  assert.deepEqual([argmax(0), argmax(1)], [3, 7]);
});

test('Splitter: each request goes to one step, in proportion to the weights (statistics of the steps)', async () => {
  const x = { name: 'INPUT0', datatype: 'FP32' as const, shape: [1, 2], data: Float32Array.of(1, 2) };
  const n = 400;
  for (let i = 0; i < n; i++) assert.deepEqual(values((await http.infer('split', [x])).output('OUTPUT0')), [1, 2]);
  const stats = (await (await fetch(`${server.url}/v2/models/stats`)).json()) as { model_stats: Array<{ name: string; inference_count: number }> };
  const count = (name: string) => stats.model_stats.find((s) => s.name === name)!.inference_count;
  assert.equal(count('m1') + count('m2'), n);
  assert.equal(count('split'), n, 'the graph counts its own requests too');
  // m1 has weight 25: its share of 400 has standard deviation ~0.022; 5 of them bound a fair draw.
  assert.ok(Math.abs(count('m1') / n - 0.25) < 0.11, `m1 took ${count('m1')} of ${n}`);
});

test('a graph is a model over every protocol: metadata, config, gRPC, TF Serving rows, Server-Timing, metrics', async () => {
  const metadata = await http.modelMetadata('digits_ensemble');
  assert.deepEqual(metadata, {
    name: 'digits_ensemble',
    versions: ['1'],
    platform: 'ensemble',
    inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
  });
  assert.equal((await http.modelMetadata('chain')).platform, 'inference_graph');
  const config = await http.modelConfig('both');
  assert.equal(config.max_batch_size, 64);
  assert.equal(config.backend, undefined, 'a graph has no backend of its own');

  const grpc = new SlipwayGrpcClient(server.grpcAddress);
  try {
    assert.deepEqual(await grpc.modelMetadata('digits_ensemble'), metadata);
    const viaGrpc = await grpc.infer('digits_ensemble', [image]);
    assert.deepEqual(values(viaGrpc.output('probabilities')), values((await http.infer('digits_ensemble', [image])).output('probabilities')));
  } finally {
    grpc.close();
  }

  const rows = await fetch(`${server.url}/v1/models/both:predict`, { method: 'POST', body: JSON.stringify({ instances: [[[[0, 0, 5, 13, 9, 1, 0, 0], [0, 0, 13, 15, 10, 15, 5, 0], [0, 3, 15, 2, 0, 11, 8, 0], [0, 4, 12, 0, 0, 8, 8, 0], [0, 5, 8, 0, 0, 9, 8, 0], [0, 4, 11, 0, 1, 12, 7, 0], [0, 2, 14, 5, 10, 12, 0, 0], [0, 0, 6, 13, 10, 0, 0, 0]]]] }) });
  const body = (await rows.json()) as { predictions: Array<Record<string, number[]>> };
  assert.equal(rows.status, 200);
  assert.deepEqual(Object.keys(body.predictions[0]!), ['cnn.probabilities', 'linear.probabilities']);

  const response = await fetch(`${server.url}/v2/models/digits_ensemble/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Array.from({ length: 64 }, () => 1) }] }),
  });
  assert.equal(response.status, 200);
  const timing = response.headers.get('server-timing')!;
  for (const step of ['digits', 'digits_linear', 'digits_average']) assert.match(timing, new RegExp(`step\\.${step};dur=\\d+\\.\\d{3}`), timing);

  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /slipway_graph_step_duration_seconds_count\{model="digits_ensemble",version="1",step="digits_average",outcome="success"\} [1-9]/);
  assert.match(metrics, /slipway_requests_total\{model="digits_ensemble",version="1",protocol="http",outcome="success"\} [1-9]/);
});

test('bad requests name the graph input, as for any model', async () => {
  const response = await fetch(`${server.url}/v2/models/digits_ensemble/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, () => 1) }] }),
  });
  assert.equal(response.status, 400);
  assert.match(((await response.json()) as { error: string }).error, /unknown input 'pixels'; model 'digits_ensemble' expects 'image' \(FP32 \[-1,1,8,8\]\)/);
});

test('a graph whose step is unloaded is UNAVAILABLE with that reason, and READY again when the step is back', async () => {
  await server.slipway.unloadModel('digits_linear');
  const row = server.slipway.index().find((r) => r.name === 'digits_ensemble')!;
  assert.equal(row.state, 'UNAVAILABLE');
  assert.match(row.reason, /graph 'digits_ensemble': ensemble_scheduling\.step\[1\] \(model 'digits_linear'\)\.model_name: model 'digits_linear' version 1 is UNAVAILABLE: unloaded/);
  await assert.rejects(http.infer('digits_ensemble', [image]), (error: Error & { status?: number }) => error.status === 503 && /digits_linear/.test(error.message));
  assert.equal(server.slipway.index().find((r) => r.name === 'chain')!.state, 'READY', 'graphs that do not call it are untouched');
  await server.slipway.loadModel('digits_linear');
  assert.equal(server.slipway.index().find((r) => r.name === 'digits_ensemble')!.state, 'READY');
  assert.equal((await http.infer('digits_ensemble', [image])).outputs.length, 1);
});

test('reloading a step with another signature validates its graphs again', async () => {
  const dir = join(repo.dir, 'digits_average');
  await rm(join(dir, '1', 'model.onnx'));
  await cp(join(TEST_MODELS, 'identity_int32', '1', 'model.onnx'), join(dir, '1', 'model.onnx'));
  try {
    await server.slipway.loadModel('digits_average');
    const row = server.slipway.index().find((r) => r.name === 'digits_ensemble')!;
    assert.equal(row.state, 'UNAVAILABLE');
    assert.match(row.reason, /ensemble_scheduling\.step\[2\] \(model 'digits_average'\)\.output_map\.probabilities: model 'digits_average' has no output 'probabilities' \(outputs: 'OUTPUT0'\)/);
  } finally {
    await cp(join(EXAMPLES, 'digits_average', '1', 'model.onnx'), join(dir, '1', 'model.onnx'));
    await server.slipway.loadModel('digits_average');
  }
  assert.equal(server.slipway.index().find((r) => r.name === 'digits_ensemble')!.state, 'READY');
});
