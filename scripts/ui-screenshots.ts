// Takes the README's screenshots of the prototype UI (docs/screenshots/*.png) in headless Chromium,
// against `slipway serve` with the digits and OCR examples and a throwaway feedback store.
// Run: npm run screenshots (needs Debian's chromium, or SLIPWAY_CHROMIUM=/path/to/chrome).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'docs/screenshots');
const MODELS = ['digits', 'ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'].map((m) => join(ROOT, 'examples/models', m));

const dir = await mkdtemp(join(tmpdir(), 'slipway-screenshots-'));
const server = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'serve', ...MODELS, '--http-port', '0', '--no-grpc', '--log-level', 'warn', '--feedback-db', `sqlite:${join(dir, 'feedback.db')}`], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve, reject) => {
  let output = '';
  server.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const match = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match) resolve(match[1]!);
  });
  server.once('exit', (code) => reject(new Error(`slipway serve exited with ${code}:\n${output}`)));
});

const browser = await chromium.launch({
  executablePath: process.env.SLIPWAY_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--font-render-hinting=none'],
});

async function draw(page: Page, points: Array<[number, number]>): Promise<void> {
  await page.locator('canvas.draw-canvas').scrollIntoViewIfNeeded();
  const box = (await page.locator('canvas.draw-canvas').boundingBox())!;
  await page.mouse.move(box.x + points[0]![0] * box.width, box.y + points[0]![1] * box.height);
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 10 });
  await page.mouse.up();
}

const SEVEN: Array<[number, number]> = [
  [0.28, 0.2],
  [0.72, 0.2],
  [0.48, 0.84],
];
const FOUR: Array<[number, number]> = [
  [0.6, 0.85],
  [0.6, 0.15],
  [0.22, 0.6],
  [0.8, 0.6],
];

async function shoot(name: string, width: number, height: number, scale: number, scenario: (page: Page) => Promise<void>, colorScheme: 'light' | 'dark' = 'light'): Promise<void> {
  // A fresh context each time: no results kept from another picture (the UI keeps them per browser).
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: scale, colorScheme });
  const page = await context.newPage();
  await scenario(page);
  // Let bar widths and images settle before the picture.
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  await context.close();
  process.stdout.write(`docs/screenshots/${name}.png\n`);
}

const run = async (page: Page, id: number) => {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.getByRole('article', { name: `Result ${id}` }).waitFor();
};

try {
  await mkdir(OUT, { recursive: true });
  await shoot('home-desktop', 1280, 640, 1, async (page) => {
    await page.goto(`${url}/`);
    await page.getByRole('list', { name: 'Demos' }).getByText('READY').first().waitFor();
  });
  await shoot('digits-desktop', 1280, 900, 1, async (page) => {
    await page.goto(`${url}/models/digits`);
    await page.getByRole('radio', { name: 'Draw' }).check();
    await draw(page, SEVEN);
    await run(page, 1);
    const result = page.getByRole('article', { name: 'Result 1' });
    await result.getByRole('radio', { name: 'Right' }).check();
    await result.getByLabel('Comment (optional)').fill('a plain 7, drawn with a mouse');
  });
  await shoot('api-desktop', 1280, 900, 1, async (page) => {
    await page.goto(`${url}/models/digits`);
    await page.getByRole('button', { name: 'Run example 7.png' }).click();
    await page.getByRole('article', { name: 'Result 1' }).waitFor();
    await page.getByText('Use via API').click();
    await page.getByRole('tabpanel', { name: 'curl snippet' }).scrollIntoViewIfNeeded();
  });
  await shoot('digits-phone', 390, 844, 2, async (page) => {
    await page.goto(`${url}/models/digits`);
    await page.getByRole('radio', { name: 'Draw' }).check();
    await draw(page, FOUR);
    await run(page, 1);
  });
  await shoot('ocr-desktop', 1280, 900, 1, async (page) => {
    await page.goto(`${url}/models/ocr`);
    await page.getByRole('button', { name: 'Run example receipt.png' }).click();
    await page.getByRole('article', { name: 'Result 1' }).locator('.text-block').waitFor();
  });
  await shoot(
    'ocr-phone',
    390,
    844,
    2,
    async (page) => {
      await page.goto(`${url}/models/ocr`);
      await page.getByRole('button', { name: 'Run example receipt.png' }).click();
      await page.getByRole('article', { name: 'Result 1' }).locator('.text-block').waitFor();
    },
    'dark',
  );
  // A few flags, sent through the UI, for the flags page.
  const flag = async (path: string, example: string, label: string, comment: string, expected?: string) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${url}${path}`);
    await page.getByRole('button', { name: `Run example ${example}` }).click();
    const result = page.getByRole('article', { name: 'Result 1' });
    await result.getByRole('radio', { name: label }).check();
    if (expected !== undefined) await result.getByLabel('What should it be? (optional)').fill(expected);
    await result.getByLabel('Comment (optional)').fill(comment);
    await result.getByRole('button', { name: 'Send flag' }).click();
    await result.locator('.saved').waitFor();
    await context.close();
  };
  await flag('/models/digits', '9.png', 'Right', 'clean scan');
  await flag('/models/ocr', 'receipt.png', 'Right', 'every line, each price on its item’s line');
  await flag('/models/digits', '1.png', 'Other', 'right, but I write my 1s with a flag');
  await shoot('flags-desktop', 1280, 700, 1, async (page) => {
    await page.goto(`${url}/flags`);
    await page.locator('table.flags img.thumb').first().waitFor();
  });
  await shoot('flags-phone', 390, 844, 2, async (page) => {
    await page.goto(`${url}/flags`);
    await page.locator('table.flags img.thumb').first().waitFor();
  });
} finally {
  await browser.close();
  server.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
}
