import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ServingError } from '../../src/errors/serving-error.js';
import { ModelInstance, SLOT_COUNT } from '../../src/runtime/model-instance.js';
import type { InstanceWorkerData } from '../../src/runtime/worker-messages.js';
import { Slipway } from '../../src/slipway.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { EXAMPLES, TEST_MODELS } from '../helpers/paths.js';
import { tempRepository } from '../helpers/temp-repository.js';

// digits_linear: image [batch,1,8,8] → probabilities [batch,10], a few µs per batch. Every row of
// every request below is one of ROWS distinct random images, so an answer row can be checked
// against the reference answer for that image: a lost, swapped or torn answer shows.
const MODEL = join(EXAMPLES, 'digits_linear/1/model.onnx');
const ROWS = 1000;
const PIXELS = 64;
const CLASSES = 10;
const data = (handoff: 'message' | 'shared', slotBytes?: number): InstanceWorkerData => ({
  platform: 'onnxruntime_onnx',
  modelPath: MODEL,
  intraOpThreads: 1,
  handoff,
  ...(slotBytes !== undefined && { slotBytes }),
});

let seed = 17;
const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2;
const images = Float32Array.from({ length: ROWS * PIXELS }, random);
let reference: Float32Array;

/** A batch of the given rows of `images`. */
const batchOf = (rows: number[]): Tensor[] => {
  const out = new Float32Array(rows.length * PIXELS);
  rows.forEach((row, i) => out.set(images.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS));
  return [{ name: 'image', datatype: 'FP32', shape: [rows.length, 1, 8, 8], data: out }];
};

/** Fails unless every answer row is the reference answer of the image sent in that row. */
function assertAnswers(rows: number[], output: Tensor): void {
  assert.deepEqual(output.shape, [rows.length, CLASSES]);
  const got = output.data as Float32Array;
  rows.forEach((row, i) => {
    for (let c = 0; c < CLASSES; c++) {
      const diff = Math.abs(got[i * CLASSES + c]! - reference[row * CLASSES + c]!);
      if (diff > 1e-6) assert.fail(`row ${i} (image ${row}) class ${c}: ${got[i * CLASSES + c]} != ${reference[row * CLASSES + c]}`);
    }
  });
}

before(async () => {
  const instance = await ModelInstance.start(data('message'));
  try {
    reference = (await instance.infer(batchOf(Array.from({ length: ROWS }, (_, i) => i)), ['probabilities'], false)).outputs[0]!.data as Float32Array;
  } finally {
    await instance.close();
  }
  // The check below can only catch a swap if different images give clearly different answers.
  let closest = Infinity;
  for (let a = 0; a < 50; a++) {
    for (let b = a + 1; b < 50; b++) {
      let d = 0;
      for (let c = 0; c < CLASSES; c++) d = Math.max(d, Math.abs(reference[a * CLASSES + c]! - reference[b * CLASSES + c]!));
      closest = Math.min(closest, d);
    }
  }
  assert.ok(closest > 1e-4, `reference answers too close to tell apart (${closest})`);
});

