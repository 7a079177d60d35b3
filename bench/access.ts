// What access control costs per request, measured in ONE run: the digits CNN served by three
// `slipway serve` processes (each its own process; the closed-loop load generator runs here) that
// differ only in their access flags: none, an API key required (100 keys configured, every request
// presenting one), and the same plus a rate limit high enough never to refuse (every request takes
// a token). Also the key comparison itself, in this process: the time to check a right key, a wrong
// key that shares all but its last character with a real one, and a wrong key of another length,
// as ratios (no timing leak means ratios near 1). Writes its section of RESULTS.md.
// Usage: npm run build && node dist/bench/access.js [--rounds 9] [--clients 32]
import { cpus, loadavg } from 'node:os';
import { readFile } from 'node:fs/promises';
import { AccessKeys } from '../src/protocol/access/access-keys.js';
import { RateLimiter } from '../src/protocol/access/rate-limiter.js';
import { runClosedLoop, type ClosedLoopResult, type HttpCall } from '../src/loadgen/closed-loop.js';
import { ROOT, numberArg, writeResultsSection } from './results-section.js';
import { startServer } from './server-process.js';
import { median } from './measure-calls.js';

const ROUNDS = numberArg('--rounds', 9);
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

// All three servers up at once, measured in turns of one second each, round after round: the load
// other work puts on the machine drifts over every scenario alike instead of deciding one row.
const servers = [];
for (const scenario of scenarios) {
  servers.push(await startServer(`${ROOT}dist/src/cli/main.js`, ['serve', `${ROOT}examples/models/digits`, '--http-port', '0', '--no-grpc', '--no-ui', '--log-level', 'error', ...scenario.args]));
}
const rounds: ClosedLoopResult[][] = scenarios.map(() => []);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [s, scenario] of scenarios.entries()) {
      let n = 0;
      const call = (): HttpCall => ({
        method: 'POST',
        path: '/v2/models/digits/infer',
        body: bodies[n++ % bodies.length]!,
        headers: { 'content-type': 'application/json', ...(scenario.key && { authorization: `Bearer ${KEY}` }) },
      });
      const result = await runClosedLoop(call, { url: servers[s]!.url, concurrency: CLIENTS, durationMs: 1000, warmupRequests: round === 0 ? CLIENTS * 20 : CLIENTS });
      if (result.errors > 0) throw new Error(`${scenario.name}: ${result.errors} errors, first: ${result.firstError}`);
      rounds[s]!.push(result);
    }
  }
} finally {
  for (const server of servers) await server.stop();
}
const rows = scenarios.map((scenario, s) => ({
  name: scenario.name,
  perSecond: median(rounds[s]!.map((r) => r.perSecond)),
  // Per round, against the no-keys server measured just before it.
  ratio: median(rounds[s]!.map((r, round) => r.perSecond / rounds[0]![round]!.perSecond)),
  p50Ms: median(rounds[s]!.map((r) => r.latency.p50Ms)),
  p99Ms: median(rounds[s]!.map((r) => r.latency.p99Ms)),
}));

// The comparison: the three keys timed in turns (so the machine's load drifts over all of them
// alike), each the median of many batches, so one scheduler hiccup does not decide a ratio.
const keys = new AccessKeys({ keys: { inference: KEYS } });
const candidates = [KEY, `${KEY.slice(0, -1)}!`, 'x'];
const batches: number[][] = candidates.map(() => []);
for (let b = 0; b < 61; b++) {
  candidates.forEach((key, k) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) keys.identify(key);
    batches[k]!.push(Number(process.hrtime.bigint() - started) / 2000);
  });
}
const [right, nearMiss, otherLength] = batches.map((times) => times.sort((a, b) => a - b)[30]!) as [number, number, number];

// One token from one of 10,000 clients' buckets, as a request under --rate-limit takes it.
const limiter = new RateLimiter({ ratePerSecond: 1_000_000, burst: 1_000_000 });
const takeNs = (() => {
  const batches: number[] = [];
  for (let b = 0; b < 41; b++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) limiter.take(`ip:10.0.${(i >> 8) & 255}.${i & 255}`);
    batches.push(Number(process.hrtime.bigint() - started) / 10_000);
  }
  return batches.sort((a, b) => a - b)[20]!;
})();

const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const section = `## Access control: what keys and rate limits cost (\`node dist/bench/access.js\`)

${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, digits (1 image per request, JSON), ${CLIENTS} clients, one server process per row, measured in ${ROUNDS} rounds of 1 s per row (medians of the rounds; the ratio is each round's against the no-keys server measured just before); load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' / ')} (other work shares the machine).

| access | requests/s | vs no keys | p50 ms | p99 ms |
|---|---:|---:|---:|---:|
${rows.map((row) => `| ${row.name} | ${fmt(row.perSecond)} | ${fmt(row.ratio, 2)} | ${fmt(row.p50Ms, 2)} | ${fmt(row.p99Ms, 2)} |`).join('\n')}

Checking a key against 100 (SHA-256, then \`timingSafeEqual\` with every key): right key ${fmt(right / 1000, 2)} µs; a wrong key differing only in its last character ${fmt(nearMiss / right, 2)}× that; a wrong key of another length ${fmt(otherLength / right, 2)}× (no early exit, so neither where a key differs nor its length shows). Taking a rate-limit token: ${fmt(takeNs / 1000, 2)} µs.
`;
await writeResultsSection('access', section);
process.stdout.write(section);
