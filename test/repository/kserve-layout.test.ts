import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelRepository } from '../../src/repository/model-repository.js';
import { EXAMPLES, TEST_MODELS } from '../helpers/paths.js';

// KServe's storage initializer puts a storageUri's file, or its folder's contents, in /mnt/models; the
// runtime serves that folder with --model-name <InferenceService>.
const DIGITS = join(EXAMPLES, 'digits', '1', 'model.onnx');

async function mount(layout: Record<string, string>): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-mnt-models-'));
  for (const [path, from] of Object.entries(layout)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await cp(from, join(dir, path));
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

const served = (repository: ModelRepository) => repository.index().map((r) => `${r.name}:${r.version}:${r.state}`);

const LAYOUTS: Record<string, Record<string, string>> = {
  'a single-file storageUri (/mnt/models/digits.onnx)': { 'digits.onnx': DIGITS },
  'a model folder with versions (/mnt/models/1/model.onnx)': { '1/model.onnx': DIGITS },
  'a bare model folder (/mnt/models/model.onnx)': { 'model.onnx': DIGITS },
  'a repository of one model (/mnt/models/digits/1/model.onnx)': { 'digits/1/model.onnx': DIGITS },
};
for (const [what, layout] of Object.entries(LAYOUTS)) {
  test(`--model-name serves ${what} under the InferenceService's name`, async () => {
    const mnt = await mount(layout);
    const repository = await ModelRepository.open({ paths: [mnt.dir], cores: 1, modelName: 'my-isvc' });
    try {
      assert.deepEqual(served(repository), ['my-isvc:1:READY']);
    } finally {
      await repository.close();
      await mnt.remove();
    }
  });
}

test('loose .onnx files beside model folders are models of their own; --model-name refuses several', async () => {
  const mnt = await mount({ 'digits.onnx': DIGITS, 'simple/1/model.onnx': join(TEST_MODELS, 'simple', '1', 'model.onnx') });
  try {
    const repository = await ModelRepository.open({ paths: [mnt.dir], cores: 1 });
    try {
      assert.deepEqual(served(repository).sort(), ['digits:1:READY', 'simple:1:READY']);
    } finally {
      await repository.close();
    }
    await assert.rejects(ModelRepository.open({ paths: [mnt.dir], cores: 1, modelName: 'x' }), /--model-name x names one model, but the paths hold 2: digits, simple/);
  } finally {
    await mnt.remove();
  }
});
