// The serving benchmark of issue 3, every scenario measured in ONE run on this machine and written
// to bench/RESULTS.md as ratios beside the absolute numbers. Every server runs in its own process;
// the load generator (undici, closed loop) runs here. Usage: npm run bench [-- --seconds 5]
// Three models: digits_linear (a 4 KB softmax regression, microseconds per row: the overhead-bound
// case the HTTP-floor and cache-hit targets are about), the digits CNN (retrained in issue 16,
// ~0.34 ms per row: compute-bound) and PaddleOCR recognition (compute-bound, 6 MB answers).
//   (a) engine limit: decode + onnxruntime + encode in-process, best of 1 session × 2 threads and
//       2 worker threads × 1 thread, at the best batch size
//   (b) Slipway, default config (dynamic batching on)   (c) Slipway, batching off
//   (d) naive: Fastify + session.run on the main thread  (e) HTTP floor: canned answer, same size
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { request } from 'undici';
import { runClosedLoop, type ClosedLoopResult } from '../src/loadgen/closed-loop.js';
import { summarizeLatencies } from '../src/loadgen/latency-summary.js';
import { engineLoop, type EngineWorkerData } from './engine-worker.js';
import { ROOT, writeResultsSection } from './results-section.js';
import { repoWith } from './example-repository.js';
import { startServer } from './server-process.js';
import { compareGenerators, flaskContender, GENERATORS, probeLive, gunicornContender, haveGunicorn, havePythonPeers, meanOf, type Contender, type GeneratorComparison } from './generators.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('--seconds', 5);
// Other work on the machine starves inference far more than HTTP: every table says how loaded it was.
const loadAtStart = loadavg()[0]!;
/** Rounds of the interleaved load-generator comparison. */
const ROUNDS = arg('--rounds', 2);


/** Slipway as deployed: metrics on, one JSON log line per request (to a file); or with both off. */
const slipwayServer = (repo: string, observability: 'on' | 'off' = 'on') =>
  startServer(`${ROOT}dist/src/cli/main.js`, [
    'serve', repo, '--http-port', '0', '--grpc-port', '0',
    ...(observability === 'on' ? ['--log-level', 'info'] : ['--log-level', 'error', '--no-metrics']),
  ]);

async function engineLimit(modelPath: string, body: Buffer, batches: number[]): Promise<{ perSecond: number; how: string }> {
  let best = { perSecond: 0, how: '' };
  const durationMs = Math.max(1000, SECONDS * 400);
  for (const batch of batches) {
    const data: EngineWorkerData = { modelPath, body, batch, threads: 2, durationMs };
    const one = await engineLoop(data);
    if (one > best.perSecond) best = { perSecond: one, how: `1 session × 2 threads, batch ${batch}` };
    const two = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { workerData: { ...data, threads: 1 } });
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
    const sum = two[0]! + two[1]!;
    if (sum > best.perSecond) best = { perSecond: sum, how: `2 threads × 1 session, batch ${batch}` };
  }
  return best;
}

async function load(url: string, model: string, body: Buffer, concurrency: number): Promise<ClosedLoopResult> {
  const result = await runClosedLoop(
    { method: 'POST', path: `/v2/models/${model}/infer`, body, headers: { 'content-type': 'application/json' } },
    { url, concurrency, durationMs: SECONDS * 1000 },
  );
  if (result.errors > 0) throw new Error(`${url}: ${result.errors} errors, first: ${result.firstError}`);
  return result;
}

interface Row {
  scenario: string;
  concurrency: number | '';
  perSecond: number;
  p50?: number;
  p99?: number;
  note?: string;
}

/**
 * One model's rows. `overheadBound` adds the rows that only mean something when the model costs
 * microseconds: metrics and logs off, and every request a cache hit.
 */
