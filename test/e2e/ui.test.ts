import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { execFile } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { EXAMPLES, ROOT, TEST_MODELS } from '../helpers/paths.js';
import { requireCommand } from '../helpers/requirements.js';
import { launchChromium, type Browser } from './chromium.js';
import { draw, forgetKeptResults, FOUR, latestResult, SEVEN, textPicture, ZERO } from './page-input.js';

// The prototype UI in real Chromium against `slipway serve` in its own process: the digits model
// drawn and uploaded, OCR read from a rendered page, a flag found on the flags page and in the
// export, bad inputs answered with clear messages, the keyboard, a phone-width screen, the camera.

// These callbacks run in the page, where the DOM is; the test's own (Node) types have none.
declare const document: {
  activeElement: { tagName: string; textContent: string | null; getAttribute(name: string): string | null; value?: string } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
  querySelector(selector: string): { videoWidth?: number; textContent: string | null; getBoundingClientRect(): { top: number; bottom: number; width: number } } | null;
};
declare const getComputedStyle: (element: unknown) => { backgroundColor: string };
interface PageImage {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}

const MODELS = [...['digits', 'ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'].map((m) => join(EXAMPLES, m)), join(TEST_MODELS, 'simple'), join(ROOT, 'test/fixtures/handlers/toolbox')];


