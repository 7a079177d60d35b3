import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCliServer, type CliServer } from '../../helpers/cli-server.js';
import { EXAMPLES, TEST_MODELS } from '../../helpers/paths.js';

// The server runs in its own process: a probe's latency must measure the server's event loop, not
// this test's own work of sending and receiving tens of megabytes.
let server: CliServer;
before(async () => {
  server = await startCliServer([`${EXAMPLES}/ocr_cls`, `${TEST_MODELS}/identity_fp32`]);
});
after(() => {
  server.child.kill('SIGKILL');
});

/** Probes /v2/health/live every 20 ms until `work` settles; returns each probe's start and duration. */
async function probeWhile<T>(work: Promise<T>): Promise<{ result: T; end: number; probes: Array<{ start: number; ms: number }> }> {
  let done = false;
  let end = 0;
  const tracked = work.finally(() => {
    done = true;
    end = performance.now();
  });
  const probes: Array<{ start: number; ms: number }> = [];
  while (!done) {
    const start = performance.now();
    await (await fetch(`${server.url}/v2/health/live`)).arrayBuffer();
    probes.push({ start, ms: performance.now() - start });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { result: await tracked, end, probes };
}

/** Sends a prepared body and reads the answer as bytes (parsed later, outside the probing window). */
async function postRaw(path: string, body: Buffer): Promise<{ status: number; timing: string; bytes: Buffer }> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body });
  return { status: response.status, timing: response.headers.get('server-timing') ?? '', bytes: Buffer.from(await response.arrayBuffer()) };
}

test('GET /v2/health/live answers promptly while OCR runs a 1 s+ inference', async (t) => {
  // Classification over 64 wide crops: a long compute with a tiny answer, so the only thing that
  // could delay a liveness probe is the inference itself blocking the event loop.
  const shape = [64, 3, 64, 2048];
  // Built as a string, not a 25M-element array: the garbage of the latter would pause this process
  // (and so the probes) long after the test.
  const count = 64 * 3 * 64 * 2048;
  const body = Buffer.from(`{"inputs":[{"name":"x","datatype":"FP32","shape":[${shape.join(',')}],"data":[${'0,'.repeat(count - 1)}0]}]}`);
  const { result: reply, end, probes } = await probeWhile(postRaw('/v2/models/ocr_cls/infer', body));
  assert.equal(reply.status, 200);
  assert.deepEqual(JSON.parse(reply.bytes.toString()).outputs[0].shape, [64, 2]);
  const computeMs = Number(/compute;dur=([\d.]+)/.exec(reply.timing)?.[1]);
  assert.ok(computeMs >= 500, `inference took ${computeMs} ms; too short to show anything`);
  // Probes sent while the worker computed (with a margin either side for decode and encode).
  const during = probes.filter((p) => p.start > end - computeMs + 50 && p.start + p.ms < end - 50);
  const worst = Math.max(...during.map((p) => p.ms));
  t.diagnostic(`compute ${computeMs.toFixed(0)} ms, ${during.length} probes during it, slowest ${worst.toFixed(1)} ms`);
  assert.ok(during.length >= 3, `only ${during.length} probes landed during the inference`);
  assert.ok(worst < 200, `a liveness probe took ${worst.toFixed(1)} ms during inference`);
});

test('GET /v2/health/live stays prompt while a 32 MB JSON tensor is decoded and its 32 MB answer encoded', async (t) => {
  const n = 8_000_000;
  const body = Buffer.from(`{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,${n}],"data":[${'0.5,'.repeat(n - 1)}0.25]}]}`);
  const started = performance.now();
  const { result: reply, probes } = await probeWhile(postRaw('/v2/models/identity_fp32/infer', body));
  assert.equal(reply.status, 200);
  const output = JSON.parse(reply.bytes.toString()).outputs[0];
  assert.deepEqual(output.shape, [1, n]);
  assert.equal(output.data[n - 1], 0.25);
  assert.equal(output.data[12345], 0.5);
  const worst = Math.max(...probes.map((p) => p.ms));
  t.diagnostic(`request took ${(performance.now() - started).toFixed(0)} ms; ${probes.length} probes, slowest ${worst.toFixed(1)} ms`);
  assert.ok(probes.length >= 5, `only ${probes.length} probes`);
  assert.ok(worst < 200, `a liveness probe took ${worst.toFixed(1)} ms while JSON was decoded/encoded`);
});
