import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, EXAMPLES, TEST_MODELS } from '../helpers/paths.js';

/** Starts `slipway serve ARGS` in `cwd` and resolves with the URL its banner prints. */
async function serve(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string }> {
  // gRPC on a free port: its default 8001 may be taken by anything else running here.
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    cwd,
    env: { ...process.env, SLIPWAY_GRPC_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
  return { child, url };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('slipway serve with a slipway.yaml', () => {
  let dir: string;
  let filePort: number;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-serve-project-'));
    await mkdir(join(dir, 'project/models'), { recursive: true });
    // The graph only: the example's handler imports 'slipway', which a project outside this package lacks.
    await cp(join(EXAMPLES, 'digits/1'), join(dir, 'project/models/digits/1'), { recursive: true, dereference: true });
    await cp(join(EXAMPLES, 'digits/config.yaml'), join(dir, 'project/models/digits/config.yaml'));
    filePort = await freePort();
    await writeFile(
      join(dir, 'project/slipway.yaml'),
      `name: demo\nmodels: [models]\nserver: { http_port: ${filePort}, log_level: warn, strict_readiness: true }\n`,
    );
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('with no paths it serves the models of ./slipway.yaml on the port the file sets', async () => {
    const { child, url } = await serve([], join(dir, 'project'));
    children.push(child);
    assert.equal(url, `http://127.0.0.1:${filePort}`);
    const index = (await (await fetch(`${url}/v2/repository/index`, { method: 'POST' })).json()) as Array<{ name: string }>;
    assert.deepEqual(index.map((m) => m.name), ['digits']);
    child.kill('SIGTERM');
    await once(child, 'exit');
  });

  test('--config from another folder: paths resolve against the file; the environment beats it, and a flag beats both', async () => {
    const envPort = await freePort();
    const byEnv = await serve(['--config', 'project/slipway.yaml'], dir, { SLIPWAY_HTTP_PORT: String(envPort) });
    children.push(byEnv.child);
    assert.equal(byEnv.url, `http://127.0.0.1:${envPort}`);
    byEnv.child.kill('SIGTERM');
    await once(byEnv.child, 'exit');

    const byFlag = await serve(['--config', 'project/slipway.yaml', '--http-port', '0'], dir, { SLIPWAY_HTTP_PORT: String(envPort) });
    children.push(byFlag.child);
    assert.notEqual(byFlag.url, `http://127.0.0.1:${envPort}`);
    assert.equal((await fetch(`${byFlag.url}/v2/models/digits/ready`)).status, 200);
    byFlag.child.kill('SIGTERM');
    await once(byFlag.child, 'exit');
  });

  test('a missing --config file, or a project file with a bad server option, exits 2 naming it', async () => {
    const missing = spawn(process.execPath, [CLI, 'serve', '--config', 'nope.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    missing.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.equal((await once(missing, 'exit'))[0], 2);
    assert.match(stderr, /cannot read project file .*nope\.yaml: no such file/);

    await writeFile(join(dir, 'bad.yaml'), 'name: demo\nmodels: [project/models]\nserver: { log_level: chatty }\n');
    const bad = spawn(process.execPath, [CLI, 'serve', '--config', 'bad.yaml'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    stderr = '';
    bad.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.equal((await once(bad, 'exit'))[0], 2);
    assert.match(stderr, /bad\.yaml: invalid project file:\n {2}server\.log_level: /);
  });

  test('paths on the command line ignore ./slipway.yaml unless --config asks for it', async () => {
    const { child, url } = await serve([join(TEST_MODELS, 'simple'), '--http-port', '0'], join(dir, 'project'));
    children.push(child);
    const index = (await (await fetch(`${url}/v2/repository/index`, { method: 'POST' })).json()) as Array<{ name: string }>;
    assert.deepEqual(index.map((m) => m.name), ['simple']);
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
});
