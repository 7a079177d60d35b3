import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, EXAMPLES } from './paths.js';

interface Sample {
  label: number;
  image: number[][][];
}

export const DIGIT_SAMPLES = JSON.parse(readFileSync(join(EXAMPLES, 'digits', 'samples.json'), 'utf8')) as Sample[];

/** A small deterministic PRNG (mulberry32), so generated inputs are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Row i's 64 pixels: sample i % 10 with a little noise (clamped to the 0..16 range of load_digits). */
export function digitPixels(i: number, random: () => number): number[] {
  return DIGIT_SAMPLES[i % DIGIT_SAMPLES.length]!.image.flat(2).map((v) => Math.round(Math.min(16, Math.max(0, v + (random() - 0.5) * 0.6)) * 100) / 100);
}

export const PIXEL_COLUMNS = Array.from({ length: 64 }, (_, i) => `p${i}`);

/** `id,p0..p63` rows; `bad` maps a row index to a replacement line (to make rejects). */
export function digitsCsv(rows: number, options: { seed?: number; bad?: ReadonlyMap<number, string>; idOf?: (i: number) => string } = {}): string {
  const random = prng(options.seed ?? 7);
  const lines = [`id,${PIXEL_COLUMNS.join(',')}`];
  for (let i = 0; i < rows; i++) {
    const line = `${options.idOf?.(i) ?? `k${i}`},${digitPixels(i, random).join(',')}`;
    lines.push(options.bad?.get(i) ?? line);
  }
  return `${lines.join('\n')}\n`;
}

export function digitsJsonl(rows: number, options: { seed?: number; nested?: boolean } = {}): string {
  const random = prng(options.seed ?? 7);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const pixels = digitPixels(i, random);
    const image = options.nested === true ? [Array.from({ length: 8 }, (_, r) => pixels.slice(r * 8, r * 8 + 8))] : pixels;
    lines.push(JSON.stringify({ id: `k${i}`, meta: { source: 'test' }, image }));
  }
  return `${lines.join('\n')}\n`;
}

export async function tempDir(prefix = 'slipway-batch-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeText(path: string, text: string): Promise<string> {
  await writeFile(path, text);
  return path;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `slipway ARGS` to completion (or until it is killed) and collects its output. */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, SLIPWAY_BATCH_FAILPOINT: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`slipway ${args.join(' ')} did not finish in time:\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The digits model folder, for `--models`. */
export const DIGITS_MODEL = join(EXAMPLES, 'digits');
