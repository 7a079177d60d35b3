import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseModelConfigText } from '../../../src/config/load-model-config.js';
import type { ServingError } from '../../../src/errors/serving-error.js';
import { planEnsemble } from '../../../src/repository/graph/plan-ensemble.js';
import { catalog, modelConfig } from '../../helpers/graph-catalog.js';

const MODELS = [
  modelConfig('cnn', [['image', 'FP32', [1, 8, 8]]], [['probabilities', 'FP32', [10]]]),
  modelConfig('linear', [['image', 'FP32', [1, 8, 8]]], [['probabilities', 'FP32', [10]]], 4),
  modelConfig('average', [['a', 'FP32', [10]], ['b', 'FP32', [10]]], [['probabilities', 'FP32', [10]]]),
  modelConfig('ints', [['x', 'INT32', [10]]], [['y', 'INT32', [10]]]),
  modelConfig('solo', [['x', 'FP32', [10]]], [['y', 'FP32', [10]]], 0),
];

const HEAD = `platform: ensemble
max_batch_size: 4
input: [{ name: image, data_type: TYPE_FP32, dims: [1, 8, 8] }]
output: [{ name: probabilities, data_type: TYPE_FP32, dims: [10] }]
`;

// The digits ensemble: two classifiers on the same image, then their average.
const STEPS = `ensemble_scheduling:
  step:
  - { model_name: cnn, model_version: -1, input_map: { image: image }, output_map: { probabilities: p_cnn } }
  - { model_name: linear, input_map: { image: image }, output_map: { probabilities: p_linear } }
  - { model_name: average, input_map: { a: p_cnn, b: p_linear }, output_map: { probabilities: probabilities } }
`;

function plan(yaml: string) {
  return planEnsemble('ens', parseModelConfigText(yaml, 'config.yaml'), catalog(MODELS));
}

function fails(yaml: string, where: string, what: RegExp): void {
  assert.throws(
    () => plan(yaml),
    (error: ServingError) => {
      assert.equal(error.code, 'CONFIG_INVALID', error.message);
      assert.ok(error.message.startsWith(`graph 'ens': ${where}: `), `"${error.message}" should start with graph 'ens': ${where}`);
      assert.match(error.message, what);
      return true;
    },
  );
}

test('a Triton ensemble becomes a DAG: each step waits for the steps whose tensors it reads', () => {
  const p = plan(HEAD + STEPS);
  const node = p.nodes.get('ens')!;
  assert.equal(node.kind, 'Dag');
  if (node.kind !== 'Dag') return;
  assert.deepEqual(node.after, [[], [], [0, 1]]);
  assert.deepEqual(node.steps.map((s) => s.label), ['cnn', 'linear', 'average']);
  assert.deepEqual(node.steps[2]!.inputs, [
    { name: 'a', source: { from: 'ensemble', tensor: 'p_cnn' } },
    { name: 'b', source: { from: 'ensemble', tensor: 'p_linear' } },
  ]);
  assert.deepEqual(node.steps[0]!.outputs, ['probabilities']);
  assert.deepEqual(p.config.inputs, [{ name: 'image', datatype: 'FP32', dims: [1, 8, 8] }]);
  assert.equal(p.config.platform, 'ensemble');
  assert.equal(p.config.maxBatchSize, 4);
  // Triton's protobuf-text maps translated to YAML (lists of key/value pairs) mean the same.
  const pairs = plan(HEAD + STEPS.replace('input_map: { a: p_cnn, b: p_linear }', 'input_map: [{ key: a, value: p_cnn }, { key: b, value: p_linear }]'));
  assert.deepEqual(pairs.nodes.get('ens')!.steps[2]!.inputs, node.steps[2]!.inputs);
  // Slipway's per-step timeout, in Triton's unit.
  const timed = plan(HEAD + STEPS.replace('model_name: linear,', 'model_name: linear, timeout_microseconds: 250000,'));
  assert.deepEqual(timed.nodes.get('ens')!.steps.map((s) => s.timeoutMs), [undefined, 250, undefined]);
});

test('the ensemble declares its signature, as Triton requires', () => {
  fails('platform: ensemble\n' + STEPS, 'input', /declares its inputs/);
  fails('platform: ensemble\ninput: [{ name: image, data_type: TYPE_FP32 }]\noutput: [{ name: p, data_type: FP32, dims: [10] }]\n' + STEPS, 'input[0] (image)', /needs data_type and dims/);
  fails('platform: ensemble\nmax_batch_size: 4\ninput: [{ name: image, data_type: FP32, dims: [1,8,8] }]\noutput: [{ name: p, data_type: FP32, dims: [10] }]\n', 'ensemble_scheduling', /lists its steps/);
});

