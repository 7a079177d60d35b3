import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { AccessKeys } from '../../../src/protocol/access/access-keys.js';
import { RateLimiter } from '../../../src/protocol/access/rate-limiter.js';
import { InflightBudget } from '../../../src/scheduler/inflight-budget.js';
import { createHttpServer, type HttpServerOptions } from '../../../src/server/http-server.js';
import { Slipway } from '../../../src/slipway.js';
import { SqliteFeedbackStore } from '../../../src/ui/feedback/sqlite-feedback-store.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { TEST_MODELS } from '../../helpers/paths.js';

// Access control over real HTTP: keys per route group, the Host allow-list, same-origin writes, the
// UI's sign-in cookie, CORS and rate limits, each on an in-process server on an ephemeral port.

const INFERENCE_KEY = 'inference-key-0001';
const UI_KEY = 'ui-key-000000001';
const ADMIN_TOKEN = 'admin-token-00001';

let slipway: Slipway;
let store: SqliteFeedbackStore;
let dir: string;
const apps: FastifyInstance[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-http-access-'));
  store = SqliteFeedbackStore.open(join(dir, 'feedback.db'));
  slipway = await Slipway.open({ models: [join(TEST_MODELS, 'simple')], cores: 1 });
});
after(async () => {
  for (const app of apps) await app.close();
  await slipway.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(options: HttpServerOptions): Promise<string> {
  const app = createHttpServer(slipway, { ui: { feedback: store }, ...options });
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read the JSON field by field
  body: any;
}

/** node:http rather than fetch: the tests set Host, Origin, Sec-Fetch-Site and Cookie themselves. */
function send(url: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}${path}`,
      { method: options.method ?? 'GET', headers: { ...(body !== undefined && typeof options.body !== 'string' && { 'content-type': 'application/json' }), ...options.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode!, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const INFER = {
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, () => 1) },
  ],
};

const FLAG = { model: 'simple', api: 'infer', label: 'wrong', input: { x: 1 }, output: { y: 2 } };

describe('API keys per route group', () => {
  let url: string;
  before(async () => {
    url = await start({ access: new AccessKeys({ keys: { inference: [INFERENCE_KEY], ui: [UI_KEY], admin: [ADMIN_TOKEN] } }) });
  });

  test('inference needs a key: 401 without or with a wrong one, 200 with Bearer or x-api-key', async () => {
    const none = await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER });
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'UNAUTHENTICATED');
    assert.match(none.body.error, /need an API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'/);
    assert.equal((await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER, headers: { authorization: 'Bearer wrong-key-00000' } })).status, 401);
    assert.equal((await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER, headers: { authorization: `Bearer ${INFERENCE_KEY}` } })).status, 200);
    assert.equal((await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER, headers: { 'x-api-key': INFERENCE_KEY } })).status, 200);
    assert.equal((await send(url, '/v2/models/simple', { headers: { 'x-api-key': UI_KEY } })).status, 200, 'a UI key opens inference too');
  });

  test('probes, docs and the UI pages stay open', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready', '/metrics', '/openapi.json']) assert.equal((await send(url, path)).status, 200, path);
    assert.equal((await send(url, '/flags')).status, 200);
    assert.equal((await send(url, '/', { headers: { accept: 'text/html' } })).status, 200);
  });

  test('a route no table names is guarded as inference: no route list leaks to callers without a key', async () => {
    assert.equal((await send(url, '/no/such/route')).status, 401);
    assert.equal((await send(url, '/no/such/route', { headers: { 'x-api-key': INFERENCE_KEY } })).status, 404);
  });

  test('feedback reads need a UI (or admin) key; an inference key is 403', async () => {
    assert.equal((await send(url, '/api/feedback')).status, 401);
    const inference = await send(url, '/api/feedback/export', { headers: { 'x-api-key': INFERENCE_KEY } });
    assert.equal(inference.status, 403);
    assert.match(inference.body.error, /opens the inference routes only/);
    assert.equal((await send(url, '/api/feedback', { headers: { 'x-api-key': UI_KEY } })).status, 200);
    assert.equal((await send(url, '/api/feedback', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
  });

  test('flagging needs an inference key (whoever may ask may flag)', async () => {
    assert.equal((await send(url, '/api/feedback', { method: 'POST', body: FLAG })).status, 401);
    assert.equal((await send(url, '/api/feedback', { method: 'POST', body: FLAG, headers: { 'x-api-key': INFERENCE_KEY } })).status, 201);
  });

  test('admin routes need the admin token; a UI key is 403', async () => {
    assert.equal((await send(url, '/v2/repository/models/simple/load', { method: 'POST', headers: { 'x-api-key': UI_KEY } })).status, 403);
    assert.equal((await send(url, '/v2/repository/models/simple/load', { method: 'POST' })).status, 401);
    assert.equal((await send(url, '/v2/repository/models/simple/load', { method: 'POST', headers: { 'x-api-key': ADMIN_TOKEN } })).status, 200);
  });

  test('sign-in: a wrong key is 401; a right one sets an HttpOnly SameSite=Strict cookie that opens feedback reads; sign-out clears it', async () => {
    const state = await send(url, '/api/session');
    assert.deepEqual(state.body, { signed_in: false, group: null, key_required: { inference: true, ui: true } });
    assert.equal((await send(url, '/api/session', { method: 'POST', body: { key: 'wrong-key-0000' } })).status, 401);
    assert.equal((await send(url, '/api/session', { method: 'POST', body: {} })).status, 400);
    const signed = await send(url, '/api/session', { method: 'POST', body: { key: UI_KEY } });
    assert.equal(signed.status, 200);
    assert.equal(signed.body.group, 'ui');
    const setCookie = String(signed.headers['set-cookie']);
    assert.match(setCookie, /^slipway_key=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const cookie = setCookie.split(';', 1)[0]!;
    assert.equal((await send(url, '/api/feedback', { headers: { cookie } })).status, 200);
    assert.equal((await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER, headers: { cookie } })).status, 200);
    assert.equal((await send(url, '/api/session', { headers: { cookie } })).body.signed_in, true);
    // The cookie never opens admin routes: a browser sends it by itself.
    const adminCookie = String((await send(url, '/api/session', { method: 'POST', body: { key: ADMIN_TOKEN } })).headers['set-cookie']).split(';', 1)[0]!;
    assert.equal((await send(url, '/v2/repository/models/simple/load', { method: 'POST', headers: { cookie: adminCookie } })).status, 401);
    const out = await send(url, '/api/session', { method: 'DELETE' });
    assert.match(String(out.headers['set-cookie']), /^slipway_key=; .*Max-Age=0/);
  });
});

describe('feedback reads with no keys configured', () => {
  test('are open (a loopback server started without keys)', async () => {
    const url = await start({});
    assert.equal((await send(url, '/api/feedback')).status, 200);
    assert.equal((await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER })).status, 200);
  });
});

describe('Host allow-list and same-origin writes (DNS rebinding, cross-site POSTs)', () => {
  let url: string;
  before(async () => {
    url = await start({ allowedHosts: ['models.example.com'] });
  });

  test('the UI and feedback API answer IP literals, localhost and allowed names only', async () => {
    const port = new URL(url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'app.localhost', 'models.example.com', 'MODELS.example.com:8443']) {
      assert.equal((await send(url, '/api/feedback', { headers: { host } })).status, 200, host);
    }
    for (const path of ['/api/feedback', '/api/feedback/export', '/flags', '/ui/app.js', '/api/session']) {
      const rebound = await send(url, path, { headers: { host: `attacker.example:${port}` } });
      assert.equal(rebound.status, 403, path);
      assert.equal(rebound.body.code, 'HOST_NOT_ALLOWED');
      assert.match(rebound.body.error, /host 'attacker\.example' is not allowed .* --allowed-host attacker\.example/);
    }
    assert.equal((await send(url, '/', { headers: { host: 'attacker.example', accept: 'text/html' } })).status, 403);
    // Inference is not the UI: a load balancer's name reaches it whatever the list says.
    assert.equal((await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER, headers: { host: 'attacker.example' } })).status, 200);
    assert.equal((await send(url, '/v2/health/live', { headers: { host: 'attacker.example' } })).status, 200);
  });

  test('flag POSTs from another site are refused, by Origin or Sec-Fetch-Site; same-origin and non-browser ones pass', async () => {
    const host = new URL(url).host;
    const before = await store.countFlags({});
    const refused: Array<Record<string, string>> = [
      { origin: 'http://attacker.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: `http://${host}` },
    ];
    for (const headers of refused) {
      // What a cross-site <form enctype="multipart/form-data"> sends.
      const boundary = 'x-boundary';
      const body = `--${boundary}\r\nContent-Disposition: form-data; name="flag"\r\n\r\n${JSON.stringify(FLAG)}\r\n--${boundary}--\r\n`;
      const reply = await send(url, '/api/feedback', { method: 'POST', body, headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` } });
      assert.equal(reply.status, 403, JSON.stringify(headers));
      assert.equal(reply.body.code, 'CROSS_SITE_REQUEST');
    }
    assert.equal(await store.countFlags({}), before, 'no flag was stored');
    assert.equal((await send(url, '/api/feedback', { method: 'POST', body: FLAG, headers: { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' } })).status, 201);
    assert.equal((await send(url, '/api/feedback', { method: 'POST', body: FLAG })).status, 201);
    assert.equal((await send(url, '/api/session', { method: 'POST', body: { key: 'x-x-x-x-x' }, headers: { origin: 'http://attacker.example' } })).body.code, 'CROSS_SITE_REQUEST');
  });

  test('* allows any host name', async () => {
    const any = await start({ allowedHosts: ['*'] });
    assert.equal((await send(any, '/api/feedback', { headers: { host: 'anything.example' } })).status, 200);
  });
});

describe('CORS (--cors-origin) for browsers calling inference', () => {
  let url: string;
  const ORIGIN = 'https://app.example.com';
  before(async () => {
    url = await start({ corsOrigins: [ORIGIN], access: new AccessKeys({ keys: { inference: [INFERENCE_KEY] } }) });
  });

  test('a preflight for inference allows the key headers and credentials', async () => {
    const preflight = await send(url, '/v2/models/simple/infer', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
    assert.match(String(preflight.headers['access-control-allow-headers']), /x-api-key/);
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  });

  test('a refused call still carries CORS headers, so the page can read the 401', async () => {
    const refused = await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER, headers: { origin: ORIGIN } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['access-control-allow-origin'], ORIGIN);
    const allowed = await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER, headers: { origin: ORIGIN, authorization: `Bearer ${INFERENCE_KEY}` } });
    assert.equal(allowed.status, 200);
    assert.match(String(allowed.headers['access-control-expose-headers']), /retry-after/);
  });

  test('the UI, feedback API and sign-in are never opened to other origins', async () => {
    for (const path of ['/api/feedback', '/api/session']) {
      const preflight = await send(url, path, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined, path);
      const read = await send(url, path, { headers: { origin: ORIGIN } });
      assert.equal(read.headers['access-control-allow-origin'], undefined, path);
    }
  });

  test('an origin not listed gets no CORS headers', async () => {
    const other = await send(url, '/v2/models/simple', { headers: { origin: 'https://other.example' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });
});

describe('rate limits (--rate-limit)', () => {
  let url: string;
  before(async () => {
    // 1 per 100 s: nothing refills during the test, whatever the machine's speed.
    url = await start({ rateLimiter: new RateLimiter({ ratePerSecond: 0.01, burst: 2 }), access: new AccessKeys({ keys: { inference: [INFERENCE_KEY, 'inference-key-0002'] }, require: { inference: false } }) });
  });

  test('a client address gets its burst, then 429 with Retry-After and RateLimit-* headers', async () => {
    const first = await send(url, '/v2/models/simple');
    assert.equal(first.status, 200);
    assert.equal(first.headers['ratelimit-limit'], '2');
    assert.equal(first.headers['ratelimit-remaining'], '1');
    assert.equal((await send(url, '/v2/models/simple')).status, 200);
    const refused = await send(url, '/v2/models/simple/infer', { method: 'POST', body: INFER });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, 'RATE_LIMITED');
    assert.match(refused.body.error, /rate limit exceeded: 0\.01 requests\/s \(burst 2\) per client address/);
    assert.equal(refused.headers['retry-after'], '100');
    assert.equal(refused.headers['ratelimit-remaining'], '0');
  });

  test('each key has its own bucket; probes are never limited', async () => {
    for (const key of [INFERENCE_KEY, 'inference-key-0002']) {
      assert.equal((await send(url, '/v2/models/simple', { headers: { 'x-api-key': key } })).status, 200);
      assert.equal((await send(url, '/v2/models/simple', { headers: { 'x-api-key': key } })).status, 200);
      assert.equal((await send(url, '/v2/models/simple', { headers: { 'x-api-key': key } })).status, 429);
    }
    for (let i = 0; i < 5; i++) assert.equal((await send(url, '/v2/health/ready')).status, 200);
  });
});

/** Records every charge against it, and the most it ever held. */
class WatchedBudget extends InflightBudget {
  charges = 0;
  peakBytes = 0;
  override tryAcquire(bytes: number): boolean {
    this.charges++;
    const taken = super.tryAcquire(bytes);
    this.peakBytes = Math.max(this.peakBytes, this.inUseBytes);
    return taken;
  }
}

describe('access before the in-flight memory budget', () => {
  test('a request without a valid key is refused (401) before it is charged: it never takes budget from others', async () => {
    const body = JSON.stringify(INFER);
    // Room for one such request (12× its JSON body) and no more.
    const budget = new WatchedBudget(Buffer.byteLength(body) * 12 + 100);
    const url = await start({ inflightBudget: budget, access: new AccessKeys({ keys: { inference: [INFERENCE_KEY] } }) });
    // A client without a key that announces a body and never sends it: refused at once, uncharged.
    const held = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${url}/v2/models/simple/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-api-key': 'wrong-key-00000001' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(held, 401);
    assert.equal((await send(url, '/v2/models/simple/infer', { method: 'POST', body })).status, 401, 'no key at all');
    assert.equal(budget.charges, 0, 'the unauthenticated requests were never charged');
    assert.equal(budget.peakBytes, 0);
    const ok = await send(url, '/v2/models/simple/infer', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-api-key': INFERENCE_KEY } });
    assert.equal(ok.status, 200);
    assert.equal(budget.charges, 1, 'a request with the key is charged');
  });
});

describe('the request log', () => {
  test("names the key a request presented by its id, never the key", async () => {
    const { logger, lines } = captureLogger();
    const logged = await Slipway.open({ models: [join(TEST_MODELS, 'simple')], cores: 1, logger });
    const app = createHttpServer(logged, { access: new AccessKeys({ keys: { ui: [UI_KEY] } }) });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      assert.equal((await send(url, '/v2/models/simple', { headers: { 'x-api-key': UI_KEY } })).status, 200);
      assert.equal((await send(url, '/v2/models/simple')).status, 200);
      const requests = lines.filter((l) => l.msg === 'request' && l.url === '/v2/models/simple');
      assert.equal(requests.length, 2);
      assert.match(String(requests[0]!.key), /^ui:[0-9a-f]{12}$/);
      assert.equal(requests[1]!.key, undefined);
      assert.ok(!JSON.stringify(lines).includes(UI_KEY));
    } finally {
      await app.close();
      await logged.close();
    }
  });
});
