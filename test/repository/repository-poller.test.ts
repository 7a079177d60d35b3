import assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Slipway } from '../../src/slipway.js';
import type { InferenceResponse } from '../../src/tensor/inference.js';
import { ONE_INSTANCE, lookupModel, lookupRepository } from '../helpers/rollout-models.js';

const lookup = (slipway: Slipway, index: number, version?: string): Promise<InferenceResponse> =>
  slipway.infer({ model: 'lookup', ...(version !== undefined && { version }), inputs: [{ name: 'idx', datatype: 'INT64', shape: [1], data: BigInt64Array.of(BigInt(index)) }] });

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const states = (slipway: Slipway) => Object.fromEntries(slipway.index().filter((r) => r.name === 'lookup').map((r) => [r.version, r.state]));

describe('zero-downtime version changes', () => {
  test('a repository load adds a new version beside the old one: the old keeps its instances and serves until the new is READY', async () => {
    const repo = await lookupRepository({ 1: 100 });
    const slipway = await Slipway.open({ models: repo.dir, cores: 2 });
    try {
      const v1 = slipway.repository.get('lookup')!.versions.get(1)!;
      const pool = v1.pool;
      await repo.addVersion(2, 100, 1000);
      await slipway.loadModel('lookup');
      assert.equal(slipway.repository.get('lookup')!.versions.get(1), v1, 'version 1 was not reloaded');
      assert.equal(v1.pool, pool);
      assert.deepEqual(states(slipway), { 1: 'READY', 2: 'READY' });
      assert.equal((await lookup(slipway, 4)).model_version, '2', 'without a policy, the newest READY version serves');
      // Nothing changed on disk: a second load does nothing.
      await slipway.loadModel('lookup');
      assert.equal(slipway.repository.get('lookup')!.versions.get(2)!.pool, slipway.repository.get('lookup')!.versions.get(2)!.pool);
    } finally {
      await slipway.close();
      await repo.remove();
    }
  });

  test('with latest: 1, the retired version drains what it holds before it unloads; none of its requests fail', async () => {
    const repo = await lookupRepository({ 1: 100 });
    await writeFile(join(repo.dir, 'lookup', 'config.yaml'), `${ONE_INSTANCE}version_policy: { latest: { num_versions: 1 } }\n`);
    const slipway = await Slipway.open({ models: repo.dir, cores: 2 });
    try {
      const v1 = slipway.repository.get('lookup')!.versions.get(1)!;
      let stop = false;
      const answers: string[] = [];
      const failures: string[] = [];
      const client = async () => {
        while (!stop) {
          try {
            answers.push((await lookup(slipway, 3)).model_version);
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      };
      const clients = Array.from({ length: 8 }, client);
      await waitFor('traffic on version 1', () => answers.length > 50);
      await repo.addVersion(2, 100, 1000);
      await slipway.loadModel('lookup');
      assert.equal(v1.state, 'UNAVAILABLE', 'the retired version is unloaded once drained');
      assert.equal(v1.reason, 'unloaded');
      const after = answers.length;
      await waitFor('traffic on version 2', () => answers.length > after + 50);
      stop = true;
      await Promise.all(clients);
      assert.deepEqual(failures, []);
      assert.deepEqual(states(slipway), { 2: 'READY' }, 'the retired version leaves the index');
      assert.ok(answers.includes('1') && answers.at(-1) === '2');
    } finally {
      await slipway.close();
      await repo.remove();
    }
  });
});

describe("--poll (Triton's POLL mode)", () => {
  test('new versions and models load, changed files reload, removed models unload; a broken file waits for its fix', async () => {
    const repo = await lookupRepository({ 1: 100 });
    const slipway = await Slipway.open({ models: repo.dir, cores: 2, pollIntervalMs: 100 });
    try {
      // A new version folder.
      await repo.addVersion(2, 100, 1000);
      await waitFor('version 2', () => states(slipway)['2'] === 'READY');
      assert.equal((await lookup(slipway, 4, '2')).outputs[0]!.data[0], 1002);
      // A changed file in a version folder: reloaded beside, then swapped.
      const staging = join(repo.dir, '.staging-new');
      await mkdir(staging);
      await writeFile(join(staging, 'model.onnx'), lookupModel(100, 2000));
      await rename(join(staging, 'model.onnx'), join(repo.dir, 'lookup', '2', 'model.onnx'));
      await waitFor('version 2 answering from its new file', async () => (await lookup(slipway, 4, '2')).outputs[0]!.data[0] === 2002);
      // A broken version: logged, not retried until it changes; the others serve.
      await mkdir(join(repo.dir, 'lookup', '3'));
      await writeFile(join(repo.dir, 'lookup', '3', 'model.onnx'), 'half a file');
      await waitFor('version 3 failing', () => states(slipway)['3'] === 'UNAVAILABLE');
      assert.equal((await lookup(slipway, 4)).model_version, '2');
      await writeFile(join(repo.dir, 'lookup', '3', 'model.onnx'), lookupModel(100, 3000));
      await waitFor('version 3 fixed', () => states(slipway)['3'] === 'READY');
      // A new model, and a removed one.
      await repo.addVersion(1, 100, 0, 'other');
      await waitFor('model other', () => slipway.index().some((r) => r.name === 'other' && r.state === 'READY'));
      await rm(join(repo.dir, 'other'), { recursive: true });
      await waitFor('other unloaded', () => slipway.index().some((r) => r.name === 'other' && r.state === 'UNAVAILABLE'));
    } finally {
      await slipway.close();
      await repo.remove();
    }
  });
});
