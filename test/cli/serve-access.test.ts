import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveServerConfig } from '../../src/config/server-config.js';
import { isLoopbackHost, serverAccess } from '../../src/server/server-access.js';
import { runCli, simpleRepositoryFixture } from '../helpers/cli-server.js';
import { requireCommand } from '../helpers/requirements.js';

// `slipway serve` with access control: a UI key generated beyond loopback, keys files, TLS and rate
// limits from flags and environment, and the options' validation.

const fixture = simpleRepositoryFixture('slipway-serve-access-');
const { serve } = fixture;

/** GET over https trusting `ca` (fetch cannot be given a CA). */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const config = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => resolveServerConfig({ models: [fixture.repository], ...flags }, env);

describe('server access settings', () => {
  test('loopback is 127.0.0.0/8, ::1 and localhost', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'models.example.com']) assert.equal(isLoopbackHost(host), false, host);
  });

  test('on loopback without keys everything but admin is open, and no key is made up', () => {
    const access = serverAccess(config({}));
    assert.equal(access.keys.required('inference'), false);
    assert.equal(access.keys.required('ui'), false);
    assert.equal(access.generatedUiKey, undefined);
  });

  test('beyond loopback feedback reads need a key: one is generated unless a UI or admin key is given, or --open-feedback', () => {
    const generated = serverAccess(config({ host: '0.0.0.0' }), () => 'ui-generated-key');
    assert.equal(generated.generatedUiKey, 'ui-generated-key');
    assert.equal(generated.keys.required('ui'), true);
    assert.equal(generated.keys.required('inference'), false, 'inference stays open');
    assert.equal(generated.keys.identify('ui-generated-key')?.group, 'ui');
    assert.equal(serverAccess(config({ host: '0.0.0.0', ui_keys: ['ui-key-000001'] })).generatedUiKey, undefined);
    assert.equal(serverAccess(config({ host: '0.0.0.0', admin_token: 'admin-token-1' })).generatedUiKey, undefined);
    const open = serverAccess(config({ host: '0.0.0.0', open_feedback: true }));
    assert.equal(open.keys.required('ui'), false);
    assert.equal(open.generatedUiKey, undefined);
    assert.equal(serverAccess(config({ host: '0.0.0.0', ui: false })).generatedUiKey, undefined, 'no UI, nothing to sign in to');
  });

  test('allowed host names: --allowed-host, plus --host when it names a host', () => {
    assert.deepEqual(serverAccess(config({ allowed_hosts: ['ui.example.com'] })).allowedHosts, ['ui.example.com']);
    assert.deepEqual(serverAccess(config({ host: 'Models.LAN', open_feedback: true })).allowedHosts, ['models.lan']);
    assert.deepEqual(serverAccess(config({ host: '0.0.0.0', open_feedback: true })).allowedHosts, []);
    assert.deepEqual(serverAccess(config({ host: '[::1]' })).allowedHosts, []);
  });

  test('keys from flags, environment (comma-separated) and a keys file add up', async () => {
    const file = join(fixture.dir, 'keys.txt');
    await writeFile(file, '# mounted from a Secret\ninference file-inference-key\nadmin file-admin-key\n');
    const access = serverAccess(config({ api_keys: ['flag-inference-key'], keys_file: file }, { SLIPWAY_UI_KEYS: 'env-ui-key-1, env-ui-key-2' }));
    assert.equal(access.keys.identify('flag-inference-key')?.group, 'inference');
    assert.equal(access.keys.identify('file-inference-key')?.group, 'inference');
    assert.equal(access.keys.identify('env-ui-key-2')?.group, 'ui');
    assert.equal(access.keys.identify('file-admin-key')?.group, 'admin');
    assert.equal(access.keys.required('inference'), true);
  });

  test('rate limits: the rate from text, burst one second of it unless given', () => {
    assert.deepEqual(serverAccess(config({ rate_limit: '6000/min' })).rateLimiter?.limit, { ratePerSecond: 100, burst: 100 });
    assert.deepEqual(serverAccess(config({}, { SLIPWAY_RATE_LIMIT: '1/h', SLIPWAY_RATE_LIMIT_BURST: '5' })).rateLimiter?.limit, { ratePerSecond: 1 / 3600, burst: 5 });
  });

  test('bad options are reported with the option they concern', async () => {
    assert.throws(() => config({ api_keys: ['short'] }), /api_keys\.0: use keys of at least 8 characters/);
    assert.throws(() => config({ rate_limit: 'fast' }), /rate_limit: expected a rate such as 100\/s or 6000\/min, got 'fast'/);
    assert.throws(() => config({ allowed_hosts: ['http://x.example'] }), /allowed_hosts\.0: expected a host name/);
    assert.throws(() => config({ tls_cert: 'cert.pem' }), /tls_key: give the certificate \(--tls-cert\) and the private key \(--tls-key\) together/);
    assert.throws(() => serverAccess(config({ keys_file: join(fixture.dir, 'missing.txt') })), /keys_file: cannot read .*missing\.txt/);
    await writeFile(join(fixture.dir, 'not-pem.txt'), 'hello');
    assert.throws(() => serverAccess(config({ tls_cert: join(fixture.dir, 'not-pem.txt'), tls_key: join(fixture.dir, 'not-pem.txt') })), /tls_cert: .*not-pem\.txt is not a PEM file/);
  });
});

