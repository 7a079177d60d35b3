import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { startCliServer as startCli } from '../helpers/cli-server.js';
import { CLI, EXAMPLES, TEST_MODELS } from '../helpers/paths.js';

test('slipway serve prints what it serves and where, then answers', async () => {
  const { child, url, output } = await startCli([`${EXAMPLES}/digits`, `${TEST_MODELS}/simple`]);
  try {
    assert.match(output(), /2\/2 model versions ready/);
    assert.match(output(), /digits\s+v1\s+READY\s+image FP32\[-1,1,8,8\] -> probabilities FP32\[-1,10\]; app: POST \/api\/models\/digits\/predict/);
    // The banner ends with the address to open.
    assert.match(output(), /\nOpen http:\/\/127\.0\.0\.1:\d+\/ in a browser to try the models\.\n$/);
    assert.deepEqual(await (await fetch(`${url}/v2/health/ready`)).json(), { ready: true });
  } finally {
    child.kill('SIGKILL');
  }
});

test('a pipeline is named as one in the version column, with the models it uses; the banner waits for its handler', async () => {
  const { child, output } = await startCli(['ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'].map((m) => `${EXAMPLES}/${m}`));
  try {
    assert.match(output(), /\n {2}ocr +pipeline +READY +app: POST \/api\/models\/ocr\/predict; uses ocr_det, ocr_cls, ocr_rec\n/);
    assert.match(output(), /4\/4 model versions ready/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a tensor handler is listed with its declared signature and no JSON app; its ensemble beside it', async () => {
  const { child, output } = await startCli(['digits', 'digits_topk', 'digits_top3'].map((m) => `${EXAMPLES}/${m}`));
  try {
    assert.match(output(), /\n {2}digits_topk +v1 +READY +handler: probabilities FP32\[-1,-1\] -> classes INT64\[-1,3\], scores FP32\[-1,3\]\n/);
    assert.match(output(), /\n {2}digits_top3 +v1 +READY +ensemble: image FP32\[-1,1,8,8\] -> classes INT64\[-1,3\], scores FP32\[-1,3\]\n/);
    assert.match(output(), /3\/3 model versions ready/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('SIGTERM finishes the in-flight request, stops the workers and exits 0', async () => {
  const { child, url } = await startCli([`${EXAMPLES}/ocr_cls`]);
  const shape = [64, 3, 48, 1024];
  const inflight = fetch(`${url}/v2/models/ocr_cls/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape, data: new Array(64 * 3 * 48 * 1024).fill(0) }] }),
  });
  // Signal once the request is surely running: the body is parsed and the worker is computing.
  await new Promise((resolve) => setTimeout(resolve, 600));
  child.kill('SIGTERM');
  const reply = await inflight;
  assert.equal(reply.status, 200);
  const body = (await reply.json()) as { outputs: Array<{ shape: number[] }> };
  assert.deepEqual(body.outputs[0]!.shape, [64, 2]);
  // A hang, not a speed check: the answered request's keep-alive socket once held the exit for
  // Fastify's 72 s keepAliveTimeout.
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const hung = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000).unref());
  const outcome = await Promise.race([exited, hung]);
  assert.notEqual(outcome, 'hung', 'the server did not exit within 30 s of finishing its last request');
  const [code] = await exited;
  assert.equal(code, 0);
  await assert.rejects(fetch(`${url}/v2/health/live`), 'no longer listening');
});

test('invalid options are reported with the option name and exit code 2', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', EXAMPLES, '--http-port', '99999'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 2);
  assert.match(stderr, /http_port: /);
});

test('--help shows the defaults once each: serve its ports and host, batch status its database', async () => {
  const help = async (...args: string[]): Promise<string> => {
    const child = spawn(process.execPath, [CLI, ...args, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await once(child, 'exit');
    return out.replace(/\s+/g, ' ');
  };
  const serve = await help('serve');
  assert.match(serve, /--http-port <port> HTTP port \(default 8000;/);
  assert.match(serve, /--host <host> address to listen on \(default 127\.0\.0\.1,/);
  assert.match(serve, /--grpc-port <port> OIP gRPC port \(default 8001;/);
  const status = await help('batch', 'status');
  assert.equal(status.match(/sqlite:\.\/predictions\.db/g)?.length, 1, status);
});

test('piped (not a terminal), the log is one JSON object per line, requests included', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', `${EXAMPLES}/digits`, '--http-port', '0', '--no-grpc', '--no-ui', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const match = /ready in [\d.]+ s, on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
    });
    assert.equal((await fetch(`${url}/v2/models/digits`)).status, 200);
    // The log is flushed within a second when the server is quiet.
    const line = await new Promise<Record<string, unknown>>((resolve) => {
      const look = () => {
        const found = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request');
        if (found !== undefined) resolve(found);
        else setTimeout(look, 100);
      };
      look();
    });
    assert.equal(line.url, '/v2/models/digits');
    assert.equal(line.status, 200);
    assert.equal(typeof line.latencyMs, 'number');
    assert.ok(out.split('\n').some((l) => l.startsWith('{') && (JSON.parse(l) as { event?: string }).event === 'model_loaded'));
  } finally {
    child.kill('SIGKILL');
  }
});
