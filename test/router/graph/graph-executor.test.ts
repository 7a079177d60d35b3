import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { parseInferenceGraphText } from '../../../src/config/inference-graph-config.js';
import { ServingError } from '../../../src/errors/serving-error.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { planInferenceGraph } from '../../../src/repository/graph/plan-inference-graph.js';
import { GraphExecutor } from '../../../src/router/graph/graph-executor.js';
import { ModelStats } from '../../../src/scheduler/model-stats.js';
import type { InferenceRequest, InferenceResponse } from '../../../src/tensor/inference.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { catalog, modelConfig } from '../../helpers/graph-catalog.js';

// Models as plain functions of their inputs, so every answer can be worked out by hand.
const MODELS = [
  modelConfig('double', [['x', 'FP32', [2]]], [['y', 'FP32', [2]]]),
  modelConfig('inc', [['x', 'FP32', [2]]], [['y', 'FP32', [2]]]),
  modelConfig('neg', [['x', 'FP32', [2]]], [['y', 'FP32', [2]]]),
  modelConfig('broken', [['x', 'FP32', [2]]], [['y', 'FP32', [2]]]),
  modelConfig('stuck', [['x', 'FP32', [2]]], [['y', 'FP32', [2]]]),
  modelConfig('label', [['x', 'FP32', [2]]], [['class', 'BYTES', []], ['score', 'FP32', []]]),
];

const FUNCTIONS: Record<string, (x: number) => number> = { double: (x) => 2 * x, inc: (x) => x + 1, neg: (x) => -x };

interface Call {
  model: string;
  inputs: Tensor[];
  parameters: InferenceRequest['parameters'];
}

function fakeRouter(calls: Call[]) {
  return async (request: InferenceRequest): Promise<InferenceResponse> => {
    calls.push({ model: request.model, inputs: request.inputs, parameters: request.parameters });
    const x = request.inputs[0]!;
    const data = x.data as Float32Array;
    if (request.model === 'broken') throw new ServingError('INFERENCE_FAILED', 'onnxruntime refused the input');
    if (request.model === 'stuck') return new Promise(() => undefined);
    if (request.model === 'label') {
      return {
        model_name: 'label',
        model_version: '1',
        outputs: [
          { name: 'class', datatype: 'BYTES', shape: [1], data: [data[0]! > 0 ? 'news' : 'sports'] },
          { name: 'score', datatype: 'FP32', shape: [1], data: Float32Array.of(Math.abs(data[0]!)) },
        ],
      };
    }
    const f = FUNCTIONS[request.model]!;
    return { model_name: request.model, model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: x.shape, data: data.map(f) }], timing: { queueNs: 10, computeNs: 100 } };
  };
}

type Nodes = Record<string, { routerType: string; steps: Array<Record<string, unknown>> }>;

function executor(nodes: Nodes, options: { random?: () => number } = {}) {
  const file = parseInferenceGraphText(stringify({ apiVersion: 'serving.kserve.io/v1alpha1', kind: 'InferenceGraph', spec: { nodes } }), 'g.yaml');
  const plan = planInferenceGraph('g', file, {}, catalog(MODELS));
  const calls: Call[] = [];
  const graph = new GraphExecutor(plan, new ModelStats('g', '1'), {
    infer: fakeRouter(calls),
    remote: () => Promise.reject(new Error('no remote steps here')),
    logger: silentLogger(),
    ...(options.random !== undefined && { random: options.random }),
  });
  const run = (x: number[], parameters: Record<string, string | number> = {}) =>
    graph.infer({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: Float32Array.from(x) }],
      outputNames: plan.config.outputs.map((o) => o.name),
      transfer: false,
      parameters,
    });
  return { run, calls, plan };
}

const values = (t: Tensor | undefined): number[] => Array.from(t!.data as Float32Array);