async function benchModel(model: string, body: Buffer, clients: number[], engineBatches: number[], overheadBound = false): Promise<{ rows: Row[]; extra: Record<string, number> }> {
  const rows: Row[] = [];
  const extra: Record<string, number> = {};
  const modelPath = join(ROOT, 'examples/models', model, '1/model.onnx');
  const push = (scenario: string, r: ClosedLoopResult) =>
    rows.push({ scenario, concurrency: r.concurrency, perSecond: r.perSecond, p50: r.latency.p50Ms, p99: r.latency.p99Ms });
  process.stderr.write(`${model}: (a) engine limit\n`);
  const engine = await engineLimit(modelPath, body, engineBatches);
  rows.push({ scenario: '(a) engine limit (in-process decode+run+encode)', concurrency: '', perSecond: engine.perSecond, note: engine.how });

  process.stderr.write(`${model}: (b) Slipway\n`);
  const repoB = await repoWith(model, '# defaults: dynamic batching on, 2 instances × 1 thread on 2 cores\n');
  const b = await slipwayServer(repoB);
  const canned = await (await request(`${b.url}/v2/models/${model}/infer`, { method: 'POST', body })).body.arrayBuffer();
  for (const c of clients) {
    if (c === Math.max(...clients)) {
      const run = load(b.url, model, body, c);
      const live = await probeLive(b.url, run);
      push('(b) Slipway (batching on)', await run);
      extra.liveP99Ms = summarizeLatencies(live).p99Ms;
      extra.liveProbes = live.length;
    } else push('(b) Slipway (batching on)', await load(b.url, model, body, c));
  }
  await b.stop();

  if (overheadBound) {
    process.stderr.write(`${model}: Slipway with metrics and request logs off\n`);
    const quiet = await slipwayServer(repoB, 'off');
    push('Slipway (batching on), metrics and logs off', await load(quiet.url, model, body, Math.max(...clients)));
    await quiet.stop();
  }

  process.stderr.write(`${model}: (c) Slipway, batching off\n`);
  const repoC = await repoWith(model, 'dynamic_batching: { enable: false }\n');
  const c = await slipwayServer(repoC);
  push('(c) Slipway (batching off)', await load(c.url, model, body, Math.max(...clients)));
  await c.stop();

  if (overheadBound) {
    process.stderr.write(`${model}: cache hits\n`);
    const repoCache = await repoWith(model, 'response_cache: { enable: true }\n');
    const cache = await slipwayServer(repoCache);
    push('Slipway, every request a cache hit', await load(cache.url, model, body, Math.max(...clients)));
    await cache.stop();
    await rm(repoCache, { recursive: true, force: true });
  }

  process.stderr.write(`${model}: (d) naive server\n`);
  const d = await startServer(`${ROOT}dist/bench/servers/naive-server.js`, [modelPath]);
  push('(d) naive: Fastify + session.run on the main thread', await load(d.url, model, body, Math.max(...clients)));
  await d.stop();

  process.stderr.write(`${model}: (e) HTTP floor\n`);
  const cannedFile = join(tmpdir(), `slipway-bench-${model}-response.json`);
  await writeFile(cannedFile, Buffer.from(canned));
  const e = await startServer(`${ROOT}dist/bench/servers/floor-server.js`, [cannedFile]);
  push('(e) HTTP floor: bare Fastify, canned answer of the same size', await load(e.url, model, body, Math.max(...clients)));
  await e.stop();
  await Promise.all([repoB, repoC].map((dir) => rm(dir, { recursive: true, force: true })));
  extra.responseBytes = canned.byteLength;
  return { rows, extra };
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? '' : n.toFixed(digits));
function table(rows: Row[]): string {
  return [
    '| scenario | clients | infer/s | p50 ms | p99 ms | note |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.concurrency} | ${fmt(r.perSecond)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.note ?? ''} |`),
  ].join('\n');
}

function ratio(rows: Row[], scenario: string, against: string, clients?: number): number {
  const find = (prefix: string) => rows.find((r) => r.scenario.startsWith(prefix) && (clients === undefined || r.concurrency === '' || r.concurrency === clients))!;
  return find(scenario).perSecond / find(against).perSecond;
}

const samples = JSON.parse(await readFile(join(ROOT, 'examples/models/digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
const digitsBody = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: samples[3]!.image }] }));
let seed = 7;
const recData = Array.from({ length: 3 * 48 * 320 }, () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return Math.round((seed / 2 ** 30 - 1) * 1000) / 1000;
});
const recBody = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 320], data: recData }] }));

