// Cold start (issue 13): from spawning the process to the first successful digits answer, for
//   slipway serve examples/models/digits/1/model.onnx --no-grpc --no-ui
// beside the floor a bare Fastify + onnxruntime-node process sets (bench/servers/naive-server.ts),
// measured alternately in one run, so the ratio holds on a noisy machine. With --image TAG (and
// podman), also container start to ready; with --before CLI, another build's main.js measured the
// same way (before/after). Besides wall time, the CPU the process used until its first answer (all
// its threads), which a busy machine disturbs far less.
// Usage: node dist/bench/cold-start.js [--runs 7] [--image TAG] [--before path/to/dist/src/cli/main.js]
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/free-port.js';
import { median } from './measure-calls.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = join(ROOT, 'examples/models/digits/1/model.onnx');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(arg('--runs') ?? 7);
const IMAGE = arg('--image');
const BEFORE = arg('--before');

interface Start {
  wallMs: number;
  cpuMs: number;
}

/** User + system CPU of a process (every thread) so far, from /proc (Linux). */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

const body = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Array(64).fill(1) }] });

/** Polls with an inference until one answers 200; returns the milliseconds since `started`. A lone model.onnx is served as 'model'. */
async function firstAnswer(url: string, started: number, path = '/v2/models/model/infer'): Promise<number> {
  for (;;) {
    try {
      const reply = await fetch(`${url}${path}`, { method: path.endsWith('infer') ? 'POST' : 'GET', body: path.endsWith('infer') ? body : undefined, headers: { 'content-type': 'application/json' } });
      await reply.arrayBuffer();
      if (reply.status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 120_000) throw new Error(`no answer from ${url} within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function processStart(args: string[], port: number, env: NodeJS.ProcessEnv = process.env): Promise<Start> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: 'ignore', env });
  try {
    const wallMs = await firstAnswer(`http://127.0.0.1:${port}`, started);
    return { wallMs, cpuMs: cpuMsOf(child.pid!) };
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

const slipway = async (cli = join(ROOT, 'dist/src/cli/main.js')): Promise<Start> => {
  const port = await freePort();
  return processStart([cli, 'serve', MODEL, '--no-grpc', '--no-ui', '--http-port', String(port), '--log-level', 'warn'], port);
};

const bare = async (): Promise<Start> => {
  // The naive server prints the port it picked; give it a fixed free one through a tiny wrapper.
  const port = await freePort();
  const wrapper = join(tmpdir(), `slipway-cold-bare-${process.pid}.mjs`);
  writeFileSync(
    wrapper,
    `import Fastify from '${join(ROOT, 'node_modules/fastify/fastify.js')}';\nimport * as ort from '${join(ROOT, 'node_modules/onnxruntime-node/dist/index.js')}';\n` +
      `const session = await ort.InferenceSession.create(${JSON.stringify(MODEL)});\nconst app = Fastify();\n` +
      `app.post('/v2/models/:m/infer', async (r) => { const x = r.body.inputs[0]; const out = await session.run({ [x.name]: new ort.Tensor('float32', Float32Array.from(x.data), x.shape) }); return { outputs: Object.entries(out).map(([name, t]) => ({ name, data: Array.from(t.data) })) }; });\n` +
      `await app.listen({ port: ${port}, host: '127.0.0.1' });\n`,
  );
  return processStart([wrapper], port);
};

const ms = (v: number): string => `${Math.round(v)} ms`;

const targets: Array<{ label: string; start: () => Promise<Start>; runs: Start[] }> = [
  { label: 'slipway serve digits.onnx --no-grpc --no-ui', start: () => slipway(), runs: [] },
  ...(BEFORE !== undefined ? [{ label: `  the same, before (${BEFORE})`, start: () => slipway(BEFORE), runs: [] }] : []),
  { label: 'bare Fastify + onnxruntime-node', start: bare, runs: [] },
];
await slipway(); // the first start after a build also warms the file system cache: not counted
for (let i = 0; i < RUNS; i++) for (const target of targets) target.runs.push(await target.start());
const width = Math.max(...targets.map((t) => t.label.length));
const lines = [`cold start, process spawned → first digits answer (${RUNS} runs each, alternated; median, min–max; CPU: all threads):`];
for (const t of targets) {
  const wall = t.runs.map((r) => r.wallMs);
  lines.push(`  ${t.label.padEnd(width)}  wall ${ms(median(wall))} (${ms(Math.min(...wall))}–${ms(Math.max(...wall))})  CPU ${ms(median(t.runs.map((r) => r.cpuMs)))}`);
}
const [ours, ...others] = targets;
const floor = others[others.length - 1]!;
const ratio = (a: Start[], b: Start[], key: keyof Start) => (median(a.map((r) => r[key])) / median(b.map((r) => r[key]))).toFixed(2);
lines.push(`  slipway / bare: wall ${ratio(ours!.runs, floor.runs, 'wallMs')}, CPU ${ratio(ours!.runs, floor.runs, 'cpuMs')}`);
if (BEFORE !== undefined) lines.push(`  before / bare:  wall ${ratio(others[0]!.runs, floor.runs, 'wallMs')}, CPU ${ratio(others[0]!.runs, floor.runs, 'cpuMs')}`);

if (IMAGE !== undefined) {
  const conf = join(tmpdir(), `slipway-cold-containers-${process.pid}.conf`);
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const container: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 5); i++) {
    const port = await freePort();
    const name = `slipway-cold-${process.pid}-${i}`;
    const started = performance.now();
    const run = spawnSync('podman', ['run', '-d', '--name', name, '--network=host', '-e', `SLIPWAY_HTTP_PORT=${port}`, '-e', 'SLIPWAY_HOST=127.0.0.1', '-e', 'SLIPWAY_GRPC=false', IMAGE], { env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`podman run failed: ${run.stderr}`);
    try {
      container.push(await firstAnswer(`http://127.0.0.1:${port}`, started, '/v2/health/ready'));
    } finally {
      spawnSync('podman', ['rm', '-f', '-t', '0', name], { env });
    }
  }
  lines.push(`container start (podman run -d) → ready, every model of the image: ${ms(median(container))} median (${ms(Math.min(...container))}–${ms(Math.max(...container))}), ${container.length} runs`);
}
process.stdout.write(`${lines.join('\n')}\n`);
