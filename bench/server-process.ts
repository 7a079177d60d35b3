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
export async function startServer(script: string, args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const logPath = join(tmpdir(), `slipway-bench-${process.pid}-${children.length}.log`);
  const log = await open(logPath, 'w');
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', log.fd, 'inherit'] });
  children.push(child);
  let exited = false;
  child.once('exit', () => (exited = true));
  let url: string | undefined;
  for (let i = 0; i < 600 && url === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const out = await readFile(logPath, 'utf8');
    url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    if (url === undefined && exited) throw new Error(`${script} exited: ${out}`);
  }
  await log.close();
  if (url === undefined) throw new Error(`${script} printed no URL in 30 s`);
  return {
    url,
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      await rm(logPath, { force: true });
    },
  };
}
