import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { runBatchJob } from '../../../../src/batch/batch-job.js';
import { Slipway } from '../../../../src/slipway.js';
import type { Tensor } from '../../../../src/tensor/tensor.js';
import { exampleRepository } from '../../../helpers/example-repository.js';
import { EXAMPLES } from '../../../helpers/paths.js';

let slipway: Slipway;
let repo: { dir: string; remove: () => Promise<void> };
let heldout: { labels: number[]; images: number[][] };

before(async () => {
  repo = await exampleRepository(['digits', 'digits_linear', 'digits_average', 'digits_ensemble']);
  slipway = await Slipway.open({ models: repo.dir, cores: 2 });
  heldout = JSON.parse(await readFile(join(EXAMPLES, 'digits_ensemble', 'heldout.json'), 'utf8')) as typeof heldout;
});

after(async () => {
  await slipway?.close();
  await repo?.remove();
});

/** Probabilities of a model for all 360 held-out images, in batches of 64 (the ensemble's max_batch_size). */
async function probabilities(model: string): Promise<Float32Array> {
  const out = new Float32Array(heldout.labels.length * 10);
  for (let start = 0; start < heldout.labels.length; start += 64) {
    const rows = heldout.images.slice(start, start + 64);
    const image: Tensor = { name: 'image', datatype: 'FP32', shape: [rows.length, 1, 8, 8], data: Float32Array.from(rows.flat()) };
    const response = await slipway.infer({ model, inputs: [image] });
    out.set(response.outputs[0]!.data as Float32Array, start * 10);
  }
  return out;
}

function accuracy(p: Float32Array): number {
  let right = 0;
  heldout.labels.forEach((label, i) => {
    const row = Array.from(p.subarray(i * 10, i * 10 + 10));
    if (row.indexOf(Math.max(...row)) === label) right++;
  });
  return right / heldout.labels.length;
}

test('the ensemble answers the mean of the two classifiers, image by image', async () => {
  const [cnn, linear, ensemble] = [await probabilities('digits'), await probabilities('digits_linear'), await probabilities('digits_ensemble')];
  for (let i = 0; i < ensemble.length; i++) assert.ok(Math.abs(ensemble[i]! - (cnn[i]! + linear[i]!) / 2) < 1e-6, `element ${i}`);
  // The two were trained differently, so they disagree on some images and their mean helps.
  const [a, b, both] = [accuracy(cnn), accuracy(linear), accuracy(ensemble)];
  assert.ok(b >= 0.95, `digits_linear held-out accuracy ${b}`);
  assert.ok(both >= Math.max(a, b) - 0.01, `ensemble ${both} vs digits ${a} and digits_linear ${b}`);
});

test('it is served as a model: an ensemble with the classifiers’ signature', () => {
  const config = slipway.router.resolve('digits_ensemble').config;
  assert.equal(config.platform, 'ensemble');
  assert.deepEqual(config.inputs, slipway.router.resolve('digits').config.inputs);
  assert.deepEqual(config.outputs, slipway.router.resolve('digits').config.outputs);
});

test('a batch job predicts with the ensemble like with any model', async () => {
  const input = join(repo.dir, 'heldout.jsonl');
  await writeFile(input, heldout.images.map((pixels, id) => JSON.stringify({ id, pixels })).join('\n'));
  const db = join(repo.dir, 'predictions.db');
  const summary = await runBatchJob(slipway, {
    model: 'digits_ensemble',
    input: [input],
    output: `sqlite:${db}`,
    mapping: { key: 'id', map: ['image=pixels'] },
  });
  assert.equal(summary.status, 'succeeded');
  const sqlite = new Database(db, { readonly: true });
  try {
    const rows = sqlite.prepare('SELECT id, label FROM digits_ensemble_predictions ORDER BY CAST(id AS INTEGER)').all() as Array<{ id: string; label: number }>;
    assert.equal(rows.length, heldout.labels.length);
    const right = rows.filter((row) => row.label === heldout.labels[Number(row.id)]).length;
    assert.equal(right / rows.length, accuracy(await probabilities('digits_ensemble')));
  } finally {
    sqlite.close();
  }
});
