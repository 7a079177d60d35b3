import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { parseInferenceGraphText } from '../../../src/config/inference-graph-config.js';
import { ServingError } from '../../../src/errors/serving-error.js';
import { planInferenceGraph } from '../../../src/repository/graph/plan-inference-graph.js';
import type { StepCatalog } from '../../../src/repository/graph/step-catalog.js';
import { catalog, modelConfig } from '../../helpers/graph-catalog.js';

// Steps of every kind: a classifier, a model whose input names differ from its outputs, models of other types.
const MODELS = [
  modelConfig('classifier', [['image', 'FP32', [1, 8, 8]]], [['probabilities', 'FP32', [10]]]),
  modelConfig('linear', [['image', 'FP32', [1, 8, 8]]], [['probabilities', 'FP32', [10]]], 4),
  modelConfig('average', [['a', 'FP32', [10]], ['b', 'FP32', [10]]], [['probabilities', 'FP32', [10]]]),
  modelConfig('top', [['scores', 'FP32', [10]]], [['label', 'INT64', [1]]]),
  modelConfig('ints', [['scores', 'INT32', [10]]], [['label', 'INT64', [1]]]),
  modelConfig('wide', [['scores', 'FP32', [12]]], [['label', 'INT64', [1]]]),
  modelConfig('words', [['text', 'BYTES', [1]]], [['label', 'BYTES', [1]]]),
];

type Nodes = Record<string, { routerType: string; steps: Array<Record<string, unknown>> }>;

function graph(nodes: Nodes, spec: Record<string, unknown> = {}): string {
  return stringify({ apiVersion: 'serving.kserve.io/v1alpha1', kind: 'InferenceGraph', metadata: { name: 'g' }, spec: { nodes, ...spec } });
}

function plan(nodes: Nodes, options: { catalog?: StepCatalog; spec?: Record<string, unknown> } = {}) {
  return planInferenceGraph('g', parseInferenceGraphText(graph(nodes, options.spec), 'inference-graph.yaml'), {}, options.catalog ?? catalog(MODELS));
}

/** Asserts the plan fails with CONFIG_INVALID (or `code`) and a message naming the graph and `where`, then `what`. */
function fails(nodes: Nodes, where: string, what: RegExp, options: { catalog?: StepCatalog; code?: string } = {}): void {
  assert.throws(
    () => plan(nodes, options),
    (error: ServingError) => {
      assert.equal(error.code, options.code ?? 'CONFIG_INVALID', error.message);
      assert.ok(error.message.startsWith(`graph 'g': ${where}: `), `"${error.message}" should start with graph 'g': ${where}`);
      assert.match(error.message, what);
      return true;
    },
  );
}

const seq = (...steps: Array<Record<string, unknown>>): Nodes => ({ root: { routerType: 'Sequence', steps } });

test('a Sequence derives its inputs from its first step and its outputs from its last', () => {
  const p = plan(seq({ serviceName: 'classifier', name: 'cnn' }, { serviceName: 'top', name: 'top', data: '$response' }));
  assert.deepEqual(p.config.inputs, [{ name: 'image', datatype: 'FP32', dims: [1, 8, 8] }]);
  assert.deepEqual(p.config.outputs, [{ name: 'label', datatype: 'INT64', dims: [1] }]);
  assert.equal(p.config.maxBatchSize, 8);
  assert.equal(p.config.platform, 'inference_graph');
  assert.deepEqual(p.dependencies, ['classifier', 'top']);
  const steps = p.nodes.get('root')!.steps;
  // kserve#3051: 'probabilities' feeds 'scores' because it is the only tensor the step receives.
  assert.deepEqual(steps[1]!.inputs, [{ name: 'scores', source: { from: 'data' } }]);
  assert.deepEqual(steps.map((s) => s.label), ['cnn', 'top']);
});

test('the graph batches up to its smallest step, and not at all if one step does not', () => {
  assert.equal(plan(seq({ serviceName: 'linear' })).config.maxBatchSize, 4);
  const unbatched = catalog([modelConfig('solo', [['x', 'FP32', [-1, 3]]], [['y', 'FP32', [-1, 3]]], 0)]);
  assert.equal(plan(seq({ serviceName: 'solo' }), { catalog: unbatched }).config.maxBatchSize, 0);
});

test('inputMap maps outputs onto inputs by name, from $request, $response or any earlier step', () => {
  const p = plan(
    seq(
      { serviceName: 'classifier', name: 'cnn' },
      { serviceName: 'linear', name: 'lin' },
      { serviceName: 'average', name: 'avg', inputMap: { a: '$steps.cnn.probabilities', b: '$response.probabilities' } },
    ),
  );
  assert.deepEqual(p.nodes.get('root')!.steps[2]!.inputs, [
    { name: 'a', source: { from: 'step', step: 0, tensor: 'probabilities' } },
    { name: 'b', source: { from: 'response', tensor: 'probabilities' } },
  ]);
  assert.deepEqual(p.config.inputs.map((i) => i.name), ['image']);
});

