// What access control costs per request, measured in ONE run: the digits CNN served by three
// `slipway serve` processes (each its own process; the closed-loop load generator runs here) that
// differ only in their access flags: none, an API key required (100 keys configured, every request
// presenting one), and the same plus a rate limit high enough never to refuse (every request takes
// a token). Also the key comparison itself, in this process: the time to check a right key, a wrong
// key that shares all but its last character with a real one, and a wrong key of another length,
// as ratios (no timing leak means ratios near 1). Writes its section of RESULTS.md.
// Usage: npm run build && node dist/bench/access.js [--seconds 4] [--clients 32]
import { cpus } from 'node:os';
import { readFile } from 'node:fs/promises';
import { AccessKeys } from '../src/protocol/access/access-keys.js';
import { runClosedLoop, type ClosedLoopResult, type HttpCall } from '../src/loadgen/closed-loop.js';
import { ROOT, numberArg, writeResultsSection } from './results-section.js';
import { startServer } from './server-process.js';

const SECONDS = numberArg('--seconds', 4);
const CLIENTS = numberArg('--clients', 32);
const KEYS = Array.from({ length: 100 }, (_, i) => `bench-key-${String(i).padStart(6, '0')}-abcdefghijklmnop`);
const KEY = KEYS[57]!;

const samples = JSON.parse(await readFile(`${ROOT}examples/models/digits/samples.json`, 'utf8')) as Array<{ image: number[][][] }>;
const bodies = samples.map((s) => Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: s.image.flat(2) }] })));

const scenarios: Array<{ name: string; args: string[]; key: boolean }> = [
  { name: 'no keys (the default on loopback)', args: [], key: false },
  { name: 'API key required (100 keys), Bearer on every request', args: ['--api-key', ...KEYS], key: true },
  { name: 'API key required + rate limit (1,000,000/s: every request takes a token)', args: ['--api-key', ...KEYS, '--rate-limit', '1000000/s'], key: true },
];

const rows: Array<{ name: string; result: ClosedLoopResult }> = [];
for (const scenario of scenarios) {
  const server = await startServer(`${ROOT}dist/src/cli/main.js`, ['serve', `${ROOT}examples/models/digits`, '--http-port', '0', '--no-grpc', '--no-ui', '--log-level', 'error', ...scenario.args]);
  let n = 0;
  const call = (): HttpCall => ({
    method: 'POST',
    path: '/v2/models/digits/infer',
    body: bodies[n++ % bodies.length]!,
    headers: { 'content-type': 'application/json', ...(scenario.key && { authorization: `Bearer ${KEY}` }) },
  });
  try {
    const result = await runClosedLoop(call, { url: server.url, concurrency: CLIENTS, durationMs: SECONDS * 1000, warmupRequests: CLIENTS * 20 });
    if (result.errors > 0) throw new Error(`${scenario.name}: ${result.errors} errors, first: ${result.firstError}`);
    rows.push({ name: scenario.name, result });
  } finally {
    await server.stop();
  }
}

// The comparison: median of many batches, so one scheduler hiccup does not decide a ratio.
const keys = new AccessKeys({ keys: { inference: KEYS } });
const time = (key: string): number => {
  const batches: number[] = [];
  for (let b = 0; b < 41; b++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) keys.identify(key);
    batches.push(Number(process.hrtime.bigint() - started) / 2000);
  }
  return batches.sort((a, b) => a - b)[20]!;
};
time(KEY);
const right = time(KEY);
const nearMiss = time(`${KEY.slice(0, -1)}!`);
const otherLength = time('x');

const base = rows[0]!.result;
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const section = `## Access control: what keys and rate limits cost (\`node dist/bench/access.js\`)

${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, digits (1 image per request, JSON), ${CLIENTS} clients, ${SECONDS} s per row, one server process each.

| access | requests/s | vs no keys | p50 ms | p99 ms |
|---|---:|---:|---:|---:|
${rows.map(({ name, result }) => `| ${name} | ${fmt(result.perSecond)} | ${fmt(result.perSecond / base.perSecond, 2)} | ${fmt(result.latency.p50Ms, 2)} | ${fmt(result.latency.p99Ms, 2)} |`).join('\n')}

Checking a key against 100 (SHA-256, then \`timingSafeEqual\` with every key): right key ${fmt(right / 1000, 2)} µs; a wrong key differing only in its last character ${fmt(nearMiss / right, 2)}× that; a wrong key of another length ${fmt(otherLength / right, 2)}× (no early exit, so neither where a key differs nor its length shows).
`;
await writeResultsSection('access', section);
process.stdout.write(section);
