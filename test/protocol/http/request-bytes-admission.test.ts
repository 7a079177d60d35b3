import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { InflightBudget } from '../../../src/scheduler/inflight-budget.js';
import { admitRequestBytes, BINARY_PEAK_PER_BODY_BYTE, JSON_PEAK_PER_BODY_BYTE } from '../../../src/protocol/http/request-bytes-admission.js';
import { sendError } from '../../../src/protocol/http/error-reply.js';

// Bodies of 1000 bytes: a JSON one is expected to hold 12,000 at its peak, so a 20,000 budget takes one.
const budget = new InflightBudget(20_000);
let app: FastifyInstance;
let base: string;
/** Requests to /hold wait here until released, so that they stay in flight. */
const held: Array<() => void> = [];
let bodiesRead = 0;

before(async () => {
  app = Fastify();
  admitRequestBytes(app, budget);
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    bodiesRead++;
    done(null, body);
  });
  app.post('/hold', async (request) => {
    await new Promise<void>((resolve) => held.push(resolve));
    return { bytes: (request.body as Buffer).length };
  });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(() => app.close());

/** Waits until `condition` holds, checking every 10 ms (the server works on this same thread). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('a request that does not fit the budget gets 429 with Retry-After, its body unread; the budget is given back after each answer', async () => {
  const first = fetch(`${base}/hold`, { method: 'POST', body: Buffer.alloc(1000, 1) });
  await until(() => held.length === 1);
  assert.equal(budget.inUseBytes, 1000 * JSON_PEAK_PER_BODY_BYTE);
  const readBefore = bodiesRead;
  const refused = await fetch(`${base}/hold`, { method: 'POST', body: Buffer.alloc(1000, 2) });
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('retry-after'), '1');
  const body = (await refused.json()) as { error: string; code: string };
  assert.equal(body.code, 'MEMORY_BUDGET_EXCEEDED');
  assert.match(body.error, /max_inflight_bytes = 20000/);
  assert.equal(bodiesRead, readBefore, 'the refused body was never parsed');
  held.shift()!();
  assert.equal((await first).status, 200);
  await until(() => budget.inUseBytes === 0);
  // With the first one answered, the same request fits.
  const again = fetch(`${base}/hold`, { method: 'POST', body: Buffer.alloc(1000, 3) });
  await until(() => held.length === 1);
  held.shift()!();
  assert.equal((await again).status, 200);
  await until(() => budget.inUseBytes === 0);
});

test('a binary-tensor body is expected to hold less than a JSON one', async () => {
  const first = fetch(`${base}/hold`, { method: 'POST', body: Buffer.alloc(1000), headers: { 'inference-header-content-length': '10' } });
  await until(() => held.length === 1);
  assert.equal(budget.inUseBytes, 1000 * BINARY_PEAK_PER_BODY_BYTE);
  held.shift()!();
  await first;
  await until(() => budget.inUseBytes === 0);
});

test('a chunked body (no content-length) is counted as it arrives and refused once it no longer fits', async () => {
  const first = fetch(`${base}/hold`, { method: 'POST', body: Buffer.alloc(1000, 1) });
  await until(() => held.length === 1);
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${base}/hold`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write(Buffer.alloc(400));
    req.end(Buffer.alloc(400));
  });
  assert.equal(status, 429);
  held.shift()!();
  await first;
  await until(() => budget.inUseBytes === 0);
});

test('a client that goes away mid-request gives its bytes back', async () => {
  const controller = new AbortController();
  const aborted = fetch(`${base}/hold`, { method: 'POST', body: Buffer.alloc(1000), signal: controller.signal }).catch(() => 'aborted');
  await until(() => held.length === 1);
  controller.abort();
  assert.equal(await aborted, 'aborted');
  await until(() => budget.inUseBytes === 0);
  held.shift()!();
});
