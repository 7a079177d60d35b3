import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveServerConfig } from '../../src/config/server-config.js';
import { simpleRepositoryFixture, type CliServer } from '../helpers/cli-server.js';
import { CLI } from '../helpers/paths.js';

// `slipway serve` with the UI: on by default with its feedback store beside the repository,
// --no-ui, --feedback-db, and what happens when the store cannot be opened.

const fixture = simpleRepositoryFixture('slipway-serve-ui-');
const { serve } = fixture;

async function stop(server: CliServer): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('slipway serve --ui', () => {
  test('is on by default, with feedback in feedback.db beside the repository', async () => {
    const server = await serve([fixture.repository, '--no-grpc']);
    try {
      assert.match(server.output(), new RegExp(`UI on http://127\\.0\\.0\\.1:\\d+/ \\(feedback: sqlite:${join(fixture.dir, 'feedback.db')}\\)`));
      const page = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<div id="app">/);
      await assert.rejects(stat(join(fixture.dir, 'feedback.db')), 'the default store is made when first used, not at start');
      const flag = await fetch(`${server.url}/api/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'simple', api: 'infer', label: 'right', input: { inputs: [] }, output: { outputs: [] } }),
      });
      assert.equal(flag.status, 201);
      assert.ok((await stat(join(fixture.dir, 'feedback.db'))).isFile());
    } finally {
      await stop(server);
    }
  });

  test('--no-ui serves neither the pages nor the feedback API', async () => {
    const server = await serve([fixture.repository, '--no-grpc', '--no-ui']);
    try {
      assert.doesNotMatch(server.output(), /UI on/);
      assert.equal((await fetch(`${server.url}/models/simple`)).status, 404);
      assert.equal((await fetch(`${server.url}/api/feedback`)).status, 404);
      assert.equal(await (await fetch(`${server.url}/`, { headers: { accept: 'text/html' } })).text(), 'Healthy');
    } finally {
      await stop(server);
    }
  });

  test('--feedback-db puts the store where it says', async () => {
    const path = join(fixture.dir, 'elsewhere', 'flags.db');
    const server = await serve([fixture.repository, '--no-grpc', '--feedback-db', `sqlite:${path}`]);
    try {
      assert.match(server.output(), new RegExp(`feedback: sqlite:${path}`));
      assert.equal((await fetch(`${server.url}/api/feedback`)).status, 200);
      assert.ok((await stat(path)).isFile());
    } finally {
      await stop(server);
    }
  });

  test('a --feedback-db that cannot be opened stops the start with the reason (exit 2)', async () => {
    const result = await run(['serve', fixture.repository, '--no-grpc', '--http-port', '0', '--feedback-db', `sqlite:${fixture.dir}`]);
    assert.equal(result.code, 2, result.output);
    assert.match(result.output, new RegExp(`slipway: cannot open the feedback database sqlite:${fixture.dir}`));
  });

  test('a --feedback-db that is not a store URL is a config error naming the option', () => {
    assert.throws(() => resolveServerConfig({ models: ['m'], feedback_db: 'mysql://x' }), /feedback_db: expected sqlite:PATH or postgres:\/\/…/);
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_UI: 'false' }).ui, false);
    assert.equal(resolveServerConfig({ models: ['m'] }, { SLIPWAY_FEEDBACK_DB: 'sqlite:x.db' }).feedback_db, 'sqlite:x.db');
    assert.equal(resolveServerConfig({ models: ['m'], ui: true }, { SLIPWAY_UI: 'false' }).ui, true, 'flags win over the environment');
  });
});