test('Sequence: each $response step gets the answer before it; $request steps get the node input', async () => {
  const { run, calls } = executor({
    root: {
      routerType: 'Sequence',
      steps: [
        { serviceName: 'double', name: 'a' },
        { serviceName: 'inc', name: 'b', data: '$response' },
        { serviceName: 'neg', name: 'c', data: '$request' },
        { serviceName: 'inc', name: 'd', data: '$response' },
      ],
    },
  });
  const result = await run([1, 2]);
  // By hand: neg(x) + 1, since step c restarts from the request.
  assert.deepEqual(values(result.outputs[0]), [0, -1]);
  assert.deepEqual(calls.map((c) => [c.model, values(c.inputs[0])]), [
    ['double', [1, 2]],
    ['inc', [2, 4]],
    ['neg', [1, 2]],
    ['inc', [-1, -2]],
  ]);
  assert.deepEqual(result.steps!.map((s) => [s.label, s.outcome]), [['a', 'success'], ['b', 'success'], ['c', 'success'], ['d', 'success']]);
  assert.equal(result.queueNs, 40);
  assert.equal(result.computeInferNs, 400);
});

test('Sequence: a step whose condition fails on the answer so far ends the node with that answer', async () => {
  const { run, calls } = executor({
    root: {
      routerType: 'Sequence',
      steps: [
        { serviceName: 'label', name: 'classify' },
        { serviceName: 'double', name: 'news_only', condition: '[@this].#(predictions.0.class=="news")' },
      ],
    },
  });
  const sports = await run([-3, 0]);
  assert.deepEqual(sports.outputs.map((t) => t.name), ['class', 'score'], 'the classifier answers');
  assert.deepEqual(sports.outputs[0]!.data, ['sports']);
  assert.deepEqual(calls.map((c) => c.model), ['label']);
  const news = await run([3, 1]);
  assert.deepEqual(news.outputs.map((t) => t.name), ['y']);
  assert.deepEqual(values(news.outputs[0]), [6, 2]);
});

test('Switch: the first step whose condition holds on the request runs; none is GRAPH_NO_ROUTE (404)', async () => {
  const { run, calls } = executor({
    root: {
      routerType: 'Switch',
      steps: [
        { serviceName: 'double', condition: '[@this].#(parameters.op=="double")' },
        { serviceName: 'neg', condition: '[@this].#(instances.0.0>10)' },
        { serviceName: 'inc', condition: '[@this].#(instances.0.0>5)' },
      ],
    },
  });
  assert.deepEqual(values((await run([1, 2], { op: 'double' })).outputs[0]), [2, 4]);
  assert.deepEqual(values((await run([20, 2])).outputs[0]), [-20, -2], 'both later conditions hold: the first one wins');
  assert.deepEqual(values((await run([6, 2])).outputs[0]), [7, 3]);
  await assert.rejects(run([1, 2]), (error: ServingError) => error.code === 'GRAPH_NO_ROUTE' && /graph 'g' node 'root': none of the routes matched/.test(error.message));
  assert.deepEqual(calls.map((c) => c.model), ['double', 'neg', 'inc']);
});

test('Ensemble: every step runs on the input and the answer holds <step>.<output>; a Soft failure is left out, a Hard one fails it', async () => {
  const { run, plan } = executor({
    root: {
      routerType: 'Ensemble',
      steps: [
        { serviceName: 'double', name: 'twice' },
        { serviceName: 'inc' },
        { serviceName: 'broken', name: 'flaky', dependency: 'Soft' },
      ],
    },
  });
  assert.deepEqual(plan.config.outputs.map((o) => o.name), ['twice.y', '1.y', 'flaky.y']);
  const result = await run([1, 2]);
  assert.deepEqual(result.outputs.map((t) => [t.name, values(t)]), [['twice.y', [2, 4]], ['1.y', [2, 3]]]);
  assert.deepEqual(result.steps!.find((s) => s.label === 'flaky')!.outcome, 'error');

  const hard = executor({ root: { routerType: 'Ensemble', steps: [{ serviceName: 'double' }, { serviceName: 'broken', name: 'needed', dependency: 'Hard' }] } });
  await assert.rejects(
    hard.run([1, 2]),
    (error: ServingError) => error.code === 'INFERENCE_FAILED' && error.message === "graph 'g' spec.nodes.root.steps[1] (needed) → broken: onnxruntime refused the input",
  );
});

