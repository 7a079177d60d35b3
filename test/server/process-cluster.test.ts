import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { Pool } from 'undici';
import { loadServices } from '../../src/protocol/grpc/proto.js';
import { coresPerProcess } from '../../src/server/process-cluster.js';
import { startCliServer } from '../helpers/cli-server.js';
import { DIGIT_SAMPLES } from '../helpers/batch-data.js';
import { CLI, EXAMPLES } from '../helpers/paths.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';

const body = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: DIGIT_SAMPLES[3]!.image.flat(2) }] });

/** The serving processes under the primary (Linux's /proc). */
function children(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

function bannerPids(output: string): number[] {
  const match = /processes \(pids ([\d, ]+)\)/.exec(output);
  assert.ok(match, `no process line in the banner:\n${output}`);
  return match[1]!.split(', ').map(Number);
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function grpcReady(address: string): Promise<boolean> {
  const { inference } = loadServices();
  const client = new inference(address, credentials.createInsecure());
  try {
    return await new Promise<boolean>((resolve, reject) =>
      client.ServerReady!({}, (error: Error | null, reply: { ready?: boolean }) => (error ? reject(error) : resolve(reply.ready === true))),
    );
  } finally {
    client.close();
  }
}

test('cores are shared out between the processes, at least one each', () => {
  assert.equal(coresPerProcess(2, 8), 4);
  assert.equal(coresPerProcess(3, 8), 2);
  assert.equal(coresPerProcess(4, 2), 1);
});

test('--processes 2: one port for HTTP and gRPC, one /metrics for the whole server, and a rolling restart under load fails no request', async () => {
  const server = await startCliServer([`${EXAMPLES}/digits`, '--processes', '2', '--no-ui']);
  const primary = server.child.pid!;
  const pool = new Pool(server.url, { connections: 16 });
  try {
    const original = bannerPids(server.output());
    assert.equal(original.length, 2);
    assert.deepEqual(children(primary).sort(), [...original].sort());
    assert.ok(server.grpcAddress, 'the banner names the shared gRPC port');
    for (let i = 0; i < 4; i++) assert.equal(await grpcReady(server.grpcAddress!), true);

    // Connections go round the processes; /metrics, wherever it lands, counts every request once.
    const infer = async (): Promise<number> => {
      const reply = await pool.request({ method: 'POST', path: '/v2/models/digits/infer', body, headers: { 'content-type': 'application/json' } });
      await reply.body.arrayBuffer();
      return reply.statusCode;
    };
    const statuses = await Promise.all(Array.from({ length: 200 }, infer));
    assert.deepEqual([...new Set(statuses)], [200]);
    for (let i = 0; i < 4; i++) {
      const metrics = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
      assert.equal(sample(metrics, 'slipway_requests_total', { model: 'digits', outcome: 'success' }), 200, 'requests summed over the processes');
      // Each process plans for 1 of the 2 cores: one instance each, two in all.
      assert.equal(sample(metrics, 'slipway_instances', { model: 'digits' }), 2);
      assert.equal(sample(metrics, 'slipway_model_state', { model: 'digits', state: 'READY' }), 1);
    }

    // SIGHUP mid-load; keep the load on until both processes are new ones and 10,000 requests are done.
    const counts = new Map<string, number>();
    let total = 0;
    let restarted = false;
    const started = Date.now();
    const client = async (): Promise<void> => {
      while ((total < 10_000 || !restarted) && Date.now() - started < 240_000) {
        total++;
        let outcome: string;
        try {
          outcome = String(await infer());
        } catch (error) {
          outcome = `${(error as Error).name}: ${(error as Error).message}`;
        }
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
        if (total === 1500) process.kill(primary, 'SIGHUP');
      }
    };
    const watcher = waitFor(() => {
      const now = children(primary);
      return now.length === 2 && now.every((pid) => !original.includes(pid));
    }, 'two new serving processes').then(() => (restarted = true));
    await Promise.all([...Array.from({ length: 16 }, client), watcher]);
    assert.ok(restarted, 'the processes were replaced');
    assert.deepEqual(Object.fromEntries(counts), { '200': total }, `every one of ${total} requests answered 200`);
    assert.ok(total >= 10_000);
    assert.equal(await grpcReady(server.grpcAddress!), true, 'gRPC still answers on the shared port');
  } finally {
    await pool.close();
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
});

test('--processes 2: a serving process that dies is replaced, and the server keeps answering', async () => {
  const server = await startCliServer([`${EXAMPLES}/digits`, '--processes', '2', '--no-ui', '--no-grpc']);
  const primary = server.child.pid!;
  try {
    const [victim, survivor] = bannerPids(server.output());
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => {
      const now = children(primary);
      return now.length === 2 && !now.includes(victim!) && now.includes(survivor!);
    }, 'a replacement process');
    const replacement = children(primary).find((pid) => pid !== survivor)!;
    // The replacement loads its models before it takes connections: wait until /metrics (which
    // every process contributes to) counts an instance in each process again.
    await waitFor(async () => {
      const metrics = parsePrometheusText(await (await fetch(`${server.url}/metrics`)).text());
      return sample(metrics, 'slipway_instances', { model: 'digits' }) === 2;
    }, 'the replacement to load its model');
    for (let i = 0; i < 20; i++) {
      const reply = await fetch(`${server.url}/v2/models/digits/infer`, { method: 'POST', body });
      assert.equal(reply.status, 200);
    }
    assert.match(server.output(), new RegExp(`serving process ${victim} died \\(SIGKILL\\)`));
    assert.ok(replacement > 0);
  } finally {
    server.child.kill('SIGTERM');
    const [code] = (await once(server.child, 'exit')) as [number | null];
    assert.equal(code, 0, 'SIGTERM drains every process and exits 0');
  }
});

test('--processes 2 with a path that does not exist exits 2 with the reason, instead of restarting forever', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '/nonexistent/slipway-models', '--processes', '2', '--http-port', '0', '--no-grpc', '--no-ui', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 2, output);
  assert.match(output, /model path \/nonexistent\/slipway-models does not exist/);
});

test('--processes 2 --health-port: the primary answers the probes for the pod, not-ready at SIGTERM through the drain delay', async () => {
  const server = await startCliServer([`${EXAMPLES}/digits`, '--processes', '2', '--no-grpc', '--no-ui', '--health-port', '0', '--drain-delay', '2']);
  const health = /Health probes \(a thread of their own\) on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1];
  assert.ok(health !== undefined, `the banner names the health port:\n${server.output()}`);
  assert.equal((await fetch(`${health}/v2/health/ready`)).status, 200);
  const exited = once(server.child, 'exit') as Promise<[number | null]>;
  server.child.kill('SIGTERM');
  await waitFor(async () => (await fetch(`${health}/v2/health/ready`)).status === 503, 'not ready after SIGTERM');
  // Still serving during the delay: the processes drain only after it.
  const answer = await fetch(`${server.url}/v2/models/digits/infer`, { method: 'POST', body });
  assert.equal(answer.status, 200);
  assert.equal((await fetch(`${health}/v2/health/live`)).status, 200);
  const [code] = await exited;
  assert.equal(code, 0);
});
