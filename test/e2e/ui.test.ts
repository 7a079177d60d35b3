import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { EXAMPLES, ROOT, TEST_MODELS } from '../helpers/paths.js';
import { requireCommand } from '../helpers/requirements.js';
import { launchChromium, type Browser } from './chromium.js';
import { draw, FOUR, latestResult, textPicture, ZERO } from './page-input.js';

// The prototype UI in real Chromium against `slipway serve` in its own process: the digits model
// drawn and uploaded, OCR read from a rendered page, a flag found on the flags page and in the
// export, bad inputs answered with clear messages, the keyboard, a phone-width screen, the camera.

// These callbacks run in the page, where the DOM is; the test's own (Node) types have none.
declare const document: {
  activeElement: { tagName: string; textContent: string | null; getAttribute(name: string): string | null; value?: string } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
  querySelector(selector: string): { videoWidth?: number; getBoundingClientRect(): { top: number; bottom: number; width: number } } | null;
};
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

  const open = async (path: string): Promise<Page> => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('close', () => assert.deepEqual(errors, [], 'no script errors on the page'));
    await page.goto(`${server.url}${path}`);
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
    assert.match(await page.locator('.lead').textContent() ?? '', /handwritten digit/);
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

    await page.getByRole('button', { name: 'Clear' }).click();
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
    assert.ok(await thumb.evaluate((el) => (el as unknown as PageImage).complete && (el as unknown as PageImage).naturalWidth === 100), 'the stored picture loads');

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

  test('bad inputs get clear messages: not an image, a file too large, a picture with too many pixels, a broken image', async () => {
    const page = await open('/models/digits');
    const chooser = page.getByLabel('Choose a picture');
    await chooser.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a picture') });
    await page.getByRole('alert').filter({ hasText: 'notes.txt is not an image (text/plain): Image takes a PNG, JPEG or WebP picture.' }).waitFor();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Image: choose a picture (upload, camera or drawing).' }).waitFor();

    await chooser.setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(32 * 1024 * 1024 + 1) });
    await page.getByRole('alert').filter({ hasText: 'huge.png is 32.0 MiB; Image takes files up to 32.0 MiB.' }).waitFor();

    // Small on disk, 5000×5000 pixels: the server refuses it before decoding.
    const bomb = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: '#ffffff' } }).png().toBuffer();
    await chooser.setInputFiles({ name: 'bomb.png', mimeType: 'image/png', buffer: bomb });
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const tooBig = await latestResult(page, 1);
    assert.match((await tooBig.getByRole('alert').textContent()) ?? '', /^413: too large.*image is 5000×5000 \(25\.0 megapixels\), more than the limit of 16\.0 megapixels/);
    assert.equal(await tooBig.getByRole('button', { name: 'Send flag' }).count(), 0);

    await chooser.setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('this is not a PNG at all') });
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const refused = await latestResult(page, 2);
    assert.match((await refused.getByRole('alert').textContent()) ?? '', /^400: the input was refused.*image: not an image: expected PNG, JPEG or WebP/);
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
});
