import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createHttpServer } from '../../src/server/http-server.js';
import { predictRoutes } from '../../src/protocol/http/predict-routes.js';
import { Slipway } from '../../src/slipway.js';
import { SqliteFeedbackStore } from '../../src/ui/feedback/sqlite-feedback-store.js';
import { uiRoutes } from '../../src/ui/ui-routes.js';
import { EXAMPLES, TEST_MODELS } from '../helpers/paths.js';

let slipway: Slipway;
let app: FastifyInstance;
let store: SqliteFeedbackStore;
let dir: string;
const registered: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-ui-routes-'));
  store = SqliteFeedbackStore.open(join(dir, 'feedback.db'));
  slipway = await Slipway.open({ models: [join(EXAMPLES, 'digits'), join(TEST_MODELS, 'simple')], cores: 1 });
  app = createHttpServer(slipway, { ui: { feedback: store } });
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') registered.push(`${method.toLowerCase()} ${route.url}`);
  });
  await app.ready();
});
after(async () => {
  await app.close();
  await slipway.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('UI pages', () => {
  test('GET / serves the app to browsers, with a policy that allows nothing from elsewhere', async () => {
    const page = await app.inject({ method: 'GET', url: '/', headers: HTML });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    const csp = page.headers['content-security-policy'] as string;
    assert.match(csp, /default-src 'self'/);
    // Scripts and workers from this server only; 'wasm-unsafe-eval' lets the on-device switch
    // compile onnxruntime-web's wasm and allows no eval of scripts.
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.match(csp, /worker-src 'self';/);
    assert.doesNotMatch(csp.replace("'wasm-unsafe-eval'", ''), /https?:|unsafe/);
    // Cross-origin isolated, so an on-device model gets wasm threads.
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.match(page.body, /<base href="\/">/);
    assert.doesNotMatch(page.body.replace(/<link rel="icon"[^>]*>/, ''), /https?:\/\//, 'no CDN: every asset comes from this server');
    const assets = [...page.body.matchAll(/(?:src|href)="(ui\/[^"]+)"/g)].map((m) => m[1]!);
    assert.equal(assets.length, 2);
    for (const asset of assets) {
      const reply = await app.inject({ method: 'GET', url: `/${asset}`, headers: { 'accept-encoding': 'gzip, br' } });
      assert.equal(reply.statusCode, 200, asset);
      assert.match(reply.headers['content-type'] as string, asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      assert.equal(reply.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(reply.headers['content-encoding'], 'gzip');
      const plain = await app.inject({ method: 'GET', url: `/${asset}` });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(gunzipSync(reply.rawPayload).toString('utf8'), plain.body);
    }
  });

  test('GET / without Accept: text/html is still the Azure ML liveness answer', async () => {
    const probe = await app.inject({ method: 'GET', url: '/' });
    assert.equal(probe.statusCode, 200);
    assert.equal(probe.body, 'Healthy');
    const curl = await app.inject({ method: 'GET', url: '/', headers: { accept: '*/*' } });
    assert.equal(curl.body, 'Healthy');
  });

  test('every model has a page at a stable URL; an unknown one is a 404 page', async () => {
    for (const url of ['/models/digits', '/models/simple', '/flags']) {
      const page = await app.inject({ method: 'GET', url });
      assert.equal(page.statusCode, 200, url);
      assert.match(page.body, /<div id="app"><\/div>/);
    }
    const missing = await app.inject({ method: 'GET', url: '/models/nope' });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.body, /<div id="app">/);
    assert.equal((await app.inject({ method: 'GET', url: '/ui/nope.js' })).statusCode, 404);
  });

  test('with the UI on, /openapi.json documents every route the server registers', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const documented = new Set(
      Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path.startsWith('/v1/models/') ? '/v1/models/*' : path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    assert.deepEqual(registered.filter((r) => !documented.has(r)), []);
    assert.ok(doc.paths['/api/feedback'].post.requestBody.content['multipart/form-data']);
  });

  test('an unbuilt UI says how to build it instead of serving a blank page', async () => {
    const bare = createHttpServer(slipway, { ui: { feedback: store, assetsDir: dir } });
    try {
      const page = await bare.inject({ method: 'GET', url: '/models/digits' });
      assert.equal(page.statusCode, 501);
      assert.match(page.json().error, /the UI is not built: run `npm run build`/);
    } finally {
      await bare.close();
    }
  });

  test('mounted under a prefix, the page says so in <base href> so its calls stay under it', async () => {
    const embedded = Fastify();
    await embedded.register(predictRoutes, { slipway, prefix: '/ml' });
    await embedded.register(uiRoutes, { slipway, feedback: store, prefix: '/ml' });
    try {
      const page = await embedded.inject({ method: 'GET', url: '/ml/models/digits' });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<base href="\/ml\/">/);
      const examples = await embedded.inject({ method: 'GET', url: '/ml/api/models/digits/examples' });
      assert.equal(examples.json().examples[0].url, '/ml/api/models/digits/examples/0.png');
    } finally {
      await embedded.close();
    }
  });
});

describe('GET /api/models/{m}/examples', () => {
  test('lists the pictures in examples/ and the samples.json entries that name the graph inputs', async () => {
    const reply = await app.inject({ method: 'GET', url: '/api/models/digits/examples' });
    assert.equal(reply.statusCode, 200);
    const { examples } = reply.json();
    const pictures = examples.filter((e: { kind: string }) => e.kind === 'image');
    assert.deepEqual(pictures.map((e: { name: string }) => e.name), ['0.png', '1.png', '2.png', '3.png', '4.png', '5.png', '6.png', '7.png', '8.png', '9.png']);
    assert.equal(pictures[3].url, '/api/models/digits/examples/3.png');
    assert.equal(pictures[3].media_type, 'image/png');
    const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits/samples.json'), 'utf8')) as Array<{ label: number; image: unknown }>;
    const tensors = examples.filter((e: { kind: string }) => e.kind === 'tensors');
    assert.equal(tensors.length, samples.length);
    assert.deepEqual(tensors[3], { name: 'sample 4 (3)', kind: 'tensors', target: 'infer', inputs: { image: samples[3]!.image }, expected: { label: 3 } });
  });

  test('serves an example file; names outside the examples folder are not found', async () => {
    const picture = await app.inject({ method: 'GET', url: '/api/models/digits/examples/3.png' });
    assert.equal(picture.statusCode, 200);
    assert.equal(picture.headers['content-type'], 'image/png');
    assert.deepEqual(picture.rawPayload, await readFile(join(EXAMPLES, 'digits/examples/3.png')));
    for (const name of ['..%2Fconfig.yaml', '..%2F..%2Fdigits%2Fconfig.yaml', '.hidden', 'nope.png']) {
      const reply = await app.inject({ method: 'GET', url: `/api/models/digits/examples/${name}` });
      assert.equal(reply.statusCode, 404, name);
      assert.equal(reply.json().code, 'ROUTE_NOT_FOUND');
    }
  });

  test('a model without examples has none; an unknown model is a 404 naming the served ones', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/api/models/simple/examples' })).json(), { examples: [] });
    const missing = await app.inject({ method: 'GET', url: '/api/models/nope/examples' });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().error, /unknown model 'nope'; serving: digits, simple/);
  });
});
