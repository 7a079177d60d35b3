import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import { AccessKeys } from '../../../src/protocol/access/access-keys.js';
import { createHttpServer } from '../../../src/server/http-server.js';
import { Slipway } from '../../../src/slipway.js';
import { ROOT, TEST_MODELS } from '../../helpers/paths.js';

// The bundle's server fallback (src/edge/web/server-client.ts, browser code built by esbuild) run
// in Node against a real server whose inference needs a key: fetch, FormData and URL are the same.

const KEY = 'edge-fallback-key-01';
const BODY = {
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from({ length: 16 }, (_, i) => i) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Int32Array(16).fill(1) },
  ],
};

interface EdgeErrorLike extends Error {
  code: string;
  status?: number;
  ranOn: string;
}
type ServerClientClass = new (base: URL, model: string, apiKey?: string | (() => string | undefined | Promise<string | undefined>)) => {
  infer(body: object): Promise<{ outputs: Array<{ name: string; data: number[] }> }>;
};

let dir: string;
let slipway: Slipway;
let app: FastifyInstance;
let base: URL;
let ServerClient: ServerClientClass;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-edge-client-'));
  const out = join(dir, 'server-client.mjs');
  await build({ entryPoints: [join(ROOT, 'src/edge/web/server-client.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'silent' });
  ({ ServerClient } = (await import(pathToFileURL(out).href)) as { ServerClient: ServerClientClass });
  slipway = await Slipway.open({ models: join(TEST_MODELS, 'simple'), cores: 1 });
  app = createHttpServer(slipway, { access: new AccessKeys({ keys: { inference: [KEY] }, require: { inference: true } }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = new URL(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`);
});
after(async () => {
  await app.close();
  await slipway.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the edge fallback client with an API key', () => {
  test('without a key, a 401 becomes an error that says how to give one', async () => {
    const client = new ServerClient(base, 'simple');
    await assert.rejects(client.infer(BODY), (error: EdgeErrorLike) => {
      assert.equal(error.name, 'EdgeError');
      assert.equal(error.status, 401);
      assert.equal(error.code, 'UNAUTHENTICATED');
      assert.equal(error.ranOn, 'server');
      assert.match(error.message, /needs an API key for inference \(401: .*need an API key.*\): pass load\(\{ apiKey \}\) a per-user token/);
      return true;
    });
  });

  test('a key given as a string is sent as a bearer token', async () => {
    const answer = await new ServerClient(base, 'simple', KEY).infer(BODY);
    assert.deepEqual(answer.outputs.find((o) => o.name === 'OUTPUT0')?.data.slice(0, 3), [1, 2, 3]);
  });

  test('a key getter is called before every call (a token that is refreshed)', async () => {
    let calls = 0;
    const client = new ServerClient(base, 'simple', async () => {
      calls++;
      return KEY;
    });
    await client.infer(BODY);
    await client.infer(BODY);
    assert.equal(calls, 2);
  });

  test('a wrong key is reported as refused, not as missing', async () => {
    await assert.rejects(new ServerClient(base, 'simple', 'not-the-right-key').infer(BODY), (error: EdgeErrorLike) => {
      assert.equal(error.status, 401);
      assert.match(error.message, /refused the API key given to load\(\{ apiKey \}\) \(401: the API key is wrong/);
      return true;
    });
  });

  test('a getter that throws is reported as such, before anything is sent', async () => {
    await assert.rejects(
      new ServerClient(base, 'simple', () => {
        throw new Error('token service down');
      }).infer(BODY),
      /the apiKey function given to load\(\) failed: token service down/,
    );
  });
});