test('unknown models, unmapped and doubly-mapped tensors name the step and field', () => {
  fails(HEAD + STEPS.replace('model_name: linear', 'model_name: nope'), "ensemble_scheduling.step[1] (model 'nope').model_name", /unknown model 'nope'/);
  fails(HEAD + STEPS.replace('input_map: { image: image }, output_map: { probabilities: p_linear }', 'input_map: {}, output_map: { probabilities: p_linear }'), "ensemble_scheduling.step[1] (model 'linear').input_map", /input 'image' of model 'linear' is not mapped/);
  fails(HEAD + STEPS.replace('{ a: p_cnn, b: p_linear }', '{ a: p_cnn, b: p_other }'), "ensemble_scheduling.step[2] (model 'average').input_map.b", /ensemble tensor 'p_other' is neither an ensemble input nor written by any step's output_map/);
  fails(HEAD + STEPS.replace('{ image: image }, output_map: { probabilities: p_cnn }', '{ pixels: image }, output_map: { probabilities: p_cnn }'), "ensemble_scheduling.step[0] (model 'cnn').input_map.pixels", /model 'cnn' has no input 'pixels'/);
  fails(HEAD + STEPS.replace('output_map: { probabilities: p_linear }', 'output_map: { logits: p_linear }'), "ensemble_scheduling.step[1] (model 'linear').output_map.logits", /model 'linear' has no output 'logits'/);
  fails(HEAD + STEPS.replace('output_map: { probabilities: p_linear }', 'output_map: { probabilities: p_cnn }'), "ensemble_scheduling.step[1] (model 'linear').output_map.probabilities", /ensemble tensor 'p_cnn' is already written by ensemble_scheduling.step\[0\]/);
  fails(HEAD + STEPS.replace('output_map: { probabilities: p_linear }', 'output_map: { probabilities: image }'), "ensemble_scheduling.step[1] (model 'linear').output_map.probabilities", /'image' is already written by ensemble input 'image'/);
  fails(HEAD + STEPS.replace('output_map: { probabilities: probabilities }', 'output_map: { probabilities: averaged }'), 'output (probabilities)', /no step's output_map writes ensemble output 'probabilities'/);
});

test('datatype and shape mismatches between a step output and the next step input are refused', () => {
  const ints = `${HEAD}ensemble_scheduling:
  step:
  - { model_name: cnn, input_map: { image: image }, output_map: { probabilities: p } }
  - { model_name: ints, input_map: { x: p }, output_map: { y: probabilities } }
`;
  fails(ints, "ensemble_scheduling.step[1] (model 'ints').input_map.x", /'p' from ensemble_scheduling.step\[0\].*datatype FP32 does not match the INT32 it expects/);
  fails(HEAD.replace('dims: [1, 8, 8]', 'dims: [64]') + STEPS, "ensemble_scheduling.step[0] (model 'cnn').input_map.image", /shape \[-1,64\] does not match the \[-1,1,8,8\] it expects/);
  fails(HEAD.replace('dims: [10]', 'dims: [12]') + STEPS, 'output (probabilities)', /shape \[-1,10\] does not match the \[-1,12\] it expects/);
});

test('cycles, unreachable steps and batch sizes the steps cannot take are refused', () => {
  const cycle = `${HEAD}ensemble_scheduling:
  step:
  - { model_name: average, input_map: { a: image2, b: p }, output_map: { probabilities: probabilities } }
  - { model_name: cnn, input_map: { image: image }, output_map: { probabilities: p } }
  - { model_name: average, input_map: { a: probabilities, b: p }, output_map: { probabilities: image2 } }
`;
  fails(cycle, 'ensemble_scheduling', /cycle: step\[0\] \(average\) → step\[2\] \(average\) → step\[0\] \(average\)/);
  const dead = `${HEAD + STEPS}  - { model_name: linear, input_map: { image: image }, output_map: { probabilities: unused } }\n`;
  fails(dead, "ensemble_scheduling.step[3] (model 'linear')", /unreachable: none of its outputs leads to an ensemble output/);
  fails(HEAD.replace('max_batch_size: 4', 'max_batch_size: 8') + STEPS, "ensemble_scheduling.step[1] (model 'linear').model_name", /max_batch_size 8 exceeds model 'linear''s 4/);
});
