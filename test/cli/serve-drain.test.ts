import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { startCliServer } from '../helpers/cli-server.js';
import { EXAMPLES } from '../helpers/paths.js';

const DIGITS_BODY = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Array(64).fill(0.5) }] });

/** What a failed fetch was: refused (nothing was sent) or anything else (a request lost on a connection). */
function failureKind(error: unknown): 'refused' | string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') return 'refused';
  return cause?.code ?? cause?.message ?? String(error);
}

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

test('SIGTERM under 32 keep-alive clients: every request sent is answered, no connection is reset', async () => {
  const server = await startCliServer([`${EXAMPLES}/digits`, '--no-grpc', '--no-ui', '--drain-delay', '1']);
  const url = `${server.url}/v2/models/digits/infer`;
  let answered = 0;
  let refused = 0;
  const lost: string[] = [];
  let signalled = false;
  const client = async (): Promise<void> => {
    // Each client loops until the server stops taking connections (after the delay).
    for (;;) {
      try {
        const reply = await fetch(url, { method: 'POST', body: DIGITS_BODY });
        await reply.arrayBuffer();
        if (reply.status !== 200) lost.push(`status ${reply.status}`);
        answered++;
      } catch (error) {
        const kind = failureKind(error);
        if (kind === 'refused' && signalled) {
          refused++;
          return;
        }
        lost.push(kind);
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
  const [code] = await exited;
  assert.deepEqual(lost, [], 'no request was lost to a reset or a closed connection');
  assert.equal(refused, 32, 'each client stopped only when the listener had closed');
  assert.equal(code, 0);
});
