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
