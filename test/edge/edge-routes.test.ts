import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { EdgeManifest } from '../../src/edge/edge-manifest.js';
import { createHttpServer } from '../../src/server/http-server.js';
import { Slipway } from '../../src/slipway.js';
import { EXAMPLES } from '../helpers/paths.js';
import { linkSlipwayPackage } from '../helpers/temp-repository.js';

// GET /edge/{model}/ on the server: the bundle built on demand, with the headers wasm threads need,
// gzipped, rebuilt when the model is reloaded. (In a browser: test/e2e/edge.test.ts.)

const TOKEN = 'edge-routes-token';
let dir: string;
let slipway: Slipway;
let app: FastifyInstance;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-edge-routes-'));
  await linkSlipwayPackage(dir);
  await cp(join(EXAMPLES, 'digits'), join(dir, 'digits'), { recursive: true, dereference: true });
  slipway = await Slipway.open({ models: [join(dir, 'digits')], cores: 1 });
  app = createHttpServer(slipway, { edge: true, adminToken: TOKEN });
  await app.ready();
});
after(async () => {
  await app?.close();
  await slipway?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /edge/{model}/', () => {
  test('serves the page, cross-origin isolated, with a policy that allows wasm from this server only', async () => {
    const redirect = await app.inject({ method: 'GET', url: '/edge/digits' });
    assert.equal(redirect.statusCode, 301);
    assert.equal(redirect.headers.location, '/edge/digits/');
    const page = await app.inject({ method: 'GET', url: '/edge/digits/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.match(page.headers['content-security-policy'] as string, /script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'/);
    assert.match(page.body, /<script type="module" src="edge-page\.js">/);
  });

  test("the manifest falls back to this server, relative to the bundle, and the wasm is sent gzipped as application/wasm", async () => {
    const manifest = (await app.inject({ method: 'GET', url: '/edge/digits/slipway-edge.json' })).json() as EdgeManifest;
    assert.equal(manifest.fallback.server, '../../');
    assert.equal(manifest.handler?.runs, 'device');
    const wasm = await app.inject({ method: 'GET', url: '/edge/digits/ort/ort-wasm-simd-threaded.wasm', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(wasm.statusCode, 200);
    assert.equal(wasm.headers['content-type'], 'application/wasm');
    assert.equal(wasm.headers['content-encoding'], 'gzip');
    assert.equal(wasm.headers['cross-origin-resource-policy'], 'same-origin');
    const plain = await app.inject({ method: 'GET', url: '/edge/digits/ort/ort-wasm-simd-threaded.wasm' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(gunzipSync(wasm.rawPayload), plain.rawPayload);
    assert.ok(wasm.rawPayload.byteLength < plain.rawPayload.byteLength / 3);
  });

  test('unknown models, missing files and paths out of the bundle answer 404 with a message', async () => {
    const unknown = await app.inject({ method: 'GET', url: '/edge/nope/' });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().error, /unknown model 'nope'; serving: digits/);
    for (const url of ['/edge/digits/missing.js', '/edge/digits/%2e%2e/%2e%2e/package.json', '/edge/digits/models/..%2F..%2Fslipway-edge.json']) {
      const reply = await app.inject({ method: 'GET', url });
      assert.equal(reply.statusCode, 404, url);
      assert.equal(reply.json().code, 'ROUTE_NOT_FOUND', url);
    }
  });

  test('a bundle hosted on another origin may fall back here once the server allows that origin (--cors-origin)', async () => {
    const origin = 'https://static.example.com';
    const closed = await app.inject({ method: 'POST', url: '/v2/models/digits/infer', headers: { origin }, payload: { inputs: [] } });
    assert.equal(closed.headers['access-control-allow-origin'], undefined, 'no CORS unless asked for');
    const open = createHttpServer(slipway, { corsOrigins: [origin] });
    try {
      const preflight = await open.inject({
        method: 'OPTIONS',
        url: '/v2/models/digits/infer',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      assert.equal(preflight.statusCode, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], origin);
      assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
      const pixels = new Array<number>(64).fill(0);
      const reply = await open.inject({
        method: 'POST',
        url: '/v2/models/digits/infer',
        headers: { origin, 'content-type': 'application/json' },
        payload: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: pixels }] },
      });
      assert.equal(reply.statusCode, 200);
      assert.equal(reply.headers['access-control-allow-origin'], origin);
      assert.match(String(reply.headers['access-control-expose-headers']), /server-timing/);
      const other = await open.inject({ method: 'POST', url: '/v2/models/digits/infer', headers: { origin: 'https://elsewhere.example' }, payload: { inputs: [] } });
      assert.equal(other.headers['access-control-allow-origin'], undefined, 'other origins are not let in');
    } finally {
      await open.close();
    }
  });

  test('a reloaded model gets a rebuilt bundle (its edge settings re-read)', async () => {
    const before = (await app.inject({ method: 'GET', url: '/edge/digits/slipway-edge.json' })).json() as EdgeManifest;
    assert.equal(before.fallback.latencyBudgetMs, null);
    await writeFile(join(dir, 'digits', 'config.yaml'), `${await readFile(join(dir, 'digits', 'config.yaml'), 'utf8')}edge:\n  latency_budget_ms: 25\n  latency_window: 3\n`);
    const load = await app.inject({ method: 'POST', url: '/v2/repository/models/digits/load', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(load.statusCode, 200, load.body);
    const after = (await app.inject({ method: 'GET', url: '/edge/digits/slipway-edge.json' })).json() as EdgeManifest;
    assert.deepEqual(after.fallback, { server: '../../', latencyBudgetMs: 25, latencyWindow: 3 });
  });
});
