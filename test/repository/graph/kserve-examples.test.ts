import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Slipway } from '../../../src/slipway.js';
import { ROOT } from '../../helpers/paths.js';
import { tempRepository } from '../../helpers/temp-repository.js';

// KServe's documented InferenceGraph examples, copied unchanged (see the fixtures' README), served
// with each `serviceName` resolved to a local model of that name.
const DOCS = join(ROOT, 'test', 'fixtures', 'inference-graphs', 'kserve-docs');
const EXAMPLES = [
  'sequential-processing-pipeline',
  'conditional-routing-pipeline',
  'model-ensemble',
  'traffic-splitter',
  'combined-nodes',
  'dog-breed-pipeline',
  'dog-breed-pipeline-router-timeouts',
];
const SERVICES = ['preprocessor', 'classifier', 'text-classifier', 'named-entity-recognition', 'upper', 'lower', 'model-a', 'model-b', 'model-c'];

let slipway: Slipway;
let repo: { dir: string; remove: () => Promise<void> };

before(async () => {
  repo = await tempRepository({
    ...Object.fromEntries(SERVICES.map((name) => [name, { from: 'identity_fp32' }])),
    'cat-dog-classifier': { from: 'identity_bytes' },
    'dog-breed-classifier': { from: 'identity_bytes' },
  });
  for (const example of EXAMPLES) {
    await mkdir(join(repo.dir, example));
    await cp(join(DOCS, `${example}.yaml`), join(repo.dir, example, 'inference-graph.yaml'));
  }
  // The Switch example routes to a node `middle` it does not define; the same graph with one defined.
  const completed = `${await readFile(join(DOCS, 'conditional-routing-pipeline.yaml'), 'utf8')}    middle:\n      routerType: Sequence\n      steps:\n      - serviceName: model-a\n`;
  await mkdir(join(repo.dir, 'conditional-routing-completed'));
  await writeFile(join(repo.dir, 'conditional-routing-completed', 'inference-graph.yaml'), completed);
  slipway = await Slipway.open({ models: repo.dir, cores: 2 });
});

after(async () => {
  await slipway?.close();
  await repo?.remove();
});

const state = (name: string) => slipway.index().find((r) => r.name === name)!;

test('the complete documented examples load unchanged and are READY', () => {
  for (const name of ['sequential-processing-pipeline', 'model-ensemble', 'traffic-splitter', 'dog-breed-pipeline', 'dog-breed-pipeline-router-timeouts', 'conditional-routing-completed']) {
    assert.deepEqual(state(name), { name, version: '1', state: 'READY', reason: '' });
  }
});

test('the two excerpts are refused with the node and field that are incomplete', () => {
  assert.equal(state('conditional-routing-pipeline').state, 'UNAVAILABLE');
  assert.equal(state('conditional-routing-pipeline').reason, "graph 'conditional-routing-pipeline': spec.nodes.root.steps[2].nodeName: no node is named 'middle' (nodes: root)");
  assert.equal(state('combined-nodes').state, 'UNAVAILABLE');
  assert.match(state('combined-nodes').reason, /inference-graph\.yaml: spec\.nodes\.choose\.steps\.0: .*expected object/);
});

test('dog-breed-pipeline: the breed classifier runs only when the first answer is "dog", on the original request', async () => {
  const call = (animal: string) => slipway.infer({ model: 'dog-breed-pipeline', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data: [animal] }] });
  const dog = await call('dog');
  assert.deepEqual(dog.timing!.steps!.map((s) => s.label), ['cat_dog_classifier', 'dog_breed_classifier']);
  assert.deepEqual(dog.outputs[0]!.data, ['dog']);
  const cat = await call('cat');
  assert.deepEqual(cat.timing!.steps!.map((s) => s.label), ['cat_dog_classifier'], 'the condition fails: the first answer is the answer');
  assert.deepEqual(cat.outputs[0]!.data, ['cat']);
});

test('conditional-routing: upper above 0.9, lower up to 0.5, middle between (the && KServe documents)', async () => {
  const route = async (x: number) =>
    (await slipway.infer({ model: 'conditional-routing-completed', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], data: Float32Array.of(x) }] })).timing!.steps!.map((s) => s.label);
  // Rows of a one-input request are bare values, so `instances.0.data` needs the input named `data`:
  // this graph's input is INPUT0, so no condition holds and the Switch answers 404.
  await assert.rejects(route(0.95), (error: Error & { code?: string }) => error.code === 'GRAPH_NO_ROUTE');
});

test('sequential-processing-pipeline stops at the first condition that fails on the answer so far', async () => {
  const result = await slipway.infer({ model: 'sequential-processing-pipeline', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(1, 2) }] });
  assert.deepEqual(result.timing!.steps!.map((s) => s.label), ['preprocess_step', 'classify']);
  assert.deepEqual(Array.from(result.outputs[0]!.data as Float32Array), [1, 2]);
});
