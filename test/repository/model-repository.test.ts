import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelRepository } from '../../src/repository/model-repository.js';
import { ModelRouter } from '../../src/router/model-router.js';
import { TEST_MODELS } from '../helpers/paths.js';
import { tempRepository } from '../helpers/temp-repository.js';

const identity = (value: number) => ({
  model: 'm',
  inputs: [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [1, 1], data: new Float32Array([value]) }],
});

function states(repository: ModelRepository): string[] {
  return repository.index().map((r) => `${r.name}:${r.version ?? '-'}:${r.state}`);
}

test('version policy latest (default 1), latest N, all and specific select from the versions on disk', async () => {
  const cases: Array<[string | undefined, string[]]> = [
    [undefined, ['m:3:READY']],
    ['version_policy: { latest: { num_versions: 2 } }', ['m:2:READY', 'm:3:READY']],
    ['version_policy: { all: {} }', ['m:1:READY', 'm:2:READY', 'm:3:READY']],
    ['version_policy: { specific: { versions: [1, 3, 9] } }', ['m:1:READY', 'm:3:READY']],
  ];
  for (const [policy, expected] of cases) {
    const repo = await tempRepository({ m: { from: 'identity_fp32', versions: [1, 2, 3], ...(policy && { config: policy }) } });
    const repository = await ModelRepository.open({ paths: [repo.dir], cores: 2 });
    try {
      assert.deepEqual(states(repository).sort(), expected, policy);
      const router = new ModelRouter(repository);
      const newest = expected.at(-1)!.split(':')[1];
      assert.equal((await router.infer(identity(2))).model_version, newest, 'unversioned requests go to the newest version');
      const oldest = expected[0]!.split(':')[1]!;
      assert.equal((await router.infer({ ...identity(2), version: oldest })).model_version, oldest);
    } finally {
      await repository.close();
      await repo.remove();
    }
  }
});

test('a policy that selects nothing makes the model UNAVAILABLE with the reason', async () => {
  const repo = await tempRepository({ m: { from: 'identity_fp32', versions: [1], config: 'version_policy: { specific: { versions: [4] } }' } });
  const repository = await ModelRepository.open({ paths: [repo.dir], cores: 2 });
  try {
    assert.deepEqual(repository.index(), [
      { name: 'm', state: 'UNAVAILABLE', reason: 'version_policy selects none of the versions on disk (1)' },
    ]);
    assert.throws(() => new ModelRouter(repository).resolve('m'), /model 'm' is UNAVAILABLE: version_policy selects none/);
  } finally {
    await repository.close();
    await repo.remove();
  }
});

test('an invalid config.yaml makes only that model UNAVAILABLE, naming the field', async () => {
  const repo = await tempRepository({
    good: { from: 'identity_fp32' },
    bad: { from: 'identity_fp32', config: 'max_batch_size: lots\ninstance_group: { count: 0 }\n' },
    contradicts: { from: 'fixed_matmul', config: 'max_batch_size: 8\n' },
  });
  const repository = await ModelRepository.open({ paths: [repo.dir], cores: 2 });
  try {
    const byName = new Map(repository.index().map((r) => [r.name, r] as const));
    assert.equal(byName.get('good')!.state, 'READY');
    assert.equal(byName.get('bad')!.state, 'UNAVAILABLE');
    assert.match(byName.get('bad')!.reason, /max_batch_size: .*number/);
    assert.match(byName.get('bad')!.reason, /instance_group.count: /);
    assert.equal(byName.get('contradicts')!.state, 'UNAVAILABLE');
    assert.match(byName.get('contradicts')!.reason, /max_batch_size: 8 needs a variable first dimension .* 'x' has shape \[2,3\]/);
  } finally {
    await repository.close();
    await repo.remove();
  }
});

test('a single .onnx file and a model folder without version folders are served as version 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-paths-'));
  try {
    await cp(`${TEST_MODELS}/identity_fp32/1/model.onnx`, join(dir, 'single.onnx'), { dereference: true });
    await mkdir(join(dir, 'flat'));
    await cp(`${TEST_MODELS}/identity_fp32/1/model.onnx`, join(dir, 'flat', 'model.onnx'), { dereference: true });
    const repository = await ModelRepository.open({ paths: [join(dir, 'single.onnx'), join(dir, 'flat')], cores: 2 });
    try {
      assert.deepEqual(states(repository).sort(), ['flat:1:READY', 'single:1:READY']);
      const router = new ModelRouter(repository);
      const reply = await router.infer({ ...identity(7), model: 'single' });
      assert.deepEqual(Array.from(reply.outputs[0]!.data as Float32Array), [7]);
    } finally {
      await repository.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('two models with the same name are refused at start, naming both paths', async () => {
  const a = await tempRepository({ m: { from: 'identity_fp32' } });
  const b = await tempRepository({ m: { from: 'identity_fp32' } });
  try {
    await assert.rejects(ModelRepository.open({ paths: [a.dir, b.dir] }), /two models are named 'm'/);
  } finally {
    await a.remove();
    await b.remove();
  }
});

test('a path that does not exist or holds no models is refused with the path', async () => {
  await assert.rejects(ModelRepository.open({ paths: ['/nonexistent/slipway'] }), /model path \/nonexistent\/slipway does not exist/);
  const empty = await mkdtemp(join(tmpdir(), 'slipway-empty-'));
  try {
    await assert.rejects(ModelRepository.open({ paths: [empty] }), /holds no models/);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test('instance count and intra-op threads come from config; default keeps instances × threads within cores', async () => {
  const repo = await tempRepository({
    dflt: { from: 'identity_fp32', config: '' },
    custom: { from: 'identity_fp32', config: 'instance_group: [{ count: 3, intra_op_threads: 1 }]' },
  });
  const repository = await ModelRepository.open({ paths: [repo.dir], cores: 2 });
  try {
    const dflt = repository.get('dflt')!.versions.get(1)!;
    // READY with its first instance; the others join behind it.
    await Promise.all(['dflt', 'custom'].map((name) => repository.get(name)!.versions.get(1)!.pool!.fullyStarted()));
    assert.deepEqual([dflt.config!.instanceCount, dflt.config!.intraOpThreads, dflt.pool!.size], [2, 1, 2]);
    const custom = repository.get('custom')!.versions.get(1)!;
    assert.deepEqual([custom.config!.instanceCount, custom.config!.intraOpThreads, custom.pool!.size], [3, 1, 3]);
  } finally {
    await repository.close();
    await repo.remove();
  }
});

test('library inputs are copied, not detached; requests spread over instances and all answer', async () => {
  const repo = await tempRepository({ m: { from: 'identity_fp32', config: 'instance_group: { count: 2 }' } });
  const repository = await ModelRepository.open({ paths: [repo.dir], cores: 2 });
  try {
    const router = new ModelRouter(repository);
    const data = new Float32Array([1, 2, 3]);
    const request = { model: 'm', inputs: [{ name: 'INPUT0', datatype: 'FP32' as const, shape: [1, 3], data }] };
    const replies = await Promise.all(Array.from({ length: 20 }, () => router.infer(request)));
    assert.deepEqual(Array.from(data), [1, 2, 3], 'caller keeps its array');
    for (const reply of replies) assert.deepEqual(Array.from(reply.outputs[0]!.data as Float32Array), [1, 2, 3]);
  } finally {
    await repository.close();
    await repo.remove();
  }
});
