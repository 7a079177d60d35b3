import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { HealthListener } from '../../src/server/health-listener.js';

/** Waits until `check` resolves true, polling every 20 ms. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
}

test('the health port answers live, and ready as the serving side publishes it', async () => {
  let reason: string | undefined = 'loading models';
  const health = await HealthListener.start({ host: '127.0.0.1', port: 0, notReadyReason: () => reason, intervalMs: 20 });
  const base = `http://127.0.0.1:${health.port}`;
  try {
    const live = await fetch(`${base}/v2/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { live: true });
    const notReady = await fetch(`${base}/v2/health/ready`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { ready: false, error: 'loading models' });
    reason = undefined;
    await until(async () => (await fetch(`${base}/v2/health/ready`)).status === 200);
    // At SIGTERM the serving side flips and publishes at once.
    reason = 'shutting down';
    health.update();
    const draining = await fetch(`${base}/v2/health/ready`);
    assert.equal(draining.status, 503);
    const missing = await fetch(`${base}/v2/models`);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /answers GET \/v2\/health\/live and \/v2\/health\/ready/);
  } finally {
    await health.close();
  }
});

test('a probe is answered while the serving thread is blocked: the answer does not need its event loop', async () => {
  const health = await HealthListener.start({ host: '127.0.0.1', port: 0, notReadyReason: () => undefined });
  try {
    // spawnSync blocks this thread until the child has its answer: only another thread can give it.
    const probe = spawnSync(process.execPath, ['-e', `fetch('http://127.0.0.1:${health.port}/v2/health/live').then((r) => r.text()).then((t) => process.stdout.write(t))`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(probe.stdout, '{"live":true}');
  } finally {
    await health.close();
  }
});

test('liveness fails once the serving thread has not beaten for longer than allowed', async () => {
  const health = await HealthListener.start({ host: '127.0.0.1', port: 0, notReadyReason: () => undefined, liveAfterSeconds: 0, readyAfterSeconds: 0 });
  try {
    // Blocked for over a second: its heartbeat (whole seconds) is then at least a second old.
    const probe = spawnSync(process.execPath, ['-e', `setTimeout(() => fetch('http://127.0.0.1:${health.port}/v2/health/live').then(async (r) => process.stdout.write(r.status + ' ' + (await r.text()))), 2100)`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.match(probe.stdout, /^503 \{"live":false,"error":"the serving thread has not run for \d+ s"\}$/);
  } finally {
    await health.close();
  }
});