test('Sequence: a Soft step that fails is skipped (the next $response is the answer before it); a step without dependency is Hard', async () => {
  const soft = executor({
    root: {
      routerType: 'Sequence',
      steps: [{ serviceName: 'double' }, { serviceName: 'broken', data: '$response', dependency: 'Soft' }, { serviceName: 'inc', data: '$response' }],
    },
  });
  assert.deepEqual(values((await soft.run([1, 2])).outputs[0]), [3, 5]);
  const hard = executor({ root: { routerType: 'Sequence', steps: [{ serviceName: 'double' }, { serviceName: 'broken', name: 'b', data: '$response' }, { serviceName: 'inc' }] } });
  await assert.rejects(hard.run([1, 2]), /spec\.nodes\.root\.steps\[1\] \(b\) → broken: onnxruntime refused the input/);
  assert.deepEqual(hard.calls.map((c) => c.model), ['double', 'broken'], 'nothing runs after a Hard failure');
});

test('nested nodes: a failure is reported by the innermost step, once', async () => {
  const { run } = executor({
    root: { routerType: 'Sequence', steps: [{ nodeName: 'inner', name: 'outer_step' }] },
    inner: { routerType: 'Sequence', steps: [{ serviceName: 'broken', name: 'deep' }] },
  });
  await assert.rejects(run([1, 2]), (error: Error) => error.message === "graph 'g' spec.nodes.inner.steps[0] (deep) → broken: onnxruntime refused the input");
});

test('Splitter: routes follow the weights (KServe: an integer in [0,100) against cumulative weights)', async () => {
  // A seeded generator: the counts are exact for this seed, and near the weights for any.
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const { run, calls } = executor({ root: { routerType: 'Splitter', steps: [{ serviceName: 'double', weight: 20 }, { serviceName: 'inc', weight: 30 }, { serviceName: 'neg', weight: 50 }] } }, { random });
  const n = 2000;
  for (let i = 0; i < n; i++) await run([1, 1]);
  const share = (model: string) => calls.filter((c) => c.model === model).length / n;
  // Binomial standard deviations at n=2000 are about 0.01; 4 of them is a bound no fair draw misses.
  for (const [model, weight] of [['double', 0.2], ['inc', 0.3], ['neg', 0.5]] as const) {
    assert.ok(Math.abs(share(model) - weight) < 0.045, `${model}: ${share(model)} vs ${weight}`);
  }
  const edges = executor({ root: { routerType: 'Splitter', steps: [{ serviceName: 'double', weight: 20 }, { serviceName: 'inc', weight: 80 }] } }, { random: () => 0.199 });
  await edges.run([1, 1]);
  const last = executor({ root: { routerType: 'Splitter', steps: [{ serviceName: 'double', weight: 20 }, { serviceName: 'inc', weight: 80 }] } }, { random: () => 0.2 });
  await last.run([1, 1]);
  assert.deepEqual([edges.calls[0]!.model, last.calls[0]!.model], ['double', 'inc']);
});

test('a step that does not answer within its timeout fails the request with DEADLINE_EXCEEDED naming it; its queue deadline is passed on', async () => {
  const { run, calls } = executor({ root: { routerType: 'Sequence', steps: [{ serviceName: 'double', timeout: '5s' }, { serviceName: 'stuck', name: 'slow', timeout: '20ms' }] } });
  await assert.rejects(run([1, 2]), (error: ServingError) => error.code === 'DEADLINE_EXCEEDED' && /steps\[1\] \(slow\) → stuck: did not answer within 20 ms/.test(error.message));
  const timeout = calls[0]!.parameters!.timeout as number;
  assert.ok(timeout > 4_000_000 && timeout <= 5_000_000, `the first step's queue timeout (µs) is its own: ${timeout}`);
  // The request's own timeout bounds every step, and other parameters reach the steps.
  const bounded = executor({ root: { routerType: 'Sequence', steps: [{ serviceName: 'stuck', name: 'slow' }] } });
  await assert.rejects(bounded.run([1, 2], { timeout: 30_000, priority: 1 }), /steps\[0\] \(slow\) → stuck: did not answer within/);
  assert.equal(bounded.calls[0]!.parameters!.priority, 1);
  assert.ok((bounded.calls[0]!.parameters!.timeout as number) <= 30_000);
});
