import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Slipway } from '../../../src/slipway.js';
import { tempRepository } from '../../helpers/temp-repository.js';

// A graph's steps go through the router, so a step model's traffic split applies to them; a sticky
// key on the graph request must keep each step on one version, as it does for direct requests.
test("a graph request's sticky key keeps its step on one version of a split model", async () => {
  const repo = await tempRepository({
    m: { from: 'identity_fp32', versions: [1, 2], config: 'version_policy: { all: {} }\ntraffic: { weights: { 1: 50, 2: 50 } }\n' },
  });
  await mkdir(join(repo.dir, 'g'));
  await writeFile(
    join(repo.dir, 'g', 'inference-graph.yaml'),
    'apiVersion: serving.kserve.io/v1alpha1\nkind: InferenceGraph\nmetadata: { name: g }\nspec:\n  nodes:\n    root:\n      routerType: Sequence\n      steps:\n      - { serviceName: m, name: only }\n',
  );
  const slipway = await Slipway.open({ models: repo.dir, cores: 1 });
  const successes = (version: number): number => slipway.repository.get('m')!.versions.get(version)!.scheduler!.stats.snapshot().inference_stats.success.count;
  try {
    const request = (routingKey?: string) =>
      slipway.infer({ model: 'g', ...(routingKey !== undefined && { routingKey }), inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 3], data: Float32Array.of(1, 2, 3) }] });
    for (const key of ['alice', 'bob', 'carol', 'dave']) {
      const before = [successes(1), successes(2)];
      for (let i = 0; i < 20; i++) await request(key);
      const moved = [successes(1) - before[0]!, successes(2) - before[1]!];
      assert.ok(moved.includes(20) && moved.includes(0), `key ${key}: versions answered ${moved.join(' and ')} of 20`);
    }
    // Without a key, the step follows the weights: both versions answer.
    const before = [successes(1), successes(2)];
    for (let i = 0; i < 60; i++) await request();
    assert.ok(successes(1) > before[0]! && successes(2) > before[1]!, 'unkeyed graph requests are split between the versions');
  } finally {
    await slipway.close();
    await repo.remove();
  }
});
