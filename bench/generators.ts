// The serving benchmark's digits rows again, measured with three load generators in one run,
// interleaved and repeated: undici in this process (what `slipway bench` uses), Debian's wrk
// sharing both cores with the server, and wrk pinned to core 1 with the server pinned to core 0.
// Every server is started once and stays up; each round visits every server with every generator,
// so a busy spell on the machine lands on all of them alike. Python peers (Flask's development
// server and gunicorn + Flask, both with PyTorch) are extra rows when their packages are installed.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runClosedLoop } from '../src/loadgen/closed-loop.js';
import { freePort } from '../test/helpers/free-port.js';
import { ROOT } from './results-section.js';
import { startProcess, type RunningServer } from './server-process.js';
import { haveWrk, runWrk } from './wrk.js';

export type Generator = 'undici' | 'wrk' | 'wrk pinned';
export const GENERATORS: readonly Generator[] = ['undici', 'wrk', 'wrk pinned'];

export interface Contender {
  name: string;
  start: () => Promise<RunningServer>;
  /** The model name in its path, when it serves another model than the comparison's (`/v2/models/<model>/infer`). */
  model?: string;
}

export interface Measurement {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The generator's CPU microseconds per request. */
  generatorUsPerRequest: number;
}

export interface GeneratorComparison {
  /** contender → generator → one measurement per round. */
  runs: Map<string, Map<Generator, Measurement[]>>;
  /** /v2/health/live latencies probed while each of `liveOf` was under wrk's load. */
  liveMs: Map<string, number[]>;
  skipped: string[];
  /** Where each Slipway server placed its model (from its `model_loaded` log line), read before it stopped. */
  placements: Map<string, string>;
}

const PYTHON = '/usr/bin/python3';
const PEER_SCRIPT_DIR = join(ROOT, 'bench/servers');

/** True when Debian's python3 has torch, onnx and flask (the peers' packages). */
export function havePythonPeers(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch, onnx, flask'], { stdio: 'ignore' }).status === 0;
}