describe('shared-memory hand-off (instance_group.handoff: shared)', () => {
  let instance: ModelInstance;
  before(async () => (instance = await ModelInstance.start(data('shared'))));
  after(() => instance.close());

  test('concurrent batches of distinct images, slots and the message fallback mixed: every answer is its own', async () => {
    const before = { ...instance.sent };
    let next = 0;
    // 6 callers against 2 slots: some batches always find both slots busy and go by message.
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let i = 0; i < 1500; i++) {
          const size = 1 + (next % 13);
          const rows = Array.from({ length: size }, (_, k) => (next * 7 + k * 131) % ROWS);
          next++;
          const { outputs } = await instance.infer(batchOf(rows), ['probabilities'], false);
          assertAnswers(rows, outputs[0]!);
        }
      }),
    );
    assert.equal(instance.handoff, 'shared');
    assert.ok(instance.sent.slot - before.slot > 1000, `slots carried most batches (${instance.sent.slot - before.slot})`);
    assert.ok(instance.sent.message - before.message > 0, 'some batches fell back to messages');
    assert.equal(instance.freeSlotCount, SLOT_COUNT, 'every slot is free again');
  });

  test('an engine error in a slot fails that request clearly and frees the slot', async () => {
    const bad: Tensor[] = [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 7], data: new Float32Array(56) }];
    await assert.rejects(instance.infer(bad, ['probabilities'], false), (error: ServingError) => error.code === 'INFERENCE_FAILED' && /onnxruntime/.test(error.message));
    assert.equal(instance.freeSlotCount, SLOT_COUNT);
    const slotsBefore = instance.sent.slot;
    const { outputs } = await instance.infer(batchOf([5, 6]), ['probabilities'], false);
    assertAnswers([5, 6], outputs[0]!);
    assert.equal(instance.sent.slot, slotsBefore + 1, 'the next batch went through a slot');
  });

  test('the caller keeps its input buffers, even when it offers to transfer them', async () => {
    const inputs = batchOf([1, 2, 3]);
    await instance.infer(inputs, ['probabilities'], true);
    assert.equal((inputs[0]!.data as Float32Array).length, 3 * PIXELS);
  });
});

test('a batch larger than a slot falls back to a message and is answered the same', async () => {
  // 1 KiB slots: 4 rows of 256 bytes fit, 5 do not.
  const instance = await ModelInstance.start(data('shared', 1024));
  try {
    const small = [10, 11, 12, 13];
    const large = Array.from({ length: 64 }, (_, i) => (i * 37) % ROWS);
    const [a, b] = await Promise.all([instance.infer(batchOf(small), ['probabilities'], false), instance.infer(batchOf(large), ['probabilities'], false)]);
    assertAnswers(small, a.outputs[0]!);
    assertAnswers(large, b.outputs[0]!);
    assert.deepEqual(instance.sent, { slot: 1, message: 1 });
    assert.equal(instance.freeSlotCount, SLOT_COUNT);
  } finally {
    await instance.close();
  }
});

test('an answer larger than its slot comes back by message, and the slot is freed', async () => {
  // fixed_matmul: x [2,3] → y [2,4]: 24 bytes in, 32 out. A 24-byte slot takes the request, not the answer.
  const start = (handoff: 'message' | 'shared') =>
    ModelInstance.start({ platform: 'onnxruntime_onnx', modelPath: join(TEST_MODELS, 'fixed_matmul/1/model.onnx'), intraOpThreads: 1, handoff, slotBytes: 24 });
  const x: Tensor[] = [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }];
  const [shared, message] = await Promise.all([start('shared'), start('message')]);
  try {
    const expected = (await message.infer(x, ['y'], false)).outputs[0]!;
    for (let i = 0; i < 3; i++) {
      const got = (await shared.infer(x, ['y'], false)).outputs[0]!;
      assert.deepEqual(got.shape, [2, 4]);
      assert.deepEqual([...(got.data as Float32Array)], [...(expected.data as Float32Array)]);
    }
    assert.deepEqual(shared.sent, { slot: 3, message: 0 }, 'every request went in a slot');
    assert.equal(shared.freeSlotCount, SLOT_COUNT);
  } finally {
    await Promise.all([shared.close(), message.close()]);
  }
});

