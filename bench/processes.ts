// Throughput of `slipway serve --processes 1` and `--processes 2` on the digits model at 64 clients
// (issue 13). Both servers run at once (an idle one costs nothing) and are loaded in turn, for several
// rounds, so a busy spell on a shared machine hits both; the medians are reported. Each server is in
// its own processes, the load generator (undici, closed loop) here.
// Usage: node dist/bench/processes.js [--seconds 5] [--rounds 3] [--clients 64]
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runClosedLoop, type ClosedLoopResult } from '../src/loadgen/closed-loop.js';
import { startServer } from './server-process.js';
import { median } from './measure-calls.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('--seconds', 5);
const ROUNDS = arg('--rounds', 3);
const CLIENTS = arg('--clients', 64);

const samples = JSON.parse(readFileSync(`${ROOT}examples/models/digits/samples.json`, 'utf8')) as Array<{ image: number[][][] }>;
const bodies = samples.map((s) => Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: s.image.flat(2) }] })));
let next = 0;
const call = () => ({ method: 'POST' as const, path: '/v2/models/digits/infer', body: bodies[next++ % bodies.length]!, headers: { 'content-type': 'application/json' } });

const servers = await Promise.all(
  [1, 2].map((processes) =>
    startServer(`${ROOT}dist/src/cli/main.js`, [
      'serve', `${ROOT}examples/models/digits`, '--processes', String(processes), '--no-ui', '--no-grpc', '--http-port', '0', '--log-level', 'warn',
    ]).then((server) => ({ processes, server, runs: [] as ClosedLoopResult[] })),
  ),
);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const entry of servers) {
      const result = await runClosedLoop(call, { url: entry.server.url, concurrency: CLIENTS, durationMs: SECONDS * 1000, warmupRequests: CLIENTS * 10 });
      if (result.errors > 0) throw new Error(`${result.errors} errors with --processes ${entry.processes}: ${result.firstError}`);
      entry.runs.push(result);
    }
  }
} finally {
  await Promise.all(servers.map((s) => s.server.stop()));
}
const results = servers.map(({ processes, runs }) => ({
  processes,
  perSecond: median(runs.map((r) => r.perSecond)),
  p50: median(runs.map((r) => r.latency.p50Ms)),
  p99: median(runs.map((r) => r.latency.p99Ms)),
  all: runs.map((r) => Math.round(r.perSecond)),
}));
const lines = [`digits over OIP REST (JSON), ${CLIENTS} clients, ${ROUNDS} rounds of ${SECONDS} s, ${availableParallelism()} cores (the load generator shares them); medians:`];
for (const r of results) lines.push(`  --processes ${r.processes}: ${Math.round(r.perSecond)} req/s (rounds: ${r.all.join(', ')}), p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
lines.push(`  ratio 2 / 1: ${(results[1]!.perSecond / results[0]!.perSecond).toFixed(2)}`);
process.stdout.write(`${lines.join('\n')}\n`);
