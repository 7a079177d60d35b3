import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { TEST_MODELS } from '../helpers/paths.js';
import { requireCommand } from '../helpers/requirements.js';
import { launchChromium, type Browser } from './chromium.js';

const UI_KEY = 'e2e-ui-key-0001';
const API_KEY = 'e2e-api-key-0001';

// The UI's sign-in in real Chromium: a page refused for want of a key asks for one, a wrong key is
// said to be wrong, the right one opens the flags (and their export download) through an HttpOnly
// cookie the page's script cannot read, and signing out closes them again.
describe('UI sign-in', requireCommand('chromium'), () => {
  let dir: string;
  let server: CliServer;
  let browser: Browser;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-sign-in-'));
    const repository = join(dir, 'models');
    await mkdir(join(repository, 'simple', '1'), { recursive: true });
    await cp(join(TEST_MODELS, 'simple', '1', 'model.onnx'), join(repository, 'simple', '1', 'model.onnx'), { dereference: true });
    await cp(join(TEST_MODELS, 'simple', 'config.yaml'), join(repository, 'simple', 'config.yaml'));
    server = await startCliServer([repository, '--no-grpc', '--ui-key', UI_KEY, '--api-key', API_KEY]);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    server?.child.kill('SIGTERM');
    if (server !== undefined) await new Promise((resolve) => server.child.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  });

  test('asks for a key, refuses a wrong one, opens the flags with the right one, and signs out', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/flags`);
    const dialog = page.getByRole('dialog', { name: 'Sign in' });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /feedback reads \(flags, exports, uploaded files\) need an API key/);
    await page.getByRole('alert').filter({ hasText: 'Could not read the flags' }).waitFor();

    await dialog.getByLabel('API key').fill('not-the-key-000');
    await dialog.getByRole('button', { name: 'Sign in' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'the key is wrong' }).waitFor();

    await dialog.getByLabel('API key').fill(UI_KEY);
    await Promise.all([page.waitForEvent('load'), dialog.getByRole('button', { name: 'Sign in' }).click()]);
    await page.getByText('No flags yet: flag a result on a model page.').waitFor();
    assert.equal(await page.getByRole('dialog', { name: 'Sign in' }).count(), 0);
    assert.doesNotMatch(String(await page.evaluate('document.cookie')), /slipway_key/, 'the cookie is HttpOnly');

    // A plain link (no script, no header) carries the cookie: the export downloads.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'CSV' }).click()]);
    assert.match(download.suggestedFilename(), /^feedback-.*\.csv$/);

    // Signed in with the UI key, the model page runs the model (inference needs a key here too), and
    // its "Use via API" panel says that code elsewhere must send one.
    await page.goto(`${server.url}/models/simple`);
    await page.getByText('Use via API').click();
    await page.getByText('This server needs an API key for these calls').waitFor();
    assert.equal(await page.getByRole('dialog', { name: 'Sign in' }).count(), 0);

    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Sign out' }).click()]);
    await page.getByRole('dialog', { name: 'Sign in' }).waitFor();
    await page.close();
  });
});
