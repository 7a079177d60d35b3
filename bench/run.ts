// Baseline benchmark for the OIP REST path. The server runs in its own process (never on the load
// generator's event loop); every figure is measured in one run so the ratios are meaningful on a
// noisy machine. Usage: npm run bench [-- --seconds 3]
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Slipway } from '../src/slipway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 3);
const samples = JSON.parse(await readFile(`${ROOT}examples/models/digits/samples.json`, 'utf8')) as Array<{ image: number[][][] }>;
const image = samples[0]!.image.flat(2);
const body = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: image }] });

interface Result {
  scenario: string;
  concurrency: number;
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/** Closed loop: `concurrency` callers, each sending its next request when the previous one answers. */
async function closedLoop(scenario: string, concurrency: number, call: () => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    scenario,
    concurrency,
    requests: latencies.length,
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

async function startServer(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [`${ROOT}dist/src/cli/main.js`, 'serve', `${ROOT}examples/models/digits`, '--http-port', '0', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /on (http:\/\/[^\s]+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

const results: Result[] = [];

// 1. Engine limit: onnxruntime called directly, batch 1, one thread, no queue, no protocol.
const session = await ort.InferenceSession.create(`${ROOT}examples/models/digits/1/model.onnx`, { intraOpNumThreads: 1 });
const tensor = new ort.Tensor('float32', Float32Array.from(image), [1, 1, 8, 8]);
results.push(await closedLoop('onnxruntime direct (1 thread, engine limit)', 1, async () => void (await session.run({ image: tensor }))));
await session.release();

// 2. Library API: worker-thread instances, no HTTP.
const slipway = await Slipway.open({ models: `${ROOT}examples/models/digits` });
for (const concurrency of [1, 8]) {
  results.push(
    await closedLoop('library infer() (worker threads)', concurrency, async () => {
      await slipway.infer({ model: 'digits', inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Float32Array.from(image) }] });
    }),
  );
}
await slipway.close();

// 3. OIP REST over loopback, server in its own process.
const server = await startServer();
try {
  // The HTTP stack's own ceiling with this load generator: a route that does no inference.
  results.push(
    await closedLoop('GET /v2/health/live (HTTP ceiling)', 32, async () => {
      await (await fetch(`${server.url}/v2/health/live`)).arrayBuffer();
    }),
  );
  for (const concurrency of [1, 8, 32]) {
    results.push(
      await closedLoop('OIP REST JSON (separate process)', concurrency, async () => {
        const response = await fetch(`${server.url}/v2/models/digits/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        await response.arrayBuffer();
      }),
    );
  }
} finally {
  server.stop();
}

const engine = results[0]!.perSecond;
const table = [
  '| scenario | concurrency | requests | req/s | × engine limit | p50 ms | p99 ms |',
  '|---|---|---|---|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.scenario} | ${r.concurrency} | ${r.requests} | ${r.perSecond.toFixed(0)} | ${(r.perSecond / engine).toFixed(2)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} |`,
  ),
].join('\n');
const header = `Digits model, batch 1, ${seconds} s per row, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`;
console.log(`${header}\n\n${table}`);
const resultsPath = `${ROOT}bench/RESULTS.md`;
const previous = await readFile(resultsPath, 'utf8').catch(() => '');
const marker = '<!-- bench:oip-rest -->';
const section = `${marker}\n${header}\n\n${table}\n${marker}`;
const next = previous.includes(marker)
  ? previous.replace(new RegExp(`${marker}[\\s\\S]*${marker}`), section)
  : `${previous || '# Benchmark results\n\nReproduce with `npm run bench`. Ratios matter more than absolute numbers on shared machines.\n'}\n## OIP REST baseline\n\n${section}\n`;
await writeFile(resultsPath, next);
