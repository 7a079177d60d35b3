import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/**
 * Starts a server process and waits for the URL it prints. Its stdout goes to a file, as a
 * production log would go to a collector: the load generator must not spend CPU draining it.
 */
export async function startServer(script: string, args: string[]): Promise<RunningServer> {
  return startProcess(process.execPath, [script, ...args]);
}

export interface RunningServer {
  url: string;
  /** The server's process id (for `taskset -a -p`). */
  pid: number;
  /** What the server has written to its stdout so far (its log lines). */
  log: () => Promise<string>;
  stop: () => Promise<void>;
}

/**
 * Starts any server command. Without `url` it waits for the URL the server prints; with one (a
 * server told its port, which prints nothing useful) it waits for `url`/v2/health/live to answer.
 */
export async function startProcess(command: string, args: string[], options: { url?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunningServer> {
  const logPath = join(tmpdir(), `slipway-bench-${process.pid}-${children.length}.log`);
  const log = await open(logPath, 'w');
  const child = spawn(command, args, {
    stdio: ['ignore', log.fd, options.url === undefined ? 'inherit' : log.fd],
    ...(options.env !== undefined && { env: options.env }),
    ...(options.cwd !== undefined && { cwd: options.cwd }),
  });
  children.push(child);
  let exited = false;
  child.once('exit', () => (exited = true));
  let url: string | undefined;
  for (let i = 0; i < 600 && url === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const out = await readFile(logPath, 'utf8');
    if (options.url === undefined) url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    else if (await fetch(`${options.url}/v2/health/live`).then((r) => r.ok, () => false)) url = options.url;
    if (url === undefined && exited) throw new Error(`${command} ${args.join(' ')} exited: ${out}`);
  }
  await log.close();
  if (url === undefined) throw new Error(`${command} ${args.join(' ')} was not up in 30 s`);
  return {
    url,
    pid: child.pid!,
    log: () => readFile(logPath, 'utf8').catch(() => ''),
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      await rm(logPath, { force: true });
    },
  };
}
