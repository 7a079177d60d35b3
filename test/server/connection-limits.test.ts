import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { applyConnectionLimits, connectionServerOptions } from '../../src/server/connection-limits.js';

let app: FastifyInstance;
let port: number;

before(async () => {
  const limits = { maxConnections: 3, requestTimeoutMs: 1500, headersTimeoutMs: 1000, keepAliveTimeoutMs: 1000 };
  app = Fastify(connectionServerOptions(limits));
  applyConnectionLimits(app.server, limits);
  app.post('/echo', async (request) => ({ bytes: JSON.stringify(request.body).length }));
  app.get('/', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
});
after(() => app.close());

/** Opens a raw connection, writes `text`, and collects what the server sends until it closes the connection. */
function rawExchange(text: string): Promise<{ received: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ received, socket }));
  });
}

test('a body that stops arriving is cut at the request timeout with 408', async () => {
  // Headers and 1 byte of a 100-byte body, then nothing, as a client trickling its body would.
  const { received } = await rawExchange('POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
  assert.match(received, /^HTTP\/1\.1 408 Request Timeout/);
});

test('headers that stop arriving are cut at the headers timeout with 408', async () => {
  const { received } = await rawExchange('GET / HTTP/1.1\r\nhost: x\r\n');
  assert.match(received, /^HTTP\/1\.1 408 Request Timeout/);
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const { received } = await rawExchange('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.match(received, /^HTTP\/1\.1 200 OK/);
  assert.match(received, /keep-alive: timeout=1/i);
});

test('connections beyond the limit are closed at accept; the ones within it are served', async () => {
  const open: Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    open.push(socket);
  }
  // The server counts a connection once it has accepted it: wait until it holds all three.
  while ((await new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n)))) < 3) await new Promise((r) => setTimeout(r, 10));
  const { received } = await rawExchange('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.equal(received, '', 'the fourth connection is closed without an answer');
  for (const socket of open) socket.destroy();
  while ((await new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n)))) > 0) await new Promise((r) => setTimeout(r, 10));
  const served = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(served.status, 200);
});
