import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lookupRepository, type LookupRepository } from '../../helpers/rollout-models.js';
import { startProtocolServer, type ProtocolServer } from '../../helpers/protocol-server.js';

const TOKEN = 'rollout-admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, any> }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  const response = await fetch(url, { method, headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers }, ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('traffic and rollout admin API', () => {
  let repo: LookupRepository;
  let server: ProtocolServer;
  let open: ProtocolServer;
  before(async () => {
    repo = await lookupRepository({ 1: 100, 2: 100, 3: 100 });
    server = await startProtocolServer({ models: repo.dir, adminToken: TOKEN });
    open = await startProtocolServer({ models: repo.dir });
  });
  after(async () => {
    await server.close();
    await open.close();
    await repo.remove();
  });

  test('reading is open; changing needs the admin token (403 without one configured, 401 without or with a wrong one)', async () => {
    assert.equal((await call(`${open.url}/v2/models/lookup/traffic`, 'GET')).status, 200);
    assert.equal((await call(`${open.url}/v2/models/lookup/rollout`, 'GET')).status, 200);
    const changes: Array<[string, string, unknown]> = [
      ['PUT', '/v2/models/lookup/traffic', { weights: { 1: 100 } }],
      ['DELETE', '/v2/models/lookup/traffic', undefined],
      ['POST', '/v2/models/lookup/rollout', { to: 2 }],
      ['POST', '/v2/models/lookup/rollout/rollback', undefined],
      ['POST', '/v2/models/lookup/rollout/promote', undefined],
    ];
    for (const [method, path, body] of changes) {
      const denied = await call(`${open.url}${path}`, method, body, auth);
      assert.equal(denied.status, 403, `${method} ${path}`);
      assert.match(denied.body.error, /start the server with --admin-token/);
      assert.equal((await call(`${server.url}${path}`, method, body)).status, 401, `${method} ${path} without a token`);
      assert.equal((await call(`${server.url}${path}`, method, body, { authorization: 'Bearer wrong-token' })).status, 401);
    }
    assert.equal((await call(`${server.url}/v2/models/lookup/rollout`, 'GET')).body.rollout, null, 'nothing changed');
  });

  test('PUT /traffic sets a split by hand, checked field by field; DELETE forgets it', async () => {
    const bad = await call(`${server.url}/v2/models/lookup/traffic`, 'PUT', { weights: { one: 90, 2: -1 } }, auth);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /weights\.one: keys are version numbers, e\.g\. 1 or 2/);
    assert.match(bad.body.error, /weights\.2: a weight is 0 or more/);
    const unknown = await call(`${server.url}/v2/models/lookup/traffic`, 'PUT', { weights: { 1: 50, 9: 50 } }, auth);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'VERSION_NOT_FOUND');
    assert.equal((await call(`${server.url}/v2/models/nope/traffic`, 'PUT', { weights: { 1: 1 } }, auth)).status, 404);
    const set = await call(`${server.url}/v2/models/lookup/traffic`, 'PUT', { weights: { 1: 70, 3: 30 }, shadow: { version: 2, percent: 5 } }, auth);
    assert.equal(set.status, 200);
    assert.deepEqual(set.body.traffic.versions.map((v: { version: number; percent: number }) => [v.version, v.percent]), [[1, 70], [2, 0], [3, 30]]);
    assert.deepEqual(set.body.traffic.shadow, { version: 2, percent: 5, compare: 'auto', tolerance: 0.0001 });
    const cleared = await call(`${server.url}/v2/models/lookup/traffic`, 'DELETE', undefined, auth);
    assert.equal(cleared.body.traffic.source, 'default');
    assert.deepEqual(cleared.body.traffic.versions.map((v: { percent: number }) => v.percent), [0, 0, 100], 'back to the newest READY version');
  });

  test('POST /rollout starts one (201), refuses a second (409) and bad settings (400); rollback ends it', async () => {
    const bad = await call(`${server.url}/v2/models/lookup/rollout`, 'POST', { to: 3, steps: [50, 10], interval: 'soon', extra: 1 }, auth);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /steps: steps must increase/);
    assert.match(bad.body.error, /interval: expected a duration such as 30s, 1m or 1m30s \(or milliseconds\), got "soon"/);
    assert.match(bad.body.error, /Unrecognized key: "extra"/);
    assert.equal((await call(`${server.url}/v2/models/lookup/rollout`, 'POST', '{', auth)).status, 400);
    const started = await call(`${server.url}/v2/models/lookup/rollout`, 'POST', { to: 3, from: 1, interval: '10m', steps: [20, 100] }, auth);
    assert.equal(started.status, 201);
    assert.equal(started.body.rollout.state, 'progressing');
    assert.equal(started.body.rollout.spec.interval_ms, 600_000);
    assert.deepEqual(started.body.traffic.versions.map((v: { percent: number }) => v.percent), [80, 0, 20]);
    const again = await call(`${server.url}/v2/models/lookup/rollout`, 'POST', { to: 2 }, auth);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'ROLLOUT_CONFLICT');
    assert.equal((await call(`${server.url}/v2/models/lookup/traffic`, 'PUT', { weights: { 1: 1 } }, auth)).status, 409);
    const back = await call(`${server.url}/v2/models/lookup/rollout/rollback`, 'POST', { reason: 'manual test' }, auth);
    assert.equal(back.status, 200);
    assert.equal(back.body.rollout.state, 'rolled_back');
    assert.equal(back.body.rollout.reason, 'manual test');
    assert.deepEqual(back.body.traffic.versions.map((v: { percent: number }) => v.percent), [100, 0, 0]);
    const none = await call(`${server.url}/v2/models/lookup/rollout/promote`, 'POST', undefined, auth);
    assert.equal(none.status, 404);
    assert.equal(none.body.code, 'ROLLOUT_NOT_FOUND');
  });
});
