import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { startCliServer } from '../helpers/cli-server.js';
import { EXAMPLES } from '../helpers/paths.js';

const DIGITS_BODY = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Array(64).fill(0.5) }] });

test('SIGTERM: not ready at once on both ports, still serving through --drain-delay, then exit 0', async () => {
  const server = await startCliServer([`${EXAMPLES}/digits`, '--no-grpc', '--no-ui', '--drain-delay', '3', '--health-port', '0']);
  const health = /Health probes \(a thread of their own\) on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1];
  assert.ok(health !== undefined, `the banner names the health port:\n${server.output()}`);
  assert.equal((await fetch(`${health}/v2/health/ready`)).status, 200);
  const exited = once(server.child, 'exit') as Promise<[number | null]>;
  server.child.kill('SIGTERM');
  // The health thread hears of it within a heartbeat; the serving port at once.
  while ((await fetch(`${health}/v2/health/ready`)).status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
  const ready = await fetch(`${server.url}/v2/health/ready`);
  assert.equal(ready.status, 503);
  assert.equal(((await ready.json()) as { ready: boolean }).ready, false);
  assert.equal((await fetch(`${health}/v2/health/live`)).status, 200, 'alive while draining: no restart');
  const answer = await fetch(`${server.url}/v2/models/digits/infer`, { method: 'POST', body: DIGITS_BODY });
  assert.equal(answer.status, 200, 'inference is still served during the delay');
  assert.equal(answer.headers.get('connection'), 'close', 'each answer closes its connection, so clients reconnect elsewhere');
  await answer.arrayBuffer();
  const [code] = await exited;
  assert.equal(code, 0);
});

/** A POST over `agent`; a failure says whether it went out on a kept-alive connection. */
function post(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(DIGITS_BODY) } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', (error: NodeJS.ErrnoException) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(DIGITS_BODY);
  });
}

test('SIGTERM under 32 keep-alive clients: every request on an open connection is answered, none reset', async () => {
  const server = await startCliServer([`${EXAMPLES}/digits`, '--no-grpc', '--no-ui', '--drain-delay', '1']);
  const url = `${server.url}/v2/models/digits/infer`;
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  let answered = 0;
  let stopped = 0;
  const lost: string[] = [];
  let signalled = false;
  const client = async (): Promise<void> => {
    // Each client loops until the server stops taking connections (after the delay).
    for (;;) {
      try {
        const status = await post(url, agent);
        if (status !== 200) lost.push(`status ${status}`);
        answered++;
      } catch (error) {
        const { code, reusedSocket } = error as NodeJS.ErrnoException & { reusedSocket: boolean };
        // Once the listener closes, a new connection is refused, or reset by the kernel when it was
        // still in the accept queue: the server never took it, no request of it was read. A reset on a
        // kept-alive connection is a request the server dropped.
        if (signalled && !reusedSocket && (code === 'ECONNREFUSED' || code === 'ECONNRESET')) {
          stopped++;
          return;
        }
        lost.push(`${code ?? (error as Error).message} on a ${reusedSocket ? 'kept-alive' : 'new'} connection`);
        return;
      }
    }
  };
  const clients = Array.from({ length: 32 }, () => client());
  // Load first, then the signal: the clients hold keep-alive connections with requests in flight.
  while (answered < 200) await new Promise((resolve) => setTimeout(resolve, 10));
  const exited = once(server.child, 'exit') as Promise<[number | null]>;
  signalled = true;
  server.child.kill('SIGTERM');
  await Promise.all(clients);
  agent.destroy();
  const [code] = await exited;
  assert.deepEqual(lost, [], 'no request was lost on an open connection');
  assert.equal(stopped, 32, 'each client stopped only when the listener had closed');
  assert.equal(code, 0);
});
