// The long fuzzing run (`npm run fuzz -- --http 100000 --grpc 20000 --seed 18`): issue 18's target
// "100,000 malformed HTTP + 20,000 malformed gRPC requests: 0 crashes, 0 5xx other than deliberate
// 503/504, every answer bounded in size; RSS back within 10% of its pre-fuzz value". The server
// runs `slipway serve` in its own process (default info logging, into a file whose growth is
// reported); the cases are the CI suite's (test/fuzz), so a failure replays from its seed and index.
import { spawn } from 'node:child_process';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmupCases } from '../test/fuzz/fuzz-cases.js';
import { fuzzGrpc, fuzzHttp, mergeSummary, rawGrpcClient, type FuzzSummary } from '../test/fuzz/fuzz-driver.js';
import { numberArg, ROOT, writeResultsSection } from './results-section.js';

const HTTP_CASES = numberArg('--http', 100_000);
const GRPC_CASES = numberArg('--grpc', 20_000);
const SEED = numberArg('--seed', 18);
const CONCURRENCY = numberArg('--concurrency', 8);
const SLICE = 5_000;
// glibc keeps a malloc arena per thread and returns little of it; the server runs many threads
// (model instances, codec, onnxruntime, gRPC). `--malloc-arena-max 2` runs it with MALLOC_ARENA_MAX.
const ARENAS = numberArg('--malloc-arena-max', 0);
const write = process.argv.includes('--no-write') === false;

