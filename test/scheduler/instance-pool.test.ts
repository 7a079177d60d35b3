import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/observability/logger.js';
import { InstancePool } from '../../src/scheduler/instance-pool.js';

const MODEL = fileURLToPath(new URL('../../../test/fixtures/models/identity_fp32/1/model.onnx', import.meta.url));
const worker = { platform: 'onnxruntime_onnx' as const, modelPath: MODEL, intraOpThreads: 1 };

test('readyAfter: the pool resolves with its first instance and the others join behind it, one at a time', async () => {
  const joined: number[] = [];
  const pool = await InstancePool.start({ worker, count: 3, readyAfter: 1, logger: silentLogger() });
  try {
    assert.equal(pool.size, 1, 'resolved with one instance up');
    assert.equal(pool.starting, 2);
    pool.onCapacity(() => joined.push(pool.size));
    await pool.fullyStarted();
    assert.equal(pool.size, 3);
    assert.equal(pool.starting, 0);
    assert.deepEqual(joined, [2, 3], 'each later instance joined on its own and announced the capacity');
  } finally {
    await pool.close();
  }
});

test('readyAfter: closing while instances are still starting leaves none running', async () => {
  const pool = await InstancePool.start({ worker, count: 3, readyAfter: 1, logger: silentLogger() });
  const late = pool.fullyStarted();
  await pool.close();
  await late;
  assert.equal(pool.size, 0);
  assert.equal(pool.starting, 0);
});

test('without readyAfter every instance is up when the pool resolves', async () => {
  const pool = await InstancePool.start({ worker, count: 2, logger: silentLogger() });
  try {
    assert.equal(pool.size, 2);
    assert.equal(pool.starting, 0);
  } finally {
    await pool.close();
  }
});
