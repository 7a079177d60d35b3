import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { CLI, TEST_MODELS } from './paths.js';

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

/** A temp folder holding a repository with the `simple` fixture model, and a `serve` whose servers are killed at the end. */
export interface SimpleRepositoryFixture {
  /** The temp folder (room for a test's own files); the repository is its `models` folder. */
  readonly dir: string;
  readonly repository: string;
  /** `startCliServer`, with the server killed after the file's tests. */
  serve(args: string[]): Promise<CliServer>;
}

/**
 * Registers the file's `before`/`after` hooks for a repository holding the `simple` fixture (its
 * model and config.yaml) in a fresh temp folder; call it at the top level of a test file.
 *
 * @example
 * const fixture = simpleRepositoryFixture('slipway-serve-ui-');
 * test('serves', async () => { const server = await fixture.serve([fixture.repository, '--no-grpc']); });
 */
export function simpleRepositoryFixture(prefix: string): SimpleRepositoryFixture {
  let dir: string | undefined;
  const servers: CliServer[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    const model = join(dir, 'models', 'simple');
    await mkdir(join(model, '1'), { recursive: true });
    await cp(join(TEST_MODELS, 'simple', '1', 'model.onnx'), join(model, '1', 'model.onnx'), { dereference: true });
    await cp(join(TEST_MODELS, 'simple', 'config.yaml'), join(model, 'config.yaml'));
  });
  after(async () => {
    for (const server of servers) server.child.kill('SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const folder = (): string => {
    if (dir === undefined) throw new Error('simpleRepositoryFixture: used before its before() hook ran');
    return dir;
  };
  return {
    get dir() {
      return folder();
    },
    get repository() {
      return join(folder(), 'models');
    },
    serve: async (args) => {
      const server = await startCliServer(args);
      servers.push(server);
      return server;
    },
  };
}
