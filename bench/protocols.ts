// JSON vs binary HTTP vs gRPC, measured in ONE run against one `slipway serve` process (its own
// process; the load generators run here): the digits CNN (a small input) and identity_fp32 with a
// 1 MB and a 4 MB FP32 tensor. Closed loop, same concurrency for every protocol; bodies are built
// once, so the client's own encoding is not what is measured. Writes its section of RESULTS.md.
// Usage: npm run build && node dist/bench/protocols.js [--seconds 3] [--clients 4]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { runClosedLoop, type HttpCall } from '../src/loadgen/closed-loop.js';
import { summarizeLatencies, type LatencySummary } from '../src/loadgen/latency-summary.js';
import { loadServices } from '../src/protocol/grpc/proto.js';
import { writeResultsSection } from './results-section.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('--seconds', 3);
const CLIENTS = arg('--clients', 4);

interface Row {
  workload: string;
  protocol: string;
  perSecond: number;
  latency: LatencySummary;
  requestBytes: number;
  errors: number;
}

async function startServer(repo: string): Promise<{ url: string; grpc: string; stop: () => void }> {
  const child = spawn(process.execPath, [`${ROOT}dist/src/cli/main.js`, 'serve', repo, '--http-port', '0', '--grpc-port', '0', '--log-level', 'error'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let i = 0; i < 600; i++) {
    const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    const grpc = /gRPC \(.*\) on (\S+)/.exec(out)?.[1];
    if (url !== undefined && grpc !== undefined) return { url, grpc, stop: () => child.kill('SIGTERM') };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`the server printed no addresses in 30 s:\n${out}`);
}

async function repository(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-protocols-'));
  for (const model of ['digits', 'identity_fp32']) {
    await mkdir(join(dir, model, '1'), { recursive: true });
    await symlink(join(ROOT, model === 'digits' ? 'examples/models' : 'test/fixtures/models', model, '1/model.onnx'), join(dir, model, '1/model.onnx'));
    // One instance with the machine's threads; batching off, so every protocol sees the same scheduling.
    await writeFile(join(dir, model, 'config.yaml'), 'dynamic_batching:\n  enable: false\n');
  }
  return dir;
}

/** The same closed loop as runClosedLoop, for gRPC unary calls through a grpc-js client. */
async function grpcLoop(client: Client, request: object, concurrency: number, durationMs: number): Promise<{ perSecond: number; latency: LatencySummary; errors: number }> {
  const infer = (client as unknown as { ModelInfer: (r: object, m: Metadata, cb: (e: ServiceError | null) => void) => void }).ModelInfer.bind(client);
  const once = () => new Promise<boolean>((resolve) => infer(request, new Metadata(), (error) => resolve(error === null)));
  for (let i = 0; i < concurrency * 2; i++) await once();
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        if (await once()) latencies.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  return { perSecond: (latencies.length / elapsed) * 1000, latency: summarizeLatencies(latencies), errors };
}

function jsonCall(model: string, name: string, shape: number[], data: Float32Array): HttpCall {
  const body = Buffer.from(JSON.stringify({ inputs: [{ name, datatype: 'FP32', shape, data: Array.from(data) }] }));
  return { method: 'POST', path: `/v2/models/${model}/infer`, body, headers: { 'content-type': 'application/json' } };
}

function binaryCall(model: string, name: string, shape: number[], data: Float32Array): HttpCall {
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name, datatype: 'FP32', shape, parameters: { binary_data_size: raw.byteLength } }], parameters: { binary_data_output: true } }));
  return {
    method: 'POST',
    path: `/v2/models/${model}/infer`,
    body: Buffer.concat([header, raw]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) },
  };
}

const rows: Row[] = [];
const repo = await repository();
const server = await startServer(repo);
const { inference } = loadServices();
const grpcClient = new inference(server.grpc, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1, 'grpc-node.flow_control_window': 16 * 1024 * 1024 });

const digitsImage = Float32Array.from(
  (JSON.parse(await readFile(join(ROOT, 'examples/models/digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>)[0]!.image.flat(2),
);
const workloads = [
  { workload: 'digits, FP32[1,1,8,8] (256 B)', model: 'digits', name: 'image', shape: [1, 1, 8, 8], data: digitsImage },
  { workload: 'identity_fp32, FP32[1,262144] (1 MB)', model: 'identity_fp32', name: 'INPUT0', shape: [1, 262144], data: Float32Array.from({ length: 262144 }, (_, i) => Math.sin(i) * 1000) },
  { workload: 'identity_fp32, FP32[1,1048576] (4 MB)', model: 'identity_fp32', name: 'INPUT0', shape: [1, 1048576], data: Float32Array.from({ length: 1048576 }, (_, i) => Math.cos(i) * 1000) },
];

try {
  for (const w of workloads) {
    const durationMs = SECONDS * 1000;
    for (const [protocol, call] of [['HTTP JSON', jsonCall(w.model, w.name, w.shape, w.data)], ['HTTP binary', binaryCall(w.model, w.name, w.shape, w.data)]] as const) {
      const result = await runClosedLoop(call, { url: server.url, concurrency: CLIENTS, durationMs, warmupRequests: CLIENTS * 2 });
      rows.push({ workload: w.workload, protocol, perSecond: result.perSecond, latency: result.latency, requestBytes: call.body!.byteLength, errors: result.errors });
      if (result.firstError) console.error(protocol, result.firstError);
    }
    const raw = Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    const request = { model_name: w.model, inputs: [{ name: w.name, datatype: 'FP32', shape: w.shape }], raw_input_contents: [raw] };
    const g = await grpcLoop(grpcClient, request, CLIENTS, durationMs);
    rows.push({ workload: w.workload, protocol: 'gRPC raw', perSecond: g.perSecond, latency: g.latency, requestBytes: raw.byteLength, errors: g.errors });
  }
} finally {
  grpcClient.close();
  server.stop();
  await rm(repo, { recursive: true, force: true });
}

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const rate = (workload: string, protocol: string) => rows.find((r) => r.workload === workload && r.protocol === protocol)!.perSecond;
const oneMb = workloads[1]!.workload;
const binaryOverJson = rate(oneMb, 'HTTP binary') / rate(oneMb, 'HTTP JSON');
const section = `## Protocols: JSON vs binary HTTP vs gRPC (\`node dist/bench/protocols.js\`)

${cpus().length} × ${cpus()[0]?.model.trim().split(' ').slice(0, 2).join(' ')}, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, ${SECONDS} s per point, ${CLIENTS} clients (closed loop), one \`slipway serve\` process (batching off), load generators in the bench process.

| target | measured | goal | |
|---|---|---|---|
| 1 MB FP32 input: binary HTTP ÷ JSON requests/s | ${fmt(binaryOverJson, 2)} | ≥ 5 | ${binaryOverJson >= 5 ? 'met' : 'MISSED'} |

| workload | protocol | request bytes | infer/s | p50 ms | p99 ms | ÷ JSON | errors |
|---|---|---|---|---|---|---|---|
${rows
  .map((r) => `| ${r.workload} | ${r.protocol} | ${r.requestBytes} | ${fmt(r.perSecond)} | ${fmt(r.latency.p50Ms, 2)} | ${fmt(r.latency.p99Ms, 2)} | ${fmt(r.perSecond / rate(r.workload, 'HTTP JSON'), 2)} | ${r.errors} |`)
  .join('\n')}
`;
console.log(section);
await writeResultsSection(join(ROOT, 'bench/RESULTS.md'), 'protocols', section);
process.exit(0);
