import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import type { HealthWorkerData, HealthWorkerMessage } from './health-listener.js';

/**
 * The health listener's thread: it answers `/v2/health/live` and `/v2/health/ready` from state the
 * main thread publishes, so a probe waits for nothing the serving side is busy with (its event loop,
 * its accept queue, its request parsing).
 */
const data = workerData as HealthWorkerData;
const heartbeat = new Int32Array(data.heartbeat);
let ready = false;
let reason = 'starting';

parentPort?.on('message', (message: HealthWorkerMessage) => {
  if (message.type === 'readiness') {
    ready = message.ready;
    reason = message.reason ?? '';
  } else if (message.type === 'close') {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  }
});

/** Seconds since the main thread's last heartbeat (it beats every few hundred milliseconds when it is well). */
function heartbeatAgeSeconds(): number {
  return Math.floor(performance.timeOrigin / 1000 + performance.now() / 1000) - Atomics.load(heartbeat, 0);
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer({ headersTimeout: 5000, requestTimeout: 5000, keepAliveTimeout: 5000 }, (req: IncomingMessage, res: ServerResponse) => {
  const path = req.url?.split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: `${req.method} is not allowed here: the health port answers GET /v2/health/live and /v2/health/ready` });
  const age = heartbeatAgeSeconds();
  if (path === '/v2/health/live') {
    if (age > data.liveAfterSeconds) return send(res, 503, { live: false, error: `the serving thread has not run for ${age} s` });
    return send(res, 200, { live: true });
  }
  if (path === '/v2/health/ready') {
    if (!ready) return send(res, 503, { ready: false, error: reason });
    if (age > data.readyAfterSeconds) return send(res, 503, { ready: false, error: `the serving thread has not run for ${age} s` });
    return send(res, 200, { ready: true });
  }
  send(res, 404, { error: `no route ${path ?? ''} on the health port: it answers GET /v2/health/live and /v2/health/ready` });
});
// Kubelets and load balancers only: a few connections, none held long.
server.maxConnections = 256;
server.on('error', (error) => parentPort?.postMessage({ type: 'error', message: error.message } satisfies HealthWorkerMessage));
server.listen(data.port, data.host, () => {
  const address = server.address();
  parentPort?.postMessage({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : data.port } satisfies HealthWorkerMessage);
});
