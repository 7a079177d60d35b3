import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { discoverModels } from '../../src/repository/discover.js';
import { findHandlerFile } from '../../src/repository/model-handler.js';
import { ServingError } from '../../src/errors/serving-error.js';
import { ModelRepository } from '../../src/repository/model-repository.js';
import { ROOT } from '../helpers/paths.js';

describe('model folders with handlers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-handler-repo-'));
    await mkdir(join(dir, 'pipeline'));
    await writeFile(join(dir, 'pipeline', 'handler.js'), 'export default {};\n');
    await mkdir(join(dir, 'twice'));
    await writeFile(join(dir, 'twice', 'handler.ts'), 'export default {};\n');
    await writeFile(join(dir, 'twice', 'handler.js'), 'export default {};\n');
    await mkdir(join(dir, 'notes'));
    await writeFile(join(dir, 'notes', 'README.md'), 'not a model\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a folder with only a handler is a model (a pipeline); other folders are not', async () => {
    const names = (await discoverModels([dir])).map((s) => s.name);
    assert.deepEqual(names, ['pipeline', 'twice']);
  });

  test('findHandlerFile finds the one handler and refuses two', async () => {
    assert.equal(await findHandlerFile({ kind: 'folder', name: 'pipeline', dir: join(dir, 'pipeline') }), join(dir, 'pipeline', 'handler.js'));
    assert.equal(await findHandlerFile({ kind: 'folder', name: 'notes', dir: join(dir, 'notes') }), undefined);
    assert.equal(await findHandlerFile({ kind: 'file', name: 'm', file: join(dir, 'm.onnx') }), undefined);
    await assert.rejects(findHandlerFile({ kind: 'folder', name: 'twice', dir: join(dir, 'twice') }), /has handler\.ts and handler\.js; keep one handler file/);
  });

  test('a handler that cannot load leaves its model UNAVAILABLE with the reason; the repository still opens', async () => {
    const repository = await ModelRepository.open({ paths: [dir], cores: 2 });
    try {
      const rows = repository.index();
      const pipeline = rows.find((r) => r.name === 'pipeline')!;
      assert.equal(pipeline.state, 'UNAVAILABLE');
      assert.match(pipeline.reason, /^handler: handler\.js: `input` must be a zod schema/);
      const twice = rows.find((r) => r.name === 'twice')!;
      assert.equal(twice.state, 'UNAVAILABLE');
      assert.match(twice.reason, /keep one handler file/);
      assert.equal(repository.settled(), true);
    } finally {
      await repository.close();
    }
  });
});

describe('loading and unloading a pipeline at run time', () => {
  test('a pipeline reloads, unloads and loads again; a broken one fails to load with its reason', async () => {
    const fixtures = `${ROOT}test/fixtures/handlers`;
    const repository = await ModelRepository.open({ paths: [`${fixtures}/toolbox`, `${fixtures}/setup_fails`], cores: 2 });
    try {
      const first = repository.get('toolbox')!.handler!.pool!;
      await repository.loadModel('toolbox');
      const reloaded = repository.get('toolbox')!.handler!;
      assert.equal(reloaded.state, 'READY');
      assert.notEqual(reloaded.pool, first, 'a new set of workers');
      await repository.unloadModel('toolbox');
      assert.deepEqual(repository.index().find((r) => r.name === 'toolbox'), { name: 'toolbox', state: 'UNAVAILABLE', reason: 'unloaded' });
      await repository.loadModel('toolbox');
      assert.equal(repository.index().find((r) => r.name === 'toolbox')!.state, 'READY');
      await assert.rejects(
        repository.loadModel('setup_fails'),
        (e: unknown) => e instanceof ServingError && e.code === 'MODEL_LOAD_FAILED' && /setup\(\) failed: the weights file is missing/.test(e.message),
      );
    } finally {
      await repository.close();
    }
  });
});
