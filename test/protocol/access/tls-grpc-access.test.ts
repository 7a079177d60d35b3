import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { SlipwayClientError } from '../../../src/client/client-error.js';
import { SlipwayGrpcClient } from '../../../src/client/grpc-client.js';
import { SlipwayHttpClient } from '../../../src/client/http-client.js';
import { AccessKeys } from '../../../src/protocol/access/access-keys.js';
import { RateLimiter } from '../../../src/protocol/access/rate-limiter.js';
import { GrpcServer } from '../../../src/protocol/grpc/grpc-server.js';
import { createHttpServer } from '../../../src/server/http-server.js';
import { Slipway } from '../../../src/slipway.js';
import { SqliteFeedbackStore } from '../../../src/ui/feedback/sqlite-feedback-store.js';
import { TEST_MODELS } from '../../helpers/paths.js';
import { requireCommand } from '../../helpers/requirements.js';

// TLS (https and gRPC over TLS with a self-signed certificate made here by openssl), API keys over
// gRPC from the typed clients, and gRPC rate limits.

const KEY = 'inference-key-0001';
const INPUTS = [
  { name: 'INPUT0', datatype: 'INT32' as const, shape: [1, 16], data: Int32Array.from({ length: 16 }, (_, i) => i) },
  { name: 'INPUT1', datatype: 'INT32' as const, shape: [1, 16], data: new Int32Array(16).fill(1) },
];

let dir: string;
let slipway: Slipway;
let store: SqliteFeedbackStore;
let cert: Buffer;
let key: Buffer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-tls-'));
  slipway = await Slipway.open({ models: [join(TEST_MODELS, 'simple')], cores: 1 });
  store = SqliteFeedbackStore.open(join(dir, 'feedback.db'));
});
after(async () => {
  await slipway.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS (--tls-cert/--tls-key) for HTTP and gRPC', requireCommand('openssl', ['version']), () => {
  let app: FastifyInstance;
  let grpc: GrpcServer;
  let url: string;
  let grpcAddress: string;

  before(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    cert = await readFile(join(dir, 'cert.pem'));
    key = await readFile(join(dir, 'key.pem'));
    const access = new AccessKeys({ keys: { inference: [KEY] } });
    app = createHttpServer(slipway, { tls: { cert, key }, access, ui: { feedback: store } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    grpc = new GrpcServer(slipway, { tls: { cert, key }, access });
    grpcAddress = `127.0.0.1:${await grpc.listen('127.0.0.1', 0)}`;
  });
  after(async () => {
    await app.close();
    await grpc.close(1000);
  });

  test('HTTP speaks https with the certificate; plain http to it fails', async () => {
    const live = await httpsGet(`${url}/v2/health/live`, cert);
    assert.equal(live.status, 200);
    assert.deepEqual(JSON.parse(live.body), { live: true });
    assert.equal((await httpsGet(`${url}/v2/models/simple`, cert, { 'x-api-key': KEY })).status, 200);
    await assert.rejects(fetch(`${url.replace('https:', 'http:')}/v2/health/live`));
  });

  test('over https the sign-in cookie is Secure', async () => {
    const signed = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${url}/api/session`, { ca: cert, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie']));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ key: KEY }));
    });
    assert.match(signed, /HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
  });

  test('gRPC speaks TLS; the typed client sends its apiKey as authorization metadata', async () => {
    const client = new SlipwayGrpcClient(grpcAddress, { credentials: credentials.createSsl(cert), apiKey: KEY, retries: 0 });
    const anonymous = new SlipwayGrpcClient(grpcAddress, { credentials: credentials.createSsl(cert), retries: 0 });
    try {
      assert.equal(await anonymous.live(), true, 'liveness is open');
      const result = await client.infer('simple', INPUTS);
      assert.deepEqual([...(result.output('OUTPUT0').data as Int32Array)].slice(0, 3), [1, 2, 3]);
      await assert.rejects(anonymous.infer('simple', INPUTS), (error: unknown) => {
        assert.ok(error instanceof SlipwayClientError);
        assert.equal(error.grpcCode, 16);
        assert.match(error.message, /inference routes need an API key/);
        return true;
      });
    } finally {
      client.close();
      anonymous.close();
    }
  });

  test('with a per-address connection limit (our listener in front of grpc-js), gRPC still speaks TLS', async () => {
    const limited = new GrpcServer(slipway, { tls: { cert, key }, maxConnectionsPerIp: 4 });
    const address = `127.0.0.1:${await limited.listen('127.0.0.1', 0)}`;
    const client = new SlipwayGrpcClient(address, { credentials: credentials.createSsl(cert), retries: 0 });
    const plain = new SlipwayGrpcClient(address, { retries: 0, timeoutMs: 3000 });
    try {
      const result = await client.infer('simple', INPUTS);
      assert.deepEqual([...(result.output('OUTPUT0').data as Int32Array)].slice(0, 3), [1, 2, 3]);
      await assert.rejects(plain.live());
    } finally {
      client.close();
      plain.close();
      await limited.close(1000);
    }
  });

  test('a plaintext gRPC client cannot talk to the TLS port', async () => {
    const plain = new SlipwayGrpcClient(grpcAddress, { retries: 0, timeoutMs: 3000 });
    try {
      await assert.rejects(plain.live());
    } finally {
      plain.close();
    }
  });
});

describe('API keys and rate limits over plaintext gRPC and the HTTP client', () => {
  let app: FastifyInstance;
  let grpc: GrpcServer;
  let url: string;
  let grpcAddress: string;

  before(async () => {
    const access = new AccessKeys({ keys: { inference: [KEY] } });
    // One limiter for both protocols: a key has one budget.
    const rateLimiter = new RateLimiter({ ratePerSecond: 0.01, burst: 3 });
    app = createHttpServer(slipway, { access, rateLimiter });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    grpc = new GrpcServer(slipway, { access, rateLimiter });
    grpcAddress = `127.0.0.1:${await grpc.listen('127.0.0.1', 0)}`;
  });
  after(async () => {
    await app.close();
    await grpc.close(1000);
  });

  test('the HTTP client sends apiKey; a key shares its budget across HTTP and gRPC; 429 / RESOURCE_EXHAUSTED beyond', async () => {
    const http = new SlipwayHttpClient(url, { apiKey: KEY, retries: 0 });
    const client = new SlipwayGrpcClient(grpcAddress, { apiKey: KEY, retries: 0 });
    try {
      await http.infer('simple', INPUTS);
      await client.infer('simple', INPUTS);
      await client.infer('simple', INPUTS);
      assert.equal(await client.live(), true, 'liveness is never limited');
      await assert.rejects(client.infer('simple', INPUTS), (error: unknown) => {
        assert.ok(error instanceof SlipwayClientError);
        assert.equal(error.grpcCode, 8);
        assert.equal(error.code, 'RATE_LIMITED');
        assert.match(error.message, /per key; retry in 100 s/);
        return true;
      });
      await assert.rejects(http.infer('simple', INPUTS), (error: unknown) => error instanceof SlipwayClientError && error.status === 429 && error.code === 'RATE_LIMITED');
    } finally {
      client.close();
    }
  });

  test('without a key, gRPC inference is UNAUTHENTICATED', async () => {
    const anonymous = new SlipwayGrpcClient(grpcAddress, { retries: 0 });
    try {
      await assert.rejects(anonymous.modelMetadata('simple'), (error: unknown) => error instanceof SlipwayClientError && error.grpcCode === 16);
    } finally {
      anonymous.close();
    }
  });
});