describe('slipway serve with access control', () => {
  test('beyond loopback: the banner prints a generated UI key; feedback reads need it, inference stays open', async () => {
    const server = await serve([fixture.repository, '--no-grpc', '--host', '0.0.0.0']);
    const key = /Generated UI key \(feedback reads need one beyond loopback\): (\S+)/.exec(server.output())?.[1];
    assert.ok(key, server.output());
    assert.match(server.output(), /Access: inference is open; feedback reads need a UI key; admin is off/);
    assert.match(server.output(), /--ui-key \/ SLIPWAY_UI_KEYS/);
    assert.equal((await fetch(`${server.url}/api/feedback`)).status, 401);
    assert.equal((await fetch(`${server.url}/api/feedback`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    assert.equal((await fetch(`${server.url}/v2/models/simple`)).status, 200);
  });

  test('--processes 2 beyond loopback: every process accepts the one generated key', async () => {
    const server = await serve([fixture.repository, '--no-grpc', '--host', '0.0.0.0', '--processes', '2']);
    const key = /Generated UI key[^:]*: (\S+)/.exec(server.output())?.[1];
    assert.ok(key, server.output());
    // New connections each time: the kernel spreads them over both processes.
    for (let i = 0; i < 6; i++) {
      const reply = await fetch(`${server.url}/api/feedback`, { headers: { 'x-api-key': key, connection: 'close' } });
      assert.equal(reply.status, 200);
    }
  });

  test('--tls-cert/--tls-key: https in the banner and on the wire', requireCommand('openssl', ['version']), async () => {
    const cert = join(fixture.dir, 'cert.pem');
    const key = join(fixture.dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = await serve([fixture.repository, '--tls-cert', cert, '--tls-key', key, '--api-key', 'cli-inference-key', '--metrics-port', '0']);
    assert.match(server.url, /^https:/);
    assert.match(server.output(), /gRPC .* on 127\.0\.0\.1:\d+ \(TLS\)/);
    assert.match(server.output(), /Access: inference needs an API key; feedback reads need a UI key/);
    const ca = readFileSync(cert);
    assert.equal((await httpsGet(`${server.url}/v2/models/simple`, ca, { 'x-api-key': 'cli-inference-key' })).status, 200);
    // The metrics port is https too, with the same certificate (what a `scheme: https` scrape job expects).
    const metrics = /Prometheus metrics on (https:\/\/\S+)\/metrics/.exec(server.output())?.[1];
    assert.ok(metrics, server.output());
    const scraped = await httpsGet(`${metrics}/metrics`, ca);
    assert.equal(scraped.status, 200);
    assert.match(scraped.body, /^# TYPE slipway_requests_total counter$/m);
    await assert.rejects(fetch(`${metrics.replace(/^https:/, 'http:')}/metrics`), 'plain http is not answered on the metrics port');
  });

  test('--metrics-tls off: the metrics port stays plain http while the serving port is https', requireCommand('openssl', ['version']), async () => {
    const cert = join(fixture.dir, 'cert-plain-metrics.pem');
    const key = join(fixture.dir, 'key-plain-metrics.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = await serve([fixture.repository, '--no-grpc', '--tls-cert', cert, '--tls-key', key, '--metrics-port', '0', '--metrics-tls', 'off']);
    assert.match(server.url, /^https:/);
    const metrics = /Prometheus metrics on (http:\/\/\S+)\/metrics/.exec(server.output())?.[1];
    assert.ok(metrics, server.output());
    const scraped = await fetch(`${metrics}/metrics`);
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /^# TYPE slipway_requests_total counter$/m);
  });

  test('--max-connections-per-ip: a second connection from the same address is closed at accept and counted', async () => {
    const server = await serve([fixture.repository, '--no-grpc', '--max-connections-per-ip', '1']);
    const { port } = new URL(server.url);
    const held = connect(Number(port), '127.0.0.1');
    try {
      // A request answered on the held connection: the server has counted it by then.
      held.write('GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n');
      await once(held, 'data');
      const second = connect(Number(port), '127.0.0.1', () => second.write('GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n'));
      let received = '';
      second.on('data', (chunk: Buffer) => (received += chunk.toString()));
      // A reset is a close too (the server destroys the socket at accept).
      await new Promise((resolve) => {
        second.on('error', () => undefined);
        second.on('close', resolve);
      });
      assert.equal(received, '', 'closed without an answer');
    } finally {
      held.destroy();
    }
    // Slots are per address: another loopback address gets through while 127.0.0.1's slot may still be
    // held (the server sees the close a moment later). Read from there, the count is exactly the one
    // refusal; retries from 127.0.0.1 before its slot is free would each be refused and counted too.
    const metrics = await new Promise<string>((resolve, reject) => {
      httpGet(`${server.url}/metrics`, { localAddress: '127.0.0.2', headers: { connection: 'close' } }, (reply) => {
        let text = '';
        reply.on('data', (chunk: Buffer) => (text += chunk.toString()));
        reply.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.match(metrics, /^slipway_connections_refused_total\{protocol="http",reason="per_ip"\} 1$/m);
    // And slots are freed on close: a fresh request from 127.0.0.1 (its own connection) gets through.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = await fetch(`${server.url}/v2/health/live`, { headers: { connection: 'close' } }).then(
        (reply) => reply.status,
        () => new Promise<number>((resolve) => setTimeout(() => resolve(0), 100)),
      );
    }
    assert.equal(status, 200);
  });

  test('a bad keys file stops the server before it starts, naming the line', async () => {
    const file = join(fixture.dir, 'bad-keys.txt');
    await writeFile(file, 'inference ok-key-123456\nroot secret-key-1234\n');
    const result = await runCli(['serve', fixture.repository, '--no-grpc', '--http-port', '0', '--keys-file', file]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /line 2: expected '<group> <key>' with group inference, ui or admin, got group 'root'/);
    assert.ok(!result.stderr.includes('secret-key-1234'));
  });
});
