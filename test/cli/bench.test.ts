import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { startCliServer } from '../helpers/cli-server.js';
import { CLI, EXAMPLES, TEST_MODELS } from '../helpers/paths.js';

const run = promisify(execFile);

test('slipway bench sweeps concurrency against a running server and reports latency and the server split', async () => {
  const server = await startCliServer([`${EXAMPLES}/digits`, `${TEST_MODELS}/dynamic_named`]);
  try {
    const { stdout } = await run(process.execPath, [CLI, 'bench', '-m', 'digits', '-u', server.url, '--concurrency', '1:4:x2', '--requests', '40', '--json']);
    const levels = JSON.parse(stdout) as Array<{ concurrency: number; requests: number; errors: number; latency: { p50Ms: number; p99Ms: number }; server: { requests: number; computeInferUs: number; avgBatchRows: number } }>;
    assert.deepEqual(levels.map((l) => l.concurrency), [1, 2, 4]);
    for (const level of levels) {
      assert.equal(level.requests, 40);
      assert.equal(level.errors, 0);
      assert.ok(level.latency.p99Ms >= level.latency.p50Ms);
      assert.equal(level.server.requests, 40, 'the statistics delta covers exactly the measured requests');
      assert.ok(level.server.computeInferUs > 0);
      assert.ok(level.server.avgBatchRows >= 1);
    }

    // Variable dims come from --shape; a request file can replace synthesis.
    const table = await run(process.execPath, [CLI, 'bench', '-m', 'dynamic_named', '-u', server.url, '--requests', '10', '--shape', 'tokens:2,5']);
    assert.match(table.stdout, /\| 1 \| [\d.]+ \|/);
    const file = join(tmpdir(), `slipway-bench-${process.pid}.json`);
    await writeFile(file, JSON.stringify({ inputs: [{ name: 'tokens', datatype: 'INT64', shape: [1, 3], data: [1, 2, 3] }] }));
    const fromFile = await run(process.execPath, [CLI, 'bench', '-m', 'dynamic_named', '-u', server.url, '--requests', '5', '--input-file', file, '--json']);
    assert.equal((JSON.parse(fromFile.stdout) as Array<{ requests: number }>)[0]!.requests, 5);

    await assert.rejects(
      run(process.execPath, [CLI, 'bench', '-m', 'nope', '-u', server.url, '--requests', '1']),
      (error: { stderr: string }) => /cannot read nope's metadata .*unknown model 'nope'/.test(error.stderr),
    );
  } finally {
    server.child.kill('SIGKILL');
  }
});
