import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './paths.js';

export interface CliServer {
  child: ChildProcess;
  url: string;
  /** host:port of the gRPC server, read from the banner (undefined with --no-grpc). */
  grpcAddress?: string;
  output: () => string;
}

/**
 * Starts `slipway serve` in its own process on an ephemeral port and resolves with its URL once the
 * banner is printed. Timing checks use this, so the test's own client work never shares the
 * server's event loop.
 */
export async function startCliServer(args: string[]): Promise<CliServer> {
  // gRPC on a free port too: several test servers run at once, and 8001 would collide.
  const grpcPort = args.includes('--grpc-port') || args.includes('--no-grpc') ? [] : ['--grpc-port', '0'];
  const child = spawn(process.execPath, [CLI, 'serve', ...args, '--http-port', '0', ...grpcPort, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner after 30 s:\n${output}`)), 30_000);
    child.stdout!.on('data', () => {
      // https with --tls-cert; every interface (0.0.0.0) is reached on loopback.
      const match = /on (https?):\/\/(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`${match[1]}://127.0.0.1:${match[2]}`);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before serving:\n${output}`)));
  });
  const grpcAddress = /gRPC \(.*\) on (\S+)/.exec(output)?.[1];
  return { child, url, output: () => output, ...(grpcAddress !== undefined && { grpcAddress }) };
}

/** Runs `slipway <args>` to completion in its own process: its exit code and what it printed. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
