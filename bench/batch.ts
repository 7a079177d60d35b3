// Batch prediction throughput: 100k rows of the digits model, CSV and JSONL -> SQLite, against the engine limit
// measured in the same run (onnxruntime called directly at the same batch size, one thread, input
// already in memory, no I/O). The job runs as a real `slipway batch run` in its own process; its
// rows/s covers reading, parsing, inference and committing (not process start or model load).
// Usage: npm run bench:batch [-- --rows 100000 --rounds 3]
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse';
import { createReadStream } from 'node:fs';
import * as ort from 'onnxruntime-node';
import pg from 'pg';
import { CsvSource } from '../src/batch/sources/csv-source.js';
import { JsonlSource, splitLines } from '../src/batch/sources/jsonl-source.js';
import { createInterface } from 'node:readline';
import { Slipway } from '../src/slipway.js';
import { expandInputFiles, type InputFile } from '../src/batch/sources/input-files.js';
import type { RowSource } from '../src/batch/sources/row-source.js';
import { ROOT, writeResultsSection } from './results-section.js';
import { median } from './measure-calls.js';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const ROWS = arg('rows', 100_000);
const ROUNDS = arg('rounds', 3);
const BATCH = 64; // the digits model's max_batch_size, which the job uses by default

interface Sample {
  image: number[][][];
}
const samples = JSON.parse(await readFile(join(ROOT, 'examples/models/digits/samples.json'), 'utf8')) as Sample[];

// A deterministic generator: sample i % 10 plus noise, two decimals, like real sensor data.
let seed = 12345;
const random = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-batch-'));
const csvPath = join(dir, 'digits.csv');
const jsonlPath = join(dir, 'digits.jsonl');
const pixels = new Float32Array(ROWS * 64);
let csvBytes = 0;
let jsonlBytes = 0;
{
  const columns = Array.from({ length: 64 }, (_, i) => `p${i}`);
  const lines = [`id,${columns.join(',')}`];
  const records: string[] = [];
  for (let r = 0; r < ROWS; r++) {
    const image = samples[r % samples.length]!.image.flat(2);
    const values = image.map((v) => Math.round(Math.min(16, Math.max(0, v + (random() - 0.5) * 2)) * 100) / 100);
    values.forEach((v, i) => (pixels[r * 64 + i] = v));
    lines.push(`${r},${values.join(',')}`);
    // The same rows as JSON Lines: one flat object per row, the fields in the CSV's order.
    records.push(`{"id":${r},${values.map((v, i) => `"${columns[i]}":${v}`).join(',')}}`);
  }
  const csvText = `${lines.join('\n')}\n`;
  const jsonlText = `${records.join('\n')}\n`;
  csvBytes = Buffer.byteLength(csvText);
  jsonlBytes = Buffer.byteLength(jsonlText);
  await writeFile(csvPath, csvText);
  await writeFile(jsonlPath, jsonlText);
}

/** onnxruntime alone: every batch of 64 rows through one session, one thread, tensors prebuilt. */
async function engineLimit(): Promise<number> {
  const session = await ort.InferenceSession.create(join(ROOT, 'examples/models/digits/1/model.onnx'), { intraOpNumThreads: 1 });
  const tensors: ort.Tensor[] = [];
  for (let start = 0; start < ROWS; start += BATCH) {
    const n = Math.min(BATCH, ROWS - start);
    tensors.push(new ort.Tensor('float32', pixels.slice(start * 64, (start + n) * 64), [n, 1, 8, 8]));
  }
  for (const t of tensors.slice(0, 50)) await session.run({ image: t }); // warm up
  const t0 = performance.now();
  for (const t of tensors) await session.run({ image: t });
  const seconds = (performance.now() - t0) / 1000;
  await session.release();
  return ROWS / seconds;
}

/** The library's infer() alone: the same 64-row requests from memory, 4 in flight (what the job can at best get from the model). */
async function libraryInfer(): Promise<number> {
  const slipway = await Slipway.open({ models: join(ROOT, 'examples/models/digits') });
  const chunks: Float32Array[] = [];
  for (let start = 0; start < ROWS; start += BATCH) chunks.push(pixels.slice(start * 64, Math.min(ROWS, start + BATCH) * 64));
  const request = (data: Float32Array) => slipway.infer({ model: 'digits', inputs: [{ name: 'image', datatype: 'FP32', shape: [data.length / 64, 1, 8, 8], data }] });
  for (const c of chunks.slice(0, 50)) await request(c);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < chunks.length) await request(chunks[next++]!);
  }));
  const seconds = (performance.now() - t0) / 1000;
  await slipway.close();
  return ROWS / seconds;
}

