import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { captureLogger } from '../helpers/capture-logger.js';
import { EXAMPLES } from '../helpers/paths.js';
import { tempRepository } from '../helpers/temp-repository.js';
import { Slipway } from '../../src/slipway.js';
import { placementSample } from '../../src/repository/model-repository.js';

const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
const digitsInputs = () => [{ name: 'image', datatype: 'FP32' as const, shape: [samples.length, 1, 8, 8], data: Float32Array.from(samples.flatMap((s) => s.image.flat(2))) }];

async function withSlipway<T>(config: string, options: { inlineBudgetUs?: number }, body: (slipway: Slipway, lines: Array<Record<string, unknown>>) => Promise<T>): Promise<T> {
  const { logger, lines } = captureLogger();
  const repo = await tempRepository({ digits: { config } });
  const slipway = await Slipway.open({ models: repo.dir, cores: 2, logger, ...options });
  try {
    return await body(slipway, lines);
  } finally {
    await slipway.close();
    await repo.remove();
  }
}

const AUTO = 'instance_group: { placement: auto }\n';
const placementOf = (slipway: Slipway) => slipway.repository.get('digits')!.versions.get(1)!.pool!.placement;
const loaded = (lines: Array<Record<string, unknown>>) => lines.find((l) => l.event === 'model_loaded')!;

describe('instance placement (worker threads or the main thread)', () => {
  test('workers unless the config says otherwise', async () => {
    await withSlipway('', { inlineBudgetUs: 60_000_000 }, async (slipway) => assert.equal(placementOf(slipway), 'worker'));
  });

  test('config forces either mode; both give the same answers', async () => {
    const answers: number[][] = [];
    for (const placement of ['worker', 'inline'] as const) {
      await withSlipway(`instance_group: { placement: ${placement} }\n`, {}, async (slipway, lines) => {
        assert.equal(placementOf(slipway), placement);
        assert.equal(loaded(lines).placement, placement);
        const pool = slipway.repository.get('digits')!.versions.get(1)!.pool!;
        await pool.fullyStarted();
        assert.equal(pool.size, placement === 'inline' ? 1 : 2);
        const response = await slipway.infer({ model: 'digits', inputs: digitsInputs() });
        answers.push(Array.from(response.outputs[0]!.data as Float32Array));
      });
    }
    assert.deepEqual(answers[1], answers[0]);
  });

  test('a killed inline instance is replaced on the main thread, as a crashed worker is', async () => {
    await withSlipway('instance_group: { placement: inline }\n', {}, async (slipway, lines) => {
      const pool = slipway.repository.get('digits')!.versions.get(1)!.pool!;
      const before = pool.running[0]!;
      before.kill();
      assert.equal(pool.size, 0);
      for (let i = 0; i < 100 && pool.size === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(pool.size, 1);
      assert.notEqual(pool.running[0], before);
      assert.equal(pool.placement, 'inline');
      assert.ok(lines.some((l) => l.event === 'instance_restarted'));
      assert.equal((await slipway.infer({ model: 'digits', inputs: digitsInputs() })).outputs[0]!.shape[0], samples.length);
    });
  });

  test('auto: inline when the largest batch fits the budget, on workers when it does not, measured at load', async () => {
    await withSlipway(AUTO, { inlineBudgetUs: 60_000_000 }, async (slipway, lines) => {
      assert.equal(placementOf(slipway), 'inline');
      const line = loaded(lines);
      assert.equal(typeof line.workerRunUs, 'number');
      assert.equal(typeof line.inlineRunUs, 'number');
      assert.equal(typeof line.inlineCreateMs, 'number', 'the blocking session creation is measured and logged');
      assert.equal((await slipway.infer({ model: 'digits', inputs: digitsInputs() })).outputs[0]!.shape[0], samples.length);
    });
    await withSlipway(AUTO, { inlineBudgetUs: 0 }, async (slipway, lines) => {
      assert.equal(placementOf(slipway), 'worker');
      assert.match(String(loaded(lines).reason), /largest batch runs \d+ µs \(budget 0 µs\)/);
      assert.equal(loaded(lines).inlineCreateMs, undefined, 'no main-thread session is created for a model over budget');
    });
  });

  test('auto measures nothing for variable dims or string tensors: those stay on workers', () => {
    const base = { maxBatchSize: 4, outputs: [] } as unknown as Parameters<typeof placementSample>[0];
    assert.equal(placementSample({ ...base, inputs: [{ name: 'x', datatype: 'FP32', dims: [3, -1] }] }), undefined);
    assert.equal(placementSample({ ...base, inputs: [{ name: 's', datatype: 'BYTES', dims: [1] }] }), undefined);
    const sample = placementSample({ ...base, inputs: [{ name: 'x', datatype: 'INT64', dims: [2, 3] }] })!;
    assert.deepEqual(sample[0]!.shape, [4, 2, 3], 'the largest batch the scheduler may form');
    assert.ok(sample[0]!.data instanceof BigInt64Array);
  });

  test('an automatically inline model whose batch blocks the loop past twice the budget moves back to workers', async () => {
    const { logger, lines } = captureLogger();
    const repo = await tempRepository({ digits: { config: AUTO } });
    // The budget fits the largest batch at load; then it is lowered below any run (a loaded machine, an operator).
    const slipway = await Slipway.open({ models: repo.dir, cores: 2, logger, inlineBudgetUs: 60_000_000 });
    try {
      const pool = slipway.repository.get('digits')!.versions.get(1)!.pool!;
      assert.equal(pool.placement, 'inline');
      pool.inlineBudgetUs = 0;
      await slipway.infer({ model: 'digits', inputs: digitsInputs() });
      const placement = (): string => pool.placement;
      for (let i = 0; i < 200 && placement() !== 'worker'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(pool.placement, 'worker');
      assert.equal(pool.size, 2);
      assert.ok(lines.some((l) => l.event === 'placement_changed'));
      const after = await slipway.infer({ model: 'digits', inputs: digitsInputs() });
      assert.equal(after.outputs[0]!.shape[0], samples.length, 'the workers serve');
    } finally {
      await slipway.close();
      await repo.remove();
    }
  });
});
