import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureLogger } from '../helpers/capture-logger.js';
import type { ServingError } from '../../src/errors/serving-error.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';
import { tempRepository } from '../helpers/temp-repository.js';
import { startTestServer } from '../helpers/test-server.js';

test('a killed worker fails its in-flight request with 503 (not a hang), is restarted, and it shows in logs and metrics', async () => {
  const { logger, lines } = captureLogger();
  const repo = await tempRepository({ ocr_cls: { config: 'instance_group: { count: 1 }\n' } });
  const server = await startTestServer({ models: repo.dir, logger });
  try {
    // Small, so the request reaches the server well inside the 1 s restart backoff even on a loaded
    // machine (a 19 MB body once took longer than that to build and parse, and found the instance back).
    const count = 3 * 48 * 192;
    const body = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,48,192],"data":[${'0,'.repeat(count - 1)}0]}]}`;
    const version = server.slipway.repository.get('ocr_cls')!.versions.get(1)!;
    // The crash order goes first, the request right behind it in the same tick, so the request is on
    // the instance (in flight) when its worker dies.
    version.pool!.running[0]!.kill();
    const inflight = server.slipway.infer({
      model: 'ocr_cls',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192) }],
    });
    assert.equal(version.scheduler!.inflight, 1, 'the request reached the instance');
    await assert.rejects(inflight, (error: ServingError) => error.code === 'INSTANCE_FAILED' && /model instance failed/.test(error.message));
    // Over HTTP, while the instance restarts: a clear 503, not a hang.
    const during = await fetch(`${server.url}/v2/models/ocr_cls/infer`, { method: 'POST', body });
    assert.equal(during.status, 503);
    assert.match(((await during.json()) as { error: string }).error, /instance/);

    // Restarted after the backoff: the same request then succeeds.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (version.pool!.size === 0) continue;
      status = (await fetch(`${server.url}/v2/models/ocr_cls/infer`, { method: 'POST', body })).status;
    }
    assert.equal(status, 200);
    assert.ok(lines.some((l) => l.event === 'instance_crashed'), 'crash logged');
    assert.ok(lines.some((l) => l.event === 'instance_restarted'), 'restart logged');
    const metrics = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
    assert.equal(sample(metrics, 'slipway_instance_restarts_total', { model: 'ocr_cls', version: '1' }), 1);
    assert.equal(sample(metrics, 'slipway_requests_total', { model: 'ocr_cls', outcome: 'INSTANCE_FAILED' }), 1, 'the HTTP request answered 503');
  } finally {
    await server.close();
    await repo.remove();
  }
});