/** csv-parse alone (strings, no numbers): why Slipway tokenizes CSV itself. */
async function csvParseOnly(): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for await (const record of createReadStream(csvPath).pipe(parseCsv({ from_line: 2 }))) n += (record as string[]).length > 0 ? 1 : 0;
  return n / ((performance.now() - t0) / 1000);
}

/** A source's best pass: rows/s of wall time, and CPU time per row (far less sensitive to other work on the machine). */
interface Pass {
  rate: number;
  cpuUsPerRow: number;
}

function record(best: Pass, rows: number, t0: number, cpu0: NodeJS.CpuUsage): void {
  const cpu = process.cpuUsage(cpu0);
  best.rate = Math.max(best.rate, rows / ((performance.now() - t0) / 1000));
  best.cpuUsPerRow = Math.min(best.cpuUsPerRow, (cpu.user + cpu.system) / rows);
}

/**
 * One of Slipway's sources alone, no model, no database: the CSV source (tokenizing and parsing every
 * number) or the JSONL source (lines cut from the stream's bytes, flat records scanned, numbers straight
 * into the tensor). The best of three passes: the first warms the JIT up, and on a shared machine the
 * quickest pass is the one least disturbed by other work.
 */
async function sourceOnly(open: (files: InputFile[]) => Promise<RowSource>, path: string): Promise<Pass> {
  const files = await expandInputFiles([path]);
  const slots = Array.from({ length: 64 }, (_, i) => i);
  const target = new Float32Array(64);
  const best: Pass = { rate: 0, cpuUsPerRow: Infinity };
  for (let pass = 0; pass < 3; pass++) {
    const source = await open(files);
    source.bind(source.columns.slice(1));
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let n = 0;
    for await (const block of source.blocks({ position: 0 })) {
      for (let i = 0; i < block.size; i++) {
        block.row(i).fillNumbers!(slots, target, 0);
        n++;
      }
    }
    record(best, n, t0, cpu0);
  }
  return best;
}
const tokenizerOnly = (): Promise<Pass> => sourceOnly((files) => CsvSource.open(files), csvPath);
const jsonlSourceOnly = (): Promise<Pass> => sourceOnly((files) => JsonlSource.open(files), jsonlPath);

/** The JSONL source of issue 17's first round (best of three passes, as above): lines cut from the stream's chunks, JSON.parse of each, a lookup per field. */
async function jsonlParseOnly(): Promise<Pass> {
  const names = Array.from({ length: 64 }, (_, i) => `p${i}`);
  const target = new Float32Array(64);
  const best: Pass = { rate: 0, cpuUsPerRow: Infinity };
  for (let pass = 0; pass < 3; pass++) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let n = 0;
    for await (const lines of splitLines(createReadStream(jsonlPath, { highWaterMark: 1 << 20 }))) {
      for (const { text } of lines) {
        if (text.trim() === '') continue;
        const value = JSON.parse(text) as Record<string, unknown>;
        for (let i = 0; i < 64; i++) {
          const v = value[names[i]!];
          target[i] = typeof v === 'number' ? v : Number.NaN;
        }
        n++;
      }
    }
    record(best, n, t0, cpu0);
  }
  return best;
}

