import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer } from '../../src/server/http-server.js';
import { Slipway } from '../../src/slipway.js';
import { EXAMPLES } from '../helpers/paths.js';

describe('optimize reports for the model page', () => {
  test('GET /api/models/{m}/optimize-reports lists what slipway optimize wrote; one version answers its report or 404', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-reports-'));
    const model = join(dir, 'digits');
    for (const v of ['1', '2']) {
      await mkdir(join(model, v), { recursive: true });
      await copyFile(join(EXAMPLES, 'digits/1/model.onnx'), join(model, v, 'model.onnx'));
    }
    const report = { model: 'digits', sourceVersion: 1, version: 2, method: 'fp16', size: { sourceBytes: 10, optimizedBytes: 5, ratio: 0.5 } };
    await writeFile(join(model, '2/optimize-report.json'), JSON.stringify(report));
    await writeFile(join(model, 'config.yaml'), 'version_policy: { all: {} }\n');
    const slipway = await Slipway.open({ models: dir, cores: 2 });
    const app = createHttpServer(slipway, { ui: { feedback: `sqlite:${join(dir, 'feedback.db')}` } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const list = await fetch(`${url}/api/models/digits/optimize-reports`);
      assert.equal(list.status, 200);
      assert.deepEqual(await list.json(), { reports: [report] });
      const one = await fetch(`${url}/api/models/digits/versions/2/optimize-report`);
      assert.deepEqual(await one.json(), report);
      const none = await fetch(`${url}/api/models/digits/versions/1/optimize-report`);
      assert.equal(none.status, 404);
      assert.match(((await none.json()) as { error: string }).error, /version 1 of 'digits' has no optimize-report.json/);
      assert.equal((await fetch(`${url}/api/models/digits/versions/7/optimize-report`)).status, 404);
      assert.equal((await fetch(`${url}/api/models/nope/optimize-reports`)).status, 404);
    } finally {
      await app.close();
      await slipway.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
