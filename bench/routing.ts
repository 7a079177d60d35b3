// What a traffic policy costs per request, measured in ONE run against one `slipway serve` process
// (its own process; the closed-loop load generator runs here): the digits CNN served as versions 1
// and 2, with no policy, a 90/10 split, 90/10 with a sticky key per request, 90/10 with 10% shadow
// copies, and a rollout in progress (its analysis recording every request). Each scenario is set
// through the admin API on the same server, so only the policy differs. Writes its section of
// RESULTS.md. Usage: npm run build && node dist/bench/routing.js [--seconds 4] [--clients 32]
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlipwayHttpClient } from '../src/client/http-client.js';
import { runClosedLoop, type ClosedLoopResult, type HttpCall } from '../src/loadgen/closed-loop.js';
import { ROOT, numberArg, writeResultsSection } from './results-section.js';

const SECONDS = numberArg('--seconds', 4);
const CLIENTS = numberArg('--clients', 32);
const TOKEN = 'bench-routing-token';

async function startServer(repo: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [`${ROOT}dist/src/cli/main.js`, 'serve', repo, '--http-port', '0', '--no-grpc', '--no-ui', '--log-level', 'error', '--admin-token', TOKEN, '--rollout-db', `sqlite:${join(repo, '..', 'rollouts.db')}`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let i = 0; i < 600; i++) {
    const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    if (url !== undefined) return { url, stop: () => child.kill('SIGTERM') };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`the server printed no URL in 30 s:\n${out}`);
}

const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-routing-'));
const repo = join(dir, 'models');
for (const version of [1, 2]) {
  await mkdir(join(repo, 'digits', String(version)), { recursive: true });
  await cp(join(ROOT, 'examples/models/digits/1/model.onnx'), join(repo, 'digits', String(version), 'model.onnx'));
}
await writeFile(join(repo, 'digits', 'config.yaml'), 'version_policy: { all: {} }\n');
const samples = JSON.parse(await readFile(join(ROOT, 'examples/models/digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
const bodies = samples.map((s) => Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: s.image.flat(2) }] })));

const server = await startServer(repo);
const admin = new SlipwayHttpClient(server.url, { adminToken: TOKEN });
let n = 0;
const call = (sticky: boolean) => (): HttpCall => {
  n++;
  return {
    method: 'POST',
    path: '/v2/models/digits/infer',
    body: bodies[n % bodies.length]!,
    headers: { 'content-type': 'application/json', ...(sticky && { 'x-slipway-key': `user-${n % 5000}` }) },
  };
};
const measure = (sticky = false): Promise<ClosedLoopResult> => runClosedLoop(call(sticky), { url: server.url, concurrency: CLIENTS, durationMs: SECONDS * 1000, warmupRequests: CLIENTS * 20 });

const rows: Array<{ scenario: string; result: ClosedLoopResult }> = [];
try {
  rows.push({ scenario: 'no policy (newest READY version)', result: await measure() });
  await admin.setTraffic('digits', { weights: { 1: 90, 2: 10 } });
  rows.push({ scenario: 'weights 90/10', result: await measure() });
  rows.push({ scenario: 'weights 90/10, x-slipway-key on every request', result: await measure(true) });
  await admin.setTraffic('digits', { weights: { 1: 90, 2: 10 }, shadow: { version: 2, percent: 10 } });
  rows.push({ scenario: 'weights 90/10, 10% shadow copies to version 2', result: await measure() });
  await admin.clearTraffic('digits');
  await admin.setTraffic('digits', { weights: { 1: 100 } });
  await admin.startRollout('digits', { to: 2, steps: [10, 50], interval: '10m' });
  rows.push({ scenario: 'rollout at 10% (analysis recording every request)', result: await measure() });
  const rollbackStarted = performance.now();
  await admin.rollback('digits');
  const rollbackMs = performance.now() - rollbackStarted;

  const base = rows[0]!.result.perSecond;
  const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const section = `## Traffic policies: what routing costs (\`node dist/bench/routing.js\`)

${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, digits served as versions 1 and 2, ${CLIENTS} clients, ${SECONDS} s per row, one server process.

| scenario | infer/s | ÷ no policy | p50 ms | p99 ms | errors |
|---|---|---|---|---|---|
${rows.map((r) => `| ${r.scenario} | ${fmt(r.result.perSecond)} | ${fmt(r.result.perSecond / base, 2)} | ${fmt(r.result.latency.p50Ms, 2)} | ${fmt(r.result.latency.p99Ms, 2)} | ${r.result.errors} |`).join('\n')}

The rollback (\`POST /v2/models/digits/rollout/rollback\`, SQLite store) answered in ${fmt(rollbackMs, 1)} ms with the load stopped.
A sticky key costs two MurmurHash3 passes per version (well under a microsecond); a shadow copy costs a copy of
the input and, on the shadow version, an inference that is shed whenever either version has requests waiting.
`;
  console.log(section);
  await writeResultsSection('routing', section);
} finally {
  server.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
