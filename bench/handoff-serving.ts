// Issue 17, lever 2, end to end: Slipway serving a microsecond model (digits_linear) and the digits
// CNN at 64 connections under wrk, with `instance_group.handoff: message` against `shared`. Both
// servers stay up and are visited alternately in short rounds, so drifting load from other work on
// the machine hits both alike. Besides requests/s (noisy on a shared machine) it reads each server's
// own CPU time per request from /proc (all its threads), which the load of others moves far less.
// Prints markdown. Usage: node dist/bench/handoff-serving.js [--seconds 4] [--rounds 6] [--linear-only] [--delay-us 500]
import { readFile, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { runClosedLoop } from '../src/loadgen/closed-loop.js';
import { median } from './measure-calls.js';
import { numberArg, ROOT } from './results-section.js';
import { repoWith } from './example-repository.js';
import { startServer, type RunningServer } from './server-process.js';
import { runWrk } from './wrk.js';

const SECONDS = numberArg('--seconds', 4);
const ROUNDS = numberArg('--rounds', 6);
const HANDOFFS = ['message', 'shared'] as const;
const TICKS_PER_SECOND = 100;
/** `--delay-us N`: both servers also get dynamic_batching.max_queue_delay_microseconds N (batch size set by the delay, not by the return). */
const DELAY_US = numberArg('--delay-us', 0);
const EXTRA_CONFIG = DELAY_US > 0 ? `dynamic_batching: { max_queue_delay_microseconds: ${DELAY_US} }\n` : '';

/** User + system CPU seconds from a /proc stat file (its fields 14 and 15). */
async function statSeconds(path: string): Promise<number> {
  const stat = await readFile(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** A process's CPU seconds so far: all its threads, and its main thread (the event loop) alone. */
async function cpuSeconds(pid: number): Promise<{ all: number; main: number }> {
  return { all: await statSeconds(`/proc/${pid}/stat`), main: await statSeconds(`/proc/${pid}/task/${pid}/stat`) };
}

interface Round {
  perSecond: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  /** The main thread's share of it. */
  mainUsPerRequest: number;
}

const samples = JSON.parse(await readFile(join(ROOT, 'examples/models/digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: samples[3]!.image }] }));
const MODELS = process.argv.includes('--linear-only') ? ['digits_linear'] : ['digits_linear', 'digits'];
for (const model of MODELS) {
  const path = `/v2/models/${model}/infer`;
  const servers = new Map<(typeof HANDOFFS)[number], { server: RunningServer; dir: string; rounds: Round[] }>();
  for (const handoff of HANDOFFS) {
    const dir = await repoWith(model, `instance_group: { handoff: ${handoff} }\n${EXTRA_CONFIG}`);
    const server = await startServer(`${ROOT}dist/src/cli/main.js`, ['serve', dir, '--http-port', '0', '--grpc-port', '0', '--log-level', 'info']);
    await runClosedLoop({ method: 'POST', path, body, headers: { 'content-type': 'application/json' } }, { url: server.url, concurrency: 8, requests: 2000 });
    servers.set(handoff, { server, dir, rounds: [] });
  }
  const load = [loadavg()[0]!];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? HANDOFFS : [...HANDOFFS].reverse();
    for (const handoff of order) {
      const s = servers.get(handoff)!;
      const before = await cpuSeconds(s.server.pid);
      const r = await runWrk({ url: s.server.url, path, body, connections: 64, seconds: SECONDS });
      const after = await cpuSeconds(s.server.pid);
      const used = after.all - before.all;
      if (r.errors > 0) throw new Error(`${model} ${handoff}: ${r.errors} errors`);
      s.rounds.push({ perSecond: r.perSecond, p99Ms: r.p99Ms, cpuUsPerRequest: (used * 1e6) / r.requests, mainUsPerRequest: ((after.main - before.main) * 1e6) / r.requests });
      process.stderr.write(`handoff-serving: ${model} round ${round + 1} ${handoff}: ${r.perSecond.toFixed(0)}/s, ${((used * 1e6) / r.requests).toFixed(1)} µs CPU/request\n`);
    }
  }
  load.push(loadavg()[0]!);
  // Rows per model run over the whole comparison: a quicker return lets the batcher send smaller batches.
  const rowsPerBatch = new Map<string, number>();
  for (const [handoff, { server }] of servers) {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^slipway_batch_size_${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
    rowsPerBatch.set(handoff, read('sum') / read('count'));
  }
  for (const { server, dir } of servers.values()) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const m = servers.get('message')!.rounds;
  const med = (rs: Round[], f: (r: Round) => number) => median(rs.map(f));
  const lines = [
    `**${model}**${DELAY_US > 0 ? `, max_queue_delay_microseconds ${DELAY_US}` : ''}, wrk, 64 connections, ${ROUNDS} alternating rounds × ${SECONDS} s, load average ${load.map((l) => l.toFixed(1)).join(' → ')} (medians over rounds):`,
    '',
    '| hand-off | infer/s | p99 ms | server CPU µs/request | of which main thread | rows per batch (whole run) |',
    '|---|---|---|---|---|---|',
    ...HANDOFFS.map((h) => {
      const rs = servers.get(h)!.rounds;
      return `| ${h} | ${med(rs, (r) => r.perSecond).toFixed(0)} | ${med(rs, (r) => r.p99Ms).toFixed(1)} | ${med(rs, (r) => r.cpuUsPerRequest).toFixed(1)} | ${med(rs, (r) => r.mainUsPerRequest).toFixed(1)} | ${rowsPerBatch.get(h)!.toFixed(1)} |`;
    }),
    '',
    ...HANDOFFS.filter((h) => h !== 'message').map((h) => {
      const x = servers.get(h)!.rounds;
      const speed = x.map((r, i) => r.perSecond / m[i]!.perSecond);
      const cpu = x.map((r, i) => r.cpuUsPerRequest / m[i]!.cpuUsPerRequest);
      return `${h} ÷ message, per round: infer/s ${speed.map((v) => v.toFixed(2)).join(', ')} (median ${median(speed).toFixed(2)}); CPU/request ${cpu.map((v) => v.toFixed(2)).join(', ')} (median ${median(cpu).toFixed(2)}).\n`;
    }),
    '',
  ];
  console.log(lines.join('\n'));
}