// digits_linear takes the CNN's input (`image`, [batch, 1, 8, 8]), so one body feeds both.
const linear = await benchModel('digits_linear', digitsBody, [8, 64], [1, 8, 32, 64], true);
const digits = await benchModel('digits', digitsBody, [8, 64], [8, 64]);

// The overhead-bound servers (digits_linear) under three load generators, interleaved (see
// generators.ts), with the CNN's Slipway beside the Python peers, which run the CNN.
const linearModel = join(ROOT, 'examples/models/digits_linear/1/model.onnx');
const digitsModel = join(ROOT, 'examples/models/digits/1/model.onnx');
const generatorRepos = await Promise.all([
  repoWith('digits_linear', '# defaults\n'),
  repoWith('digits_linear', 'response_cache: { enable: true }\n'),
  repoWith('digits_linear', 'response_cache: { enable: true, raw_body: false }\n'),
  repoWith('digits_linear', 'instance_group: { placement: inline }\n'),
  repoWith('digits_linear', 'instance_group: { placement: auto }\n'),
  repoWith('digits', '# defaults\n'),
]);
const SLIPWAY = 'Slipway (batching on; placement worker, the default)';
const SLIPWAY_CNN = 'digits CNN (compute-bound): Slipway (batching on, the default)';
const CACHE_RAW = 'Slipway, every request a cache hit (raw bytes)';
const CACHE_TENSOR = 'Slipway, every request a cache hit (raw_body off: decode + tensor key)';
const CACHE_QUIET = 'Slipway, every request a cache hit (raw bytes), metrics and request logs off';
const NAIVE = '(d) naive: Fastify + session.run';
const INLINE = 'Slipway, instance_group.placement: inline (main thread)';
const AUTO = 'Slipway, instance_group.placement: auto (measured at load)';
const FLOOR = '(e) HTTP floor';
const contenders: Contender[] = [
  { name: FLOOR, start: () => startServer(`${ROOT}dist/bench/servers/floor-server.js`, [join(tmpdir(), 'slipway-bench-digits_linear-response.json')]) },
  { name: NAIVE, start: () => startServer(`${ROOT}dist/bench/servers/naive-server.js`, [linearModel]) },
  { name: SLIPWAY, start: () => slipwayServer(generatorRepos[0]!) },
  { name: CACHE_RAW, start: () => slipwayServer(generatorRepos[1]!) },
  { name: CACHE_TENSOR, start: () => slipwayServer(generatorRepos[2]!) },
  { name: CACHE_QUIET, start: () => slipwayServer(generatorRepos[1]!, 'off') },
  { name: INLINE, start: () => slipwayServer(generatorRepos[3]!) },
  { name: AUTO, start: () => slipwayServer(generatorRepos[4]!) },
  { name: SLIPWAY_CNN, model: 'digits', start: () => slipwayServer(generatorRepos[5]!) },
];
const peerNotes: string[] = [];
if (havePythonPeers()) {
  contenders.push({ ...flaskContender(digitsModel), model: 'digits' });
  if (haveGunicorn()) contenders.push({ ...gunicornContender(digitsModel), model: 'digits' });
  else peerNotes.push('gunicorn is not installed (apt-get install gunicorn): its row is left out');
} else peerNotes.push('/usr/bin/python3 lacks torch, onnx or flask (apt-get install python3-torch python3-onnx python3-flask): the Python peers are left out');
const generators = await compareGenerators({ contenders, model: 'digits_linear', body: digitsBody, connections: 64, seconds: SECONDS, rounds: ROUNDS, liveOf: [SLIPWAY, INLINE, AUTO] });
await Promise.all(generatorRepos.map((dir) => rm(dir, { recursive: true, force: true })));
const rec = await benchModel('ocr_rec', recBody, [8], [1, 4, 8]);

const l = linear.rows;
const d = digits.rows;
const r = rec.rows;
const b8 = l.find((x) => x.scenario.startsWith('(b)') && x.concurrency === 8)!;
const rb8 = r.find((x) => x.scenario.startsWith('(b)') && x.concurrency === 8)!;
function genRatio(a: string, b: string, generator: (typeof GENERATORS)[number]): number {
  const x = meanOf(generators, a, generator);
  const y = meanOf(generators, b, generator);
  return x === undefined || y === undefined ? Number.NaN : x.perSecond / y.perSecond;
}