test('a crashed shared-slot instance is replaced by the pool with one that also uses slots', async () => {
  const { logger, lines } = captureLogger();
  const repo = await tempRepository({ digits_linear: { config: 'instance_group: { count: 1, handoff: shared }\n' } });
  const slipway = await Slipway.open({ models: repo.dir, cores: 2, logger });
  try {
    const version = slipway.repository.get('digits_linear')!.versions.get(1)!;
    const pool = version.pool!;
    (pool.running[0] as ModelInstance).kill();
    await assert.rejects(slipway.infer({ model: 'digits_linear', inputs: batchOf([1]) }), (error: ServingError) => error.code === 'INSTANCE_FAILED');
    for (let i = 0; i < 100 && pool.size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const replacement = pool.running[0] as ModelInstance;
    assert.equal(replacement.handoff, 'shared');
    const response = await slipway.infer({ model: 'digits_linear', inputs: batchOf([8, 9]) });
    assertAnswers([8, 9], response.outputs[0]!);
    assert.equal(replacement.sent.slot, 1);
    assert.ok(lines.some((l) => l.event === 'instance_restarted'));
  } finally {
    await slipway.close();
    await repo.remove();
  }
});

describe('a worker crash while slots are in use', () => {
  test('ordered before the batch is posted: the batch fails with INSTANCE_FAILED, the slots are reclaimed', async () => {
    const instance = await ModelInstance.start(data('shared'));
    const exited = new Promise<Error>((resolve) => instance.onUnexpectedExit(resolve));
    instance.kill();
    const inflight = [instance.infer(batchOf([1]), ['probabilities'], false), instance.infer(batchOf([2]), ['probabilities'], false)];
    assert.equal(instance.freeSlotCount, 0, 'both batches sit in slots');
    for (const p of inflight) await assert.rejects(p, (error: ServingError) => error.code === 'INSTANCE_FAILED' && /model instance failed/.test(error.message));
    assert.match((await exited).message, /exited with code 70/);
    assert.equal(instance.freeSlotCount, SLOT_COUNT, 'the slots are free again');
    await assert.rejects(instance.infer(batchOf([3]), ['probabilities'], false), (error: ServingError) => error.code === 'INSTANCE_FAILED');
    await instance.close();
  });

  test('ordered while batches run: each answers correctly or fails with INSTANCE_FAILED, none hangs', async () => {
    const instance = await ModelInstance.start(data('shared'));
    const rows = [[1, 2], [3], [4, 5, 6], [7]];
    const inflight = rows.map((r) => instance.infer(batchOf(r), ['probabilities'], false));
    instance.kill();
    const settled = await Promise.allSettled(inflight);
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') assertAnswers(rows[i]!, s.value.outputs[0]!);
      else assert.equal((s.reason as ServingError).code, 'INSTANCE_FAILED');
    });
    assert.ok(settled.some((s) => s.status === 'rejected'), 'the crash failed what was still waiting');
    assert.equal(instance.freeSlotCount, SLOT_COUNT);
    await instance.close();
  });
});

test('100,000 requests through the server, batched dynamically over shared slots: no answer lost or swapped', async () => {
  const { logger } = captureLogger();
  const repo = await tempRepository({ digits_linear: { config: 'instance_group: { handoff: shared }\n' } });
  const slipway = await Slipway.open({ models: repo.dir, cores: 2, logger });
  try {
    const pool = slipway.repository.get('digits_linear')!.versions.get(1)!.pool!;
    const instances = pool.running as ModelInstance[];
    assert.ok(instances.every((i) => i.handoff === 'shared'), 'the config reached the instances');
    let next = 0;
    let answered = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 100_000) {
          const n = next++;
          const rows = n % 5 === 0 ? [n % ROWS, (n * 3 + 1) % ROWS] : [n % ROWS];
          const response = await slipway.infer({ model: 'digits_linear', inputs: batchOf(rows) });
          assertAnswers(rows, response.outputs[0]!);
          answered++;
        }
      }),
    );
    assert.equal(answered, 100_000);
    const viaSlots = instances.reduce((sum, i) => sum + i.sent.slot, 0);
    const viaMessages = instances.reduce((sum, i) => sum + i.sent.message, 0);
    assert.ok(viaSlots > 0 && viaSlots >= viaMessages, `batches went through slots (${viaSlots} slots, ${viaMessages} messages)`);
    assert.ok(instances.every((i) => i.freeSlotCount === SLOT_COUNT));
  } finally {
    await slipway.close();
    await repo.remove();
  }
});
