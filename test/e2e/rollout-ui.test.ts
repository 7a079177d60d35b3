import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SlipwayHttpClient } from '../../src/client/http-client.js';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { requireCommand } from '../helpers/requirements.js';
import { lookupRepository, type LookupRepository } from '../helpers/rollout-models.js';
import { launchChromium, type Browser } from './chromium.js';

const TOKEN = 'ui-rollout-token';

// The model page in real Chromium shows the traffic split and the rollout as the server reports them.
describe("the model page's traffic and rollout panel", requireCommand('chromium'), () => {
  let repo: LookupRepository;
  let server: CliServer;
  let browser: Browser;

  before(async () => {
    repo = await lookupRepository({ 1: 100, 2: 100 }, 'traffic:\n  weights: { 1: 90, 2: 10 }\n');
    server = await startCliServer([repo.dir, '--no-grpc', '--admin-token', TOKEN]);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    await repo.remove();
  });

  test('weights, their source and the stable version; then a rollout in progress and its decisions; then its end', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/models/lookup`);
    const panel = page.getByRole('region', { name: 'Traffic and rollout' });
    await panel.waitFor();
    assert.match(await panel.innerText(), /Traffic \(as config\.yaml sets it; stable: version 1\)/);
    assert.match(await panel.innerText(), /v1\s+90%\s+v2\s+10%/);

    const admin = new SlipwayHttpClient(server.url, { adminToken: TOKEN });
    await admin.startRollout('lookup', { to: 2, steps: [25, 50], interval: '10m' });
    await page.reload();
    await panel.waitFor();
    await page.getByText('Rollout of version 2 against 1: in progress').waitFor();
    const text = await panel.innerText();
    assert.match(text, /step 1 of 2, at 25%/);
    assert.match(text, /Traffic \(set by a rollout; stable: version 1\)/);
    assert.match(text, /v1\s+75%\s+v2\s+25%/);
    assert.match(text, /This window: candidate: 0 requests, 0 failed; stable: 0 requests, 0 failed/);
    assert.match(text, /start at 25% \(admin\) — started a rollout of version 2 against 1/);

    // While it runs the panel refreshes itself: the rollback shows without a reload.
    await admin.rollback('lookup', 'seen enough');
    await page.getByText('Rollout of version 2 against 1: rolled back').waitFor({ timeout: 15_000 });
    assert.match(await panel.innerText(), /seen enough/);
    assert.match(await panel.innerText(), /v1\s+100%\s+v2\s+0%/);
    await page.close();
  });
});