describe('prototype UI in Chromium', requireCommand('chromium'), () => {
  let server: CliServer;
  let browser: Browser;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-e2e-ui-'));
    server = await startCliServer([...MODELS, '--no-grpc', '--feedback-db', `sqlite:${join(dir, 'feedback.db')}`]);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    server?.child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  /** A page at `path` of `base`, with no results kept from an earlier test (the browser keeps them per model). */
  const open = async (path: string, base = server.url): Promise<Page> => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('close', () => assert.deepEqual(errors, [], 'no script errors on the page'));
    await forgetKeptResults(page, base);
    await page.goto(`${base}${path}`);
    return page;
  };

  test('the model list shows every model with its state, and leads to the digits page', async () => {
    const page = await open('/');
    const digits = page.getByRole('listitem').filter({ has: page.getByRole('link', { name: 'digits', exact: true }) });
    await digits.getByText('READY').waitFor();
    assert.equal(await page.getByRole('link', { name: /^ocr/ }).count(), 4);
    await page.getByRole('link', { name: 'digits', exact: true }).click();
    await page.waitForURL(`${server.url}/models/digits`);
    await page.getByRole('heading', { name: 'digits', level: 1 }).waitFor();
    assert.match(await page.locator('.lead').textContent() ?? '', /handwritten or printed digit/);
    await page.close();
  });

  test('a digit drawn with the mouse is recognised, light on dark and dark on light', async () => {
    const page = await open('/models/digits');
    await page.getByRole('radio', { name: 'Draw' }).check();
    await draw(page, FOUR);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const first = await latestResult(page, 1);
    assert.equal(await first.locator('.headline-value').textContent(), '4');
    // The top bar of the chart is the predicted digit.
    assert.equal(await first.locator('.topk li').first().locator('.topk-label').textContent(), '4');
    assert.match((await first.locator('.latency').textContent()) ?? '', /\d+(\.\d+)? ms · server: handler \d/);

    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await page.getByLabel('Dark ink on light').check();
    await draw(page, ZERO);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.equal(await (await latestResult(page, 2)).locator('.headline-value').textContent(), '0');
    await page.close();
  });

  test('an uploaded digit and an example are recognised; the graph tab runs raw tensors from samples.json', async () => {
    const page = await open('/models/digits');
    await page.getByLabel('Choose a picture').setInputFiles(join(EXAMPLES, 'digits/examples/7.png'));
    await page.getByRole('img', { name: 'Chosen picture: 7.png' }).waitFor();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.equal(await (await latestResult(page, 1)).locator('.headline-value').textContent(), '7');

    await page.getByRole('button', { name: 'Run example 3.png' }).click();
    const example = await latestResult(page, 2);
    assert.equal(await example.locator('.headline-value').textContent(), '3');
    assert.match((await example.locator('.result-title').textContent()) ?? '', /example 3\.png/);

    await page.getByRole('button', { name: /Graph/ }).click();
    await page.waitForURL(/\?view=graph$/);
    await page.getByRole('button', { name: 'Run example sample 6 (5)' }).click();
    const graph = await latestResult(page, 3);
    assert.equal(await graph.locator('.topk li.top .topk-label').textContent(), '5');
    assert.match((await graph.locator('.latency').textContent()) ?? '', /server: queue [\d.]+ ms, compute [\d.]+ ms/);
    // The grid shows the sample's pixels.
    const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
    const firstRow = await Promise.all(Array.from({ length: 8 }, (_, c) => page.getByLabel(`image row 1 column ${c + 1}`).inputValue()));
    assert.deepEqual(firstRow, samples[5]!.image[0]![0]!.map(String));
    await page.close();
  });

  test('an OCR picture comes back as text, with its boxes drawn over the picture', async () => {
    const picture = await textPicture(['Hello Slipway', 'Total 42.50 EUR']);
    const page = await open('/models/ocr');
    await page.getByLabel('Choose a picture').setInputFiles({ name: 'page.png', mimeType: 'image/png', buffer: picture });
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const result = await latestResult(page, 1);
    await result.locator('.text-block').waitFor();
    assert.equal(await result.locator('.text-block').textContent(), 'Hello Slipway\nTotal 42.50 EUR');
    const boxes = result.locator('.overlay polygon');
    assert.equal(await boxes.count(), 2);
    assert.equal(await result.locator('.overlay svg').getAttribute('viewBox'), '0 0 720 200');
    // The picture under the boxes is the one sent, and the boxes sit on its text lines.
    assert.equal(await result.locator('.overlay img').evaluate((el) => `${(el as unknown as PageImage).naturalWidth}x${(el as unknown as PageImage).naturalHeight}`), '720x200');
    const firstBox = ((await boxes.first().getAttribute('points')) ?? '').split(' ').map((p) => p.split(',').map(Number));
    const ys = firstBox.map((p) => p[1]!);
    assert.ok(Math.min(...ys) > 30 && Math.max(...ys) < 100, `first line's box at y ${ys.join(',')}`);
    assert.deepEqual(await result.locator('.box-list .box-text').allTextContents(), ['Hello Slipway', 'Total 42.50 EUR']);
    await page.close();
  });

  test('a flagged result is on the flags page with its picture, and in the CSV and JSONL exports', async () => {
    const page = await open('/models/digits');
    await page.getByRole('button', { name: 'Run example 9.png' }).click();
    const result = await latestResult(page, 1);
    await result.getByRole('radio', { name: 'Wrong' }).check();
    assert.equal(await result.getByLabel('What should it be? (optional)').inputValue(), '');
    await result.getByLabel('What should it be? (optional)').fill('8');
    await result.getByLabel('Comment (optional)').fill('e2e: the loop "looks" closed, to me');
    await result.getByRole('button', { name: 'Send flag' }).click();
    const saved = result.getByRole('status').filter({ hasText: 'Saved as flag' });
    const id = Number(/flag #(\d+)/.exec((await saved.textContent()) ?? '')?.[1]);
    assert.ok(id > 0);

    await saved.getByRole('link').click();
    await page.waitForURL(`${server.url}/flags?model=digits`);
    const row = page.locator(`#flag-${id}`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /e2e: the loop "looks" closed, to me/);
    assert.match((await row.textContent()) ?? '', /wrong/);
    assert.match((await row.textContent()) ?? '', /expected 8/);
    const thumb = row.getByRole('img', { name: /input picture 9\.png/ });
    await thumb.waitFor();
    assert.ok(await thumb.evaluate((el) => (el as unknown as PageImage).complete && (el as unknown as PageImage).naturalWidth === 280), 'the stored picture loads');

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'CSV' }).click()]);
    const text = await readFile((await csv.path())!, 'utf8');
    assert.match(csv.suggestedFilename(), /^feedback-.*\.csv$/);
    assert.match(text, /^id,created_at,model,model_version,api,label,expected,comment,latency_ms,input,output\r\n/);
    assert.ok(text.includes(`${id},`) && text.includes('"e2e: the loop ""looks"" closed, to me"'));
    const [jsonl] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'JSONL' }).click()]);
    const records = (await readFile((await jsonl.path())!, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    const record = records.find((r) => r.id === id);
    assert.equal(record.model_version, '1');
    assert.equal(record.output.label, 9);
    assert.equal(record.input.image.filename, '9.png');
    await page.close();
  });

  test('bad inputs get clear messages: not an image (caught before it is sent), a file too large, a picture with too many pixels', async () => {
    const page = await open('/models/digits');
    const chooser = page.getByLabel('Choose a picture');
    await chooser.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture') });
    await page.getByRole('alert').filter({ hasText: 'notes.txt is not an image (text/plain): Image takes a PNG, JPEG or WebP picture.' }).waitFor();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    // One message, the field's: nothing was sent, and no second "choose a picture" says it again.
    assert.deepEqual(await page.getByRole('alert').allTextContents(), ['notes.txt is not an image (text/plain): Image takes a PNG, JPEG or WebP picture.']);
    assert.equal(await page.locator('article.result').count(), 0);
    // A file that says it is a PNG but is not one is caught from its first bytes, before it is sent.
    await chooser.setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('this is not a PNG at all') });
    await page.getByRole('alert').filter({ hasText: 'fake.png is not a picture: Image takes a PNG, JPEG or WebP file.' }).waitFor();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.equal(await page.getByRole('alert').count(), 1);
    assert.equal(await page.locator('article.result').count(), 0);

    await chooser.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(32 * 1024 * 1024 + 1) });
    await page.getByRole('alert').filter({ hasText: 'huge.png is 32.0 MiB; Image takes files up to 32.0 MiB.' }).waitFor();

    // Small on disk, 5000×5000 pixels: the server refuses it before decoding.
    const bomb = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#ffffff' } }).png().toBuffer();
    await chooser.setInputFiles({ name: 'bomb.png', mimeType: 'image/png', buffer: bomb });
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const tooBig = await latestResult(page, 1);
    assert.match((await tooBig.getByRole('alert').textContent()) ?? '', /^413: too large.*image is 5000×5000 \(25\.0 megapixels\), more than the limit of 16\.0 megapixels/);
    assert.equal(await tooBig.getByRole('button', { name: 'Send flag' }).count(), 0);
    await page.close();
  });

  test('a form generated from any handler schema: a choice, text, numbers, JSON, checks before sending', async () => {
    // test/fixtures/handlers/toolbox takes an enum, a short string, an integer with bounds, an int array and files.
    const page = await open('/models/toolbox');
    await page.getByLabel('Action (required)').selectOption('echo');
    await page.getByText('Options').click();
    await page.getByLabel('Text', { exact: true }).fill('ab');
    await page.getByLabel('Repeat').fill('9');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Repeat: at most 5.' }).waitFor();
    await page.getByLabel('Repeat').fill('3');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.equal(await (await latestResult(page, 1)).locator('.text-block').textContent(), 'hi ababab');

    await page.getByLabel('Action (required)').selectOption('add');
    await page.getByLabel('Numbers').fill(JSON.stringify(Array.from({ length: 16 }, (_, i) => i)));
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.match((await (await latestResult(page, 2)).locator('dl.fields').textContent()) ?? '', /Sums\[3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18\]/);

    await page.getByLabel('Numbers').fill('[1, 2');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: /^Numbers: not valid JSON/ }).waitFor();
    // What only the server knows is checked there, and its message shown as it is.
    await page.getByLabel('Numbers').fill('[1, 2]');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    assert.match((await (await latestResult(page, 3)).getByRole('alert').textContent()) ?? '', /^400: the input was refused.*numbers: Too small: expected array to have exactly 16 items/);
    await page.close();
  });

  test('usable with the keyboard alone: run an example, flag the result', async () => {
    const page = await open('/models/digits');
    await page.getByRole('heading', { name: 'digits', level: 1 }).waitFor();
    const reached = async (name: RegExp, limit = 40): Promise<void> => {
      for (let i = 0; i < limit; i++) {
        await page.keyboard.press('Tab');
        const label = await page.evaluate(() => {
          const el = document.activeElement;
          return `${el?.tagName} ${el?.getAttribute('aria-label') ?? ''} ${el?.textContent ?? ''} ${el?.value ?? ''}`;
        });
        if (name.test(label)) return;
      }
      assert.fail(`Tab never reached ${name}`);
    };
    await reached(/Skip to content/);
    await reached(/Run example 2\.png/);
    await page.keyboard.press('Enter');
    const result = await latestResult(page, 1);
    assert.equal(await result.locator('.headline-value').textContent(), '2');
    await reached(/INPUT .*right/);
    await page.keyboard.press('ArrowRight');
    assert.ok(await result.getByRole('radio', { name: 'Wrong' }).isChecked());
    await reached(/Send flag/);
    await page.keyboard.press('Enter');
    await result.getByRole('status').filter({ hasText: 'Saved as flag' }).waitFor();
    await page.close();
  });

  test('works at phone width: one column, nothing wider than the screen', async () => {
    const phone = await launchChromium({ width: 390, height: 844 });
    try {
      const page = await phone.context.newPage();
      await page.goto(`${server.url}/models/ocr`);
      await page.getByRole('button', { name: 'Run example receipt.png' }).click();
      const result = await latestResult(page, 1);
      await result.locator('.text-block').waitFor();
      const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      assert.ok(widths.scroll <= widths.client, `page is ${widths.scroll}px wide on a ${widths.client}px screen`);
      // Measured in one go: the page scrolls the new result into view.
      const { form, card } = await page.evaluate(() => ({
        form: document.querySelector('.input-panel')!.getBoundingClientRect(),
        card: document.querySelector('.result')!.getBoundingClientRect(),
      }));
      assert.ok(card.top >= form.bottom, 'the result is below the form');
      assert.ok(card.width > 330, 'the result uses the screen width');
    } finally {
      await phone.close();
    }
  });

  test('the camera takes a photo that is sent as the image', async () => {
    const camera = await launchChromium({ fakeCamera: true });
    try {
      const page = await camera.context.newPage();
      await page.goto(`${server.url}/models/digits`);
      await page.getByRole('radio', { name: 'Camera' }).check();
      await page.getByRole('button', { name: 'Start camera' }).click();
      await page.getByLabel('Camera preview').waitFor();
      await page.waitForFunction(() => (document.querySelector('video')?.videoWidth ?? 0) !== 0);
      await page.getByRole('button', { name: 'Take photo' }).click();
      await page.getByRole('img', { name: 'The photo taken' }).waitFor();
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      const result = await latestResult(page, 1);
      // Chromium's fake camera shows a test pattern, not a digit: any answer will do, as long as the photo went.
      await result.locator('.headline-value, [role=alert]').first().waitFor();
      await result.getByText('Raw JSON').click();
      assert.match((await result.locator('pre').textContent()) ?? '', /"image": \{\s*"\$file": "image"\s*\}/);
    } finally {
      await camera.close();
    }
  });

  test('a plain 7 drawn with the mouse reads 7', async () => {
    const page = await open('/models/digits');
    await page.getByRole('radio', { name: 'Draw' }).check();
    await draw(page, SEVEN);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const result = await latestResult(page, 1);
    assert.equal(await result.locator('.headline-value').textContent(), '7');
    // The card shows the 8×8 picture the model read, and names what was sent.
    assert.equal(await result.locator('.pixel-grid .pixels span').count(), 64);
    assert.match((await result.locator('.result-title').textContent()) ?? '', /drawing\.png/);
    await page.close();
  });

  test('a result card names its input and survives a round trip to /flags and a reload', async () => {
    const page = await open('/models/digits');
    await page.getByLabel('Choose a picture').setInputFiles(join(EXAMPLES, 'digits/examples/4.png'));
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const first = await latestResult(page, 1);
    assert.match((await first.locator('.result-title').textContent()) ?? '', /#1 · 4\.png/);
    assert.equal(await first.locator('img.input-thumb').getAttribute('alt'), 'Sent: 4.png');
    await page.getByRole('button', { name: 'Run example 8.png' }).click();
    assert.equal(await (await latestResult(page, 2)).locator('.headline-value').textContent(), '8');

    await page.getByRole('link', { name: 'Flags', exact: true }).click();
    await page.getByRole('heading', { name: 'Flags', level: 1 }).waitFor();
    await page.goBack();
    const back = await latestResult(page, 2);
    assert.match((await back.locator('.result-title').textContent()) ?? '', /example 8\.png/);
    assert.equal(await (await latestResult(page, 1)).locator('.headline-value').textContent(), '4');

    await page.reload();
    const reloaded = await latestResult(page, 1);
    assert.equal(await reloaded.locator('.headline-value').textContent(), '4');
    // Its picture came back too (kept as the file it was), and it can still be flagged with it.
    await page.waitForFunction(() => (document.querySelector('article[aria-label="Result 1"] img.input-thumb') as unknown as PageImage | null)?.naturalWidth === 280);
    await reloaded.getByRole('radio', { name: 'Right' }).check();
    await reloaded.getByRole('button', { name: 'Send flag' }).click();
    await reloaded.getByRole('status').filter({ hasText: 'Saved as flag' }).waitFor();
    // New results number on from the kept ones.
    await page.getByRole('button', { name: 'Run example 1.png' }).click();
    assert.equal(await (await latestResult(page, 3)).locator('.headline-value').textContent(), '1');
    await page.close();
  });

  test('a slow call shows its elapsed time and can be cancelled; example clicks meanwhile wait their turn', async () => {
    const page = await open('/models/toolbox');
    await page.getByLabel('Action (required)').selectOption('hang');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const pending = page.getByRole('article', { name: 'Call #1: running' });
    await pending.waitFor();
    await page.waitForFunction(() => Number.parseFloat(document.querySelector('.elapsed')?.textContent ?? '0') >= 0.3);
    // Asked for while #1 runs: queued, not refused.
    await page.getByLabel('Action (required)').selectOption('echo');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByRole('article', { name: 'Call #2: waiting its turn' }).waitFor();
    await pending.getByRole('button', { name: 'Cancel' }).click();
    await pending.waitFor({ state: 'detached' });
    // The queued call runs once the first is cancelled; the cancelled one leaves no result.
    assert.equal(await (await latestResult(page, 2)).locator('.text-block, dd').first().textContent(), 'hi ');
    assert.equal(await page.getByRole('article', { name: 'Result 1' }).count(), 0);
    await page.close();
  });

  test('example buttons stay usable while a call runs: every click gets its result, in order', async () => {
    const page = await open('/models/digits');
    for (const digit of [3, 5, 6]) await page.getByRole('button', { name: `Run example ${digit}.png` }).click();
    for (const [i, digit] of [3, 5, 6].entries()) assert.equal(await (await latestResult(page, i + 1)).locator('.headline-value').textContent(), String(digit));
    await page.close();
  });

  test('Use via API: curl, TypeScript and Python filled with the last run; the curl one works as shown', async () => {
    const page = await open('/models/digits');
    await page.getByRole('button', { name: 'Run example 7.png' }).click();
    await latestResult(page, 1);
    await page.getByText('Use via API').click();
    const snippet = page.getByRole('tabpanel', { name: 'curl snippet' });
    const curl = (await snippet.textContent()) ?? '';
    assert.match(curl, new RegExp(`^curl ${server.url}/api/models/digits/predict`));
    assert.match(curl, /-F 'image=@7\.png'/);
    await page.getByRole('tab', { name: 'TypeScript' }).click();
    assert.match((await page.getByRole('tabpanel', { name: 'TypeScript snippet' }).textContent()) ?? '', /client\.predict\("digits", \{\s*"image": new Blob\(\[await readFile\("7\.png"\)\]/);
    await page.getByRole('tab', { name: 'Python' }).click();
    assert.match((await page.getByRole('tabpanel', { name: 'Python snippet' }).textContent()) ?? '', /files=\{"image": open\("7\.png", "rb"\)\}/);
    // The graph's panel: its tensors, and grpcurl.
    await page.getByRole('button', { name: /Graph/ }).click();
    await page.getByRole('button', { name: 'Run example sample 6 (5)' }).click();
    await latestResult(page, 2);
    // The panel stays open from one tab to the other.
    await page.getByRole('tab', { name: 'gRPC' }).click();
    const samples = JSON.parse(await readFile(join(EXAMPLES, 'digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
    assert.ok(((await page.getByRole('tabpanel', { name: 'gRPC snippet' }).textContent()) ?? '').includes(`"fp32_contents":[${samples[5]!.image.flat(2).join(',')}]`));
    await page.close();
    // The curl command as shown, run in a folder holding 7.png.
    const cwd = await mkdtemp(join(tmpdir(), 'slipway-e2e-curl-'));
    try {
      await copyFile(join(EXAMPLES, 'digits/examples/7.png'), join(cwd, '7.png'));
      const { stdout } = await promisify(execFile)('sh', ['-c', curl.replace(/\\\n/g, ' ')], { cwd });
      assert.equal((JSON.parse(stdout) as { label: number }).label, 7);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('the tensor grid labels its shape boxes and says when it scrolls; dark mode follows the browser', async () => {
    const page = await open('/models/digits?view=graph');
    const shape = page.getByRole('group', { name: 'image shape' });
    await shape.waitFor();
    assert.deepEqual(await shape.locator('.dim-name').allTextContents(), ['batch', 'dim 1', 'dim 2', 'dim 3']);
    assert.match((await page.locator('.grid-caption').textContent()) ?? '', /8 × 8/);
    const light = await page.evaluate(() => getComputedStyle(document.querySelector('html')).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.querySelector('html')).backgroundColor);
    assert.notEqual(dark, light);
    await page.close();
  });

  test('the home page of `npm start` leads with the demos, the OCR parts on the OCR card, and no test fixture', async () => {
    const start = await startCliServer([EXAMPLES, '--no-grpc', '--feedback-db', `sqlite:${join(dir, 'start.db')}`]);
    try {
      const page = await open('/', start.url);
      const demos = page.getByRole('list', { name: 'Demos' });
      await demos.getByText('READY').first().waitFor();
      assert.deepEqual(await demos.locator('.model-name').allTextContents(), ['digits', 'ocr']);
      assert.match((await demos.locator('.model-card').first().textContent()) ?? '', /Reads one handwritten or printed digit/);
      const ocr = demos.locator('.model-card').filter({ has: page.getByRole('link', { name: 'ocr', exact: true }) });
      assert.deepEqual(await ocr.locator('.parts a').allTextContents(), ['ocr_det', 'ocr_cls', 'ocr_rec']);
      // The parts are no demos of their own; the graphs of the other examples follow the demos, each
      // with the models it is made of; nothing from the tests' fixtures is served.
      const graphs = page.getByRole('list', { name: 'Graphs' });
      assert.deepEqual((await graphs.locator('.model-name').allTextContents()).sort(), ['digits_mlp', 'digits_router', 'digits_top3']);
      const router = graphs.locator('.model-card').filter({ has: page.getByRole('link', { name: 'digits_router', exact: true }) });
      assert.deepEqual((await router.locator('.parts a').allTextContents()).sort(), ['digits', 'digits_ensemble', 'digits_linear']);
      // The tensor handler is a part of the ensemble that runs it, not a demo: it has no form of its own.
      const top3 = graphs.locator('.model-card').filter({ has: page.getByRole('link', { name: 'digits_top3', exact: true }) });
      assert.deepEqual(await top3.locator('.parts a').allTextContents(), ['digits', 'digits_topk']);
      const names = await page.locator('.model-name').allTextContents();
      assert.deepEqual(names.sort(), ['digits', 'digits_mlp', 'digits_router', 'digits_top3', 'ocr']);
      // Its own page says what it is and offers its tensors, as a graph's page does.
      await top3.getByRole('link', { name: 'digits_topk', exact: true }).click();
      await page.getByRole('heading', { name: 'digits_topk' }).waitFor();
      await page.getByText('probabilities FP32[-1,-1] → classes INT64[-1,3], scores FP32[-1,3]').waitFor();
      assert.match((await page.locator('.meta').textContent()) ?? '', /^tensor handler · version 1/);
      assert.match((await page.locator('.lead').textContent()) ?? '', /k most likely classes/);
      await page.close();
    } finally {
      start.child.kill('SIGTERM');
    }
  });

  test('/docs "Try it out" on the handler route: its JSON example runs as is, and the multipart form names its parts', async () => {
    const page = await open('/docs');
    const operation = page.locator('#operations-Handlers-postApiModelsModelPredict');
    await operation.locator('.opblock-summary').first().click();
    // The docs open with "Try it out" on; the model defaults to the first handler served.
    assert.equal(await operation.locator('input[placeholder="model"]').inputValue(), 'digits');
    const execute = async (): Promise<string> => {
      await operation.getByRole('button', { name: 'Execute' }).click();
      const response = operation.locator('.live-responses-table .response').first();
      await response.waitFor();
      assert.equal((await response.locator('.response-col_status').textContent())?.trim(), '200');
      const body = (await response.locator('.response-col_description pre').first().textContent()) ?? '';
      await operation.getByRole('button', { name: 'Clear' }).click();
      return body;
    };
    assert.match(await execute(), /"label": 0/, "the JSON example is digits' first example, 0.png");
    await operation.locator('select.content-type').first().selectOption('multipart/form-data');
    // The part is named as the handler's field, and takes a file.
    await operation.locator('tr[data-property-name="image"] input[type="file"]').setInputFiles(join(EXAMPLES, 'digits/examples/7.png'));
    assert.match(await execute(), /"label": 7/);
    await page.close();
  });

});