test('Switch and Splitter answer what any of their steps may; an Ensemble names each output <step>.<output>', () => {
  const p = plan({
    root: {
      routerType: 'Sequence',
      steps: [
        { nodeName: 'pick', name: 'pick' },
        { nodeName: 'both', name: 'both', data: '$request' },
      ],
    },
    pick: {
      routerType: 'Switch',
      steps: [
        { serviceName: 'classifier', condition: '[@this].#(parameters.model=="cnn")' },
        { serviceName: 'linear', condition: '@this' },
      ],
    },
    both: { routerType: 'Ensemble', steps: [{ serviceName: 'classifier', name: 'cnn' }, { serviceName: 'linear' }] },
  });
  assert.deepEqual(p.config.outputs.map((o) => o.name), ['cnn.probabilities', '1.probabilities']);
  const split = plan({ root: { routerType: 'Splitter', steps: [{ serviceName: 'classifier', weight: 20 }, { serviceName: 'linear', weight: 80 }] } });
  assert.deepEqual(split.config.outputs, [{ name: 'probabilities', datatype: 'FP32', dims: [10] }]);
  assert.deepEqual(split.nodes.get('root')!.steps.map((s) => s.weight), [20, 80]);
});

test("KServe's own rules: a root node, one target per step, unique step names, weights that sum to 100", () => {
  fails({ main: { routerType: 'Sequence', steps: [{ serviceName: 'classifier' }] } }, 'spec.nodes', /no node is named 'root'/);
  fails(seq({ name: 'x' }), 'spec.nodes.root.steps[0] (x)', /needs a target: nodeName, serviceName or serviceUrl/);
  fails(seq({ serviceName: 'classifier', nodeName: 'root' }), 'spec.nodes.root.steps[0]', /one target/);
  fails(seq({ serviceName: 'classifier', name: 'a' }, { serviceName: 'linear', name: 'a' }), 'spec.nodes.root.steps[1] (a).name', /more than one step named 'a'/);
  fails({ root: { routerType: 'Splitter', steps: [{ serviceName: 'classifier', weight: 30 }, { serviceName: 'linear' }] } }, 'spec.nodes.root.steps[1].weight', /needs a weight/);
  fails({ root: { routerType: 'Splitter', steps: [{ serviceName: 'classifier', weight: 30 }, { serviceName: 'linear', weight: 60 }] } }, 'spec.nodes.root.steps', /sum to 90; they must sum to 100/);
  fails({ root: { routerType: 'Switch', steps: [{ serviceName: 'classifier' }] } }, 'spec.nodes.root.steps[0].condition', /needs a condition/);
  fails({ root: { routerType: 'Ensemble', steps: [] } }, 'spec.nodes.root.steps', /needs at least one step/);
});

test('conditions and data are checked when the graph loads', () => {
  fails(seq({ serviceName: 'classifier', condition: '@this' }), 'spec.nodes.root.steps[0].condition', /the first step has none/);
  fails(seq({ serviceName: 'classifier' }, { serviceName: 'linear', condition: 'predictions.#(x>' }), 'spec.nodes.root.steps[1].condition', /expected a JSON value .* at character 17/);
  fails(seq({ serviceName: 'classifier' }, { serviceName: 'linear', data: '$response.predictions' }), 'spec.nodes.root.steps[1].data', /pick single tensors with inputMap/);
  fails({ root: { routerType: 'Ensemble', steps: [{ serviceName: 'classifier', data: '$response' }] } }, 'spec.nodes.root.steps[0].data', /only a Sequence has/);
});

test('unknown models and nodes, cycles and unreachable nodes name the node and field', () => {
  fails(seq({ serviceName: 'nope', name: 'x' }), 'spec.nodes.root.steps[0] (x).serviceName', /unknown model 'nope'/);
  fails(seq({ nodeName: 'missing' }), 'spec.nodes.root.steps[0].nodeName', /no node is named 'missing'/);
  fails(
    { root: { routerType: 'Sequence', steps: [{ nodeName: 'a' }] }, a: { routerType: 'Sequence', steps: [{ nodeName: 'root' }] } },
    'spec.nodes.a',
    /cycle: root → a → root/,
  );
  fails(
    { root: { routerType: 'Sequence', steps: [{ serviceName: 'classifier' }] }, orphan: { routerType: 'Sequence', steps: [{ serviceName: 'linear' }] } },
    'spec.nodes.orphan',
    /node 'orphan' is not reachable from 'root'/,
  );
});

