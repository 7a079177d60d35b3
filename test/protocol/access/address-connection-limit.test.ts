import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { Slipway } from '../../../src/slipway.js';
import { createHttpServer } from '../../../src/server/http-server.js';
import { GrpcServer } from '../../../src/protocol/grpc/grpc-server.js';
import { loadServices } from '../../../src/protocol/grpc/proto.js';
import { TEST_MODELS } from '../../helpers/paths.js';
import { captureLogger } from '../../helpers/capture-logger.js';

// Linux routes all of 127.0.0.0/8 to loopback: a second client address without a second machine.
const OTHER_ADDRESS = '127.0.0.2';

let slipway: Slipway;
let lines: Array<Record<string, unknown>>;
before(async () => {
  const captured = captureLogger('warn');
  lines = captured.lines;
  slipway = await Slipway.open({ models: `${TEST_MODELS}/simple`, cores: 1, logger: captured.logger });
});
after(() => slipway.close());

/** Opens a TCP connection from `localAddress`; resolves once connected. */
async function open(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Sends one request on a fresh connection and collects what comes back until the server closes it. */
function exchange(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => socket.write('GET /v2/health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(received) : reject(error)));
    socket.on('close', () => resolve(received));
  });
}

async function refusedCount(protocol: string): Promise<number> {
  const metric = await slipway.metrics!.registry.getSingleMetric('slipway_connections_refused_total')!.get();
  return metric.values.find((v) => v.labels.protocol === protocol && v.labels.reason === 'per_ip')?.value ?? 0;
}

async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('HTTP: an address over max_connections_per_ip has its new connections closed at accept; other addresses and freed slots are served', async () => {
  const app = createHttpServer(slipway, { connections: { maxConnectionsPerIp: 2 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const held: Socket[] = [];
  try {
    const before = await refusedCount('http');
    held.push(await open(port), await open(port));
    await waitFor(async () => (await new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n)))) >= 2);
    // Loopback is not exempt: the third connection from 127.0.0.1 is closed without an answer, twice.
    assert.equal(await exchange(port, '127.0.0.1'), '');
    assert.equal(await exchange(port, '127.0.0.1'), '');
    assert.equal(await refusedCount('http'), before + 2);
    const refusals = lines.filter((l) => l.event === 'connection_refused' && l.protocol === 'http');
    assert.equal(refusals.length, 1, 'logged once per address per interval, not per connection');
    assert.equal(refusals[0]!.address, '127.0.0.1');
    // Another address has its own count.
    assert.match(await exchange(port, OTHER_ADDRESS), /^HTTP\/1\.1 200 OK/);
    // A freed slot is usable again.
    held.pop()!.destroy();
    await waitFor(async () => (await new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n)))) <= 1);
    assert.match(await exchange(port, '127.0.0.1'), /^HTTP\/1\.1 200 OK/);
  } finally {
    for (const socket of held) socket.destroy();
    await app.close();
  }
});

function serverLive(client: Client): Promise<unknown> {
  return new Promise((resolve, reject) =>
    (client as unknown as { ServerLive: (r: object, m: Metadata, o: object, cb: (e: ServiceError | null, v: unknown) => void) => void }).ServerLive(
      {},
      new Metadata(),
      { deadline: Date.now() + 10_000, waitForReady: true },
      (error, value) => (error ? reject(error) : resolve(value)),
    ),
  );
}

test('gRPC: the limit holds on the gRPC port too; admitted connections are served by grpc-js', async () => {
  const grpc = new GrpcServer(slipway, { maxConnectionsPerIp: 1 });
  const port = await grpc.listen('127.0.0.1', 0);
  const { inference } = loadServices();
  const first = new inference(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    const before = await refusedCount('grpc');
    assert.deepEqual(await serverLive(first), { live: true });
    // The one connection 127.0.0.1 may hold is the client's: a second is closed at once.
    const socket = await open(port);
    await new Promise((resolve) => socket.once('close', resolve));
    assert.equal(await refusedCount('grpc'), before + 1);
    assert.ok(lines.some((l) => l.event === 'connection_refused' && l.protocol === 'grpc'));
    // The held connection still serves calls.
    assert.deepEqual(await serverLive(first), { live: true });
    // Once the client lets its connection go, the address has a slot again.
    // (The server sees the close a moment later: a client may be refused until then, so retry.)
    first.close();
    let answer: unknown;
    for (let attempt = 0; attempt < 50 && answer === undefined; attempt++) {
      const next = new inference(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      answer = await serverLive(next).catch(() => new Promise((resolve) => setTimeout(() => resolve(undefined), 100)));
      next.close();
    }
    assert.deepEqual(answer, { live: true });
  } finally {
    first.close();
    await grpc.close(1000);
  }
});
