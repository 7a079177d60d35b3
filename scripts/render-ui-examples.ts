// Writes the example pictures the UI offers one click away (files in a model folder's examples/):
// - examples/models/digits/examples/<label>.png: samples.json's held-out test digits (8×8 ink
//   counts) as dark-on-light pictures, scaled up 10× with a one-cell margin;
// - examples/models/ocr/examples/receipt.png: a receipt in DejaVu Sans Mono, tilted on a grey desk.
// Run after retraining the digits model: node dist/scripts/render-ui-examples.js
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const MODELS = fileURLToPath(new URL('../../examples/models/', import.meta.url));

async function digits(): Promise<void> {
  const scale = 10;
  const cells = 10; // 8 cells of digit and a margin of one on each side
  const samples = JSON.parse(await readFile(join(MODELS, 'digits/samples.json'), 'utf8')) as Array<{ label: number; image: number[][][] }>;
  await mkdir(join(MODELS, 'digits/examples'), { recursive: true });
  for (const { label, image } of samples) {
    const size = cells * scale;
    const pixels = Buffer.alloc(size * size, 255);
    image[0]!.forEach((row, y) =>
      row.forEach((ink, x) => {
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) pixels[((y + 1) * scale + dy) * size + (x + 1) * scale + dx] = Math.round(255 - (ink * 255) / 16);
        }
      }),
    );
    await sharp(pixels, { raw: { width: size, height: size, channels: 1 } }).png({ compressionLevel: 9 }).toFile(join(MODELS, 'digits/examples', `${label}.png`));
  }
}

async function receipt(): Promise<void> {
  const lines: Array<[string, number, string]> = [
    ['SLIPWAY CAFE', 34, 'bold'],
    ['12 Harbour Street', 24, 'normal'],
    ['Flat white        3.40', 26, 'normal'],
    ['Croissant         2.90', 26, 'normal'],
    ['Total             6.30 EUR', 26, 'bold'],
    ['Thank you!', 26, 'normal'],
  ];
  let y = 70;
  const text = lines
    .map(([line, size, weight]) => {
      const element = `<text x="50" y="${y}" font-family="DejaVu Sans Mono" font-size="${size}" font-weight="${weight}" xml:space="preserve">${line}</text>`;
      y += size * 1.9;
      return element;
    })
    .join('');
  const paper = await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="560" height="${y + 10}"><rect width="100%" height="100%" fill="#fbfaf6"/>${text}</svg>`))
    .rotate(-4, { background: '#8a9099' })
    .png()
    .toBuffer();
  const { width = 0, height = 0 } = await sharp(paper).metadata();
  await mkdir(join(MODELS, 'ocr/examples'), { recursive: true });
  await sharp({ create: { width: width + 80, height: height + 60, channels: 3, background: '#8a9099' } })
    .composite([{ input: paper, left: 40, top: 30 }])
    .png({ compressionLevel: 9 })
    .toFile(join(MODELS, 'ocr/examples/receipt.png'));
}

await digits();
await receipt();
process.stdout.write(`wrote the example pictures under ${MODELS}\n`);