/** The JSONL source as it was before issue 17: readline's async iterator, JSON.parse, one own-property lookup per field. */
async function jsonlReadlineOnly(): Promise<number> {
  const names = Array.from({ length: 64 }, (_, i) => `p${i}`);
  const target = new Float32Array(64);
  const t0 = performance.now();
  let n = 0;
  for await (const text of createInterface({ input: createReadStream(jsonlPath, { highWaterMark: 1 << 20 }), crlfDelay: Infinity })) {
    if (text.trim() === '') continue;
    const value = JSON.parse(text) as Record<string, unknown>;
    for (let i = 0; i < 64; i++) {
      const v = Object.hasOwn(value, names[i]!) ? value[names[i]!] : undefined;
      target[i] = typeof v === 'number' ? v : Number.NaN;
    }
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

interface JobResult {
  rowsPerSecond: number;
  wallSeconds: number;
  rowsPredicted: number;
}

/** `slipway batch run` in its own process; its JSON summary reports the job's own rows/s. */
async function batchJob(output: string, table: string, input = csvPath): Promise<JobResult> {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [join(ROOT, 'dist/src/cli/main.js'), 'batch', 'run', '--models', join(ROOT, 'examples/models/digits'), '--model', 'digits', '--input', input, '--output', output, '--table', table, '--key', 'id', '--progress', 'none', '--json'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`batch run exited with ${code}: ${out}`);
  const summary = JSON.parse(out) as { rowsPerSecond: number; rowsPredicted: number };
  if (summary.rowsPredicted !== ROWS) throw new Error(`expected ${ROWS} rows, got ${summary.rowsPredicted}`);
  return { rowsPerSecond: summary.rowsPerSecond, wallSeconds: (performance.now() - t0) / 1000, rowsPredicted: summary.rowsPredicted };
}



const engine: number[] = [];
const library: number[] = [];
const sqlite: JobResult[] = [];
const jsonlJobs: JobResult[] = [];
const jsonlNewPasses: Pass[] = [];
const jsonlParsePasses: Pass[] = [];
const jsonlOld: number[] = [];
const csvSourcePasses: Pass[] = [];
for (let round = 0; round < ROUNDS; round++) {
  engine.push(await engineLimit());
  library.push(await libraryInfer());
  // The two jobs swap order every round, so a drift in the machine's load favours neither.
  const csvJob = (): Promise<JobResult> => batchJob(`sqlite:${join(dir, `round${round}.db`)}`, 'digits_predictions');
  const jsonlJob = (): Promise<JobResult> => batchJob(`sqlite:${join(dir, `jsonl${round}.db`)}`, 'digits_predictions', jsonlPath);
  if (round % 2 === 0) {
    sqlite.push(await csvJob());
    jsonlJobs.push(await jsonlJob());
  } else {
    jsonlJobs.push(await jsonlJob());
    sqlite.push(await csvJob());
  }
  jsonlOld.push(await jsonlReadlineOnly());
  jsonlParsePasses.push(await jsonlParseOnly());
  jsonlNewPasses.push(await jsonlSourceOnly());
  csvSourcePasses.push(await tokenizerOnly());
}
const jsonlNew = jsonlNewPasses.map((p) => p.rate);
const jsonlParse = jsonlParsePasses.map((p) => p.rate);
const csvSource = csvSourcePasses.map((p) => p.rate);
const cpuOf = (passes: Pass[]): number => median(passes.map((p) => p.cpuUsPerRow));
const csvParse = await csvParseOnly();
const tokenizer = median(csvSource);

let postgres: JobResult | undefined;
const pgUrl = process.env.SLIPWAY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 2000 });
try {
  await client.connect();
  const schema = `slipway_bench_${process.pid}`;
  const url = new URL(pgUrl);
  url.searchParams.set('schema', schema);
  try {
    postgres = await batchJob(url.toString(), 'digits_predictions');
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
} catch (error) {
  console.error(`PostgreSQL row skipped: ${(error as Error).message}`);
} finally {
  await client.end().catch(() => undefined);
}
await rm(dir, { recursive: true, force: true });

const limit = median(engine);
const job = median(sqlite.map((r) => r.rowsPerSecond));
const ratio = job / limit;
const jsonlJob = median(jsonlJobs.map((r) => r.rowsPerSecond));
const jsonlRatio = jsonlJob / limit;
// JSONL job ÷ CSV job round by round: the two jobs of a round ran back to back on the same machine.
const jsonlPerCsv = median(jsonlJobs.map((r, i) => r.rowsPerSecond / sqlite[i]!.rowsPerSecond));
const load = loadavg().map((l) => l.toFixed(2)).join(', ');
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const section = `
## Batch prediction (\`npm run bench:batch\`)

Digits model, ${fmt(ROWS)} CSV rows (64 pixel columns + id, ${fmt(ROWS * 341 / 1e6, 0)} MB), batch ${BATCH}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Medians of ${ROUNDS} rounds; engine and job alternate so both see the same machine, and the CSV and JSONL jobs swap order every round. Sources alone: the best of 3 passes in each round, median over the rounds. Load average at the end of the run: ${load} (the machine is shared: read the ratios within a round, not the absolute rates). The engine limit is one onnxruntime session with 1 intra-op thread.

| target | measured | goal | |
|---|---|---|---|
| CSV → SQLite rows/s ÷ engine limit | ${fmt(ratio, 2)} | ≥ 0.85 | ${ratio >= 0.85 ? 'met' : 'MISSED'} |
| JSONL → SQLite rows/s ÷ engine limit | ${fmt(jsonlRatio, 2)} | ≥ 0.85 | ${jsonlRatio >= 0.85 ? 'met' : 'MISSED'} |
| JSONL job ÷ CSV job, same round (as quick as CSV; median of the rounds' ratios) | ${fmt(jsonlPerCsv, 2)} | ≥ 1 | ${jsonlPerCsv >= 1 ? 'met' : 'MISSED'} |
| JSONL source ÷ CSV source, alone (rows/s) | ${fmt(median(jsonlNew) / tokenizer, 2)} | ≥ 1 | ${median(jsonlNew) >= tokenizer ? 'met' : 'MISSED'} |
| JSONL source ÷ CSV source, alone (CPU time per row, CSV's ÷ JSONL's) | ${fmt(cpuOf(csvSourcePasses) / cpuOf(jsonlNewPasses), 2)} | ≥ 1 | ${cpuOf(csvSourcePasses) >= cpuOf(jsonlNewPasses) ? 'met' : 'MISSED'} |

| what | rows/s | × engine limit |
|---|---|---|
| onnxruntime direct, batch ${BATCH}, 1 thread, tensors prebuilt (engine limit) | ${fmt(limit)} | 1.00 |
| library \`infer()\` alone: the same 64-row requests from memory, 4 in flight, 2 instances (the job's ceiling) | ${fmt(median(library))} | ${fmt(median(library) / limit, 2)} |
| \`slipway batch run\` CSV → SQLite (read, parse, infer on 2 instances, commit) | ${fmt(job)} | ${fmt(ratio, 2)} |
${postgres === undefined ? '' : `| \`slipway batch run\` CSV → PostgreSQL (one run) | ${fmt(postgres.rowsPerSecond)} | ${fmt(postgres.rowsPerSecond / limit, 2)} |\n`}| \`slipway batch run\` JSONL → SQLite, the same rows as flat objects | ${fmt(jsonlJob)} | ${fmt(jsonlRatio, 2)} |
| CSV source alone: Slipway's tokenizer + number parsing | ${fmt(tokenizer)} | ${fmt(tokenizer / limit, 2)} |
| JSONL source alone: lines cut from the stream's bytes, flat records scanned (\`JsonlScanner\`), numbers straight into the tensor | ${fmt(median(jsonlNew))} | ${fmt(median(jsonlNew) / limit, 2)} |
| JSONL source alone as in issue 17's first round: lines cut from the chunks, JSON.parse per line | ${fmt(median(jsonlParse))} | ${fmt(median(jsonlParse) / limit, 2)} |
| JSONL source alone as before issue 17: readline, JSON.parse, a lookup per field | ${fmt(median(jsonlOld))} | ${fmt(median(jsonlOld) / limit, 2)} |
| csv-parse alone (strings only, no numbers) | ${fmt(csvParse)} | ${fmt(csvParse / limit, 2)} |

Sources alone, CPU time per row (median of the rounds' best passes): CSV ${fmt(cpuOf(csvSourcePasses), 2)} µs; JSONL scanned ${fmt(cpuOf(jsonlNewPasses), 2)} µs; JSONL with JSON.parse per line ${fmt(cpuOf(jsonlParsePasses), 2)} µs. The JSONL file holds ${fmt(jsonlBytes / csvBytes, 1)}× the CSV's bytes (every record repeats its keys).

Rounds (engine / library / CSV job / JSONL job / CSV source / JSONL source scanned / JSON.parse / readline, rows/s): ${engine.map((e, i) => `${fmt(e)} / ${fmt(library[i]!)} / ${fmt(sqlite[i]!.rowsPerSecond)} / ${fmt(jsonlJobs[i]!.rowsPerSecond)} / ${fmt(csvSource[i]!)} / ${fmt(jsonlNew[i]!)} / ${fmt(jsonlParse[i]!)} / ${fmt(jsonlOld[i]!)}`).join('; ')}. Wall time of a job, process start and model load included: ${fmt(median(sqlite.map((r) => r.wallSeconds)), 2)} s.

Reading it: the engine limit is one onnxruntime session on one core, with its input already in memory.
The library row shows that two instances behind the worker-thread hop keep up with it when the main thread
has nothing else to do. The job is bound by its main thread. That thread reads and parses the CSV, packs the
tensors, sends the requests and writes SQLite. Profiled with \`--cpu-prof\` (event-loop utilisation about
0.8), it spends about 7 µs per row. Roughly 2 µs of that is posting requests to the instance workers, far more
than the same postMessage costs when the main thread is idle. Inserting takes 1.2 µs, packing 1.1 µs,
tokenizing 0.6 µs and committing 0.5 µs. Add 3.6 µs of inference per row on the other side, and two cores
cannot carry both at 0.85 of a one-core engine limit. If csv-parse did the reading, it alone would cap the job
at the rate in the last row. That is why Slipway tokenizes CSV itself; its tests check it field for field
against csv-parse. JSONL is read the same way: flat records are scanned from the bytes (\`JsonlScanner\`,
tested against JSON.parse on random records), and only other lines go through JSON.parse, which alone would
cost ${fmt(cpuOf(jsonlParsePasses) / cpuOf(jsonlNewPasses), 1)}× the scanner's CPU time per row.
`;
console.log(section);
await writeResultsSection('batch', section);
process.exit(0);