function generatorTables(g: GeneratorComparison): string {
  const used = GENERATORS.filter((gen) => [...g.runs.values()].some((m) => m.has(gen)));
  const head = `| server | ${used.map((gen) => `${gen} infer/s | p99 ms`).join(' | ')} |`;
  const rule = `|---|${used.map(() => '---|---').join('|')}|`;
  const rows = [...g.runs.keys()].map(
    (name) => `| ${name} | ${used.map((gen) => { const m = meanOf(g, name, gen); return m === undefined ? ' | ' : `${fmt(m.perSecond)} | ${fmt(m.p99Ms, 2)}`; }).join(' | ')} |`,
  );
  const ratioRows: Array<[string, string, string, string]> = [
    ['Slipway ÷ (e) HTTP floor', SLIPWAY, FLOOR, '≥ 0.8'],
    ['Slipway ÷ (d) naive', SLIPWAY, NAIVE, '≥ 2.5'],
    ['cache hit (raw bytes) ÷ (e) HTTP floor', CACHE_RAW, FLOOR, '≥ 0.8'],
    ['cache hit: raw bytes ÷ raw_body off (issue 17 lever 4, before → after)', CACHE_RAW, CACHE_TENSOR, ''],
    ['cache hit, metrics and logs off ÷ (e) HTTP floor', CACHE_QUIET, FLOOR, ''],
    ['(d) naive ÷ (e) HTTP floor', NAIVE, FLOOR, ''],
    ['placement inline ÷ worker (the default; issue 17 lever 3)', INLINE, SLIPWAY, ''],
    ['placement auto ÷ worker (the default)', AUTO, SLIPWAY, ''],
    ...[...g.runs.keys()].filter((n) => /Flask|gunicorn/.test(n)).map((n): [string, string, string, string] => [`digits CNN: Slipway ÷ ${n}`, SLIPWAY_CNN, n, '']),
  ];
  const ratios = ratioRows.map(([what, a, b, goal]) => `| ${what} | ${used.map((gen) => fmt(genRatio(a, b, gen), 2)).join(' | ')} | ${goal} |`);
  const cost = used.map((gen) => `${gen}: ${fmt(meanOf(g, FLOOR, gen)?.generatorUsPerRequest, 1)} µs`).join(', ');
  return [
    head, rule, ...rows, '',
    `| ratio | ${used.join(' | ')} | goal |`, `|---|${used.map(() => '---').join('|')}|---|`, ...ratios, '',
    `Generator CPU per request against the floor (user + system): ${cost}.`,
    ...[...g.liveMs].map(([name, ms]) => `Liveness under wrk's load on ${name}: ${ms.length} probes, p99 ${fmt(summarizeLatencies(ms).p99Ms, 2)} ms, worst ${fmt(Math.max(...ms), 2)} ms.`),
    `Placement as each Slipway server logged it: ${[...g.placements].map(([name, p]) => `${name}: ${p}`).join('; ')}.`,
    ...g.skipped.map((s) => `Note: ${s}.`),
    ...peerNotes.map((s) => `Note: ${s}.`),
  ].join('\n');
}