export function haveGunicorn(): boolean {
  return spawnSync('gunicorn', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Flask's development server (threaded) running the digits CNN with PyTorch. */
export const flaskContender = (modelPath: string): Contender => ({
  name: "Flask's development server + PyTorch (threaded)",
  start: async () => {
    const port = await freePort();
    return startProcess(PYTHON, [join(PEER_SCRIPT_DIR, 'flask_digits.py'), modelPath, String(port)], { url: `http://127.0.0.1:${port}` });
  },
});

/** gunicorn with one sync worker per core, each with one PyTorch thread. */
export const gunicornContender = (modelPath: string): Contender => ({
  name: `gunicorn + Flask + PyTorch (${cpus().length} sync workers × 1 thread)`,
  start: async () => {
    const port = await freePort();
    return startProcess('gunicorn', ['-w', String(cpus().length), '-b', `127.0.0.1:${port}`, '--chdir', PEER_SCRIPT_DIR, 'flask_digits:app'], {
      url: `http://127.0.0.1:${port}`,
      env: { ...process.env, DIGITS_ONNX: modelPath },
    });
  },
});

/**
 * Moves every thread of a running process onto `cpus` (taskset -a -p). Only the server's own
 * process must succeed: a child may have gone in between (gunicorn replaces a worker that timed out).
 */
function pin(pid: number, cpuList: string, required: boolean): void {
  // taskset walks the process's threads; one that exits meanwhile (Flask's server runs a thread per
  // connection) fails the call, so it is tried a few times.
  for (let attempt = 0; attempt < 20; attempt++) {
    if (spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' }).status === 0) return;
    spawnSync('sleep', ['0.05']);
  }
  if (required) throw new Error(`taskset -a -p -c ${cpuList} ${pid} failed 20 times`);
}

/** Python servers run children (gunicorn's workers): pin them all. */
function familyOf(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  const children = (r.stdout ?? '').split('\n').filter(Boolean).map(Number);
  return [pid, ...children.flatMap(familyOf)];
}

/**
 * Liveness probes, one after another, while `work` runs (after its first 500 ms); each
 * latency in ms is pushed onto `into`.
 */
export async function probeLive(url: string, work: Promise<unknown>, into: number[] = []): Promise<number[]> {
  let done = false;
  void work.finally(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 500));
  while (!done) {
    const t = performance.now();
    const response = await request(`${url}/v2/health/live`);
    await response.body.dump();
    into.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return into;
}

/**
 * Measures every contender with every generator, `rounds` times, interleaved. `liveOf` names the
 * contenders whose liveness is probed during their wrk runs.
 */
export async function compareGenerators(options: {
  contenders: Contender[];
  model: string;
  body: Buffer;
  connections: number;
  seconds: number;
  rounds: number;
  liveOf?: string[];
}): Promise<GeneratorComparison> {
  const skipped: string[] = [];
  const generators = (await haveWrk()) ? GENERATORS : (skipped.push('wrk is not installed (apt-get install wrk): undici only'), GENERATORS.slice(0, 1));
  const all = cpus().map((_, i) => i).join(',');
  const servers: Array<{ name: string; server: RunningServer; path: string }> = [];
  for (const contender of options.contenders) {
    process.stderr.write(`generators: starting ${contender.name}\n`);
    const server = await contender.start();
    servers.push({ name: contender.name, server, path: `/v2/models/${contender.model ?? options.model}/infer` });
  }
  const runs = new Map<string, Map<Generator, Measurement[]>>();
  const liveMs = new Map<string, number[]>((options.liveOf ?? []).map((name) => [name, []]));
  const placements = new Map<string, string>();
  try {
    // Warm every server (JIT, connections, Python imports, the cache's first entry).
    for (const { server, path } of servers) {
      await runClosedLoop({ method: 'POST', path, body: options.body, headers: { 'content-type': 'application/json' } }, { url: server.url, concurrency: 8, requests: 400 });
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const { name, server, path } of servers) {
        for (const generator of generators) {
          process.stderr.write(`generators: round ${round + 1}, ${name}, ${generator}\n`);
          const m = await measure(generator, server, path, options, generator === 'wrk' ? liveMs.get(name) : undefined, all);
          const byGenerator = runs.get(name) ?? new Map<Generator, Measurement[]>();
          byGenerator.set(generator, [...(byGenerator.get(generator) ?? []), m]);
          runs.set(name, byGenerator);
        }
      }
    }
  } finally {
    for (const { name, server } of servers) {
      const log = await server.log();
      const placed = [...log.matchAll(/"event":"(?:model_loaded|placement_changed)"[^\n]*?"placement":"(\w+)"/g)].map((m) => m[1]);
      if (placed.length > 0) placements.set(name, placed.join(' → '));
    }
    await Promise.all(servers.map(({ server }) => server.stop()));
  }
  return { runs, liveMs, skipped, placements };
}

async function measure(
  generator: Generator,
  server: RunningServer,
  path: string,
  options: { body: Buffer; connections: number; seconds: number },
  live: number[] | undefined,
  allCpus: string,
): Promise<Measurement> {
  if (generator === 'undici') {
    const before = process.cpuUsage();
    const r = await runClosedLoop({ method: 'POST', path, body: options.body, headers: { 'content-type': 'application/json' } }, {
      url: server.url,
      concurrency: options.connections,
      durationMs: options.seconds * 1000,
    });
    const used = process.cpuUsage(before);
    if (r.errors > 0) throw new Error(`${server.url}: ${r.errors} errors, first: ${r.firstError}`);
    return { perSecond: r.perSecond, p50Ms: r.latency.p50Ms, p99Ms: r.latency.p99Ms, generatorUsPerRequest: (used.user + used.system) / r.requests };
  }
  const pinned = generator === 'wrk pinned';
  const family = familyOf(server.pid);
  if (pinned) for (const pid of family) pin(pid, '0', pid === server.pid);
  try {
    const run = runWrk({ url: server.url, path, body: options.body, connections: options.connections, seconds: options.seconds, ...(pinned && { cpus: '1' }) });
    if (live !== undefined) await probeLive(server.url, run, live);
    const r = await run;
    if (r.errors > 0) throw new Error(`${server.url}: wrk saw ${r.errors} errors`);
    return { perSecond: r.perSecond, p50Ms: r.p50Ms, p99Ms: r.p99Ms, generatorUsPerRequest: (r.cpuSeconds * 1e6) / r.requests };
  } finally {
    if (pinned) for (const pid of familyOf(server.pid)) pin(pid, allCpus, pid === server.pid);
  }
}

/** The mean of a contender's rounds under one generator. */
export function meanOf(comparison: GeneratorComparison, contender: string, generator: Generator): Measurement | undefined {
  const ms = comparison.runs.get(contender)?.get(generator);
  if (ms === undefined || ms.length === 0) return undefined;
  const mean = (f: (m: Measurement) => number) => ms.reduce((sum, m) => sum + f(m), 0) / ms.length;
  return { perSecond: mean((m) => m.perSecond), p50Ms: mean((m) => m.p50Ms), p99Ms: mean((m) => m.p99Ms), generatorUsPerRequest: mean((m) => m.generatorUsPerRequest) };
}
