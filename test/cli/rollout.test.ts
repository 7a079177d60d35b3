import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/batch-data.js';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { lookupRepository, type LookupRepository } from '../helpers/rollout-models.js';

const TOKEN = 'cli-rollout-token';

describe('slipway rollout against a running server', () => {
  let repo: LookupRepository;
  let server: CliServer;
  const rollout = (args: string[], env: Record<string, string> = { SLIPWAY_ADMIN_TOKEN: TOKEN }) => runCli(['rollout', ...args, '--url', server.url], { env });

  before(async () => {
    repo = await lookupRepository({ 1: 100, 2: 100 }, 'traffic:\n  weights: { 1: 100 }\n');
    server = await startCliServer([repo.dir, '--no-ui', '--admin-token', TOKEN]);
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    await repo.remove();
  });

  test('the banner says where traffic and rollouts are kept', () => {
    assert.match(server.output(), /Traffic and rollouts: sqlite:.*rollouts\.db \(re-read every 1000 ms\)/);
  });

  test('traffic shows and sets the split; status shows no rollout yet', async () => {
    const shown = await rollout(['traffic', 'lookup']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout, 'lookup: traffic (config): v1 100% · v2 0%, stable v1\n');
    const set = await rollout(['traffic', 'lookup', '1=80', '2=20', '--shadow', '2:10']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'lookup: traffic (admin): v1 80% · v2 20%, stable v1, shadow v2 10%\n');
    const json = JSON.parse((await rollout(['traffic', 'lookup', '--json'])).stdout) as { traffic: { versions: Array<{ weight: number }> } };
    assert.deepEqual(json.traffic.versions.map((v) => v.weight), [80, 20]);
    assert.equal((await rollout(['traffic', 'lookup', '--clear'])).stdout, 'lookup: traffic (config): v1 100% · v2 0%, stable v1\n');
    assert.match((await rollout(['status', 'lookup'])).stdout, /^lookup: no rollout yet\n {2}traffic \(config\): v1 100% · v2 0%, stable v1\n$/);
  });

  test('start, status, promote; a rollback after it; mistakes exit 2 naming the flag, refusals exit 1 with the reason', async () => {
    const bad = await rollout(['start', 'lookup', '--to', '2', '--steps', '50,20', '--min-success-rate', 'high']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--min-success-rate high: expected a number/);
    const badSteps = await rollout(['start', 'lookup', '--to', '2', '--steps', '50,20']);
    assert.equal(badSteps.code, 2);
    assert.match(badSteps.stderr, /--steps: steps must increase/);
    const noToken = await rollout(['start', 'lookup', '--to', '2'], {});
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /this route needs the admin token.*\(HTTP 401 UNAUTHENTICATED\)/);

    const started = await rollout(['start', 'lookup', '--to', '2', '--interval', '10m', '--steps', '10,50']);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /^lookup: rollout v1 → v2 progressing, step 1\/2 at 10% \(started \d+s ago\)\n {2}traffic \(rollout\): v1 90% · v2 10%, stable v1\n {2}decisions:\n {4}\d\d:\d\d:\d\d +start +10% +started a rollout of version 2 against 1: steps 10→50→100%, 600000 ms each\n$/);
    const conflict = await rollout(['start', 'lookup', '--to', '2']);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /already has a rollout in progress .*\(HTTP 409 ROLLOUT_CONFLICT\)/);
    const promoted = await rollout(['promote', 'lookup', '--reason', 'looks great']);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /rollout v1 → v2 promoted/);
    assert.match(promoted.stdout, /why: looks great/);
    assert.match(promoted.stdout, /traffic \(rollout\): v1 0% · v2 100%, stable v2/);
    const back = await rollout(['rollback', 'lookup']);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /traffic \(rollout\): v1 0% · v2 100%, stable v2/, 'nothing to roll back to: the promoted version is the stable one');
  });

  test('--wait follows the rollout decision by decision; a step without enough requests rolls back as inconclusive (exit 1)', async () => {
    const result = await rollout(['start', 'lookup', '--to', '1', '--interval', '1s', '--step-deadline', '2s', '--wait']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /start +10% +started a rollout of version 1 against 2/);
    assert.match(result.stdout, /wait +10% +too few requests: candidate 0, stable 0, each needs 100/);
    assert.match(result.stdout, /rollback +10% +inconclusive after 2 s \(step_deadline 2 s\)/);
    assert.match(result.stdout, /lookup: rollout v2 → v1 rolled back/);
  });
});
