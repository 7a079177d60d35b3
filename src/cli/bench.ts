import { readFile } from 'node:fs/promises';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { request } from 'undici';
import { runClosedLoop, type ClosedLoopResult } from '../loadgen/closed-loop.js';
import { parseConcurrencyRange } from '../loadgen/concurrency-range.js';
import { fetchStats, splitBetween, type ServerSplit } from '../loadgen/server-stats.js';
import { synthesizeRequest, type TensorMetadata } from '../loadgen/synthesize-inputs.js';

interface BenchFlags {
  model: string;
  modelVersion?: string;
  url: string;
  concurrency: string;
  duration?: string;
  requests?: string;
  batchSize: string;
  shape: string[];
  inputFile?: string;
  json?: boolean;
}

export interface BenchLevel extends ClosedLoopResult {
  server?: ServerSplit;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('closed-loop load against a running server, like perf_analyzer: throughput, latency percentiles, queue vs compute')
    .requiredOption('-m, --model <name>', 'model to call')
    .option('--model-version <v>', 'model version (default: the one serving)')
    .option('-u, --url <url>', 'server base URL', 'http://127.0.0.1:8000')
    .option('--concurrency <range>', 'N, START:END, START:END:STEP or START:END:xFACTOR', '1')
    .option('--duration <time>', 'per concurrency level, e.g. 10s or 500ms (default 5s unless --requests)')
    .option('--requests <n>', 'per concurrency level, instead of a duration')
    .option('-b, --batch-size <n>', 'rows per request for variable batch dimensions', '1')
    .option('--shape <name:dims>', 'shape for an input with variable dims, e.g. x:1,3,48,320 (repeatable)', collect, [])
    .option('--input-file <file>', 'a JSON OIP request body to send instead of synthesised inputs')
    .option('--json', 'print the results as JSON')
    .action(async (flags: BenchFlags) => {
      const levels = await bench(flags);
      if (flags.json) process.stdout.write(`${JSON.stringify(levels, null, 2)}\n`);
      else process.stdout.write(`${formatTable(flags.model, levels)}\n`);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (match === null) throw new Error(`--duration ${text}: expected e.g. 10s, 500ms or 2m`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : match[2] === 'm' ? n * 60_000 : n * 1000;
}

/** `--shape name:d1,d2,…` flags (repeatable) as a map of input name to dims. */
export function parseShapes(values: string[]): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const value of values) {
    const colon = value.lastIndexOf(':');
    const dims = value.slice(colon + 1).split(',').map(Number);
    if (colon <= 0 || dims.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`--shape ${value}: expected name:d1,d2,...`);
    shapes[value.slice(0, colon)] = dims;
  }
  return shapes;
}

async function bench(flags: BenchFlags): Promise<BenchLevel[]> {
  const url = flags.url.replace(/\/$/, '');
  const versionPath = flags.modelVersion ? `/versions/${encodeURIComponent(flags.modelVersion)}` : '';
  const modelPath = `/v2/models/${encodeURIComponent(flags.model)}${versionPath}`;
  let body: Buffer;
  if (flags.inputFile !== undefined) body = await readFile(flags.inputFile);
  else {
    const meta = await request(`${url}${modelPath}`);
    const metadata = (await meta.body.json()) as { inputs?: TensorMetadata[]; error?: string };
    if (meta.statusCode !== 200 || metadata.inputs === undefined) {
      throw new Error(`cannot read ${flags.model}'s metadata from ${url}: ${metadata.error ?? `status ${meta.statusCode}`}`);
    }
    body = synthesizeRequest(metadata.inputs, { batchSize: Number(flags.batchSize), shapes: parseShapes(flags.shape) }).body;
  }
  const durationMs = flags.requests === undefined ? parseDuration(flags.duration ?? '5s') : undefined;
  const requests = flags.requests === undefined ? undefined : Number(flags.requests);
  const call = { method: 'POST' as const, path: `${modelPath}/infer`, body, headers: { 'content-type': 'application/json' } };
  const results: BenchLevel[] = [];
  const showProgress = process.stderr.isTTY && flags.json !== true;
  for (const concurrency of parseConcurrencyRange(flags.concurrency)) {
    const bar = showProgress
      ? new SingleBar({ format: `concurrency ${concurrency} [{bar}] {percentage}% | {value} requests`, stream: process.stderr }, Presets.shades_classic)
      : undefined;
    bar?.start(durationMs ?? requests ?? 1, 0);
    let before: Awaited<ReturnType<typeof fetchStats>>;
    const result = await runClosedLoop(call, {
      url,
      concurrency,
      afterWarmup: async () => {
        before = await fetchStats(url, flags.model, flags.modelVersion);
      },
      ...(durationMs !== undefined && { durationMs }),
      ...(requests !== undefined && { requests }),
      onProgress: (done, elapsedMs) => bar?.update(durationMs !== undefined ? Math.min(durationMs, elapsedMs) : done, { value: done }),
    });
    const after = await fetchStats(url, flags.model, flags.modelVersion);
    bar?.stop();
    if (result.errors > 0) process.stderr.write(`concurrency ${concurrency}: ${result.errors} errors; first: ${result.firstError}\n`);
    const server = splitBetween(before!, after);
    results.push(server === undefined ? result : { ...result, server });
  }
  return results;
}

export function formatTable(model: string, levels: BenchLevel[]): string {
  const header = '| concurrency | infer/s | p50 ms | p90 ms | p95 ms | p99 ms | server queue µs | compute µs (in/infer/out) | rows/execution | errors |';
  const rows = levels.map((l) => {
    const s = l.server;
    const compute = s ? `${s.computeInputUs.toFixed(0)}/${s.computeInferUs.toFixed(0)}/${s.computeOutputUs.toFixed(0)}` : 'n/a';
    return `| ${l.concurrency} | ${l.perSecond.toFixed(1)} | ${l.latency.p50Ms.toFixed(2)} | ${l.latency.p90Ms.toFixed(2)} | ${l.latency.p95Ms.toFixed(2)} | ${l.latency.p99Ms.toFixed(2)} | ${s ? s.queueUs.toFixed(0) : 'n/a'} | ${compute} | ${s ? s.avgBatchRows.toFixed(1) : 'n/a'} | ${l.errors} |`;
  });
  return [`model ${model}`, header, '|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}