test('a step that is not READY makes the graph UNAVAILABLE with the step named and its reason', () => {
  fails(seq({ serviceName: 'classifier', name: 'cnn' }), 'spec.nodes.root.steps[0] (cnn).serviceName', /version 1 is UNAVAILABLE: bad file/, {
    catalog: catalog(MODELS, { unavailable: { classifier: 'bad file' } }),
    code: 'MODEL_NOT_READY',
  });
});

test('unmapped, wrongly mapped and mistyped tensors name the node, step and field', () => {
  fails(
    seq({ serviceName: 'classifier' }, { serviceName: 'linear' }, { serviceName: 'average', name: 'avg', data: '$response' }),
    'spec.nodes.root.steps[2] (avg).inputMap',
    /input 'a' of model 'average' is not mapped: the step receives 'probabilities'; add inputMap: \{ a: <tensor> \}/,
  );
  fails(seq({ serviceName: 'classifier', inputMap: { pixels: 'image' } }), 'spec.nodes.root.steps[0].inputMap.pixels', /model 'classifier' has no input 'pixels' \(inputs: 'image'\)/);
  fails(seq({ serviceName: 'classifier' }, { serviceName: 'top', data: '$response', inputMap: { scores: '$response.logits' } }), 'spec.nodes.root.steps[1].inputMap.scores', /the answer of the step before has no tensor 'logits' \(it has 'probabilities'\)/);
  fails(seq({ serviceName: 'classifier' }, { serviceName: 'ints', name: 'int', data: '$response' }), 'spec.nodes.root.steps[1] (int)', /datatype FP32 does not match the INT32 it expects/);
  fails(seq({ serviceName: 'classifier' }, { serviceName: 'wide', data: '$response' }), 'spec.nodes.root.steps[1]', /shape \[-1,10\] does not match the \[-1,12\] it expects/);
  fails(seq({ serviceName: 'classifier' }, { serviceName: 'average', inputMap: { a: '$nothing.x', b: 'image' } }), 'spec.nodes.root.steps[1].inputMap.a', /starts with \$request\., \$response\. or \$steps/);
  fails(
    seq({ serviceName: 'top', inputMap: { scores: 'x' } }, { serviceName: 'ints', inputMap: { scores: '$request.x' } }),
    'spec.nodes.root.steps[1].inputMap.scores',
    /graph input 'x' is read as FP32 \[-1,10\] by one step and as INT32 \[-1,10\] here/,
  );
});

test("an Ensemble's outputs may not collide once named <step>.<output>", () => {
  const collide = catalog([...MODELS, modelConfig('dotted', [['image', 'FP32', [1, 8, 8]]], [['b.probabilities', 'FP32', [10]]])]);
  fails(
    { root: { routerType: 'Ensemble', steps: [{ serviceName: 'dotted', name: 'a' }, { serviceName: 'classifier', name: 'a.b' }] } },
    'spec.nodes.root.steps[1] (a.b)',
    /tensor 'a.b.probabilities' would be answered twice/,
    { catalog: collide },
  );
});

test('a remote step is checked against the metadata of its model; its URL must be an OIP infer URL', () => {
  const url = 'http://10.0.0.7:8000/v2/models/top/infer';
  const remote = catalog(MODELS, { remote: { [url]: modelConfig('top', [['scores', 'FP32', [10]]], [['label', 'INT64', [1]]]) } });
  const p = plan(seq({ serviceName: 'classifier' }, { serviceUrl: url, data: '$response' }), { catalog: remote });
  assert.deepEqual(p.nodes.get('root')!.steps[1]!.target, { kind: 'remote', url, baseUrl: 'http://10.0.0.7:8000', model: 'top' });
  assert.equal(p.nodes.get('root')!.steps[1]!.label, 'top');
  fails(seq({ serviceUrl: 'http://10.0.0.7:8000/v1/models/top:predict' }), 'spec.nodes.root.steps[0].serviceUrl', /not an Open Inference Protocol infer URL.*v1 :predict/);
});

test('timeouts: a step sets its own (seconds or a duration), routerTimeouts.serviceClient is the default', () => {
  const p = plan(seq({ serviceName: 'classifier', timeout: '250ms' }, { serviceName: 'top', timeout: 2 }, { serviceName: 'linear', data: '$request' }), {
    spec: { routerTimeouts: { serviceClient: 5 } },
  });
  assert.deepEqual(p.nodes.get('root')!.steps.map((s) => s.timeoutMs), [250, 2000, 5000]);
  assert.throws(() => parseInferenceGraphText(graph(seq({ serviceName: 'top', timeout: 'soon' })), 'f.yaml'), /spec\.nodes\.root\.steps\.0\.timeout: expected seconds or a duration/);
});
