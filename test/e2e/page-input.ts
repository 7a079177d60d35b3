import type { Locator, Page } from 'playwright-core';
import sharp from 'sharp';

// Inputs the browser tests give pages (digits drawn with the mouse, pictures of printed text) and
// what they read back.

// Browser globals used inside page.evaluate (the tests compile without the DOM library).
declare const indexedDB: { deleteDatabase(name: string): { onsuccess: (() => void) | null; onerror: (() => void) | null } };

/** Points of a stroke in 0..1 of the canvas. */
export type Stroke = Array<[number, number]>;
export const FOUR: Stroke[] = [
  [
    [0.6, 0.85],
    [0.6, 0.15],
    [0.22, 0.6],
    [0.8, 0.6],
  ],
];
/** A plain 7, as anyone draws it with a mouse: a bar and a slanted stroke, no crossbar. */
export const SEVEN: Stroke[] = [
  [
    [0.28, 0.2],
    [0.72, 0.2],
    [0.48, 0.84],
  ],
];
export const ZERO: Stroke[] = [Array.from({ length: 41 }, (_, i): [number, number] => [0.5 + 0.22 * Math.sin((i / 40) * 2 * Math.PI), 0.5 - 0.33 * Math.cos((i / 40) * 2 * Math.PI)])];

/** Draws the strokes on the page's drawing canvas with the mouse. */
export async function draw(page: Page, strokes: Stroke[]): Promise<void> {
  await page.locator('canvas.draw-canvas').scrollIntoViewIfNeeded();
  const box = (await page.locator('canvas.draw-canvas').boundingBox())!;
  for (const stroke of strokes) {
    const [start, ...rest] = stroke;
    await page.mouse.move(box.x + start![0] * box.width, box.y + start![1] * box.height);
    await page.mouse.down();
    for (const [x, y] of rest) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 8 });
    await page.mouse.up();
  }
}

/** A picture of printed text, rendered here so the test does not depend on a stored file. */
export async function textPicture(lines: string[]): Promise<Buffer> {
  const text = lines.map((line, i) => `<text x="40" y="${80 + i * 70}" font-family="DejaVu Sans" font-size="40">${line}</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${60 + lines.length * 70}"><rect width="100%" height="100%" fill="white"/>${text}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** The newest result card once it has rendered (a headline, an output or an error). */
export async function latestResult(page: Page, id: number): Promise<Locator> {
  const card = page.getByRole('article', { name: `Result ${id}` });
  await card.waitFor();
  return card;
}

/**
 * Forgets the results the UI keeps in the browser for `origin` (IndexedDB, per model), so a test's
 * first result is "Result 1" whatever an earlier test on the same origin left there.
 */
export async function forgetKeptResults(page: Page, origin: string): Promise<void> {
  // Any page of the origin will do; its root answers on every server the tests start.
  await page.goto(new URL('/', origin).href);
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const request = indexedDB.deleteDatabase('slipway-ui');
        request.onsuccess = () => resolve();
        request.onerror = () => reject(new Error('could not clear the kept results'));
      }),
  );
}
