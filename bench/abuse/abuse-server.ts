import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The project root, from dist/bench/abuse/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = `${ROOT}dist/src/cli/main.js`;
export const TEST_MODELS = `${ROOT}test/fixtures/models`;
export const EXAMPLES = `${ROOT}examples/models`;

export interface AbuseServer {
  child: ChildProcess;
  url: string;
  pid: number;
  /** Everything the server printed. */
  output: () => string;
  /** The server process's resident memory now, in bytes (every thread of it: workers, codec threads). */
  rssBytes: () => Promise<number>;
  stop: () => Promise<void>;
}

/**
 * Starts `slipway serve` in its own process (never on the load generator's loop) and waits for the
 * address it prints. Its log goes to a buffer, at warn level: the run measures serving, not logging.
 */
export async function startAbuseServer(args: string[], env: Record<string, string> = {}): Promise<AbuseServer> {
  const child = spawn(process.execPath, [CLI, 'serve', '--http-port', '0', '--no-grpc', '--no-ui', '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  process.once('exit', () => child.kill('SIGKILL'));
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address printed in 60 s:\n${text}`)), 60_000);
    const look = (): void => {
      const match = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', look);
    child.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${text}`)));
  });
  const pid = child.pid!;
  return {
    child,
    url,
    pid,
    output: () => text,
    rssBytes: () => rssOf(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

export const MB = 1024 * 1024;
export const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

import { Agent, request as httpRequest } from 'node:http';

export interface Answer {
  status: number;
  ms: number;
  retryAfter: string | undefined;
  /** The queue time the server reported (Server-Timing `queue;dur=`), ms; undefined when absent. */
  queueMs: number | undefined;
}

/** One request over `agent` (a keep-alive pool), or on a fresh connection closed after it with `agent: false`. */
export function send(url: string, options: { method?: string; body?: Buffer; agent: Agent | false }): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', agent: options.agent, headers: options.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': options.body.length } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, retryAfter: res.headers['retry-after'], queueMs: queueMsOf(String(res.headers['server-timing'] ?? '')) }));
    });
    // Whether the request went out on a kept-alive connection: a reset there is the one a drain must avoid.
    req.once('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(options.body);
  });
}

/** Runs `concurrency` loops of `once` until `until` says stop; each answer (or error) goes to `record`. */
export async function closedLoop(concurrency: number, once: () => Promise<Answer>, record: (answer: Answer | Error) => void, until: () => boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!until()) {
        try {
          record(await once());
        } catch (error) {
          record(error as Error);
        }
      }
    }),
  );
}

export const DIGITS_BODY = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Array(64).fill(0.5) }] }));

export function summary(values: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

export const ms = (value: number): string => `${value.toFixed(1)} ms`;

/** The health port's address from the banner, when the server has one. */
export function healthUrlOf(server: AbuseServer): string | undefined {
  return /Health probes \(a thread of their own\) on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1];
}

/** Reads `--name value` from a scenario's arguments, leaving the rest for the server. */
export function takeOption(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(args[index + 1]);
  args.splice(index, 2);
  return value;
}

function queueMsOf(header: string | undefined): number | undefined {
  const match = /queue;dur=([\d.]+)/.exec(header ?? '');
  return match === null ? undefined : Number(match[1]);
}

/** CPU time (user + system) a process has used, ms, from /proc (clock ticks of 10 ms). */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