async function rssBytes(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1] ?? 0) * 1024;
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function main(): Promise<void> {
  const logPath = join(tmpdir(), `slipway-fuzz-${process.pid}.log`);
  const log = await open(logPath, 'w');
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'serve', join(ROOT, 'test/fixtures/models'), '--http-port', '0', '--grpc-port', '0'], {
    stdio: ['ignore', log.fd, log.fd],
    env: ARENAS > 0 ? { ...process.env, MALLOC_ARENA_MAX: String(ARENAS) } : process.env,
  });
  let exit: string | undefined;
  child.once('exit', (code, signal) => (exit = `exit code ${code}, signal ${signal}`));
  let banner = '';
  for (let i = 0; i < 1200 && !/on http:\/\/127\.0\.0\.1:\d+\n/.test(banner); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    banner = await readFile(logPath, 'utf8');
    if (exit !== undefined) throw new Error(`server ${exit}:\n${banner}`);
  }
  const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
  const grpcAddress = /gRPC \(.*\) on (\S+)/.exec(banner)?.[1];
  if (url === undefined || grpcAddress === undefined) throw new Error(`no banner:\n${banner}`);
  const pid = child.pid!;

  // Warm up with valid traffic to every model over every protocol, so the baseline includes what a
  // serving process holds once each model's workers have served (their heaps grow on first use).
  const warm = warmupCases();
  const client = rawGrpcClient(grpcAddress);
  for (let round = 0; round < 300; round++) {
    await Promise.all([
      ...warm.http.map(async (c) => {
        const response = await fetch(`${url}${c.path}`, { method: c.method, headers: c.headers, ...(c.body !== undefined && { body: c.body }) });
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`warm-up request to ${c.path} answered ${response.status}`);
      }),
      ...warm.grpc.map(
        (c) =>
          new Promise<void>((resolve, reject) =>
            client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, c.bytes, (e) => (e ? reject(e) : resolve())),
          ),
      ),
    ]);
  }
  const valid = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] }] });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const rssBefore = await rssBytes(pid);
  const logBefore = (await stat(logPath)).size;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    if (exit === undefined) void rssBytes(pid).then((r) => (rssPeak = Math.max(rssPeak, r)), () => undefined);
  }, 500);

  const started = performance.now();
  let http: FuzzSummary = { sent: 0, byStatus: {}, failures: [], largestErrorBytes: 0, largestSuccessRatio: 0 };
  for (let first = 0; first < HTTP_CASES && exit === undefined; first += SLICE) {
    http = mergeSummary(http, await fuzzHttp(url, SEED, Math.min(SLICE, HTTP_CASES - first), { first, concurrency: CONCURRENCY }));
    process.stderr.write(`http ${Math.min(first + SLICE, HTTP_CASES)}/${HTTP_CASES}: ${http.failures.length} failures, rss ${mb(await rssBytes(pid))}\n`);
  }
  const httpSeconds = (performance.now() - started) / 1000;
  let grpc: FuzzSummary = { sent: 0, byStatus: {}, failures: [], largestErrorBytes: 0, largestSuccessRatio: 0 };
  for (let first = 0; first < GRPC_CASES && exit === undefined; first += SLICE) {
    grpc = mergeSummary(grpc, await fuzzGrpc(client, SEED, Math.min(SLICE, GRPC_CASES - first), { first, concurrency: CONCURRENCY }));
    process.stderr.write(`grpc ${Math.min(first + SLICE, GRPC_CASES)}/${GRPC_CASES}: ${grpc.failures.length} failures, rss ${mb(await rssBytes(pid))}\n`);
  }
  client.close();
  const grpcSeconds = (performance.now() - started) / 1000 - httpSeconds;
  clearInterval(sampler);

  // RSS after: V8 gives memory back lazily; sample for up to 30 s and keep the lowest.
  let rssAfter = exit === undefined ? await rssBytes(pid) : 0;
  for (let i = 0; i < 30 && exit === undefined && rssAfter > rssBefore * 1.1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    rssAfter = Math.min(rssAfter, await rssBytes(pid));
  }
  const alive = exit === undefined;
  const stillServes = alive && (await fetch(`${url}/v2/models/identity_fp32/infer`, { method: 'POST', body: valid })).status === 200;
  const logAfter = (await stat(logPath)).size;
  const logText = await readFile(logPath, 'utf8');
  const errorLines = logText.split('\n').filter((l) => l.includes('"level":50') || l.includes('"level":60')).length;
  child.kill('SIGTERM');
  await rm(logPath, { force: true });

  const failures = [...http.failures, ...grpc.failures];
  const rssChange = (rssAfter - rssBefore) / rssBefore;
  const statuses = (s: FuzzSummary): string => Object.entries(s.byStatus).sort().map(([k, v]) => `${k}: ${v}`).join(', ');
  const command = `npm run fuzz -- --http ${HTTP_CASES} --grpc ${GRPC_CASES} --seed ${SEED}${ARENAS > 0 ? ` --malloc-arena-max ${ARENAS}` : ''}`;
  const section = `## Abuse: fuzzing${ARENAS > 0 ? `, server with MALLOC_ARENA_MAX=${ARENAS}` : ''} (\`${command}\`)

Malformed requests from the seeded mutators in \`test/fuzz/\` (the CI suite \`test/fuzz/fuzz.test.ts\` runs 2,500 HTTP + 1,000
gRPC of the same cases), ${CONCURRENCY} at a time, against \`slipway serve test/fixtures/models\` in its own process at
the default info log level. Machine: 2 cores shared with other work while this ran, so the rates are low and noisy.

| | HTTP | gRPC |
|---|---|---|
| requests sent | ${http.sent} (${http.byStatus.unsendable ?? 0} more the client could not send) | ${grpc.sent} |
| time | ${httpSeconds.toFixed(0)} s (${(http.sent / httpSeconds).toFixed(0)}/s) | ${grpcSeconds.toFixed(0)} s (${(grpc.sent / grpcSeconds).toFixed(0)}/s) |
| answers | ${statuses(http)} | ${statuses(grpc)} |
| failures (5xx but 503/504, INTERNAL/UNKNOWN, non-JSON error, oversize) | ${http.failures.length} | ${grpc.failures.length} |
| largest error answer | ${http.largestErrorBytes} bytes | ${grpc.largestErrorBytes} bytes of details |
| largest success answer ÷ its request | ${http.largestSuccessRatio.toFixed(2)} | ${grpc.largestSuccessRatio.toFixed(2)} |

- Crashes: ${alive ? 0 : 1} (server ${alive ? 'alive' : exit}); a valid request afterwards: ${stillServes ? '200' : 'failed'}.
- RSS (after ${300 * (warm.http.length + warm.grpc.length)} valid warm-up requests to every model over JSON, binary and gRPC): ${mb(rssBefore)} before, ${mb(rssPeak)} peak, ${mb(rssAfter)} after (${(rssChange * 100).toFixed(1)}%; target within 10%).
- Log: ${((logAfter - logBefore) / 1024).toFixed(0)} KiB written during the run, ${errorLines} lines at error level or above (request lines are capped at 100/s, client-caused 5xx at one line per code per 10 s).
${failures.length > 0 ? `\nFirst failures:\n\n${failures.slice(0, 10).map((f) => `- ${f.protocol} case ${f.index} (seed ${f.seed}, ${f.mutation}): ${f.problem.replaceAll('\n', ' ').slice(0, 200)}`).join('\n')}\n` : ''}
`;
  process.stdout.write(section);
  if (write) await writeResultsSection(ARENAS > 0 ? `fuzz-arenas-${ARENAS}` : 'fuzz', section);
  if (failures.length > 0 || !alive || rssChange > 0.1) process.exitCode = 1;
}

await main();
