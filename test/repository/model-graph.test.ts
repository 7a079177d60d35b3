import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ServingError } from '../../src/errors/serving-error.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { GraphPlan } from '../../src/repository/graph/graph-plan.js';
import { readGraphDeclaration, RepositoryGraphs, type GraphRuntime, type GraphScheduler } from '../../src/repository/model-graph.js';
import type { Model } from '../../src/repository/model-repository.js';
import { ModelStats } from '../../src/scheduler/model-stats.js';
import { modelConfig } from '../helpers/graph-catalog.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-graphs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const sequence = (name: string, ...steps: string[]) => `apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata: { name: ${name} }
spec:
  nodes:
    root:
      routerType: Sequence
      steps:
${steps.map((s) => `      - ${s}`).join('\n')}
`;

async function graphModel(name: string, yaml: string): Promise<Model> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'inference-graph.yaml'), yaml);
  const source = { kind: 'folder' as const, name, dir: folder };
  const model: Model = { name, source, versions: new Map() };
  model.graph = (await readGraphDeclaration(source, {}))!;
  return model;
}

const SCALE = modelConfig('scale', [['x', 'FP32', [2]]], [['y', 'FP32', [2]]]);

function runtime(models: Map<string, Model>, remote: () => Promise<typeof SCALE>): GraphRuntime {
  return {
    stepConfig: (name) => {
      if (name === 'scale') return SCALE;
      const version = models.get(name)?.versions.get(1);
      if (version === undefined) throw new ServingError('MODEL_NOT_FOUND', `unknown model '${name}'`);
      if (version.state !== 'READY') throw new ServingError('MODEL_NOT_READY', `model '${name}' version 1 is ${version.state}: ${version.reason}`);
      return version.config!;
    },
    remoteConfig: remote,
    scheduler: (_plan: GraphPlan, stats: ModelStats): GraphScheduler => ({ stats, queueDepth: 0, inflight: 0, infer: () => Promise.reject(new Error('not run here')), close: () => undefined, update: () => undefined }),
  };
}

test('graphs that call each other in a circle are UNAVAILABLE, naming the circle', async () => {
  const models = new Map<string, Model>();
  models.set('g1', await graphModel('g1', sequence('g1', 'serviceName: g2')));
  models.set('g2', await graphModel('g2', sequence('g2', 'serviceName: scale', 'serviceName: g1')));
  const graphs = new RepositoryGraphs(() => models.values(), () => runtime(models, () => Promise.reject(new Error('none'))), silentLogger(), undefined);
  for (const model of models.values()) await graphs.load(model, model.graph!, [1], false);
  graphs.refresh();
  assert.equal(models.get('g1')!.versions.get(1)!.reason, "graph 'g1': its steps call back into it: g1 → g2 → g1");
  assert.equal(models.get('g2')!.versions.get(1)!.reason, "graph 'g2': its steps call back into it: g2 → g1 → g2");
  graphs.close();
});

test('a graph may call a graph: it is READY once the one it calls is, whatever the order they load in', async () => {
  const models = new Map<string, Model>();
  models.set('outer', await graphModel('outer', sequence('outer', 'serviceName: inner')));
  models.set('inner', await graphModel('inner', sequence('inner', 'serviceName: scale')));
  const graphs = new RepositoryGraphs(() => models.values(), () => runtime(models, () => Promise.reject(new Error('none'))), silentLogger(), undefined);
  for (const model of models.values()) await graphs.load(model, model.graph!, [1], false);
  graphs.refresh();
  assert.deepEqual([...models.values()].map((m) => m.versions.get(1)!.state), ['READY', 'READY']);
  assert.deepEqual(models.get('outer')!.versions.get(1)!.config!.outputs, SCALE.outputs);
  graphs.close();
});

test('a remote step whose server is down makes the graph UNAVAILABLE, and it becomes READY by itself once the server answers', async () => {
  const models = new Map<string, Model>();
  const url = 'http://127.0.0.1:1/v2/models/scale/infer';
  models.set('far', await graphModel('far', sequence('far', 'serviceName: scale', `serviceUrl: ${url}`)));
  let calls = 0;
  const remote = () => (++calls === 1 ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) : Promise.resolve(SCALE));
  const graphs = new RepositoryGraphs(() => models.values(), () => runtime(models, remote), silentLogger(), undefined);
  const far = models.get('far')!;
  await graphs.load(far, far.graph!, [1], true);
  const version = far.versions.get(1)!;
  assert.equal(version.state, 'UNAVAILABLE');
  assert.match(version.reason!, /spec\.nodes\.root\.steps\[1\]\.serviceUrl: cannot read the metadata of remote model 'scale' at http:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1; retrying in 1 s/);
  // The retry is a timer: wait for the state to change (no fixed sleep).
  const deadline = Date.now() + 10_000;
  const ready = (): boolean => far.versions.get(1)!.state === 'READY';
  while (!ready() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(ready(), far.versions.get(1)!.reason);
  assert.equal(calls, 2);
  graphs.close();
});

test('a folder declares one graph, and a config.yaml beside inference-graph.yaml cannot set what the steps decide', async () => {
  const model = await graphModel('declared', sequence('declared', 'serviceName: scale'));
  const source = model.source;
  await assert.rejects(readGraphDeclaration(source, { platform: 'ensemble' }), /declares two graphs: config.yaml says platform: ensemble and inference-graph.yaml exists; keep one/);
  await assert.rejects(readGraphDeclaration(source, { max_batch_size: 8, input: [] }), /config.yaml beside inference-graph.yaml: max_batch_size, input cannot be set/);
  await assert.rejects(readGraphDeclaration({ kind: 'folder', name: 'nowhere', dir: join(dir, 'nowhere') }, { ensemble_scheduling: { step: [{ model_name: 'scale' }] } }), /ensemble_scheduling needs platform: ensemble/);
  assert.equal((await readGraphDeclaration(source, { response_cache: { enable: true } }))?.form, 'inference_graph');
});
