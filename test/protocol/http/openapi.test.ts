import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../../src/server/http-server.js';
import { inferRequestSchema, tfPredictRequestSchema } from '../../../src/protocol/http/openapi/schemas.js';
import { Slipway } from '../../../src/slipway.js';
import { EXAMPLES } from '../../helpers/paths.js';

let slipway: Slipway;
let app: FastifyInstance;
const registered: string[] = [];

before(async () => {
  slipway = await Slipway.open({ models: `${EXAMPLES}/digits`, cores: 1 });
  app = createHttpServer(slipway, { vertexPredictRoute: '/vertex/predict', vertexHealthRoute: '/vertex/health' });
  // Plugins register their routes when the app boots, so this hook sees every one of them.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') registered.push(`${method.toLowerCase()} ${route.url}`);
  });
  await app.ready();
});
after(async () => {
  await app.close();
  await slipway.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document is checked field by field
async function documentOf(): Promise<any> {
  const reply = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(reply.statusCode, 200);
  return reply.json();
}

/** The Fastify form of a documented path; TF Serving's paths are served by one wildcard route. */
function fastifyPath(path: string): string {
  if (path.startsWith('/v1/models/')) return '/v1/models/*';
  return path.replace(/\{(\w+)\}/g, ':$1');
}

describe('OpenAPI document', () => {
  test('is OpenAPI 3 and documents every route the server registers, and nothing else', async () => {
    const doc = await documentOf();
    assert.equal(doc.openapi, '3.0.3');
    const documented = new Set(Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${fastifyPath(path)}`)));
    const served = new Set(registered);
    assert.deepEqual([...served].filter((r) => !documented.has(r)), [], 'registered but not documented');
    assert.deepEqual([...documented].filter((r) => !served.has(r)), [], 'documented but not registered');
  });

  test('bodies come from the zod schemas the routes validate with', async () => {
    const doc = await documentOf();
    const infer = doc.paths['/v2/models/{model}/infer'].post;
    const schema = infer.requestBody.content['application/json'].schema;
    assert.deepEqual(schema.required, ['inputs']);
    assert.deepEqual(schema.properties.inputs.items.properties.datatype.enum, inferRequestSchema.shape.inputs.element.shape.datatype.options);
    assert.ok(infer.requestBody.content['application/octet-stream'], 'binary tensor data is documented');
    assert.ok(infer.responses['400'].content['application/json'].schema.properties.error);
    assert.deepEqual(Object.keys(doc.paths['/v1/models/{model}:predict'].post.requestBody.content['application/json'].schema.properties).sort(), Object.keys(tfPredictRequestSchema.shape).sort());
    assert.deepEqual(doc.paths['/v2/repository/models/{model}/load'].post.security, [{ adminToken: [] }]);
    assert.deepEqual(doc.paths['/v2/models/{model}/versions/{version}/infer'].post.parameters.map((p: { name: string }) => p.name), ['model', 'version']);
  });

  test("the schemas' examples are requests the server accepts", async () => {
    const doc = await documentOf();
    const example = doc.paths['/v2/models/{model}/infer'].post.requestBody.content['application/json'].schema.example;
    assert.ok(inferRequestSchema.safeParse(example).success);
  });

  test('/docs serves Swagger UI from the package (no CDN), pointing at /openapi.json', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.match(page.body, /url: 'openapi.json'/);
    assert.doesNotMatch(page.body, /https?:\/\//);
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
      const reply = await app.inject({ method: 'GET', url: `/docs/${asset}` });
      assert.equal(reply.statusCode, 200);
      assert.ok(reply.body.length > 10_000);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/docs/..%2Fpackage.json' })).statusCode, 404);
  });
});