const checks = [
  ['compute-bound (ocr_rec), 8 clients: Slipway ÷ (a) engine limit', ratio(r, '(b)', '(a)', 8), 0.9],
  ['compute-bound (ocr_rec), 8 clients: Slipway ÷ (d) naive', ratio(r, '(b)', '(d)', 8), 1.5],
  ['ocr_rec, 8 clients: p99 ÷ p50', rb8.p99! / rb8.p50!, -2.5],
  ['compute-bound (digits CNN), 64 clients: Slipway ÷ (a) engine limit', ratio(d, '(b)', '(a)', 64), 0.9],
  ['compute-bound (digits CNN), 64 clients: Slipway ÷ (d) naive', ratio(d, '(b)', '(d)', 64), 1.5],
  ['overhead-bound (digits_linear), 64 clients: Slipway ÷ (e) HTTP floor', ratio(l, '(b)', '(e)', 64), 0.8],
  ['overhead-bound (digits_linear), 64 clients: Slipway ÷ (d) naive', ratio(l, '(b)', '(d)', 64), 2.5],
  ['overhead-bound (digits_linear), 64 clients: batching on ÷ batching off', ratio(l, '(b)', '(c)', 64), 2],
  ['overhead-bound (digits_linear), 8 clients: p99 ÷ p50', b8.p99! / b8.p50!, -2.5],
  ['overhead-bound (digits_linear), 64 clients: /v2/health/live p99 ms under full load', linear.extra.liveP99Ms!, -20],
  ['overhead-bound (digits_linear), 64 clients: cache-hit path ÷ (e) HTTP floor', ratio(l, 'Slipway, every', '(e)', 64), 0.8],
  ['overhead-bound (digits_linear), 64 clients: metrics + request logs on ÷ off', ratio(l, '(b)', 'Slipway (batching on), metrics', 64), 0.95],
  ['overhead-bound (digits_linear), 64 connections (wrk): Slipway ÷ (e) HTTP floor', genRatio(SLIPWAY, FLOOR, 'wrk'), 0.8],
  ['overhead-bound (digits_linear), 64 connections (wrk): Slipway ÷ (d) naive', genRatio(SLIPWAY, NAIVE, 'wrk'), 2.5],
  ['overhead-bound (digits_linear), 64 connections (wrk): cache-hit path ÷ (e) HTTP floor', genRatio(CACHE_RAW, FLOOR, 'wrk'), 0.8],
  ['overhead-bound (digits_linear), 64 connections (wrk): /v2/health/live p99 ms under full load', summarizeLatencies(generators.liveMs.get(SLIPWAY)!).p99Ms, -20],
  ['overhead-bound (digits_linear), 64 connections (wrk): /v2/health/live p99 ms, placement inline', summarizeLatencies(generators.liveMs.get(INLINE)!).p99Ms, -20],
] as const;
const verdict = (value: number, target: number) => (target >= 0 ? value >= target : value <= -target) ? 'met' : 'MISSED';
const summary = [
  '| target | measured | goal | |',
  '|---|---|---|---|',
  ...checks.map(([what, value, target]) => `| ${what} | ${value.toFixed(2)} | ${target >= 0 ? '≥' : '≤'} ${Math.abs(target)} | ${verdict(value, target)} |`),
].join('\n');

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, ${SECONDS} s per point, load average ${loadAtStart.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end`;
const section = `## Serving: Slipway against the engine limit, a naive server and the HTTP floor

${machine}. Reproduce with \`npm run bench\`.

${summary}

### digits_linear (overhead-bound: a 4 KB softmax regression, microseconds per row; response ${linear.extra.responseBytes} bytes)

The model the HTTP-floor, naive and cache-hit targets are about: its inference costs microseconds, so
what Slipway adds around it is what these rows measure. It takes the CNN's input, so the body is the same.

${table(l)}

Liveness under the 64-client load: ${linear.extra.liveProbes} probes, p99 ${fmt(linear.extra.liveP99Ms, 2)} ms.

### digits CNN (compute-bound since its retraining in issue 16; response ${digits.extra.responseBytes} bytes)

Read against the engine limit (a): a canned answer (e) costs nothing to compute, so "÷ floor" means little here.

${table(d)}

### digits_linear, 64 connections, three load generators (mean of ${ROUNDS} interleaved rounds)

undici: the closed loop above, in the bench process; wrk: Debian's wrk, 1 thread, both cores shared with the
server; wrk pinned: the server's threads pinned to core 0 (\`taskset -a -p\`), wrk to core 1. Every server
stays up for the whole comparison and each round visits all of them with every generator. The Python peers
run the digits CNN (its weights read from the ONNX file), so they are compared with Slipway serving the CNN.

${generatorTables(generators)}

### PaddleOCR recognition, input [1,3,48,320] (compute-bound; response ${(rec.extra.responseBytes! / 1e6).toFixed(1)} MB of JSON)

${table(r)}
`;
console.log(section);
await writeResultsSection('serving', section);
process.exit(0);
